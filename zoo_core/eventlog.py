"""Per-epoch scalars as TensorBoard event files, on every backend.

Keras' own TensorBoard callback writes through ``tf.summary``, which would
import TensorFlow (seconds and hundreds of MB) into a JAX or PyTorch run.
The ``tensorboard`` package's event writer needs no TensorFlow.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Optional

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
        self.directory.mkdir(parents=True, exist_ok=True)
        self._event, self._summary = Event, Summary
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
        self._writer.add_event(event)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()
