"""zoo-plugin-example as zoo sees it once pip-installed: found through its
entry point alone, each contribution works, and they mix with the bundled
plugins' (runs on whatever KERAS_BACKEND selects)."""

from __future__ import annotations

import importlib.util
import json
import tomllib

import numpy as np
import pytest
from click.testing import CliRunner

from zoo_core.cli import cli
from zoo_core.registry import load_registry

REGISTRY = load_registry()
PROVIDER = "zoo-plugin-example 0.1.0"
CONTRIBUTIONS = [("model", "cvae"), ("model", "infogan"), ("loss", "laplace-elbo"), ("loss", "logistic-ns"),
                 ("dataset", "digits"), ("preset", "cvae-digits"), ("preset", "infogan-digits")]


def zoo(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


# === Found through the entry point ===


def test_found_through_its_entry_point():
    info = REGISTRY.plugins["example"]
    assert (info.distribution, info.version, info.source) == ("zoo-plugin-example", "0.1.0", "entry point")
    assert info.requires and info.status == "loaded"
    assert info.hooks == ["zoo_datasets", "zoo_losses", "zoo_models", "zoo_presets"]
    for kind, name in CONTRIBUTIONS:
        assert REGISTRY.get(kind, name).provider == PROVIDER
    assert not [str(p) for p in REGISTRY.problems if p.plugin == "example"]


def test_zoo_list_and_zoo_plugins_show_it():
    listed = json.loads(zoo("list", "--json"))
    for kind, name in CONTRIBUTIONS:
        plural = "losses" if kind == "loss" else kind + "s"
        (entry,) = [e for e in listed[plural] if e["name"] == name]
        if kind != "preset":
            assert f"{entry['distribution']} {entry['version']}" == PROVIDER
    text = zoo("plugins")
    assert "example  (zoo-plugin-example 0.1.0; entry point zoo_plugin_example.plugin" in text
    assert "zoo_models    2 models: cvae, infogan" in text and "zoo_datasets  1 dataset: digits" in text
    assert "zoo_losses    2 losses: laplace-elbo, logistic-ns" in text


def test_listing_imports_neither_keras_nor_scikit_learn():
    import subprocess
    import sys

    code = ("import sys\nfrom zoo_core.cli import cli\n"
            "try:\n    cli(['list'], prog_name='zoo')\nexcept SystemExit as e:\n    assert not e.code\n"
            "bad = [m for m in ('keras', 'sklearn', 'tensorflow', 'jax', 'torch') if m in sys.modules]\n"
            "assert not bad, bad\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# === The data set ===


def test_digits_dataset():
    data = REGISTRY.dataset("digits").load(None, None)
    assert data.x_train.shape == (1497, 8, 8, 1) and data.x_test.shape == (300, 8, 8, 1)
    assert data.x_train.dtype == np.float32 and 0 <= data.x_train.min() and data.x_train.max() == 1
    assert set(np.unique(data.y_train)) == set(range(10)) and data.num_classes == 10
    again = REGISTRY.dataset("digits").load(None, None)
    np.testing.assert_array_equal(data.y_test, again.y_test)  # a fixed split
    big = REGISTRY.dataset("digits").load(None, 16)
    assert big.x_train.shape == (1497, 16, 16, 1) and 0 <= big.x_train.min() and big.x_train.max() <= 1


def test_digits_refuses_an_argument():
    from zoo_core.errors import ZooError

    with pytest.raises(ZooError, match="takes no"):
        REGISTRY.dataset("digits").load("somewhere", None)


# === The loss ===


def test_laplace_elbo_matches_numpy():
    from keras import ops

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 8, 8, 1)).astype(np.float32)
    logits = rng.normal(size=(4, 8, 8, 1)).astype(np.float32)
    z_mean, z_log_var = rng.normal(size=(4, 2)).astype(np.float32), rng.normal(size=(4, 2)).astype(np.float32)
    spec = REGISTRY.loss("laplace-elbo")
    loss = spec.build(spec.config(scale=0.5, beta=2.0))
    terms = {k: float(ops.convert_to_numpy(v)) for k, v in
             loss(x, {"logits": logits, "z_mean": z_mean, "z_log_var": z_log_var}).items()}
    mean = 1 / (1 + np.exp(-logits))
    nll = (np.abs(x - mean) / 0.5 + np.log(2 * 0.5)).sum(axis=(1, 2, 3)).mean()
    kl = (-0.5 * (1 + z_log_var - z_mean**2 - np.exp(z_log_var)).sum(axis=-1)).mean()
    np.testing.assert_allclose([terms["reconstruction"], terms["kl"], terms["loss"]], [nll, kl, nll + 2 * kl],
                               rtol=1e-5)


