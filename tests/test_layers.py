"""zoo_core.layers compute what Keras' layers compute, on whichever backend runs the suite."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers, ops  # noqa: E402

from zoo_core import layers as zoo_layers  # noqa: E402


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype=np.float32)


def assert_close(got, expected, tolerance=1e-4):
    """Equal to float rounding, relative to the tensor's own scale."""
    got, expected = numpy(got), numpy(expected)
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance * (np.abs(expected).max() + 1.0))


@pytest.mark.parametrize(
    "kernel, strides, padding, size",
    [
        (3, (2, 2), "same", (7, 7)),
        (4, (2, 2), "same", (7, 7)),
        (5, (2, 2), "same", (6, 6)),
        (1, (2, 2), "same", (5, 5)),
        (2, (2, 2), "valid", (5, 5)),
        (4, (2, 2), "valid", (6, 6)),
        (3, (3, 3), "same", (4, 4)),
        (3, (2, 1), "same", (5, 6)),
    ],
)
def test_subpixel_conv_transpose_is_keras_conv_transpose(kernel, strides, padding, size):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, *size, 5)).astype("float32")
    w = rng.standard_normal((kernel, kernel, 4, 5)).astype("float32")
    expected = numpy(ops.conv_transpose(x, w, strides=strides, padding=padding))
    got = numpy(zoo_layers.subpixel_conv_transpose(ops.convert_to_tensor(x), ops.convert_to_tensor(w), strides, padding))
    assert got.shape == expected.shape
    assert_close(got, expected)


def _decoder(conv_transpose, batch_norm):
    inputs = keras.Input((4, 4, 8))
    h = conv_transpose(16, 4, strides=2, padding="same", use_bias=False)(inputs)
    h = layers.ReLU()(batch_norm(momentum=0.9)(h))
    h = conv_transpose(8, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Flatten()(h)
    h = batch_norm(momentum=0.8, center=False)(h)
    return keras.Model(inputs, layers.Dense(1)(h))


def _pair():
    keras.utils.set_random_seed(0)
    reference = _decoder(layers.Conv2DTranspose, layers.BatchNormalization)
    zoo = _decoder(zoo_layers.Conv2DTranspose, zoo_layers.BatchNormalization)
    zoo.set_weights(reference.get_weights())
    return reference, zoo


def test_the_fast_paths_are_the_ones_under_test():
    """Each backend's pass checks its own fast path, not Keras' fallback."""
    backend = keras.backend.backend()
    wide = zoo_layers.Conv2DTranspose(16, 3, strides=2, padding="same")
    assert wide._subpixel() is (backend == "jax")
    assert zoo_layers.Conv2DTranspose(1, 3, strides=2, padding="same")._subpixel() is False  # an image layer
    assert zoo_layers.Conv2DTranspose(16, 3, strides=1, padding="same")._subpixel() is False
    norm = zoo_layers.BatchNormalization()
    x = ops.zeros((2, 3, 3, 4))
    assert norm._fused(x, True, None) is (backend in ("tensorflow", "torch"))
    assert norm._fused(x, False, None) is False


def test_zoo_layers_train_like_keras_layers():
    reference, zoo = _pair()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 4, 4, 8)).astype("float32")
    y = rng.standard_normal((16, 1)).astype("float32")
    for model in (reference, zoo):
        model.compile(keras.optimizers.SGD(0.01), "mse")
        for _ in range(3):
            model.train_on_batch(x, y)
    for ref, got in zip(reference.weights, zoo.weights):
        assert ref.name == got.name
        assert_close(got, ref, 1e-3)
    assert_close(zoo(x, training=True), reference(x, training=True), 1e-3)
    assert_close(zoo.predict(x, verbose=0), reference.predict(x, verbose=0), 1e-3)


def test_weights_move_between_keras_and_zoo_layers(tmp_path):
    """A checkpoint written before a model used zoo's layers loads into one that does, and back."""
    reference, zoo = _pair()
    x = np.random.default_rng(2).standard_normal((3, 4, 4, 8)).astype("float32")
    reference.save_weights(tmp_path / "keras.weights.h5")
    keras.utils.set_random_seed(5)
    fresh = _decoder(zoo_layers.Conv2DTranspose, zoo_layers.BatchNormalization)
    fresh.load_weights(tmp_path / "keras.weights.h5")
    assert_close(fresh(x), reference(x))

    zoo.save(tmp_path / "zoo.keras")
    loaded = keras.saving.load_model(tmp_path / "zoo.keras")
    assert any(isinstance(layer, zoo_layers.Conv2DTranspose) for layer in loaded.layers)
    assert_close(loaded(x), zoo(x), 1e-6)


def test_batch_norm_under_a_bfloat16_policy():
    x = np.random.default_rng(3).standard_normal((8, 3, 3, 4)).astype("float32") * 2 + 1
    reference = layers.BatchNormalization(dtype="mixed_bfloat16")
    zoo = zoo_layers.BatchNormalization(dtype="mixed_bfloat16")
    expected, got = reference(x, training=True), zoo(x, training=True)
    assert keras.backend.standardize_dtype(got.dtype) == "bfloat16"
    np.testing.assert_allclose(numpy(got), numpy(expected), atol=3e-2)
    np.testing.assert_allclose(numpy(zoo.moving_variance), numpy(reference.moving_variance), rtol=1e-5)
