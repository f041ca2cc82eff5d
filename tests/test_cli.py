"""The ``zoo`` command line, through Click's runner, bad inputs included."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import numpy as np
import pytest

BACKEND_MODULES = ("keras", "tensorflow", "jax", "torch")
#: Neither is imported before a command uses it: --track mlflow, zoo sweep.
HEAVY_EXTRAS = ("mlflow", "optuna")


def assert_clean_error(result, *words):
    """A user error: non-zero exit, one 'Error:' line naming the problem, no traceback."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    for word in words:
        assert word in errors[0], result.output


def test_list_shows_everything(cli):
    result = cli("list")
    assert result.exit_code == 0, result.output
    for heading in ("Models:", "Losses:", "Datasets:", "Presets:", "Plugins:"):
        assert heading in result.output
    for name in ("vae", "mlp-vae", "elbo", "mnist", "fashion-mnist", "vae-mnist", "zoo-vae"):
        assert name in result.output


def test_list_kind_pattern_and_json(cli):
    result = cli("list", "models", "*vae")
    assert result.exit_code == 0
    assert "mlp-vae" in result.output and "elbo" not in result.output
    data = json.loads(cli("list", "presets", "vae-*", "--json").output)
    assert {"vae-mnist", "vae-fashion-mnist"} <= {p["name"] for p in data["presets"]}
    assert set(data) == {"presets"}
    data = json.loads(cli("list", "--json").output)
    assert set(data) == {"models", "losses", "datasets", "presets", "trackers", "plugins"}
    assert [t["name"] for t in data["trackers"]] == ["mlflow"] and data["trackers"][0]["distribution"] == "zoo-core"
    vae = next(m for m in data["models"] if m["name"] == "vae")
    assert vae["distribution"] == "zoo-vae" and vae["default_loss"] == "elbo"
    assert "No models match" in cli("list", "models", "nothing*").output
    assert "vae-mnist" in cli("list", "vae-m*").output  # a lone pattern
    assert_clean_error(cli("list", "gizmos", "x"), "gizmos")


def test_list_without_plugins_says_how_to_install(cli, monkeypatch):
    monkeypatch.setenv("ZOO_PLUGINS", "")
    result = cli("list")
    assert result.exit_code == 0
    assert "No zoo plugins are installed" in result.output and "pip install" in result.output
    assert "unavailable" in result.output  # bundled presets whose model is missing


def test_info(cli):
    out = cli("info", "vae").output
    assert "zoo-vae 0.1.0" in out and "latent_dim" in out and "int" in out and "elbo" in out
    out = cli("info", "vae-mnist").output
    assert "registry.toml" in out and "epochs=30" in out
    out = cli("info", "elbo").output
    assert "reconstruction" in out and "one of 'bce', 'mse'" in out
    assert json.loads(cli("info", "mnist", "--json").output)["image_shape"] == [28, 28, 1]
    assert_clean_error(cli("info", "vea"), "did you mean vae")


def test_build_prints_summary_and_saves(cli, tmp_path):
    result = cli("build", "vae", "--set", "latent_dim=3", "--out", tmp_path / "m.keras")
    assert result.exit_code == 0, result.output
    assert "parameters" in result.output and "z_mean" in result.output
    assert (tmp_path / "m.keras").is_file()
    result = cli("build", "vae-fashion-mnist")
    assert result.exit_code == 0 and "28x28x1" in result.output
    assert_clean_error(cli("build", "vae", "--out", "m.h5"), ".keras")
    assert_clean_error(cli("build", "vae", "--image-shape", "30x30x1"), "divisible by 4")
    assert cli("build", "vae", "--image-shape", "banana").exit_code == 2


def test_train_writes_a_run_folder(cli, tiny_npz, tmp_path):
    out = tmp_path / "run"
    result = cli("train", "vae", "--dataset", f"npz:{tiny_npz}", "--epochs", 2, "--batch-size", 8,
                 "--set", "grid_size=4", "--out", out)
    assert result.exit_code == 0, result.output
    assert "Done in" in result.output and "images/s" in result.output
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["model"]["name"] == "vae" and config["train"]["epochs"] == 2
    assert config["zoo"]["plugins"]["model"].startswith("zoo-vae")
    lines = (out / "metrics.csv").read_text().splitlines()
    assert lines[0].split(",")[:1] == ["epoch"] and len(lines) == 3
    assert {"loss", "reconstruction", "kl", "val_loss"} <= set(lines[0].split(","))
    for kind in ("samples", "reconstructions"):
        assert sorted(p.name for p in (out / kind).iterdir()) == ["epoch-001.png", "epoch-002.png"]
    from PIL import Image

    assert Image.open(out / "samples" / "epoch-002.png").size[0] > 4 * 28

    import keras

    import zoo_vae.models  # noqa: F401  (registers the classes with Keras)

    model = keras.saving.load_model(out / "model.keras")
    assert model.generate(2, seed=0).shape == (2, 28, 28, 1)

    # the same folder again is refused, and nothing in it is touched
    before = (out / "metrics.csv").read_bytes()
    assert_clean_error(cli("train", "vae", "--dataset", f"npz:{tiny_npz}", "--out", out), "already exists", "--overwrite")
    assert (out / "metrics.csv").read_bytes() == before


