"""What the plain-Keras baselines share: their command line, the data, an
epoch timer and the result they report. No zoo imports here or in any
script of this folder: the baselines are what a user writes by hand.

Each script runs as::

    KERAS_BACKEND=torch python benchmarks/plain/vae.py --data data.npz --epochs 4 --json out.json

``--data`` is an ``.npz`` with ``x`` (N, H, W, C) float32 in [0, 1] and, for
conditional models, ``y`` (N,) class indices; ``bench_train.py`` writes it
from the same data set that ``zoo train`` loads.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def parse_args(description, archs=None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", required=True, help=".npz with x (N, H, W, C) in [0, 1] and optionally y (N,)")
    parser.add_argument("--examples", type=int, help="use the first N images (default: all)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--json", help="write the result (per-epoch images/s, parameter count) to this file")
    if archs:
        parser.add_argument("--arch", choices=archs, default=archs[0])
    return parser.parse_args()


def load_data(path, examples=None):
    """``(x, y)``: float32 images in [0, 1] and int32 labels (or None)."""
    with np.load(path) as data:
        x = np.asarray(data["x"], np.float32)
        y = np.asarray(data["y"], np.int32) if "y" in data.files else None
    if examples:
        x = x[:examples]
        y = None if y is None else y[:examples]
    return x, y


def make_epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Wall seconds of each epoch, from its first batch to its last result."""

        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._began = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            # Reading the results waits for any step still running (JAX dispatches asynchronously).
            {k: float(v) for k, v in (logs or {}).items()}
            self.seconds.append(time.perf_counter() - self._began)

    return EpochTimer()


def report(args, model, timer, examples, batch_size, name):
    """Print and (with ``--json``) write what ``bench_train.py`` compares."""
    import keras

    result = {
        "script": name,
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "params": int(model.count_params()),
        "batch_size": int(batch_size),
        "examples": int(examples),
        "epoch_seconds": timer.seconds,
        "images_per_second": [examples / s for s in timer.seconds],
    }
    steady = result["images_per_second"][1:] or result["images_per_second"]
    print(f"{name}: {result['params']:,} parameters, backend {result['backend']}, "
          f"median {float(np.median(steady)):,.0f} images/s after epoch 1")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result
