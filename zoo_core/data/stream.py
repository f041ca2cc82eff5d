"""Images streamed from disk: data sets larger than memory.

A streamed split is an :class:`DiskImages`: an 8-bit ``.npy`` file in zoo's
cache (``$ZOO_DATA_CACHE_DIR/KEY/``, by default ``data/`` in zoo's cache), read a batch at a time with ``pread``,
so the process holds one batch of pixels, not the data set. The kernel's page
cache keeps a file that fits in RAM fast to re-read, without counting against
the process; a memory map would (its touched pages are the process's).

The cache is written once, one image at a time (bounded memory), into a
staging folder that is renamed into place when complete, and reused while its
key is unchanged: a folder loader keys it by the files' names, sizes and
modification times; :func:`cache_arrays` by the arrays' content.

Keras is imported inside functions only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from ..errors import ZooError
from ..storage.files import WriteError, reason

#: Bumped when the cache's layout changes, so an old cache is rebuilt, never misread.
CACHE_FORMAT = 1
IMAGES, LABELS, META = "images.npy", "labels.npy", "meta.json"


def data_cache_dir() -> Path:
    """``$ZOO_DATA_CACHE_DIR`` (e.g. a large disk), else ``data/`` in zoo's cache."""
    if os.environ.get("ZOO_DATA_CACHE_DIR"):
        return Path(os.environ["ZOO_DATA_CACHE_DIR"]).expanduser()
    from ..storage.sources import cache_dir

    return cache_dir() / "data"


