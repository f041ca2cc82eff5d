"""Configs, --set overrides and preset files."""

from __future__ import annotations

from typing import Literal, Optional

import pytest

from zoo_core.plugins.config import TrainConfig, coerce, make_config, parse_overrides
from zoo_core.errors import ConfigError, ZooError
from zoo_core.plugins.registry import load_registry, read_preset_tables
from zoo_core.plugins.resolve import resolve_run


@pytest.mark.parametrize(
    "value, tp, expected",
    [
        (3, int, 3), (3, float, 3.0), (1e-3, float, 1e-3), (True, bool, True), ("bce", str, "bce"),
        ("mse", Literal["bce", "mse"], "mse"), ([32, 64], tuple[int, ...], (32, 64)),
        ("32,64", tuple[int, ...], (32, 64)), ("none", Optional[int], None), (5, Optional[int], 5),
    ],
)
def test_coerce_accepts(value, tp, expected):
    assert coerce(value, tp, "k") == expected


@pytest.mark.parametrize(
    "value, tp, words",
    [
        ("ten", int, "'k' must be int"), (True, int, "must be int"), (2.5, int, "must be int"),
        ("x", float, "must be float"), (1, bool, "must be bool"), ("l1", Literal["bce", "mse"], "one of 'bce', 'mse'"),
        (["a"], tuple[int, ...], "list of int"), ("none", int, "must be int"),
    ],
)
def test_coerce_rejects_with_key_and_type(value, tp, words):
    with pytest.raises(ConfigError, match=words):
        coerce(value, tp, "k")


def test_parse_overrides_routes_bare_and_qualified_keys():
    fields = {"model": ["latent_dim", "beta"], "loss": ["beta"], "train": ["epochs"]}
    out = parse_overrides(["latent_dim=16", "loss.beta=4", "epochs=3", "model.beta=0.5"], fields)
    assert out == {"model": {"latent_dim": 16, "beta": 0.5}, "loss": {"beta": 4}, "train": {"epochs": 3}}
    with pytest.raises(ConfigError, match="ambiguous; write model.beta or loss.beta"):
        parse_overrides(["beta=1"], fields)
    with pytest.raises(ConfigError, match="did you mean latent_dim"):
        parse_overrides(["latnt_dim=1"], fields)
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["latent_dim"], fields)
    with pytest.raises(ConfigError, match="unknown section 'modle'"):
        parse_overrides(["modle.latent_dim=2"], fields)


def test_train_config_bounds():
    with pytest.raises(ConfigError, match="train.epochs' must be at least 1"):
        make_config(TrainConfig, {"epochs": -1}, "train")
    with pytest.raises(ConfigError, match="batch_size' must be at least 1"):
        make_config(TrainConfig, {"batch_size": 0}, "train")
    with pytest.raises(ConfigError, match="learning_rate' must be positive"):
        make_config(TrainConfig, {"learning_rate": 0.0}, "train")


def test_resolve_precedence(registry):
    run = resolve_run(registry, "vae-mnist", overrides=["latent_dim=16", "loss.beta=2"], train={"epochs": 3})
    c = run.config
    assert (c.model, c.dataset, c.loss) == ("vae", "mnist", "elbo")
    assert c.model_config.latent_dim == 16 and c.model_config.dense_units == 16
    assert c.loss_config.beta == 2.0 and c.train.epochs == 3 and c.train.batch_size == 32
    # the model's own default loss options apply when nothing else names them
    beta = resolve_run(registry, "beta-vae", dataset="tiny").config.loss_config.beta
    assert beta == 4.0


def test_resolve_errors(registry):
    with pytest.raises(ZooError, match="did you mean vae-mnist"):
        resolve_run(registry, "vae-mnst")
    with pytest.raises(ConfigError, match="'model.latent_dim' must be int, got 'big'"):
        resolve_run(registry, "vae-mnist", overrides=["latent_dim=big"])
    with pytest.raises(ZooError, match="--dataset NAME"):
        resolve_run(registry, "vae")
    with pytest.raises(ZooError, match="needs .*--dataset npz:ARG"):
        resolve_run(registry, "vae", dataset="npz")
    with pytest.raises(ZooError, match="unknown dataset 'mnits'; did you mean mnist"):
        resolve_run(registry, "vae", dataset="mnits")
    with pytest.raises(ZooError, match="is a loss; give a preset or a model"):
        resolve_run(registry, "elbo")


def test_preset_files_add_and_override_key_by_key(tmp_path):
    (tmp_path / "zoo.toml").write_text(
        '[presets.vae-mnist.train]\nepochs = 2\n\n'
        '[presets.my-vae]\nmodel = { name = "vae", latent_dim = 4 }\ndataset = "fashion-mnist"\n'
    )
    extra = tmp_path / "extra.toml"
    extra.write_text('[presets.my-vae]\ndescription = "mine"\ntrain = { batch_size = 32 }\n')
    registry = load_registry([extra], cwd=tmp_path)
    base = registry.preset("vae-mnist")
    assert base.train["epochs"] == 2 and base.train["batch_size"] == 32  # the rest kept
    assert base.model_config["latent_dim"] == 2
    mine = registry.preset("my-vae")
    assert (mine.description, mine.model, mine.model_config, mine.train) == (
        "mine", "vae", {"latent_dim": 4}, {"batch_size": 32})
    assert mine.origin == str(extra)


@pytest.mark.parametrize(
    "text, words",
    [
        ("[presets.x]\nmodel = 'vae'\ndataset = 'mnist'\nepochs = 3\n", "unknown key 'epochs'"),
        ("[presets.x]\ndataset = 'mnist'\n", "no model"),
        ("[presets.x]\nmodel = 3\ndataset = 'mnist'\n", "'model' must be a name or a table"),
        ("[x]\nmodel = 'vae'\n", "presets go in \\[presets.NAME\\]"),
        ("[presets.x\n", "not valid TOML"),
    ],
)
def test_bad_preset_files(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ZooError, match=words):
        load_registry([path], bundled=False)


def test_missing_preset_file(tmp_path):
    with pytest.raises(ZooError, match="does not exist"):
        read_preset_tables(tmp_path / "nope.toml")


def test_bundled_presets_resolve(registry):
    for entry in registry.entries("preset"):
        if registry.preset_problem(entry.spec) is None:
            # Every bundled preset is valid (those for your own folder, once given one).
            needs = registry.dataset(entry.spec.dataset.split(":")[0]).needs_arg and ":" not in entry.spec.dataset
            resolve_run(registry, entry.name, dataset="folder:/some/pictures" if needs else None)
