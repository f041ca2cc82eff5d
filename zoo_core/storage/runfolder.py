"""Where a new run is written, so that nothing a user owns is lost.

A new run is built in a hidden sibling folder (``.NAME.zoo-new-PID``) and
moved to its place only once its first checkpoint is complete. Until then
the place is untouched: an old run that ``--overwrite`` is to replace is
still whole if the new run fails, is killed or is interrupted before its
first checkpoint (the sibling is removed then, or by the next run).

``--overwrite`` replaces only a folder zoo marked as its run when it made
it: a ``.zoo-run`` file whose run id matches the one in the folder's
``config.toml``. File names prove nothing (a user's folder may hold a
``config.toml`` and a ``model.keras`` of its own); the mark is only ever
written by zoo, and its id ties it to that folder's config. A run that holds
files zoo does not write (a user's notes, an export made inside it) is not
replaced either: they would go with it. Never the current
folder or one that holds it, and never a folder another process is writing
(see :mod:`zoo_core.storage.locks`).

Nothing here imports Keras.
"""

from __future__ import annotations

import json
import os
import shutil
import tomllib
import uuid
from pathlib import Path
from typing import Optional

from ..errors import ZooError
from .files import WriteError, check_can_create, write_error
from .locks import LOCK_FILE, RunLock, describe, in_use_error, process_alive, read_holder

CONFIG_FILE = "config.toml"
#: What zoo writes into every run folder it creates: ``{"run_id": ...}``,
#: the same id as ``[zoo] run_id`` in CONFIG_FILE.
RUN_MARK = ".zoo-run"
NEW_MARK = ".zoo-new-"
OLD_MARK = ".zoo-old-"
#: Neither file of a real mark is larger; a bigger one is not read.
_MARK_MAX_BYTES = 1 << 16


def new_run_id() -> str:
    return uuid.uuid4().hex


def write_run_mark(folder: os.PathLike | str, run_id: str) -> None:
    """Mark ``folder`` as a run zoo made (see :func:`is_run_folder`)."""
    from .files import write_text

    write_text(Path(folder) / RUN_MARK, json.dumps({"run_id": run_id}) + "\n")


def run_id_of(path: os.PathLike | str) -> str | None:
    """The run id of ``path`` when it is a run folder zoo made, else None.

    Both the mark and ``config.toml`` must be plain files (not links) that
    name the same id: a copied mark in a folder of other files names no
    config's id, and a config alone proves nothing.
    """
    path = Path(path)
    mark, config = path / RUN_MARK, path / CONFIG_FILE
    try:
        for file in (mark, config):
            if file.is_symlink() or not file.is_file() or file.stat().st_size > _MARK_MAX_BYTES:
                return None
        marked = json.loads(mark.read_text()).get("run_id")
        recorded = tomllib.loads(config.read_text()).get("zoo", {}).get("run_id")
    except (OSError, ValueError, AttributeError, UnicodeDecodeError):
        return None
    if isinstance(marked, str) and len(marked) == 32 and marked == recorded:
        return marked
    return None


def is_run_folder(path: os.PathLike | str) -> bool:
    """Whether ``path`` is a run folder that ``zoo train`` made (its mark matches its config)."""
    return run_id_of(path) is not None


#: What zoo itself writes at a run folder's top level (zoo train, eval, plot): --overwrite
#: replaces a run only while it holds nothing else, so no file of the user's goes with it.
ZOO_ENTRIES = frozenset({
    CONFIG_FILE, RUN_MARK, LOCK_FILE, "checkpoint.json", "model.keras", "metrics.csv", "eval.json",
    "losses.png", "checkpoints", "samples", "reconstructions", "logs",
})


def _not_zoos(path: Path) -> list[str]:
    """The names at ``path``'s top level that zoo does not write (its own temporary files aside)."""
    return sorted(p.name for p in path.iterdir()
                  if p.name not in ZOO_ENTRIES and not (p.name.startswith(".") and ".tmp" in p.name))


def _holds_cwd(path: Path) -> bool:
    try:
        here = Path.cwd().resolve()
    except OSError:
        return False
    target = path.resolve()
    return target == here or target in here.parents


def _contents(path: Path) -> list[Path]:
    return [p for p in path.iterdir() if p.name != LOCK_FILE]