class DiskImages:
    """A read-only (N, H, W, C) array of images in ``[0, 1]``, kept on disk as uint8.

    Indexing reads just the images asked for and gives float32 arrays, like a
    numpy array would: ``x[i]``, ``x[a:b]``, ``x[[3, 1, 2]]``. ``subset``
    gives another :class:`DiskImages` over some of the images (nothing is read).
    ``np.asarray(x)`` reads all of it."""

    dtype = np.dtype(np.float32)
    ndim = 4

    def __init__(self, path: os.PathLike | str, positions: Optional[np.ndarray] = None):
        self.path = Path(path)
        try:
            with open(self.path, "rb") as f:
                version = np.lib.format.read_magic(f)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(f)
                self._offset = f.tell()
        except (OSError, ValueError) as exc:
            raise ZooError(f"cannot read the image cache {self.path} ({exc}); delete it and retry") from None
        if dtype != np.uint8 or fortran or len(shape) != 4:
            raise ZooError(f"{self.path} is not zoo's image cache (uint8, N x H x W x C); delete it and retry")
        self._stored = int(shape[0])
        self._image_shape = tuple(int(d) for d in shape[1:])
        self._image_bytes = int(np.prod(self._image_shape))
        expected = self._offset + self._stored * self._image_bytes
        if self.path.stat().st_size != expected:
            raise ZooError(f"{self.path} is cut short ({self.path.stat().st_size:,} of {expected:,} bytes); "
                           f"delete it and retry")
        self.positions = None if positions is None else np.asarray(positions, np.int64)
        self._fd: Optional[int] = None
        self._pid: Optional[int] = None
        self._lock = threading.Lock()

    # --- array-like ---
    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self._image_shape)

    @property
    def nbytes(self) -> int:
        """Bytes on disk (uint8) of the images this view covers."""
        return len(self) * self._image_bytes

    @property
    def size(self) -> int:
        return len(self) * self._image_bytes

    def __len__(self) -> int:
        return self._stored if self.positions is None else len(self.positions)

    def __repr__(self) -> str:
        return f"DiskImages({str(self.path)!r}, shape={self.shape})"

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, tuple):  # x[i, ...], x[:, 0]: images first, then the rest of the key on them
            if not key or key[0] is Ellipsis:
                return np.asarray(self)[key]
            images = self[key[0]]
            return images[key[1:]] if isinstance(key[0], (int, np.integer)) else images[(slice(None), *key[1:])]
        if key is Ellipsis:
            return np.asarray(self)
        if isinstance(key, (int, np.integer)):
            return self.read(np.asarray([key]))[0]
        return self.read(np.arange(len(self))[key] if isinstance(key, slice) else np.asarray(key))

    def __array__(self, dtype=None, copy=None):
        out = self.read(np.arange(len(self)))
        return out if dtype is None else out.astype(dtype, copy=False)

    def _chunks(self, size: int = 1024):
        for i in range(0, len(self), size):
            yield self.read_uint8(np.arange(i, min(i + size, len(self))))

    def min(self) -> np.float32:
        return np.float32(min(int(c.min()) for c in self._chunks())) / np.float32(255)

    def max(self) -> np.float32:
        return np.float32(max(int(c.max()) for c in self._chunks())) / np.float32(255)

    def mean(self) -> float:
        return sum(float(c.sum(dtype=np.float64)) for c in self._chunks()) / max(1, self.size) / 255.0

    def __getstate__(self):
        state = dict(self.__dict__)
        state.update(_fd=None, _pid=None, _lock=None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def subset(self, positions) -> "DiskImages":
        """The images at ``positions`` (of this view), without reading them."""
        positions = np.asarray(positions, np.int64)
        view = DiskImages.__new__(DiskImages)
        view.__dict__.update(self.__getstate__())
        view._lock = threading.Lock()
        view.positions = positions if self.positions is None else self.positions[positions]
        return view

    # --- reading ---
    def read(self, positions, flips: Optional[np.ndarray] = None) -> np.ndarray:
        """float32 images in [0, 1] at ``positions``, in that order; with ``flips``
        (bools, one per position) those mirrored left-right."""
        raw = self.read_uint8(positions)
        if flips is not None:
            flips = np.asarray(flips, bool)
            raw[flips] = raw[flips][:, :, ::-1]
        return raw.astype(np.float32) / np.float32(255)  # exactly as the in-memory loaders divide

    def read_uint8(self, positions) -> np.ndarray:
        positions = np.asarray(positions, np.int64).reshape(-1)
        n = len(self)
        if len(positions) and (positions.min() < -n or positions.max() >= n):
            raise IndexError(f"index out of range for {n} images")
        positions = np.where(positions < 0, positions + n, positions)
        stored = positions if self.positions is None else self.positions[positions]
        out = np.empty((len(stored), *self._image_shape), np.uint8)
        flat = out.reshape(len(stored), -1)
        try:
            fd = self._descriptor()
        except OSError as exc:
            raise ZooError(f"cannot open zoo's image cache {self.path} ({exc.strerror or exc}); "
                           f"zoo writes it anew when the data is next loaded") from None
        size = self._image_bytes
        # Consecutive stored images are read with one call.
        i = 0
        while i < len(stored):
            j = i + 1
            while j < len(stored) and stored[j] == stored[j - 1] + 1:
                j += 1
            want = (j - i) * size
            try:
                chunk = os.pread(fd, want, self._offset + int(stored[i]) * size)
            except OSError as exc:  # e.g. EIO: a failing disk
                raise ZooError(f"cannot read zoo's image cache {self.path} ({exc.strerror or exc})") from None
            if len(chunk) != want:
                # cached() refuses a cut-short file, so the next load writes the cache anew.
                raise ZooError(f"zoo's image cache {self.path} was cut short while training (by another "
                               f"program or a full disk); zoo writes it anew when the data is next loaded")
            flat[i:j] = np.frombuffer(chunk, np.uint8).reshape(j - i, size)
            i = j
        return out

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            with self._lock:
                if self._fd is None or self._pid != os.getpid():
                    self._fd = os.open(self.path, os.O_RDONLY)
                    self._pid = os.getpid()
        return self._fd

    def __del__(self):
        if getattr(self, "_fd", None) is not None and self._pid == os.getpid():
            try:
                os.close(self._fd)
            except OSError:
                pass


def is_streamed(x) -> bool:
    return isinstance(x, DiskImages)


def in_memory(x) -> np.ndarray:
    """``x`` as a float32 numpy array (a streamed split is read whole)."""
    return np.asarray(x, np.float32) if is_streamed(x) else x


def head(x, n: int):
    """The first ``n`` images, streamed if ``x`` is."""
    return x.subset(np.arange(min(n, len(x)))) if is_streamed(x) else x[:n]


# --- writing the cache ---

def cached(key: str) -> Optional[Path]:
    """The cache folder for ``key`` if it is complete, else None."""
    folder = data_cache_dir() / key
    try:
        meta = json.loads((folder / META).read_text())
    except (OSError, ValueError):
        return None
    if meta.get("format") != CACHE_FORMAT or not (folder / IMAGES).is_file():
        return None
    try:
        images = DiskImages(folder / IMAGES)
    except ZooError:
        return None  # damaged: build() writes it anew
    if len(images) != meta.get("count") or list(images.shape[1:]) != meta.get("image_shape"):
        return None
    return folder


def build(key: str, count: int, image_shape: tuple[int, ...], images: Iterable[np.ndarray],
          labels: Optional[np.ndarray], meta: dict, what: str) -> Path:
    """Write ``count`` uint8 images (an iterable yielding one (H, W, C) array
    each) into the cache under ``key`` and return its folder. Shows progress on
    stderr for large sets. Nothing is left behind if writing fails."""
    root = data_cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=root))
    except OSError as exc:
        raise WriteError(f"cannot write zoo's data cache in {root}: {reason(exc, root)}; "
                         f"set ZOO_CACHE_DIR to a folder with space") from None
    try:
        header = {"descr": "|u1", "fortran_order": False, "shape": (count, *image_shape)}
        progress = _Progress(f"caching {what} as 8-bit images in {root / key}", count)
        with open(stage / IMAGES, "wb") as f:
            np.lib.format.write_array_header_2_0(f, header)
            written = 0
            for image in images:
                image = np.asarray(image)
                if image.shape != tuple(image_shape) or image.dtype != np.uint8:
                    raise ZooError(f"{what}: image {written} is {image.dtype} {image.shape}, "
                                   f"expected uint8 {tuple(image_shape)}")
                f.write(image.tobytes())
                written += 1
                progress.update(written)
            if written != count:
                raise ZooError(f"{what}: expected {count} images, got {written}")
        progress.done()
        if labels is not None:
            np.save(stage / LABELS, np.asarray(labels, np.int64))
        (stage / META).write_text(json.dumps({"format": CACHE_FORMAT, "count": count,
                                              "image_shape": list(image_shape), **meta}, indent=1))
        target = root / key
        try:
            os.rename(stage, target)
        except OSError:
            if cached(key) is None:  # not another process's complete copy: a damaged one of ours
                shutil.rmtree(target, ignore_errors=True)
                os.rename(stage, target)
        return target
    except OSError as exc:
        raise WriteError(f"cannot write zoo's data cache in {root}: {reason(exc, root)}; "
                         f"free some space or set ZOO_CACHE_DIR to another folder") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def open_cache(folder: Path) -> tuple[DiskImages, Optional[np.ndarray], dict]:
    meta = json.loads((folder / META).read_text())
    labels = np.load(folder / LABELS) if (folder / LABELS).exists() else None
    return DiskImages(folder / IMAGES), labels, meta


