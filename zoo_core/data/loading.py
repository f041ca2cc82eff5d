"""Loading a run's data set and checking it is something zoo's models can take."""

from __future__ import annotations

from typing import Optional

import numpy as np

from . import stream as streaming
from ..errors import ZooError
from ..plugins.resolve import ResolvedRun
from ..specs import DataInfo, Dataset


def check_dataset(data: Dataset, needs_labels: bool = False) -> Dataset:
    """Fail clearly on data zoo's models cannot take."""
    for split in ("x_train", "x_test"):
        x = getattr(data, split)
        if not isinstance(x, (np.ndarray, streaming.DiskImages)) or x.ndim != 4:
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
    if streaming.is_streamed(data.x_train):  # 8-bit on disk: in range by construction
        lo, hi = 0.0, 1.0
    else:
        lo, hi = float(data.x_train.min()), float(data.x_train.max())
    if lo < 0.0 or hi > 1.0 or not np.isfinite(lo + hi):
        raise ZooError(
            f"dataset '{data.name}': pixel values must be in [0, 1], found [{lo:g}, {hi:g}]; "
            f"divide 8-bit images by 255"
        )
    if needs_labels and data.y_train is None:
        raise ZooError(f"dataset '{data.name}' has no labels, but this model is class-conditional")
    return check_labels(data)


#: More distinct labels than this look like ids, not classes.
MAX_CLASSES = 1000


def check_labels(data: Dataset) -> Dataset:
    """Class labels must be small integers 0..K-1: a label of 10**9 would make
    a billion-class embedding. Sparse labels (say 3, 70, 10**9) are renumbered
    0..K-1 in sorted order, with a notice; more than MAX_CLASSES distinct
    labels are refused."""
    if data.y_train is None:
        return data
    splits = [np.asarray(y) for y in (data.y_train, data.y_test) if y is not None]
    if not all(np.issubdtype(y.dtype, np.integer) for y in splits):
        raise ZooError(f"dataset '{data.name}': labels must be integer class indices, got {splits[0].dtype}")
    values = np.unique(np.concatenate([y.ravel() for y in splits]))
    if len(values) > MAX_CLASSES:
        raise ZooError(
            f"dataset '{data.name}' has {len(values):,} distinct labels; zoo takes at most {MAX_CLASSES} classes "
            f"(labels that are ids, not classes? leave them out of the data set)"
        )
    count = int(len(values))
    top = int(values[-1]) if count else -1
    if count and (values[0] < 0 or top + 1 > max(2 * count, 16)):
        mapping = {int(v): i for i, v in enumerate(values)}
        data.y_train = np.searchsorted(values, data.y_train).astype(np.int64)
        if data.y_test is not None:
            data.y_test = np.searchsorted(values, data.y_test).astype(np.int64)
        shown = ", ".join(f"{k}->{v}" for k, v in list(mapping.items())[:4]) + (", ..." if count > 4 else "")
        note = (f"dataset '{data.name}': its {count} labels are not 0..{count - 1}; renumbered in sorted order "
                f"({shown})")
        data.notice = f"{data.notice}; {note}" if data.notice else note
        data.num_classes = count
    elif data.num_classes is None or data.num_classes > max(top + 1, count) * 2 and data.num_classes > 16:
        data.num_classes = max(top + 1, count)
    return data


def dataset_info(resolved: ResolvedRun) -> DataInfo:
    """The image shape and class count of the run's data set, loading as little
    as the data set allows: its static shape, its ``describe``, else all of it."""
    spec, train = resolved.dataset, resolved.config.train
    if spec.image_shape and not resolved.dataset_arg:
        shape = tuple(spec.image_shape)
        if train.image_size:
            shape = (train.image_size, train.image_size, shape[2])
        return DataInfo(shape, spec.num_classes)
    if spec.describe is not None:
        try:
            return spec.describe(resolved.dataset_arg, train.image_size)
        except ZooError:
            raise
        except (OSError, ValueError) as exc:
            raise ZooError(f"could not read dataset '{resolved.config.dataset}': {exc}") from None
    return load_data(resolved).info


def _takes(load, option: str) -> bool:
    import inspect

    try:
        return option in inspect.signature(load).parameters
    except (TypeError, ValueError):
        return False


def load_spec(spec, arg, image_size, name: str, crop: bool = False, stream: Optional[bool] = None) -> Dataset:
    """Call a data set spec's loader (with ``crop=True`` if asked, for a loader
    that takes it); its plain OS or value errors become one line naming ``name``.

    ``stream`` (``train.stream``) goes to a loader that takes it; with
    ``stream=True``, in-memory data is moved into zoo's on-disk cache and
    streamed from there (:func:`zoo_core.data.stream.cache_arrays`)."""
    options = {}
    if crop:
        if not _takes(spec.load, "crop"):
            raise ZooError(f"dataset '{spec.name}' cannot centre-crop (its loader takes no 'crop'); "
                           f"leave train.crop off")
        options["crop"] = True
    if stream is not None and _takes(spec.load, "stream"):
        options["stream"] = stream
    try:
        data = spec.load(arg, image_size, **options)
    except ZooError:
        raise
    except (OSError, ValueError) as exc:
        raise ZooError(f"could not load dataset '{name}': {exc}") from None
    if not isinstance(data, Dataset):
        raise ZooError(f"dataset '{spec.name}' loader returned {type(data).__name__}, not a Dataset")
    if stream and not (streaming.is_streamed(data.x_train) and streaming.is_streamed(data.x_test)):
        check_dataset(data)
        data = streaming.cache_arrays(data)
    return data


def in_memory(data: Dataset) -> Dataset:
    """``data`` with streamed splits read into memory (for evaluation, which
    looks at whole splits)."""
    if streaming.is_streamed(data.x_train) or streaming.is_streamed(data.x_test):
        data.x_train = streaming.in_memory(data.x_train)
        data.x_test = streaming.in_memory(data.x_test)
    return data


def load_data(resolved: ResolvedRun) -> Dataset:
    spec, train = resolved.dataset, resolved.config.train
    data = load_spec(spec, resolved.dataset_arg, train.image_size, resolved.config.dataset, train.crop,
                     train.stream)
    data = check_dataset(data, resolved.model.needs_labels)
    if train.max_train_examples:
        data.x_train = streaming.head(data.x_train, train.max_train_examples)
        if data.y_train is not None:
            data.y_train = data.y_train[: train.max_train_examples]
    return data