@pytest.mark.parametrize(
    "args, words",
    [
        (["vae-mnst"], ["did you mean vae-mnist"]),
        (["vae", "--dataset", "mnits"], ["unknown dataset 'mnits'", "did you mean mnist"]),
        (["vae-mnist", "--loss", "elbow"], ["unknown loss 'elbow'", "did you mean elbo"]),
        (["vae-mnist", "--set", "latnt_dim=3"], ["unknown key 'latnt_dim'", "latent_dim"]),
        (["vae-mnist", "--set", "latent_dim=big"], ["'model.latent_dim' must be int"]),
        (["vae-mnist", "--set", "loss.reconstruction=l1"], ["one of 'bce', 'mse'"]),
        (["vae-mnist", "--set", "epochs"], ["KEY=VALUE"]),
        (["vae-mnist", "--set", "filters=[]"], ["filters"]),
        (["vae", "--dataset", "npz:missing.npz"], ["missing.npz"]),
        (["vae", "--dataset", "folder"], ["needs"]),
        (["vae", "--dataset", "tiny"], []),  # 'tiny' is test-only: unknown here
        (["vae", "--dataset", "npz:{bad_npz}"], ["bad.npz", "[0, 1]"]),
        (["vae", "--dataset", "npz:{tiny_npz}", "--set", "image_size=30"], ["divisible by 4"]),
        (["elbo"], ["is a loss"]),
    ],
)
def test_train_bad_inputs(cli, tiny_npz, tmp_path, args, words):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=np.full((4, 8, 8), -3.0), x_test=np.zeros((2, 8, 8)))
    args = [a.format(bad_npz=bad, tiny_npz=tiny_npz) for a in args]
    result = cli("train", *args, "--out", tmp_path / "run")
    assert_clean_error(result, *words)
    assert not (tmp_path / "run").exists()  # nothing half-written


@pytest.mark.parametrize(
    "args, words",
    [
        (["--epochs", "-1"], ["--epochs", "-1"]),
        (["--epochs", "0"], ["--epochs"]),
        (["--batch-size", "0"], ["--batch-size"]),
        (["--backend", "theano"], ["--backend", "theano"]),
        (["--learning-rate", "0"], ["--learning-rate"]),
    ],
)
def test_train_bad_option_values(cli, args, words):
    result = cli("train", "vae-mnist", *args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    for word in words:
        assert word in result.output


def test_backend_not_installed_or_already_running(cli, monkeypatch, tiny_npz):
    import zoo_core.backend as backend

    monkeypatch.setattr(backend, "installed", lambda name: name == "tensorflow")
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    assert_clean_error(cli("train", "vae", "--dataset", f"npz:{tiny_npz}", "--backend", "jax"),
                       "not installed", "pip install jax")


def test_bad_registry_file(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[presets.x]\nmodel = 'vae'\n")
    assert_clean_error(cli("list", "--registry", bad), "no dataset")
    assert_clean_error(cli("train", "x", "--registry", tmp_path / "none.toml"), "does not exist")


def test_zoo_toml_in_working_directory(cli, tmp_path):
    (tmp_path / "zoo.toml").write_text('[presets.mine]\nmodel = "vae"\ndataset = "mnist"\n')
    out = cli("list", "presets").output
    assert "mine" in out and "vae-mnist" in out


def _run_python(code, **env):
    import os

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


@pytest.mark.parametrize("command", [["--help"], ["list"], ["list", "--json"], ["info", "vae-mnist"], ["info", "mlflow"]])
def test_listing_imports_no_backend(command):
    code = (
        "import sys\nfrom zoo_core.cli import cli\n"
        f"try:\n    cli({command!r}, prog_name='zoo')\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"loaded = [m for m in {BACKEND_MODULES + HEAVY_EXTRAS!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = _run_python(code)
    assert result.returncode == 0, result.stderr


def _installed(name):
    import importlib.util

    return importlib.util.find_spec(name) is not None


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_backend_flag_takes_effect(backend, tiny_npz, tmp_path):
    if not _installed(backend):
        pytest.skip(f"{backend} is not installed")
    out = tmp_path / backend
    code = (
        "from zoo_core.cli import main; import sys\n"
        f"sys.argv = ['zoo', 'train', 'vae', '--dataset', 'npz:{tiny_npz}', '--epochs', '1',"
        f" '--batch-size', '8', '--backend', '{backend}', '--out', r'{out}']\n"
        "main()\n"
    )
    result = _run_python(code, KERAS_BACKEND="tensorflow" if backend != "tensorflow" else "jax")
    assert result.returncode == 0, result.stdout + result.stderr
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["zoo"]["backend"] == backend
    assert (out / "model.keras").is_file()