def check_out(path: os.PathLike | str, overwrite: bool = False) -> None:
    """Fail early, before any work, if a new run cannot be written at ``path``.

    Raises:
        ZooError: ``path`` is a file, the current folder, a non-empty folder
            (without ``overwrite``), a folder that is not a run folder, a run
            folder in use, or a place where nothing can be created.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ZooError(f"--out {path} is a file, not a folder; choose another --out")
    _check_not_being_created(path)
    if path.is_dir():
        holder = read_holder(path)
        if holder is not None:
            raise in_use_error(path, holder)
        if _holds_cwd(path):
            raise ZooError(
                f"--out {path} is the current folder (or holds it); zoo writes a run into a folder of its "
                f"own and never replaces this one: choose a new folder, e.g. --out runs/NAME"
            )
        if _contents(path):
            if not overwrite:
                raise ZooError(
                    f"run folder {path} already exists and is not empty; "
                    f"choose another --out or pass --overwrite to replace it"
                )
            foreign = _not_zoos(path) if is_run_folder(path) else None
            if foreign:
                raise ZooError(
                    f"--overwrite would delete what zoo did not write in the run folder {path} "
                    f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); nothing was changed: "
                    f"move those away first, or choose another --out"
                )
            if not is_run_folder(path):
                raise ZooError(
                    f"--overwrite replaces only a zoo run folder (one zoo train made and marked with "
                    f"{RUN_MARK}, matching its {CONFIG_FILE}), and {path} is not one; nothing was changed: "
                    f"choose another --out (or move its files away yourself; runs made before zoo marked "
                    f"them are never replaced either)"
                )
    check_can_create(path, "the run folder")


def _check_not_being_created(path: Path) -> None:
    """Another process may be building a new run for ``path`` beside it."""
    if not path.parent.is_dir():
        return
    for sibling in path.parent.glob(f".{path.name}{NEW_MARK}*"):
        if sibling.is_dir() and not sibling.is_symlink() and not sibling.name.endswith(f"{NEW_MARK}{os.getpid()}"):
            holder = read_holder(sibling)
            if holder is not None:
                raise ZooError(
                    f"run folder {path} is being created by another zoo train ({describe(holder)}); "
                    f"wait for it, stop it, or choose another --out"
                )


class StagedRunFolder:
    """A new run folder, built beside ``final`` and moved there at its first checkpoint.

    ``create()`` makes the sibling folder (locked) and locks an old run at
    ``final``; ``place()`` (called once the first checkpoint is complete) moves
    the sibling into place and removes the old run; ``close()`` releases the
    locks, and removes the sibling when it was never placed.
    """

    def __init__(self, final: os.PathLike | str, overwrite: bool = False):
        self.final = Path(final)
        self.overwrite = overwrite
        self.staging = self.final.parent / f".{self.final.name}{NEW_MARK}{os.getpid()}"
        self.run_id = new_run_id()
        self.placed = False
        self.kept = False  # placing failed: the new run stays in the sibling, named in the error
        self._lock: Optional[RunLock] = None
        self._old_lock: Optional[RunLock] = None

    @property
    def path(self) -> Path:
        """Where the run's files are now."""
        return self.final if self.placed else self.staging

    def create(self) -> Path:
        remove_leftovers(self.final)
        check_out(self.final, self.overwrite)
        try:
            if self.final.is_dir() and _contents(self.final):
                self._old_lock = RunLock(self.final).acquire()
            self.staging.mkdir(parents=True)
            self._lock = RunLock(self.staging).acquire()
            write_run_mark(self.staging, self.run_id)
        except OSError as exc:
            self.close()
            raise write_error(self.final, exc, "the run folder") from None
        except ZooError as exc:
            self.close()
            exc.args = (self.user_text(str(exc)),)
            raise
        return self.staging

    def place(self) -> None:
        """Move the new run to its place (replacing an old run there)."""
        if self.placed:
            return
        old = self.final.parent / f".{self.final.name}{OLD_MARK}{os.getpid()}"
        moved_old = False
        if self.final.is_dir() and _contents(self.final) and not (self._old_lock and self._old_lock.held):
            # Filled by another process since create(): not ours to replace.
            self.kept = True
            raise WriteError(
                f"{self.final} was filled by another process while this run trained, so it was left as it "
                f"was; this run is in {self.staging} (move it where you want it)"
            )
        try:
            if self.final.is_dir() and _contents(self.final):
                os.rename(self.final, old)
                moved_old = True
            elif self.final.is_dir():
                self.final.rmdir()
            os.rename(self.staging, self.final)
        except OSError as exc:
            if moved_old and not self.final.exists():
                os.rename(old, self.final)
            self.kept = True
            raise WriteError(
                f"could not move the new run from {self.staging} to {self.final}: "
                f"{exc.strerror or exc}; {self.final} was left as it was and the new run is in {self.staging}"
            ) from None
        self.placed = True
        if self._lock is not None:
            self._lock.move_to(self.final)
        # Code that still holds the sibling's path keeps working until close().
        os.symlink(self.final.name, self.staging)
        if moved_old:
            if self._old_lock is not None:
                self._old_lock.held = False  # its file went with the old run
            shutil.rmtree(old, ignore_errors=True)

    def close(self) -> None:
        """Release the locks; remove the sibling (and its files) if it was never placed."""
        if self.placed:
            if self.staging.is_symlink():
                self.staging.unlink()
        elif self.staging.is_dir() and not self.staging.is_symlink() and not self.kept:
            shutil.rmtree(self.staging, ignore_errors=True)
        if self._lock is not None and (self.placed or self.kept):
            self._lock.release()
        if self._old_lock is not None:
            self._old_lock.release()

    def final_path(self, path: os.PathLike | str) -> Path:
        """``path`` (under the sibling folder) as it is once placed."""
        path = Path(path)
        try:
            return self.final / path.relative_to(self.staging)
        except ValueError:
            return path

    def final_text(self, text: str) -> str:
        """A message naming the sibling folder, naming the final one instead (once placed)."""
        return text.replace(str(self.staging), str(self.final)) if self.placed else text

    def user_text(self, text: str) -> str:
        """A message for the user: the run folder they gave instead of the hidden sibling,
        unless the new run was kept there (then the message says so and names it)."""
        return text if self.kept else text.replace(str(self.staging), str(self.final))


def remove_leftovers(final: os.PathLike | str) -> None:
    """Remove sibling folders of ``final`` that a killed run left behind (their
    process is gone): half-built new runs and replaced old ones."""
    final = Path(final)
    parent = final.parent
    if not parent.is_dir():
        return
    for mark in (NEW_MARK, OLD_MARK):
        for leftover in parent.glob(f".{final.name}{mark}*"):
            pid = leftover.name.rsplit(mark, 1)[1]
            if not pid.isdigit() or process_alive(int(pid)):
                continue
            if leftover.is_symlink():
                leftover.unlink()
            elif mark == OLD_MARK and not final.exists():
                os.rename(leftover, final)  # killed mid-swap: the old run goes back to its place
            elif leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
