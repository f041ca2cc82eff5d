"""Run folders written by zoo 0.1, before the multi-network trainer, still
load: their models were saved with zoo-gan's ``AdversarialOptimizer`` and
zoo-vaegan's own ``NetworkOptimizers``, which the plugins now read into
zoo_core's ``NetworkOptimizers`` (the weights sit at the same paths).

tests/data/runs-zoo-0.1 holds tiny runs (16x16 images, one epoch of 5
batches) that zoo 0.1 trained on TensorFlow; every backend loads them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data" / "runs-zoo-0.1"
MODELS = {"gan": ["generator", "discriminator"], "dcgan": ["generator", "discriminator"],
          "wgan-gp": ["generator", "discriminator"], "cgan": ["generator", "discriminator"],
          "vae-gan": ["encoder", "decoder", "discriminator"]}


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """A copy of the old runs, in a working folder with the data set they name (npz:tiny.npz)."""
    shutil.copytree(DATA, tmp_path, dirs_exist_ok=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize("model", MODELS)
def test_an_old_run_loads_with_its_optimizers(runs, model):
    import keras

    from zoo_core.multinet import NetworkOptimizers
    from zoo_core.saving.runs import load_model, open_run

    loaded = load_model(open_run(runs / model))
    assert isinstance(loaded.optimizer, NetworkOptimizers)
    assert list(loaded.optimizer.network_names) == MODELS[model]
    steps = 5 * (2 if model == "wgan-gp" else 1)  # 40 images in batches of 8; wgan-gp: 2 critic updates each
    iterations = [int(keras.ops.convert_to_numpy(o.iterations)) for o in loaded.optimizer.optimizers]
    assert iterations[-1] == steps and iterations[0] == 5
    # The optimizer state was read, not left fresh: Adam's moments are non-zero.
    assert any(np.abs(keras.ops.convert_to_numpy(v)).sum() > 0 for v in loaded.optimizer.variables[2:])
    images = loaded.generate(4, seed=0)
    assert images.shape == (4, 16, 16, 1) and np.isfinite(images).all()


@pytest.mark.parametrize("model", MODELS)
def test_zoo_sample_reads_an_old_run(cli, runs, model):
    result = cli("sample", runs / model, "--num", 4, "--out", runs / f"{model}.png")
    assert result.exit_code == 0, result.output
    assert (runs / f"{model}.png").is_file()


@pytest.mark.parametrize("model", ["dcgan", "vae-gan"])
def test_zoo_eval_reads_an_old_run(cli, runs, model):
    result = cli("eval", runs / model, "--num", 40, "--nll-images", 4, "--k", 4)
    assert result.exit_code == 0, result.output
    assert (runs / model / "eval.json").is_file()


@pytest.mark.parametrize("model", ["dcgan", "vae-gan"])
def test_an_old_run_resumes(runs, model):
    import keras

    from zoo_core.plugins.registry import load_registry
    from zoo_core.training import resume_run
    from zoo_core.training.checkpoints import read_checkpoint

    result = resume_run(runs / model, load_registry(), backend=keras.backend.backend(), epochs=2,
                        echo=lambda s: None, verbose=0)
    assert read_checkpoint(runs / model).epoch == 2
    assert [row["epoch"] for row in read_checkpoint(runs / model).history] == [1, 2]
    assert np.isfinite(result.metrics["d_loss"])
