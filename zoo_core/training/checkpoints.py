"""Checkpoints that survive crashes, kills and full disks.

A run folder's checkpoint is two things: a ``.keras`` file under
``checkpoints/`` (weights and optimizer state) and ``checkpoint.json``
(which file, how far training got, random-generator states, the metrics
so far). Each is written to a temporary file and renamed into place, and
``checkpoint.json`` is replaced only after its ``.keras`` file is complete,
so at every instant the folder names one whole checkpoint: a crash, a
``kill -9`` or a full disk in the middle of a write leaves the previous one.

Nothing here imports Keras; the model object is only asked to ``save``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

from ..errors import ZooError
from ..storage.files import _fsync  # the module-level name: tests replace it to fake a full disk

STATE_FILE = "checkpoint.json"
FOLDER = "checkpoints"
MODEL_FILE = "model.keras"
FORMAT = 1


@dataclass
class CheckpointState:
    """How far a run got, as stored in ``checkpoint.json``.

    Attributes:
        epoch: the epoch in progress, counted from 0; ``step`` batches of it are done.
            ``epoch = 3, step = 0`` means three whole epochs are done.
        step: batches of ``epoch`` already trained (0 at an epoch boundary).
        global_step: batches trained in the whole run.
        file: the ``.keras`` file, relative to the run folder.
        random_states: values of the model's random-generator state variables.
        history: one dict of metrics per finished epoch (the rows of metrics.csv).
        backend_random_state: the backend's global random generator, where
            Keras draws from it (PyTorch's unseeded dropout).
        metric_state: inside an epoch (``step > 0``), the metric accumulators
            of its batches so far, restored when the run resumes.
    """

    epoch: int
    step: int = 0
    global_step: int = 0
    file: str = ""
    random_states: list = field(default_factory=list)
    history: list = field(default_factory=list)
    backend_random_state: dict = field(default_factory=dict)
    metric_state: list = field(default_factory=list)
    format: int = FORMAT

    @property
    def description(self) -> str:
        if self.step:
            return f"in epoch {self.epoch + 1}, after batch {self.step}"
        return f"after epoch {self.epoch}"


class CheckpointWriteError(ZooError):
    """Writing a checkpoint failed (full disk, permissions); the previous one is intact."""


def _write_json(doc: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _copy(source: Path, target: Path) -> None:
    """Make ``target`` an independent copy of ``source``, atomically. Never a
    hard link: damaging or re-saving ``model.keras`` must not touch the checkpoint."""
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        with open(source, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


#: run folder -> what to do once its next checkpoint is complete (see after_next_save).
_after_save: dict[Path, Callable[[], None]] = {}


def after_next_save(run_dir: Path, action: Optional[Callable[[], None]]) -> None:
    """Call ``action()`` once the next checkpoint of ``run_dir`` is complete
    (None cancels). A new run folder moves into its place there."""
    if action is None:
        _after_save.pop(Path(run_dir), None)
    else:
        _after_save[Path(run_dir)] = action


def resume_hint(run_dir: Path) -> str:
    """The command that resumes ``run_dir``, quoted for a shell."""
    run_dir = Path(run_dir)
    if run_dir.is_symlink():  # a new run folder, since moved into place
        run_dir = run_dir.parent / os.readlink(run_dir)
    return f"zoo train --resume {shlex.quote(str(run_dir))}"


def save_checkpoint(run_dir: Path, model, state: CheckpointState, keep: Optional[str] = None) -> Path:
    """Write ``model`` and ``state`` as the run's checkpoint, atomically.

    ``model.keras`` in the run folder becomes a copy of it. Older checkpoint
    files are removed once the new one is in place, except ``keep``.

    Raises:
        CheckpointWriteError: the write failed; the previous checkpoint is untouched.
    """
    run_dir = Path(run_dir)
    folder = run_dir / FOLDER
    name = f"epoch-{state.epoch:04d}-step-{state.step:06d}.keras"
    final = folder / name
    tmp = folder / f".{name}.tmp.keras"
    try:
        folder.mkdir(exist_ok=True)
        model.save(tmp)
        _fsync(tmp)
        os.replace(tmp, final)
        state.file = f"{FOLDER}/{name}"
        _write_json(asdict(state), run_dir / STATE_FILE)
    except OSError as exc:
        previous = read_checkpoint(run_dir, missing_ok=True)
        reason = exc.strerror or str(exc)
        if previous is None:
            raise CheckpointWriteError(
                f"could not write the first checkpoint to {folder}: {reason}; nothing of this run was saved, "
                f"so it cannot be resumed. Free some space (or fix the folder's permissions) and start it "
                f"again with the same zoo train command"
            ) from None
        raise CheckpointWriteError(
            f"could not write the checkpoint to {folder}: {reason}; the previous checkpoint "
            f"({previous.description}) is intact. Free some space (or fix the folder's permissions) and "
            f"resume with: {resume_hint(run_dir)}"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    for other in folder.glob("*.keras"):
        if other.name not in (name, keep):
            other.unlink(missing_ok=True)
    # The checkpoint is complete from here on: a new run folder takes its place
    # now, before anything else can fail, so that what a message below calls
    # intact is where it says.
    action = _after_save.pop(run_dir, None)
    if action is not None:
        action()
    try:
        _copy(final, run_dir / MODEL_FILE)
    except OSError as exc:
        raise CheckpointWriteError(
            f"the checkpoint ({state.description}) was written, but copying it to {MODEL_FILE} failed: "
            f"{exc.strerror or exc}; the checkpoint is intact. Free some space (or fix the folder's "
            f"permissions) and resume with: {resume_hint(run_dir)}"
        ) from None
    return final


def read_checkpoint(run_dir: Path, missing_ok: bool = False) -> Optional[CheckpointState]:
    """The run's checkpoint state; raises ZooError when it is missing or damaged."""
    run_dir = Path(run_dir)
    path = run_dir / STATE_FILE
    if not path.is_file():
        if missing_ok:
            return None
        raise ZooError(
            f"{run_dir} has no {STATE_FILE}: it was not trained by this version of zoo or "
            f"stopped before its first checkpoint; start it again with zoo train"
        )
    try:
        doc = json.loads(path.read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, expected {FORMAT}")
        state = CheckpointState(**doc)
        if not isinstance(state.epoch, int) or not isinstance(state.step, int) or state.epoch < 0 or state.step < 0:
            raise ValueError("bad epoch or step")
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        if missing_ok:
            return None
        raise ZooError(f"{path} is damaged ({exc}); the run cannot be resumed") from None
    if not _own_checkpoint(run_dir, state.file):
        if missing_ok:
            return None
        raise ZooError(
            f"{path} names {state.file!r}, outside this run's {FOLDER}/ folder; a run resumes only from its "
            f"own checkpoints, so restore the run's {STATE_FILE}, or resume the run that file belongs to"
        )
    if not (run_dir / state.file).is_file():
        if missing_ok:
            return None
        raise ZooError(f"{path} names {state.file}, which is missing; the run cannot be resumed")
    return state


def _own_checkpoint(run_dir: Path, file: object) -> bool:
    """Whether ``file`` (from checkpoint.json) is a file directly in the run's
    checkpoints/ folder, as zoo writes it: not another run's (``../other/...``,
    an absolute path), nor reached through a link."""
    if not isinstance(file, str) or not file:
        return False
    relative = Path(file)
    if relative.is_absolute() or len(relative.parts) != 2 or relative.parts[0] != FOLDER:
        return False
    if relative.parts[1] in (".", ".."):
        return False
    return (run_dir / relative).resolve() == run_dir.resolve() / relative


def clean_temporary_files(run_dir: Path) -> None:
    """Remove what an interrupted write left behind (never a complete file)."""
    from ..storage.files import remove_temporary_files

    # The last pattern: grids of zoo versions that named their temporary files so.
    for pattern in (f"{FOLDER}/.*.tmp.keras", ".*.tmp", "samples/epoch-*.tmp.png", "reconstructions/epoch-*.tmp.png"):
        for path in Path(run_dir).glob(pattern):
            path.unlink(missing_ok=True)
    remove_temporary_files(run_dir)
