"""One suite over every registered model: a model is tested the moment a
plugin registers it. Runs on whatever backend KERAS_BACKEND selects (CI
runs it on TensorFlow, JAX and PyTorch)."""

from __future__ import annotations

import numpy as np
import pytest

from zoo_core.plugins.config import make_config
from zoo_core.plugins.registry import load_registry
from zoo_core.specs import DataInfo

from conftest import tiny_images

REGISTRY = load_registry()
MODELS = REGISTRY.names("model")
SHAPES = [(28, 28, 1), (32, 32, 3)]


def build(name, shape):
    import keras

    spec = REGISTRY.model(name)
    loss_spec = REGISTRY.loss(spec.default_loss)
    loss = loss_spec.build(make_config(loss_spec.config, dict(spec.default_loss_config)))
    keras.utils.set_random_seed(0)
    model = spec.build(make_config(spec.config, {}), DataInfo(shape, 4), loss)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return spec, model


def fit_args(spec, shape, n=16):
    x = tiny_images(n, shape)
    if spec.needs_labels:
        return {"x": x, "y": np.arange(n) % 4}
    return {"x": x}


def test_some_models_are_registered():
    assert MODELS, "no models registered: are the bundled plugins installed?"


def check_trained(model, history, shape):
    """Finite metrics from fit, and generated images of the data's shape in [0, 1]."""
    assert history.history, "fit reported no metrics"
    for key, values in history.history.items():
        assert np.all(np.isfinite(values)), f"{key} is not finite: {values}"
    samples = model.generate(4, seed=1)
    assert samples.shape == (4, *shape)
    assert samples.dtype == np.float32 and samples.min() >= 0 and samples.max() <= 1


# Grey images here, on TensorFlow; every model trains on colour images, with the same
# checks, in test_keras_save_and_load on every backend, so compiling every model once
# or twice more is left out (one_backend, and one shape).
@pytest.mark.one_backend
@pytest.mark.parametrize("shape", SHAPES[:1], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", MODELS)
def test_model_trains_one_step(name, shape):
    spec, model = build(name, shape)
    history = model.fit(**fit_args(spec, shape), batch_size=16, epochs=1, verbose=0)
    check_trained(model, history, shape)


@pytest.mark.one_backend  # get_config/from_config is Python; it cannot differ per backend
@pytest.mark.parametrize("name", MODELS)
def test_config_round_trip(name):
    _, model = build(name, SHAPES[0])
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    clone(np.zeros((1, *SHAPES[0]), np.float32)) if not REGISTRY.model(name).needs_labels else None
    assert clone.count_params() == model.count_params()


@pytest.mark.parametrize("name", MODELS)
def test_keras_save_and_load(name, tmp_path):
    import keras

    spec, model = build(name, SHAPES[1])
    history = model.fit(**fit_args(spec, SHAPES[1]), batch_size=8, epochs=1, verbose=0)
    check_trained(model, history, SHAPES[1])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode stays on
    assert type(loaded) is type(model)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    np.testing.assert_allclose(model.generate(3, seed=7), loaded.generate(3, seed=7), atol=1e-6)
