"""Writing the files a user asked for: atomically, with a one-line error.

Every file zoo writes for a user (``--out`` files, run-folder files, grids,
``eval.json``, the classifier cache, a new plugin's files) goes through
:func:`atomic_write`: the content goes to a hidden temporary file beside the
target, which is renamed into place only once it is whole. An ``OSError`` on
the way (read-only medium, missing or non-folder parent, full disk, no
permission) becomes a :class:`WriteError` that names the path and what to do,
and no temporary file is left behind.

Nothing here imports Keras.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Callable

from ..errors import ZooError

#: Every temporary file made here has this in its name, so leftovers of a
#: killed process can be found (and removed) without touching anything else.
TMP_MARK = ".zoo-tmp-"


#: The rename that publishes a written file (tests put faults here).
_replace = os.replace


class WriteError(ZooError):
    """A file or folder zoo was asked to write could not be written."""


def _blocking_file(path: Path) -> Path | None:
    """The first ancestor of ``path`` that exists and is not a folder."""
    for parent in [path, *path.parents][::-1]:
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def reason(exc: OSError, path: Path) -> str:
    """What went wrong writing ``path``, and what to do, in a few words."""
    code = exc.errno
    if code == errno.EROFS:
        return "the file system is read-only; choose a place you can write to"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full; free some space or choose another disk"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied; choose a folder you can write to (or fix its permissions)"
    if code == errno.ENOTDIR or (code == errno.EEXIST and _blocking_file(path.parent)):
        blocker = _blocking_file(path.parent)
        where = f"{blocker} is a file, not a folder" if blocker else "part of the path is a file, not a folder"
        return f"{where}; choose another path"
    if code == errno.EISDIR:
        return "it is a folder; give a file name"
    if code == errno.ENOENT:
        return f"its folder {path.parent} does not exist; create it or choose another path"
    if code == errno.ENAMETOOLONG:
        return "the name is too long; choose a shorter one"
    return (exc.strerror or str(exc)).rstrip(".")


def write_error(path: os.PathLike | str, exc: OSError, what: str = "") -> WriteError:
    """The one-line error for failing to write ``path``."""
    path = Path(path)
    return WriteError(f"cannot write {what + ' ' if what else ''}{path}: {reason(exc, path)}")


def temporary_name(path: Path) -> Path:
    """A hidden name beside ``path`` that keeps its suffix (Keras, Pillow and
    numpy pick the format from it) and is unique to this process."""
    return path.with_name(f".{path.stem}{TMP_MARK}{os.getpid()}{path.suffix}")


def atomic_write(path: os.PathLike | str, write: Callable[[Path], object], *, what: str = "",
                 parents: bool = True) -> Path:
    """Write ``path`` through ``write(temporary_path)``, then rename it into place.

    Args:
        path: the file to write; an existing file is replaced only once the new
            one is whole.
        write: writes the content to the path it is given.
        what: a few words naming the file in errors ("the model", "eval.json").
        parents: create missing parent folders.

    Returns:
        ``path``.

    Raises:
        WriteError: the write failed; ``path`` is as it was and no temporary file is left.
    """
    path = Path(path)
    tmp = temporary_name(path)
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        if parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        _fsync(tmp)
        _replace(tmp, path)
    except OSError as exc:
        raise write_error(path, exc, what) from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
    return path


def write_text(path: os.PathLike | str, text: str, what: str = "") -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write`."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"), what=what)


def write_bytes(path: os.PathLike | str, data: bytes, what: str = "") -> Path:
    """Write ``data`` to ``path`` atomically; see :func:`atomic_write`."""
    return atomic_write(path, lambda p: p.write_bytes(data), what=what)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_writable_folder(folder: os.PathLike | str, what: str = "") -> None:
    """Fail now, before expensive work, if files cannot be created in ``folder``
    (created if missing): a probe file is written there and removed.

    Raises:
        WriteError: naming the folder and what to do.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".probe{TMP_MARK}"):
            pass
    except OSError as exc:
        raise write_error(folder, exc, what) from None


def check_can_create(path: os.PathLike | str, what: str = "") -> None:
    """Fail now if ``path`` (a file or folder that may not exist yet) could not
    be created: its nearest existing ancestor must be a writable folder.
    Nothing is left behind."""
    path = Path(path).absolute()
    blocker = _blocking_file(path.parent)
    if blocker is not None:
        raise WriteError(f"cannot write {what + ' ' if what else ''}{path}: {blocker} is a file, not a folder; "
                         f"choose another path")
    existing = next(p for p in [path.parent, *path.parent.parents] if p.exists())
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=f".probe{TMP_MARK}"):
            pass
    except OSError as exc:
        raise write_error(path, exc, what) from None


def remove_temporary_files(folder: os.PathLike | str) -> None:
    """Remove what an interrupted :func:`atomic_write` left under ``folder``
    (only files with :data:`TMP_MARK` in their names)."""
    for leftover in Path(folder).rglob(f".*{TMP_MARK}*"):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)
