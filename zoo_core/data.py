"""Loading a run's data set and checking it is something zoo's models can take."""

from __future__ import annotations

import numpy as np

from .errors import ZooError
from .resolve import ResolvedRun
from .specs import Dataset


def check_dataset(data: Dataset, needs_labels: bool = False) -> Dataset:
    """Fail clearly on data zoo's models cannot take."""
    for split in ("x_train", "x_test"):
        x = getattr(data, split)
        if not isinstance(x, np.ndarray) or x.ndim != 4:
            shape = getattr(x, "shape", None)
            raise ZooError(
                f"dataset '{data.name}': {split} must be an (N, H, W, C) array, got shape {shape}"
            )
        if x.shape[-1] not in (1, 3):
            raise ZooError(
                f"dataset '{data.name}': images need 1 or 3 channels, got {x.shape[-1]}"
            )
    if len(data.x_train) == 0:
        raise ZooError(f"dataset '{data.name}' has no training images")
    if data.x_train.shape[1:] != data.x_test.shape[1:] and len(data.x_test):
        raise ZooError(
            f"dataset '{data.name}': train images are {data.x_train.shape[1:]} "
            f"but test images are {data.x_test.shape[1:]}"
        )
    lo, hi = float(data.x_train.min()), float(data.x_train.max())
    if lo < 0.0 or hi > 1.0 or not np.isfinite(lo + hi):
        raise ZooError(
            f"dataset '{data.name}': pixel values must be in [0, 1], found [{lo:g}, {hi:g}]; "
            f"divide 8-bit images by 255"
        )
    if needs_labels and data.y_train is None:
        raise ZooError(f"dataset '{data.name}' has no labels, but this model is class-conditional")
    return data


def load_data(resolved: ResolvedRun) -> Dataset:
    spec, train = resolved.dataset, resolved.config.train
    try:
        data = spec.load(resolved.dataset_arg, train.image_size)
    except ZooError:
        raise
    except (OSError, ValueError) as exc:
        raise ZooError(f"could not load dataset '{resolved.config.dataset}': {exc}") from None
    if not isinstance(data, Dataset):
        raise ZooError(f"dataset '{spec.name}' loader returned {type(data).__name__}, not a Dataset")
    data = check_dataset(data, resolved.model.needs_labels)
    if train.max_train_examples:
        data.x_train = data.x_train[: train.max_train_examples]
        if data.y_train is not None:
            data.y_train = data.y_train[: train.max_train_examples]
    return data
