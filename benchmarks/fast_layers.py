"""zoo_core.layers against Keras' own layers: one training step, milliseconds.

    KERAS_BACKEND=jax python benchmarks/fast_layers.py [--steps 20]

For each case (a DCGAN-shaped generator at batch 128, a conv-VAE decoder at
batch 32, a discriminator with batch norm at batch 256) it builds the model
twice, with Keras' ``Conv2DTranspose``/``BatchNormalization`` and with zoo's,
and prints the median ``train_on_batch`` time of each (the faster of two
builds, Keras' pair first, then zoo's) and their ratio. Compare ratios from one run, not absolute times.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import keras
from keras import layers

from zoo_core import layers as zoo_layers


def generator(conv_t, norm):
    inputs = keras.Input((100,))
    h = layers.Reshape((7, 7, 128))(layers.Dense(7 * 7 * 128, use_bias=False)(inputs))
    h = layers.ReLU()(norm(momentum=0.9)(h))
    h = layers.ReLU()(norm(momentum=0.9)(conv_t(64, 4, strides=2, padding="same", use_bias=False)(h)))
    outputs = conv_t(1, 4, strides=2, padding="same", activation="tanh")(h)
    return keras.Model(inputs, outputs), (128, 100), (128, 28, 28, 1)


def decoder(conv_t, norm):
    inputs = keras.Input((2,))
    h = layers.Reshape((7, 7, 64))(layers.Dense(7 * 7 * 64, activation="relu")(inputs))
    h = conv_t(64, 3, strides=2, padding="same", activation="relu")(h)
    h = conv_t(32, 3, strides=2, padding="same", activation="relu")(h)
    return keras.Model(inputs, conv_t(1, 3, padding="same")(h)), (32, 2), (32, 28, 28, 1)


def discriminator(conv_t, norm):
    inputs = keras.Input((28, 28, 1))
    h = layers.LeakyReLU(0.2)(layers.Conv2D(64, 4, strides=2, padding="same")(inputs))
    h = layers.Conv2D(128, 4, strides=2, padding="same", use_bias=False)(h)
    h = layers.LeakyReLU(0.2)(norm(momentum=0.9)(h))
    return keras.Model(inputs, layers.Dense(1)(layers.Flatten()(h))), (256, 28, 28, 1), (256, 1)


def step_ms(make, zoo: bool, steps: int) -> float:
    keras.utils.set_random_seed(0)
    pair = (zoo_layers.Conv2DTranspose, zoo_layers.BatchNormalization) if zoo else \
        (layers.Conv2DTranspose, layers.BatchNormalization)
    model, x_shape, y_shape = make(*pair)
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(x_shape).astype("float32"), np.zeros(y_shape, "float32")
    for _ in range(3):
        model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    print(f"backend {keras.backend.backend()}, keras {keras.__version__}")
    for name, make in [("dcgan generator, batch 128", generator), ("conv-VAE decoder, batch 32", decoder),
                       ("discriminator with batch norm, batch 256", discriminator)]:
        k = min(step_ms(make, False, args.steps) for _ in range(2))
        z = min(step_ms(make, True, args.steps) for _ in range(2))
        print(f"{name:42s} keras {k:8.1f} ms   zoo {z:8.1f} ms   keras/zoo {k / z:5.2f}", flush=True)


if __name__ == "__main__":
    main()
