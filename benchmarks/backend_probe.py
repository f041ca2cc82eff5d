"""Why is one backend slower than another on this machine? Times the pieces of
one training step of the conv VAE in isolation, on the backend in
$KERAS_BACKEND:

    KERAS_BACKEND=jax python benchmarks/backend_probe.py

Prints milliseconds per call (median of repeats, after warm-up) for: the full
train step (fit), predict (forward only), and forward+backward of the encoder
convs, the decoder's transposed convs, and the dense layers alone.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
from keras import layers  # noqa: E402

BATCH = 128
REPEATS = 15


def timed(fn, repeats=REPEATS):
    fn()
    fn()  # warm-up: compile/trace
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def sub_model(kind):
    if kind == "conv":  # encoder: two stride-2 convs
        inputs = keras.Input((28, 28, 1))
        h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
        out = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    elif kind == "conv-transpose":  # decoder: two stride-2 transposed convs
        inputs = keras.Input((7, 7, 64))
        h = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(inputs)
        h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(h)
        out = layers.Conv2DTranspose(1, 3, padding="same")(h)
    else:  # the dense layers of the VAE
        inputs = keras.Input((3136,))
        h = layers.Dense(16, activation="relu")(inputs)
        out = layers.Dense(3136)(layers.Dense(2)(h))
    return keras.Model(inputs, out)


def main():
    from zoo_core.specs import DataInfo
    from zoo_vae import plugin

    rng = np.random.default_rng(0)
    x = rng.random((BATCH * 8, 28, 28, 1), dtype=np.float32)
    vae = plugin._build_conv(plugin.ConvVAEConfig(), DataInfo((28, 28, 1)), plugin._build_elbo(plugin.ELBOConfig()))
    vae.compile(optimizer="adam")
    results = {}
    results["train step (fit, per batch)"] = timed(
        lambda: vae.fit(x, batch_size=BATCH, epochs=1, verbose=0), repeats=5) / 8
    results["forward (predict, per batch)"] = timed(
        lambda: vae.predict(x, batch_size=BATCH, verbose=0), repeats=5) / 8
    shapes = {"conv": (BATCH, 28, 28, 1), "conv-transpose": (BATCH, 7, 7, 64), "dense": (BATCH, 3136)}
    for kind, shape in shapes.items():
        model = sub_model(kind)
        model.compile(optimizer="adam", loss="mse")
        xs = rng.random(shape, dtype=np.float32)
        ys = model.predict(xs, verbose=0)
        results[f"{kind}: forward+backward"] = timed(lambda: model.train_on_batch(xs, ys))
    print(f"backend {keras.backend.backend()}, batch {BATCH}, ms per call:")
    for name, ms in results.items():
        print(f"  {name:<32} {ms:8.2f}")


if __name__ == "__main__":
    main()
