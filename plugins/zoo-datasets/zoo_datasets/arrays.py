"""Checks and conversions that bring arrays into zoo's one data layout.

Every loader ends here, so the rules live in one place: images float32 in
``[0, 1]`` shaped ``(N, H, W, C)`` with C 1 or 3, labels int64 shaped ``(N,)``.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from zoo_core.errors import ZooError
from zoo_core.specs import Dataset

#: Fraction of the images held out for testing when a source has no test split.
TEST_FRACTION = 0.1
#: Seed of the train/test split, fixed so that every run sees the same split.
SPLIT_SEED = 0


def as_images(x: np.ndarray, what: str) -> np.ndarray:
    """Checks an image array and converts it to float32 NHWC in ``[0, 1]``.

    Args:
        x: ``(N, H, W)`` or ``(N, H, W, C)`` with C 1, 3 or 4; unsigned 8-bit
            style integers in ``[0, 255]``, floats in ``[0, 1]`` or booleans.
            A fourth (alpha) channel is dropped.
        what: names the array in error messages, e.g. ``"x_train in a.npz"``.

    Returns:
        The images as float32, shaped ``(N, H, W, C)`` with C 1 or 3.

    Raises:
        ZooError: for an empty array, a wrong shape, dtype or value range.
    """
    x = np.asarray(x)
    expected = "expected (N, H, W) or (N, H, W, C) with C in 1, 3, 4"
    if x.ndim == 3:
        x = x[..., None]
    elif x.ndim != 4:
        raise ZooError(f"{what} has shape {x.shape}; {expected}")
    if x.shape[-1] not in (1, 3, 4):
        hint = ""
        if x.shape[1] in (1, 3, 4):
            hint = " (it looks channels-first; transpose it to (N, H, W, C))"
        raise ZooError(f"{what} has shape {x.shape}{hint}; {expected}")
    if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
        raise ZooError(f"{what} is empty (shape {x.shape}); it needs at least one image")
    if x.shape[-1] == 4:
        x = x[..., :3]
    return _to_unit_float(x, what)


def _to_unit_float(x: np.ndarray, what: str) -> np.ndarray:
    if x.dtype == np.bool_:
        return x.astype(np.float32)
    if np.issubdtype(x.dtype, np.integer):
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi > 255:
            raise ZooError(
                f"{what} has integer values in [{lo}, {hi}]; expected 0..255 (uint8 pixels)"
            )
        return x.astype(np.float32) / np.float32(255)
    if np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32, copy=False)
        if not np.isfinite(x).all():
            raise ZooError(f"{what} contains NaN or infinite values; expected floats in [0, 1]")
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 1:
            hint = " (divide by 255, or save as uint8)" if lo >= 0 and hi <= 255 else ""
            raise ZooError(
                f"{what} has float values in [{lo:g}, {hi:g}]; expected floats in [0, 1]{hint}"
            )
        return np.array(x, dtype=np.float32)  # own the memory, whatever came in
    raise ZooError(f"{what} has dtype {x.dtype}; expected uint8 pixels or floats in [0, 1]")


def as_labels(y: np.ndarray, n: int, what: str) -> np.ndarray:
    """Checks a label array and converts it to int64 class indices.

    Args:
        y: integer class indices shaped ``(N,)`` or ``(N, 1)``; floats are
            accepted when every value is a whole number.
        n: the number of images the labels belong to.
        what: names the array in error messages.

    Returns:
        int64 labels shaped ``(n,)``.

    Raises:
        ZooError: for a wrong shape, a length other than ``n``, negative or
            fractional values.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        hint = " (one-hot? save y.argmax(axis=1) instead)" if y.ndim == 2 else ""
        raise ZooError(
            f"{what} has shape {y.shape}; expected integer class indices shaped (N,){hint}"
        )
    if y.shape[0] != n:
        raise ZooError(f"{what} has {y.shape[0]} labels for {n} images; they must match")
    if np.issubdtype(y.dtype, np.floating):
        if not (np.isfinite(y).all() and (y == np.round(y)).all()):
            raise ZooError(f"{what} holds non-integer values; expected class indices 0, 1, 2, ...")
    elif not np.issubdtype(y.dtype, np.integer):
        raise ZooError(f"{what} has dtype {y.dtype}; expected integer class indices")
    if n and y.min() < 0:
        raise ZooError(f"{what} has negative labels (min {y.min()}); expected 0, 1, 2, ...")
    return y.astype(np.int64)


def split_indices(n: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Splits ``range(n)`` 90/10 into train and test indices, the same way every run.

    Raises:
        ZooError: when ``n < 2``, as both splits need an image.
    """
    if n < 2:
        raise ZooError(f"{what} holds {n} image(s); at least 2 are needed for a train/test split")
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_test = min(n - 1, max(1, round(n * TEST_FRACTION)))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def resize_images(x: np.ndarray, size: int) -> np.ndarray:
    """Resizes float32 NHWC images to ``size`` x ``size`` (bilinear, antialiased).

    Each channel is resized as a 32-bit float image, so no precision is lost
    to a round trip through uint8.
    """
    from PIL import Image

    n, h, w, c = x.shape
    if (h, w) == (size, size):
        return x
    out = np.empty((n, size, size, c), dtype=np.float32)
    # Pillow's resize widens its filter when shrinking, which is the antialiasing.
    for i in range(n):
        for k in range(c):
            img = Image.fromarray(np.ascontiguousarray(x[i, :, :, k]))
            out[i, :, :, k] = np.asarray(img.resize((size, size), Image.Resampling.BILINEAR))
    return np.clip(out, 0.0, 1.0, out=out)


def check_image_size(image_size: Optional[int]) -> None:
    """Raises ZooError unless ``image_size`` is None or a positive int."""
    if image_size is None:
        return
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ZooError(f"image size must be a positive whole number of pixels, got {image_size!r}")


def make_dataset(
    name: str,
    x_train: np.ndarray,
    x_test: np.ndarray,
    y_train: Optional[np.ndarray] = None,
    y_test: Optional[np.ndarray] = None,
    *,
    image_size: Optional[int] = None,
    num_classes: Optional[int] = None,
    source: str = "",
    notice: Optional[str] = None,
) -> Dataset:
    """Builds a Dataset from arrays already in zoo's layout, resizing if asked.

    Args:
        name: the data set's registry name.
        x_train, x_test: float32 NHWC images in ``[0, 1]`` (see :func:`as_images`).
        y_train, y_test: int64 labels or both ``None``.
        image_size: resize every image to this square size; ``None`` keeps it.
        num_classes: number of classes; inferred from the labels when ``None``.
        source: where the data came from.
        notice: a message to show the user before training.

    Returns:
        The Dataset.

    Raises:
        ZooError: when the two splits disagree in image shape.
    """
    check_image_size(image_size)
    if x_train.shape[1:] != x_test.shape[1:]:
        raise ZooError(
            f"{name}: train images are {x_train.shape[1:]} but test images are "
            f"{x_test.shape[1:]}; both splits need the same (H, W, C)"
        )
    if image_size is not None:
        x_train = resize_images(x_train, image_size)
        x_test = resize_images(x_test, image_size)
    if num_classes is None and y_train is not None:
        num_classes = int(max(y_train.max(initial=-1), y_test.max(initial=-1))) + 1
    return Dataset(
        name=name,
        x_train=x_train,
        x_test=x_test,
        y_train=y_train,
        y_test=y_test,
        num_classes=num_classes,
        notice=notice,
        source=source,
    )
