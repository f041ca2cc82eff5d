"""Opening run folders and loading models: damaged, foreign and unsafe files."""

from __future__ import annotations

import json
import zipfile

import pytest

from zoo_core.errors import ZooError
from zoo_core.saving.runs import load_model, open_run


@pytest.fixture(scope="module")
def saved_vae(tmp_path_factory):
    import keras

    from zoo_core.specs import DataInfo
    from zoo_vae import plugin

    model = plugin._build_conv(plugin.ConvVAEConfig(), DataInfo((28, 28, 1)), None)
    path = tmp_path_factory.mktemp("m") / "vae.keras"
    model.save(path)
    return path


def test_loads_a_keras_file(saved_vae, registry):
    model = load_model(open_run(saved_vae), registry)
    assert model.generate(2, seed=0).shape == (2, 28, 28, 1)


def test_not_a_run(tmp_path):
    with pytest.raises(ZooError, match="does not exist"):
        open_run(tmp_path / "nope")
    with pytest.raises(ZooError, match="no config.toml"):
        open_run(tmp_path)
    (tmp_path / "config.toml").write_text("model = {name = 'vae'}\n")
    with pytest.raises(ZooError, match="did not finish"):
        open_run(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ZooError, match="not a run folder or a .keras file"):
        open_run(tmp_path / "notes.txt")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "foreign-zip"])
def test_damaged_keras_files(saved_vae, tmp_path, registry, damage):
    bad = tmp_path / "bad.keras"
    data = saved_vae.read_bytes()
    if damage == "truncate":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        bad.write_bytes(b"not a model at all")
    else:
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr("readme.txt", "hello")
    with pytest.raises(ZooError, match="not a .keras file|not a valid .keras file"):
        load_model(open_run(bad), registry)


def test_model_from_a_missing_plugin_names_it(saved_vae, tmp_path, registry):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    bad = run_dir / "model.keras"
    with zipfile.ZipFile(saved_vae) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                config["module"] = "zoo_fancy.models"
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    (run_dir / "config.toml").write_text('[zoo.plugins]\nmodel = "zoo-fancy 1.2"\n')
    with pytest.raises(ZooError, match="no installed zoo plugin provides; install zoo-fancy"):
        load_model(open_run(run_dir), registry)


def test_unsafe_model_is_refused(tmp_path, registry):
    import keras

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ZooError, match="safe mode"):
        load_model(open_run(path), registry)
