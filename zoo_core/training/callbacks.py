"""What runs between training batches: a NaN guard, stopping on a signal,
step checkpoints, the progress bar, and the per-epoch image grids.

Keras is imported inside :func:`make_callbacks`, never at module import.
"""

from __future__ import annotations

import math
import signal
import threading
from pathlib import Path
from typing import Callable, Optional

import numpy as np


# === Signals ===


class SignalStop:
    """Turns the first SIGINT or SIGTERM into a request to stop after the
    current batch; a second one aborts at once (KeyboardInterrupt).

    Used as a context manager around training; outside the main thread (where
    Python cannot install handlers) it does nothing.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, echo: Callable[[str], None] = print):
        self.echo = echo
        self.received: Optional[int] = None
        self._previous: dict = {}

    @property
    def requested(self) -> bool:
        return self.received is not None

    @property
    def exit_code(self) -> int:
        return 128 + (self.received or signal.SIGINT)

    def _handle(self, signum, frame):
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signum
        name = signal.Signals(signum).name
        self.echo(f"\n{name} received: stopping after this batch and saving a checkpoint "
                  f"(send it again to abort without saving)")

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        return False


# === Grids ===


class Grids:
    """Per-epoch PNG grids: samples from one fixed noise batch (or the model's
    own ``sample_grid``, e.g. one row per class), and test images above their
    reconstructions, for models that can."""

    def __init__(self, run_dir: Path, data, grid_size: int, seed: int):
        self.run_dir, self.n, self.seed = Path(run_dir), grid_size, seed
        self.written: dict[str, Path] = {}
        pairs = max(1, grid_size // 2) * grid_size
        self.originals = data.x_test[:pairs] if len(data.x_test) else data.x_train[:pairs]

    def write(self, model, epoch: int) -> None:
        from ..storage.images import interleave_rows, save_grid

        n, tag = self.n, f"epoch-{epoch:03d}.png"
        if hasattr(model, "sample_grid"):
            samples, columns = model.sample_grid(n, seed=self.seed)
            self.written["samples"] = save_grid(samples, self.run_dir / "samples" / tag, columns)
        elif hasattr(model, "generate"):
            samples = model.generate(n * n, seed=self.seed)
            self.written["samples"] = save_grid(samples, self.run_dir / "samples" / tag, n)
        if hasattr(model, "reconstruct"):
            recon = model.reconstruct(self.originals)
            both = interleave_rows(self.originals, recon, n)
            self.written["reconstructions"] = save_grid(both, self.run_dir / "reconstructions" / tag, n)


# === Keras callbacks ===


def first_bad_value(logs: Optional[dict]) -> Optional[tuple[str, float]]:
    """The first metric in ``logs`` that is NaN or infinite, as (name, value)."""
    for name, value in (logs or {}).items():
        try:
            value = float(np.asarray(value))
        except (TypeError, ValueError):
            continue
        if not math.isfinite(value):
            return name, value
    return None


def make_callbacks(model, total_epochs: int, stopper: SignalStop, step_checkpoint=None,
                   every_steps: Optional[int] = None, agree: Optional[Callable] = None):
    """The callbacks for one epoch's ``fit``: ``(callbacks, watch)``.

    ``watch`` counts the batches trained in the current ``fit`` call and holds
    the first non-finite metric seen. ``step_checkpoint(model, batches)`` is
    called every ``every_steps`` batches (counted over the run). With several
    processes (torchrun), ``agree(flags)`` returns each flag as any process
    has it, so that all stop at the same batch, or none does.
    """
    import keras

    class Watch(keras.callbacks.Callback):
        """Counts batches; stops on a NaN/inf metric or a signal. Keeps its
        own reference to the model, since ``self.model`` syncs JAX state on
        every access (only the step checkpoint needs that)."""

        def __init__(self):
            super().__init__()
            self.target = model
            self.batches = 0
            self.global_start = 0
            self.bad: Optional[tuple[str, float, int]] = None

        def reset(self, global_start: int):
            self.batches, self.global_start, self.bad = 0, global_start, None

        def on_train_batch_end(self, batch, logs=None):
            # With steps_per_execution > 1 Keras calls this once per execution,
            # with the index of its last batch.
            bad = first_bad_value(logs)
            requested = stopper.requested
            if agree is not None:
                bad_anywhere, requested = agree([bad is not None, requested])
                if bad_anywhere and bad is None:
                    bad = ("a metric on another process", float("nan"))
                if requested and not stopper.requested:
                    stopper.received = signal.SIGTERM  # another process's signal stops this one too
            if bad is not None:
                self.bad = (*bad, batch + 1)
                self.target.stop_training = True
                return
            before, self.batches = self.batches, batch + 1
            if requested:
                self.target.stop_training = True
            elif every_steps and step_checkpoint:
                start = self.global_start
                if (start + before) // every_steps != (start + self.batches) // every_steps:
                    step_checkpoint(self.model, self.batches)

    class Progress(keras.callbacks.ProgbarLogger):
        """Keras' progress bar, numbering epochs out of the whole run
        (each epoch is its own ``fit`` call)."""

        def set_params(self, params):
            super().set_params({**params, "epochs": total_epochs})

    watch = Watch()
    return [watch, Progress()], watch


def resume_mid_epoch(metric_values: list, backend: str, random_state: dict, echo: Callable[[str], None]):
    """A callback for the first ``fit`` of a run resumed inside an epoch.

    As the epoch begins (after ``fit`` has reset the metrics) it puts back the
    sums and counts of the epoch's batches before the stop. Just before the
    first batch trains, it puts back the backend's global random generator:
    later than that, ``fit`` would already have drawn from it where an
    uninterrupted run did not (PyTorch's data loader takes a seed from it for
    every new iterator).
    """
    import keras

    from .state import restore_backend_random_state, restore_metric_state

    class ResumeMidEpoch(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.first = True

        def on_epoch_begin(self, epoch, logs=None):
            if metric_values and not restore_metric_state(self.model, metric_values):
                echo("Notice: the model's metrics changed since the checkpoint; this epoch's row in "
                     "metrics.csv averages the resumed batches only")

        def on_train_batch_begin(self, batch, logs=None):
            if self.first:
                self.first = False
                restore_backend_random_state(backend, random_state)

    return ResumeMidEpoch()


def finished_epoch_logs(model, metric_values: list, epoch: int, echo: Callable[[str], None]) -> dict:
    """The training metrics of an epoch whose batches had all trained when the
    run stopped (a checkpoint after its last batch, then a kill before the
    epoch's end): ``fit`` has no batch left to train, so it would log none.
    They come from the metric sums that checkpoint holds, which is what an
    uninterrupted run's ``fit`` reports at the epoch's end."""
    from .state import restore_metric_state

    where = f"epoch {epoch + 1} had trained all its batches when the run stopped, so its row in metrics.csv"
    if metric_values and restore_metric_state(model, metric_values):
        echo(f"Notice: {where} takes their metrics from the checkpoint, and has no timing "
             f"(seconds, images_per_second)")
        return {name: float(np.asarray(value)) for name, value in model.get_metrics_result().items()}
    echo(f"Notice: {where} has no training metrics (the model's metrics changed since the checkpoint) "
         f"and no timing (seconds, images_per_second)")
    return {}