def cache_arrays(data, echo: Callable[[str], None] = lambda _: None):
    """The same Dataset with both splits streamed from zoo's cache (written
    once per content). 8-bit data only: images must be multiples of 1/255."""
    from ..specs import Dataset

    splits = {}
    for split in ("x_train", "x_test"):
        x = getattr(data, split)
        if is_streamed(x):
            splits[split] = x
            continue
        x8 = _to_uint8(np.asarray(x), data.name)  # the data is in memory already; a quarter of it more
        digest = hashlib.sha256(repr((CACHE_FORMAT, x8.shape)).encode())
        digest.update(np.ascontiguousarray(x8).data)
        key = f"arrays-{digest.hexdigest()[:40]}"
        folder = cached(key)
        if folder is None:
            folder = build(key, len(x8), tuple(x8.shape[1:]), iter(x8), None,
                           {"source": data.source or data.name}, f"'{data.name}' {split[2:]}")
        splits[split] = DiskImages(folder / IMAGES)
    return Dataset(data.name, splits["x_train"], splits["x_test"], data.y_train, data.y_test,
                   data.num_classes, data.notice, data.source)


def _to_uint8(x: np.ndarray, name: str) -> np.ndarray:
    if x.dtype == np.uint8:
        return x
    scaled = np.asarray(x, np.float64) * 255.0
    rounded = np.rint(scaled)
    if np.abs(scaled - rounded).max(initial=0.0) > 1e-3:
        raise ZooError(f"dataset '{name}' is not 8-bit (its pixels are not multiples of 1/255), so it cannot "
                       f"be streamed from zoo's 8-bit cache; leave train.stream off")
    return rounded.astype(np.uint8)


class _Progress:
    """A progress line on stderr for caches of 2,000 images or more."""

    def __init__(self, what: str, total: int):
        self.what, self.total = what, total
        self.show = total >= 2000
        self.step = max(1, total // 100)
        if self.show:
            sys.stderr.write(f"{what} (once)\n")

    def update(self, done: int) -> None:
        if self.show and (done % self.step == 0 or done == self.total):
            sys.stderr.write(f"\r  {done:,}/{self.total:,} images ({100 * done // self.total}%)")
            sys.stderr.flush()

    def done(self) -> None:
        if self.show:
            sys.stderr.write("\n")
