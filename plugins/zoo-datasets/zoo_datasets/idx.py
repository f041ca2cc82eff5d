"""A small, strict reader for IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), one big-endian uint32 per dimension, then the values in C
order. Files may be gzip-compressed. Anything that does not add up is an error
that names the file: a silently truncated data set trains "fine" and badly.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from zoo_core.errors import ZooError

# IDX type code -> big-endian NumPy dtype.
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads one IDX file, gzip-compressed or not.

    Args:
        path: the file; compression is detected from its first bytes, not its name.

    Returns:
        The array, in native byte order, shaped as the file's header says.

    Raises:
        ZooError: when the file is missing, unreadable, not IDX, or its size
            does not match its header.
    """
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise ZooError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'none'})")
    dtype, ndim = _DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ZooError(f"{path} is truncated: its header is cut off; download it again")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "longer than its header says"
        raise ZooError(
            f"{path} is {state} ({len(raw)} bytes for shape {dims}, expected {expected}); "
            "download it again"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


def _read_bytes(path: str | os.PathLike) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise ZooError(f"{path} does not exist") from None
    except OSError as e:
        raise ZooError(f"cannot read {path}: {e.strerror or e}") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as e:
        # EOFError: cut-off download; BadGzipFile (an OSError) and zlib.error: damaged bytes.
        raise ZooError(
            f"{path} is a corrupt or truncated gzip file ({e}); download it again"
        ) from None
