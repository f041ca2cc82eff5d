"""What a run tells the code around it while it trains.

A :class:`RunListener` hears a run start, end each epoch and end; a tracker
(MLflow, ...) logs what it hears, a sweep reports each epoch's quality to its
pruner and may stop the run early with :class:`StopTraining`. Listeners are
passed to :func:`~zoo_core.training.train_run` and
:func:`~zoo_core.training.resume_run`; only the process that writes the run
(rank 0 under torchrun) calls them. Nothing in the run folder depends on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional


class StopTraining(Exception):
    """Raised by :meth:`RunListener.epoch_ended` to end the run after that
    epoch (its checkpoint is saved, so the run can still be resumed); the
    result's ``stopped_early`` holds the reason."""


class RunListener:
    """Override what you need; every method does nothing by default."""

    def run_started(self, run_dir: Path, config: dict, *, resumed: bool) -> None:
        """The run folder exists (its config.toml written); ``config`` is the
        resolved config as config.toml holds it."""

    def epoch_ended(self, epoch: int, logs: dict, model: Any, run_dir: Path) -> None:
        """Epoch ``epoch`` (1-based) is checkpointed and its metrics.csv row and
        grids written; ``logs`` is that row. May raise :class:`StopTraining`."""

    def run_ended(self, result: Optional[Any], error: Optional[BaseException]) -> None:
        """The run finished (``result``, a TrainResult) or failed (``error``)."""


def tell(listeners: Iterable[RunListener], method: str, *args, **kwargs) -> None:
    """Call ``method`` on every listener in turn."""
    for listener in listeners:
        getattr(listener, method)(*args, **kwargs)
