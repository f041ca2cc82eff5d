"""Per-epoch scalars as TensorBoard event files, on every backend.

Keras' own TensorBoard callback writes through ``tf.summary``, which would
import TensorFlow (seconds and hundreds of MB) into a JAX or PyTorch run.
The ``tensorboard`` package's event writer needs no TensorFlow, but imports it
whenever it is installed; zoo asks for tensorboard's own stand-in instead
(see :func:`_without_tensorflow`), unless TensorFlow is loaded already.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
import types
from pathlib import Path
from typing import Iterator, Optional

LOG_DIR = "logs"


class EventLog:
    """Writes ``{name: value}`` per epoch under ``run_dir/logs``.

    ``train/NAME`` for training metrics, ``validation/NAME`` for ``val_NAME``,
    so TensorBoard draws both on one chart.
    """

    def __init__(self, run_dir: Path):
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self.directory = Path(run_dir) / LOG_DIR
        self._event, self._summary = Event, Summary
        with _failing_write(self.directory):
            self.directory.mkdir(parents=True, exist_ok=True)
            with _without_tensorflow():
                self._writer = EventFileWriter(str(self.directory))

    @classmethod
    def open(cls, run_dir: Path, echo=print) -> Optional["EventLog"]:
        try:
            return cls(run_dir)
        except ImportError:
            echo("Notice: no TensorBoard logs (pip install tensorboard to get them)")
            return None

    def write(self, epoch: int, logs: dict) -> None:
        values = []
        for name, value in sorted(logs.items()):
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(value):
                continue
            tag = f"validation/{name[4:]}" if name.startswith("val_") else f"train/{name}"
            values.append(self._summary.Value(tag=tag, simple_value=value))
        event = self._event(wall_time=time.time(), step=int(epoch), summary=self._summary(value=values))
        with _failing_write(self.directory):
            self._writer.add_event(event)
            self._writer.flush()

    def close(self) -> None:
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001 - closing after a failed write; that error is reported already
            pass


@contextlib.contextmanager
def _failing_write(directory: Path) -> Iterator[None]:
    """A failed event-file write (full disk, read-only folder) as one line.
    tensorboard raises OSError, or its own error types from a background thread."""
    from .files import WriteError, write_error

    try:
        yield
    except ImportError:
        raise
    except OSError as exc:
        raise write_error(directory, exc, "the TensorBoard log in") from None
    except Exception as exc:  # noqa: BLE001
        raise WriteError(f"cannot write the TensorBoard log in {directory}: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}") from None


@contextlib.contextmanager
def _without_tensorflow() -> Iterator[None]:
    """Let tensorboard pick its TensorFlow stand-in (``tensorflow_stub``) over an
    installed TensorFlow that this process has not loaded.

    tensorboard decides once per process, at the first use of its ``compat.tf``,
    and takes the stand-in when a module ``tensorboard.compat.notf`` exists (its
    build without TensorFlow ships one). Importing TensorFlow costs a JAX or
    PyTorch run about 270 MB at once (see zoo_core.backend.keras_without_tensorflow).
    """
    name = "tensorboard.compat.notf"
    if "tensorflow" in sys.modules or name in sys.modules:
        yield
        return
    sys.modules[name] = types.ModuleType(name, "zoo: use tensorboard's TensorFlow stand-in")
    try:
        yield
    finally:
        sys.modules.pop(name, None)