def _installed(*modules):
    return all(importlib.util.find_spec(m) for m in modules)


@pytest.mark.skipif(not _installed("zoo_vae", "zoo_datasets"), reason="needs zoo-vae and zoo-datasets")
def test_laplace_elbo_trains_a_bundled_model(tmp_path):
    """The 'vae' interface is shared: our loss trains zoo-vae's model on zoo-datasets' MNIST."""
    out = tmp_path / "run"
    zoo("train", "vae-mnist", "--loss", "laplace-elbo", "--epochs", "1", "--set", "max_train_examples=64",
        "--batch-size", "32", "--out", out)
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["loss"]["name"] == "laplace-elbo" and config["zoo"]["plugins"]["loss"] == PROVIDER
    assert config["zoo"]["plugins"]["model"].startswith("zoo-vae")
    assert (out / "model.keras").is_file()


# === The model and the preset ===


def test_cvae_generates_the_asked_classes_shape():
    import keras

    from zoo_core.config import make_config
    from zoo_core.specs import DataInfo

    spec, loss_spec = REGISTRY.model("cvae"), REGISTRY.loss("laplace-elbo")
    model = spec.build(make_config(spec.config, {}), DataInfo((8, 8, 1), 10), loss_spec.build(loss_spec.config()))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    data = REGISTRY.dataset("digits").load(None, None)
    model.fit(data.x_train[:64], data.y_train[:64], batch_size=32, epochs=1, verbose=0)
    assert model.generate(5, seed=0, labels=[3] * 5).shape == (5, 8, 8, 1)
    grid, columns = model.sample_grid(4, seed=0)
    assert grid.shape == (40, 8, 8, 1) and columns == 4
    assert model.reconstruct_labelled(data.x_test[:3], data.y_test[:3]).shape == (3, 8, 8, 1)
    with pytest.raises(ValueError, match="labelled"):
        spec.build(make_config(spec.config, {}), DataInfo((8, 8, 1), None), loss_spec.build(loss_spec.config()))


def test_zoo_train_the_preset_makes_the_digits_it_is_asked_for(tmp_path):
    """The preset as written (30 epochs, about 20 s): a digit classifier fitted
    on the data must read most of each sample row as that row's class."""
    from sklearn.linear_model import LogisticRegression

    from zoo_core.runs import load_model, open_run

    out = tmp_path / "run"
    text = zoo("train", "cvae-digits", "--out", out)
    assert "Done in" in text and (out / "samples" / "epoch-030.png").is_file()
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["preset"] == "cvae-digits" and config["zoo"]["plugins"]["dataset"] == PROVIDER

    model = load_model(open_run(out), REGISTRY)  # through zoo's safe loading
    data = REGISTRY.dataset("digits").load(None, None)
    classifier = LogisticRegression(max_iter=2000).fit(data.x_train.reshape(len(data.x_train), -1), data.y_train)
    samples, columns = model.sample_grid(20, seed=1)
    predicted = classifier.predict(samples.reshape(len(samples), -1))
    accuracy = (predicted == np.repeat(np.arange(10), columns)).mean()
    assert accuracy >= 0.8, f"only {accuracy:.0%} of the samples are the digit they were asked for"
