"""``zoo data NAME``: what zoo sees of a data set before anything trains on
it: counts, image shape, pixel range, class histogram, where it was read
from, its size in memory, and a PNG grid of examples. No Keras."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import ZooError

#: Up to this many classes, the grid has one row per class.
ROW_PER_CLASS = 20


def load_for_display(registry, name: str, image_size: Optional[int] = None, crop: bool = False):
    from .loading import check_dataset, load_spec
    from ..plugins.resolve import split_dataset

    base, arg = split_dataset(name)
    spec = registry.dataset(base)
    if spec.needs_arg and not arg:
        raise ZooError(f"dataset '{base}' needs {spec.arg_help or 'an argument'}: zoo data {base}:ARG")
    return check_dataset(load_spec(spec, arg, image_size, name, crop))


def summary(name: str, data) -> dict:
    from .stream import is_streamed

    x = data.x_train
    streamed = is_streamed(x)
    out = {
        "dataset": name,
        "source": data.source,
        "notice": data.notice,
        "train_images": int(len(data.x_train)),
        "test_images": int(len(data.x_test)),
        "image_shape": [int(d) for d in x.shape[1:]],
        "dtype": str(x.dtype),
        "pixel_min": float(x.min()),  # a streamed split reads itself a chunk at a time
        "pixel_max": float(x.max()),
        "pixel_mean": float(x.mean()),
        # Streamed: the 8-bit cache's size on disk; else the float32 arrays' size in memory.
        "streamed_from": str(x.path) if streamed else None,
        "disk_bytes": int(data.x_train.nbytes + data.x_test.nbytes) if streamed else None,
        "memory_bytes": 0 if streamed else int(data.x_train.nbytes + data.x_test.nbytes),
        "num_classes": data.num_classes,
        "train_histogram": None,
        "test_histogram": None,
    }
    if data.y_train is not None:
        k = int(data.num_classes or (int(np.max(data.y_train)) + 1))
        out["num_classes"] = k
        out["train_histogram"] = np.bincount(np.asarray(data.y_train, np.int64), minlength=k).tolist()
        if data.y_test is not None and len(data.y_test):
            out["test_histogram"] = np.bincount(np.asarray(data.y_test, np.int64), minlength=k).tolist()
    return out


def examples(data, num: int, seed: int) -> tuple[np.ndarray, int]:
    """A grid's images and its width: one row per class (up to ``num`` //
    classes each, at least 1), or ``num`` random train images."""
    rng = np.random.default_rng(seed)
    y = data.y_train
    k = int(data.num_classes or 0)
    if y is not None and 1 < k <= ROW_PER_CLASS:
        per_class = max(1, min(16, num // k))
        rows = []
        for c in range(k):
            index = np.flatnonzero(y == c)
            chosen = rng.permutation(index)[:per_class]
            row = data.x_train[chosen]
            if len(row) < per_class:  # a class with fewer images: pad with blanks
                row = np.concatenate([row, np.zeros((per_class - len(row), *data.x_train.shape[1:]), row.dtype)])
            rows.append(row)
        return np.concatenate(rows), per_class
    index = rng.permutation(len(data.x_train))[:num]
    return data.x_train[index], int(np.ceil(np.sqrt(len(index))))


def default_out(name: str) -> Path:
    return Path(f"data-{re.sub(r'[^A-Za-z0-9._+-]+', '_', name).strip('_') or 'set'}.png")


def show(registry, name: str, *, image_size: Optional[int] = None, out: Optional[str] = None, num: int = 64,
         seed: int = 0, echo: Callable[[str], None] = print, crop: bool = False) -> dict:
    """Load a data set, write its example grid, return its summary (with ``grid``: the PNG's path)."""
    from ..storage.files import check_can_create
    from ..storage.images import save_grid

    path = Path(out) if out else default_out(name)
    if path.suffix != ".png":
        raise ZooError(f"--out {path}: the file name must end in .png")
    check_can_create(path)  # before loading: fail fast
    data = load_for_display(registry, name, image_size, crop)
    result = summary(name, data)
    images, columns = examples(data, num, seed)
    result["grid"] = str(save_grid(images, path, columns))
    return result


def format_summary(d: dict) -> str:
    shape = "x".join(map(str, d["image_shape"]))
    lines = [
        f"{d['dataset']}: {d['train_images']:,} train and {d['test_images']:,} test images of {shape} "
        f"({'grey' if d['image_shape'][-1] == 1 else 'colour'}), {d['dtype']} in "
        f"[{d['pixel_min']:.3g}, {d['pixel_max']:.3g}], mean {d['pixel_mean']:.3f}",
        f"Read from: {d['source'] or '(not recorded)'}",
    ]
    if d.get("streamed_from"):
        lines.append(f"Streamed from: {d['streamed_from']} ({d['disk_bytes'] / 2**20:,.1f} MiB on disk, "
                     f"8-bit; read a batch at a time)")
    else:
        lines.append(f"In memory: {d['memory_bytes'] / 2**20:,.1f} MiB as float32")
    if d["notice"]:
        lines.append(f"Notice: {d['notice']}")
    if d["train_histogram"] is None:
        lines.append("Labels: none (unconditional models only)")
    else:
        k = d["num_classes"]
        train, test = d["train_histogram"], d["test_histogram"]
        if k > ROW_PER_CLASS:
            lines.append(f"Classes: {k} (train images per class: {min(train):,} to {max(train):,})")
            lines.append(f"Examples: {d['grid']}")
            return "\n".join(lines)
        lines.append(f"Classes: {k}")
        width = max(len(f"{v:,}") for v in train + (test or []))
        lines.append("  class  " + "  ".join(f"{c:>{width}}" for c in range(k)))
        lines.append("  train  " + "  ".join(f"{v:>{width},}" for v in train))
        if test is not None:
            lines.append("  test   " + "  ".join(f"{v:>{width},}" for v in test))
        rarest = min(train) / max(1, sum(train))
        lines.append(f"  rarest class in train: {rarest:.1%}")
    lines.append(f"Examples: {d['grid']}")
    return "\n".join(lines)
