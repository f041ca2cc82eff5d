"""scikit-learn's 8x8 handwritten digits in zoo's data layout.

The 1,797 images (UCI optical recognition of handwritten digits, 16 grey
levels) ship inside scikit-learn, so this data set never downloads anything.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from zoo_core.errors import ZooError
from zoo_core.specs import Dataset

NAME = "digits"
TEST_IMAGES = 300
#: The split is fixed: the same images are test images on every machine.
SPLIT_SEED = 0


def load_digits(arg: Optional[str], image_size: Optional[int]) -> Dataset:
    """Load the digits: 1,497 train and 300 test images, 8x8x1, 10 classes.

    Args:
        arg: not used (``digits`` takes no ``:ARG``).
        image_size: resize to this square size (bilinear); None keeps 8x8.

    Raises:
        ZooError: an ``:ARG`` was given, or a bad ``image_size``.
    """
    if arg:
        raise ZooError(f"dataset 'digits' takes no ':{arg}'; use plain --dataset digits")
    if image_size is not None and (not isinstance(image_size, int) or image_size < 1):
        raise ZooError(f"image_size must be a positive integer, got {image_size!r}")
    from sklearn import __version__ as sklearn_version
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = (bunch.images / 16.0).astype(np.float32)  # 0..16 grey levels -> [0, 1]
    labels = bunch.target.astype(np.int64)
    if image_size is not None and image_size != images.shape[1]:
        images = _resize(images, image_size)
    images = images[..., None]
    order = np.random.default_rng(SPLIT_SEED).permutation(len(images))
    test, train = order[:TEST_IMAGES], order[TEST_IMAGES:]
    return Dataset(
        NAME, images[train], images[test], labels[train], labels[test], num_classes=10,
        source=f"scikit-learn {sklearn_version} sklearn.datasets.load_digits",
    )


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    out = np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR))
                    for im in images])
    return np.clip(out, 0.0, 1.0).astype(np.float32)
