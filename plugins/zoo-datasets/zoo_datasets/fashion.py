"""Fashion-MNIST: 70,000 28x28 grayscale pictures of clothes in 10 classes.

Looked for, in order: a folder the user names; the Debian package
``dataset-fashion-mnist``; the Keras cache; a Keras download. All hold the
same four IDX files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from zoo_core.errors import ZooError
from zoo_core.specs import Dataset

from . import keras_cache
from .arrays import as_images, as_labels, check_image_size, make_dataset
from .idx import read_idx

NAME = "fashion-mnist"
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
#: Where ``apt-get install dataset-fashion-mnist`` puts the files.
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def load_fashion_mnist(arg: Optional[str], image_size: Optional[int]) -> Dataset:
    """Loads Fashion-MNIST: 60,000 train and 10,000 test images.

    Args:
        arg: a folder holding the four IDX files (gzip-compressed or not), or
            ``None`` to look in the system folder, the Keras cache, then download.
        image_size: resize the images to this square size; ``None`` keeps 28.

    Returns:
        The Dataset.

    Raises:
        ZooError: when a named folder lacks a file, a file is damaged, or no
            copy can be found or downloaded.
    """
    check_image_size(image_size)
    if arg:
        folder = Path(arg).expanduser()
        if not folder.is_dir():
            raise ZooError(
                f"Fashion-MNIST folder {folder} is not a directory; give a folder "
                f"holding {', '.join(FILES)}"
            )
        return _dataset(read_fashion_dir(folder), image_size, str(folder))

    cache = keras_cache.keras_cache_dir() / "fashion-mnist"
    for folder in (SYSTEM_DIR, cache):
        if _has_files(folder):
            return _dataset(read_fashion_dir(folder), image_size, str(folder))

    try:
        (x_train, y_train), (x_test, y_test) = keras_cache.download("fashion_mnist")
    except Exception as e:  # noqa: BLE001 - every download failure gets the same advice
        raise ZooError(
            f"Fashion-MNIST is not installed and the download failed "
            f"({keras_cache.short_reason(e)}); run `apt-get install dataset-fashion-mnist`, "
            "connect to the internet once, or pass --dataset fashion-mnist:DIR with the "
            "four IDX files"
        ) from None
    arrays = _check_arrays(x_train, y_train, x_test, y_test, "downloaded Fashion-MNIST")
    return _dataset(arrays, image_size, str(cache))


def read_fashion_dir(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reads the four Fashion-MNIST IDX files from ``folder``.

    Each file may also be present without its ``.gz`` suffix, uncompressed.

    Returns:
        ``(x_train, y_train, x_test, y_test)``: float32 ``(N, 28, 28, 1)`` in
        ``[0, 1]`` and int64 labels.

    Raises:
        ZooError: when a file is missing or damaged, or the files disagree.
    """
    paths = []
    for name in FILES:
        path = _find(folder, name)
        if path is None:
            raise ZooError(
                f"{folder} has no {name}; a Fashion-MNIST folder holds {', '.join(FILES)}"
            )
        paths.append(path)
    x_train, y_train, x_test, y_test = (read_idx(p) for p in paths)
    return _check_arrays(x_train, y_train, x_test, y_test, str(folder))


def _find(folder: Path, name: str) -> Optional[Path]:
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _has_files(folder: Path) -> bool:
    return all(_find(folder, name) is not None for name in FILES)


def _check_arrays(x_train, y_train, x_test, y_test, what: str):
    x_train = as_images(x_train, f"the training images in {what}")
    x_test = as_images(x_test, f"the test images in {what}")
    if x_train.shape[1:] != IMAGE_SHAPE or x_test.shape[1:] != IMAGE_SHAPE:
        raise ZooError(
            f"{what} holds images of shape {x_train.shape[1:]}, not Fashion-MNIST's 28x28 grayscale"
        )
    y_train = as_labels(y_train, len(x_train), f"the training labels in {what}")
    y_test = as_labels(y_test, len(x_test), f"the test labels in {what}")
    if max(y_train.max(), y_test.max()) >= NUM_CLASSES:
        raise ZooError(f"{what} has labels above 9; Fashion-MNIST has 10 classes, 0-9")
    return x_train, y_train, x_test, y_test


def _dataset(arrays, image_size, source) -> Dataset:
    x_train, y_train, x_test, y_test = arrays
    return make_dataset(
        NAME,
        x_train,
        x_test,
        y_train,
        y_test,
        image_size=image_size,
        num_classes=NUM_CLASSES,
        source=source,
    )
