"""Images (and optional labels) from a user's ``.npz`` file.

Two layouts are accepted:

* ``x_train`` and ``x_test``, with ``y_train`` and ``y_test`` when labelled
  (Keras's layout); ``x_train`` alone is split like ``x``;
* one ``x`` (or ``images``) array, with ``y`` (or ``labels``) when labelled,
  split 90/10 into train and test the same way every run.

Images are ``(N, H, W)`` or ``(N, H, W, C)`` with C 1, 3 or 4 (a fourth,
alpha, channel is dropped), as uint8 in 0-255 or floats in [0, 1].
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from zoo_core.errors import ZooError, without_pickle_advice
from zoo_core.specs import Dataset

from .arrays import as_images, as_labels, check_image_size, make_dataset, split_indices

NAME = "npz"
_LAYOUTS = "x_train and x_test (+ y_train, y_test), or x/images (+ y/labels)"


def load_npz(arg: Optional[str], image_size: Optional[int]) -> Dataset:
    """Loads images from an ``.npz`` file.

    Args:
        arg: path to the file.
        image_size: resize every image to this square size; ``None`` keeps it.

    Returns:
        The Dataset; ``num_classes`` is the largest label + 1 when labelled.

    Raises:
        ZooError: when the path is missing or not an npz file, or its arrays
            do not fit one of the layouts above.
    """
    check_image_size(image_size)
    if not arg:
        raise ZooError("npz needs a file: --dataset npz:PATH/TO/FILE.npz")
    path = Path(arg).expanduser()
    arrays = _read(path)
    keys = set(arrays)
    notice = None

    if "x_test" in keys:
        if "x_train" not in keys:
            raise ZooError(f"{path} has x_test but no x_train; expected {_LAYOUTS}")
        if ("y_train" in keys) != ("y_test" in keys):
            raise ZooError(f"{path} has only one of y_train, y_test; give both or neither")
        x_train = as_images(arrays["x_train"], f"x_train in {path}")
        x_test = as_images(arrays["x_test"], f"x_test in {path}")
        y_train = y_test = None
        if "y_train" in keys:
            y_train = as_labels(arrays["y_train"], len(x_train), f"y_train in {path}")
            y_test = as_labels(arrays["y_test"], len(x_test), f"y_test in {path}")
    else:
        x_key = _first(keys, ("x", "images", "x_train"))
        if x_key is None:
            raise ZooError(
                f"{path} holds {', '.join(sorted(keys)) or 'no arrays'}; expected {_LAYOUTS}"
            )
        y_key = {"x": "y", "images": "labels", "x_train": "y_train"}[x_key]
        x = as_images(arrays[x_key], f"{x_key} in {path}")
        y = as_labels(arrays[y_key], len(x), f"{y_key} in {path}") if y_key in keys else None
        train, test = split_indices(len(x), f"{x_key} in {path}")
        x_train, x_test = x[train], x[test]
        y_train, y_test = (y[train], y[test]) if y is not None else (None, None)
        if x_key == "x_train":
            notice = f"{path} has no x_test; holding out {len(test)} of its images for testing"

    return make_dataset(
        NAME,
        x_train,
        x_test,
        y_train,
        y_test,
        image_size=image_size,
        source=str(path),
        notice=notice,
    )


def _first(keys: set, candidates: tuple) -> Optional[str]:
    return next((k for k in candidates if k in keys), None)


def _read(path: Path) -> dict:
    if not path.exists():
        raise ZooError(f"npz file {path} does not exist")
    if not path.is_file():
        raise ZooError(f"{path} is not a file; npz needs an .npz file")
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - zipfile, pickle and OS errors all mean "unreadable"
        raise ZooError(f"cannot read {path} as an .npz file ({without_pickle_advice(str(e))})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ZooError(
            f"{path} is a single .npy array, not an .npz archive; save it with "
            "numpy.savez(path, x=images)"
        )
    try:
        with loaded:
            return {k: loaded[k] for k in loaded.files}
    except Exception as e:  # noqa: BLE001 - a damaged member shows up only when read
        raise ZooError(f"cannot read {path} as an .npz file ({e})") from None
