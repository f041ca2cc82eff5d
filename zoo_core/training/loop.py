"""Training a resolved run and writing its run folder.

Only this module (and what it calls) imports Keras, and only inside
functions, after :func:`zoo_core.backend.choose_backend` has run.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from ..version import __version__
from ..errors import Interrupted, ZooError
from ..plugins.resolve import ResolvedRun, build_model  # noqa: F401  (build_model: the package's API)
from ..data.loading import check_dataset, load_data  # noqa: F401  (part of this module's API)
from ..specs import Dataset
from . import replicas
from .listeners import RunListener, StopTraining, tell
from .state import (
    epoch_flips,
    epoch_order,
    read_backend_random_state,
    read_metric_state,
    read_random_states,
)

CONFIG_FILE = "config.toml"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.csv"


# === Run folders ===


def default_run_dir(name: str, root: str = "runs") -> Path:
    """``runs/NAME-TIMESTAMP``; a name that would lead elsewhere (``../x``, ``a/b``) is flattened."""
    import re

    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.+-]+", "-", name).replace("..", "-").strip(".-") or "run"
    return Path(root) / f"{safe}-{stamp}"


def check_run_dir(path: Path, overwrite: bool = False) -> None:
    """Fail early, before any work, if the run folder cannot be used (see
    :func:`zoo_core.storage.runfolder.check_out`: ``--overwrite`` replaces only a run
    folder, never the current folder or one in use)."""
    from ..storage.runfolder import check_out

    check_out(path, overwrite)


def prepare_run_dir(path: Path, overwrite: bool = False):
    """The new run's :class:`~zoo_core.storage.runfolder.StagedRunFolder`, created: the
    run is written beside ``path`` and moved there at its first checkpoint, so
    an old run at ``path`` (replaced only with ``overwrite``) survives until then."""
    from ..storage.runfolder import StagedRunFolder

    folder = StagedRunFolder(path, overwrite)
    folder.create()
    return folder


def write_toml(doc: dict, path: Path) -> None:
    import tomli_w

    from ..storage.files import write_text

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v is not None}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    write_text(path, tomli_w.dumps(clean(doc)))


# === Keras pieces ===


def make_optimizer(train):
    import keras

    kinds = {
        "adam": lambda: keras.optimizers.Adam(train.learning_rate, beta_1=train.beta_1, beta_2=train.beta_2),
        "adamw": lambda: keras.optimizers.AdamW(train.learning_rate, beta_1=train.beta_1, beta_2=train.beta_2),
        "rmsprop": lambda: keras.optimizers.RMSprop(train.learning_rate),
        "sgd": lambda: keras.optimizers.SGD(train.learning_rate),
    }
    return kinds[train.optimizer]()


def compile_model(model, train, backend: Optional[str] = None):
    """Compile with the run's optimizer and execution settings, and create
    the optimizer's slots now, so that a checkpoint's optimizer state has
    somewhere to load into."""
    from .devices import compile_options, quiet_remapper

    options = compile_options(train, backend) if backend else {}
    model.compile(optimizer=make_optimizer(train), **options)
    quiet_remapper(model, backend)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)
    return model


def load_checkpoint_weights(model, path: Path) -> None:
    """Load weights and optimizer state from ``path`` into ``model``, refusing
    a file saved from another kind of model (Keras would only warn and keep
    fresh weights for what does not match)."""
    import warnings

    from ..saving.runs import keras_file_config

    stored = keras_file_config(path)
    ours = (type(model).__module__, type(model).__name__)
    if (stored.get("module"), stored.get("class_name")) != ours:
        raise ZooError(
            f"cannot load the checkpoint {path}: it holds a {stored.get('class_name')} from "
            f"'{stored.get('module')}', but this run's model is a {ours[1]} from '{ours[0]}'"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(path)
        except Exception as exc:  # Keras raises many types for a damaged file
            raise ZooError(f"cannot load the checkpoint {path}: {type(exc).__name__}: {exc}") from None
    skipped = [str(w.message) for w in caught if "skipping" in str(w.message).lower()]
    if skipped:
        raise ZooError(f"cannot load the checkpoint {path}: it does not match the model ({skipped[0].strip()})")


# === Metrics file ===


def write_metrics_csv(path: Path, history: list[dict]) -> None:
    """Write all rows (one per finished epoch) atomically."""
    import csv
    import io

    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    timing = ["seconds", "images_per_second"]
    keys = ["epoch"] + sorted(k for k in keys if k not in ["epoch", *timing]) + [k for k in timing if k in keys]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    from ..storage.files import write_text

    write_text(path, buffer.getvalue())


def format_logs(logs: dict) -> str:
    shown = [f"{k} {v:.4g}" for k, v in logs.items() if k not in ("epoch", "seconds", "images_per_second")]
    return ", ".join(shown)


# === Training ===


class TrainingDiverged(ZooError):
    """A loss or metric became NaN or infinite."""


@dataclass
class TrainResult:
    run_dir: Path
    model_path: Path
    metrics: dict
    seconds: float
    images_per_second: float
    files: dict = field(default_factory=dict)
    #: why a listener ended the run before its last epoch (None: it trained every epoch)
    stopped_early: Optional[str] = None


def _resume_hint(run_dir: Path) -> str:
    from .checkpoints import resume_hint

    return resume_hint(run_dir)


def _next_step(run_dir: Path) -> str:
    """How to go on after training stopped: resume, or (nothing saved yet) start again."""
    from .checkpoints import read_checkpoint

    if read_checkpoint(run_dir, missing_ok=True) is None:
        return "nothing was saved yet, so start it again with the same zoo train command"
    return f"resume with: {_resume_hint(run_dir)}"


def _with_checkpoint_note(exc: ZooError, run_dir: Path) -> ZooError:
    """A failed write after a checkpoint: say the checkpoint is intact and how to resume."""
    from ..storage.files import WriteError
    from .checkpoints import read_checkpoint

    if isinstance(exc, WriteError) and "resume with" not in str(exc):
        saved = read_checkpoint(run_dir, missing_ok=True)
        if saved is not None:
            exc.args = (f"{exc}; the checkpoint ({saved.description}) is intact: fix that and "
                        f"resume with: {_resume_hint(run_dir)}",)
    return exc


def _batch_words(model, first: int, step: int, steps_per_epoch: int) -> str:
    """Where in the epoch a NaN appeared. Keras checks once per compiled call of
    ``steps_per_execution`` batches and reports its last index, which can lie
    beyond the epoch's end: name the range of batches it covers, within the epoch."""
    per_call = int(getattr(model, "steps_per_execution", 1) or 1)
    last = min(first + step, steps_per_epoch)
    if per_call <= 1:
        return f"batch {last}"
    low = max(first + 1, first + step - per_call + 1)
    return f"batch {last}" if low >= last else f"in batches {low}-{last} (checked every {per_call} batches)"


def _write_config(resolved: ResolvedRun, run_dir: Path, backend: str, data: Dataset, keras_version: str,
                  previous: Optional[dict] = None, run_id: Optional[str] = None) -> None:
    doc = resolved.config.to_dict()
    doc["zoo"] = dict(previous.get("zoo", {})) if previous else {}
    doc["zoo"].update({"version": __version__, "backend": backend, "keras": keras_version})
    if run_id:
        doc["zoo"]["run_id"] = run_id  # matches the folder's mark (zoo_core.storage.runfolder.RUN_MARK)
    doc["zoo"].setdefault("created", _dt.datetime.now().isoformat(timespec="seconds"))
    doc["zoo"]["plugins"] = {k: v for k, v in resolved.providers.items()}
    doc["data"] = {
        "source": data.source,
        "train_images": int(len(data.x_train)),
        "test_images": int(len(data.x_test)),
        "image_shape": list(data.info.image_shape),
        "num_classes": data.num_classes,
    }
    write_toml(doc, run_dir / CONFIG_FILE)


def train_run(
    resolved: ResolvedRun,
    run_dir: Path,
    *,
    backend: str,
    overwrite: bool = False,
    echo: Callable[[str], None] = print,
    verbose: Optional[int] = None,
    listeners: Sequence[RunListener] = (),
) -> TrainResult:
    """Train ``resolved`` and fill ``run_dir``. The folder is created only
    once the data has loaded and the model is built, so a bad input leaves
    nothing behind. ``listeners`` hear the run's start, epochs and end
    (:mod:`.listeners`; on rank 0 only under torchrun)."""
    replicas.refuse_torchrun(backend)
    train = resolved.config.train
    if train.distribute == "data-parallel" and not replicas.is_main_process(backend):
        # torchrun's rank 0 writes the run; another process
        # trains its part of each batch in a scratch folder of its own, dropped at the end.
        with replicas.scratch_folder() as scratch, replicas.quiet_interruption():
            result = _train_run(resolved, scratch, backend=backend, overwrite=False, echo=_silent, verbose=0)
    else:
        with telling(listeners):
            result = _train_run(resolved, run_dir, backend=backend, overwrite=overwrite, echo=echo, verbose=verbose,
                                listeners=listeners)
        tell(listeners, "run_ended", result, None)
    replicas.wait_for_rank_0(backend)
    return result


def _silent(line: str) -> None:
    pass


@contextlib.contextmanager
def telling(listeners: Sequence[RunListener]) -> Iterator[None]:
    """Tell the listeners of a run that failed (a finished one is told by the caller)."""
    try:
        yield
    except BaseException as exc:
        tell(listeners, "run_ended", None, exc)
        raise


def _train_run(resolved: ResolvedRun, run_dir: Path, *, backend: str, overwrite: bool,
               echo: Callable[[str], None], verbose: Optional[int], listeners: Sequence[RunListener] = ()) -> TrainResult:
    from .checkpoints import CheckpointState, after_next_save

    start = time.perf_counter()
    train = resolved.config.train
    check_run_dir(run_dir, overwrite)
    data = load_data(resolved)
    if data.notice:
        echo(f"Notice: {data.notice}")

    from ..backend import import_keras, keras_without_tensorflow

    keras = import_keras()
    from .devices import execution

    with execution(train, backend), keras_without_tensorflow():
        keras.utils.set_random_seed(train.seed)
        model = compile_model(build_model(resolved, data.info), train, backend)
        replicas.prepare(model, train, backend)
        folder = prepare_run_dir(run_dir, overwrite)
        staging = folder.staging
        after_next_save(staging, folder.place)
        try:
            _write_config(resolved, staging, backend, data, keras.__version__, run_id=folder.run_id)
            _announce(resolved, data, folder.final, backend, echo)
            _checkpoint_every_notice(model, train, echo)
            tell(listeners, "run_started", folder.final, resolved.config.to_dict(), resumed=False)
            result = _fit_epochs(model, data, resolved, staging, CheckpointState(epoch=0), start, echo, verbose,
                                 backend, listeners)
        except ZooError as exc:
            if folder.placed:
                exc.args = (folder.final_text(str(_with_checkpoint_note(exc, staging))),)
            elif not folder.kept:
                # The hidden sibling goes at close(): name the folder the user gave.
                exc.args = (folder.user_text(str(exc)),)
                if folder.final.is_dir() and any(folder.final.iterdir()):
                    exc.args = (f"{exc} ({folder.final} was not changed)",)
            raise
        finally:
            after_next_save(staging, None)
            folder.close()
        result.run_dir, result.model_path = folder.final, folder.final_path(result.model_path)
        result.files = {k: folder.final_path(v) for k, v in result.files.items()}
        return result


def _checkpoint_every_notice(model, train, echo) -> None:
    """--checkpoint-every N can only checkpoint between compiled calls."""
    every = train.checkpoint_every_steps
    per_call = int(getattr(model, "steps_per_execution", 1) or 1)
    if every and per_call > 1 and every % per_call:
        echo(f"Notice: --checkpoint-every {every} checkpoints at the end of the first compiled call of "
             f"{per_call} batches (steps_per_execution) past every {every} batches; for exactly every "
             f"{every} batches add --set steps_per_execution=1 (slower), or choose a multiple of {per_call}")


def _announce(resolved: ResolvedRun, data: Dataset, run_dir: Path, backend: str, echo) -> None:
    train = resolved.config.train

    h, w, c = data.info.image_shape
    echo(
        f"Training {resolved.config.model} on {resolved.config.dataset} ({len(data.x_train):,} images, "
        f"{h}x{w}x{c}) with loss {resolved.config.loss}, backend {backend}, "
        f"{train.epochs} epoch{'s' if train.epochs != 1 else ''} of batch {train.batch_size}"
    )
    echo(f"Run folder: {run_dir}")
    extras = [f"precision {train.precision}"] if train.precision != "float32" else []
    from ..data.stream import is_streamed

    if is_streamed(data.x_train):
        extras.append(f"images streamed from {data.x_train.path.parent}")
    if train.distribute != "none":
        from .devices import replica_count

        extras.append(f"{train.distribute} over {replica_count(backend)} devices")
    if extras:
        echo("With " + ", ".join(extras))


def _fit_epochs(model, data: Dataset, resolved: ResolvedRun, run_dir: Path, state, start: float,
                echo: Callable[[str], None], verbose: Optional[int], backend: str,
                listeners: Sequence[RunListener] = ()) -> TrainResult:
    """The epoch loop: one ``fit`` per epoch on that epoch's order of the
    data, then validation, a checkpoint, the CSV row, logs and grids; then
    the listeners (one may end the run here, with :class:`StopTraining`)."""
    from .callbacks import Grids, SignalStop, finished_epoch_logs, first_bad_value, make_callbacks, resume_mid_epoch
    from .checkpoints import read_checkpoint, save_checkpoint
    from ..storage.eventlog import EventLog

    train = resolved.config.train
    batch = train.batch_size
    from .feeding import Feeder

    labelled = resolved.model.needs_labels
    x = data.x_train
    # On PyTorch under torchrun, each process feeds its own part of every batch.
    index, count = replicas.batch_share(train, backend)
    feeder = Feeder((x, data.y_train) if labelled else (x,), batch // count, backend)
    steps_per_epoch = -(-len(replicas.shard(np.arange(len(x)), batch, index, count)) // (batch // count))
    validation = None
    if train.validation and len(data.x_test):
        validation = Feeder((data.x_test, data.y_test) if labelled else (data.x_test,), batch, backend)
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 0
    model_path = run_dir / MODEL_FILE
    grids = Grids(run_dir, data, train.grid_size, train.seed)
    events = EventLog.open(run_dir, echo)
    write_metrics_csv(run_dir / METRICS_FILE, state.history)
    epoch_seconds: list[float] = []

    def checkpoint(model, epoch: int, step: int) -> None:
        state.epoch, state.step = epoch, step
        state.random_states = read_random_states(model)
        state.backend_random_state = read_backend_random_state(backend)
        # Inside an epoch, its metric sums so far: a resumed run's row for
        # that epoch then averages all its batches, as an uninterrupted run's does.
        state.metric_state = read_metric_state(model) if step else []
        save_checkpoint(run_dir, model, state)

    def last_good() -> str:
        saved = read_checkpoint(run_dir, missing_ok=True)
        if saved is None:
            return "no checkpoint was written yet"
        return f"the last good checkpoint ({saved.description}) is in {run_dir / saved.file} and {model_path}"

    stopper = SignalStop(echo)
    current = {"epoch": state.epoch, "first": state.step}
    stopped_early = None

    def step_checkpoint(model, batches: int) -> None:
        state.global_step = watch.global_start + batches
        checkpoint(model, current["epoch"], current["first"] + batches)

    callbacks, watch = make_callbacks(model, train.epochs, stopper, step_checkpoint, train.checkpoint_every_steps,
                                      agree=replicas.any_process if count > 1 else None)
    try:
        with stopper:
            for epoch in range(state.epoch, train.epochs):
                if stopper.requested:
                    break
                first = state.step if epoch == state.epoch else 0
                current.update(epoch=epoch, first=first)
                order = replicas.shard(epoch_order(train.seed, epoch, len(x))[first * batch:], batch, index, count)
                flips = epoch_flips(train.seed, epoch, len(x))[first * batch:] if train.flip else None
                flips = replicas.shard(flips, batch, index, count) if flips is not None else None
                inputs = feeder.fit_inputs(order, flips)
                watch.reset(state.global_step)
                extra = [resume_mid_epoch(state.metric_state, backend, state.backend_random_state, echo)] if first else []
                began = time.perf_counter()
                history = None  # a run stopped after the epoch's last batch, before its end, has none left
                if first < steps_per_epoch:
                    with feeder.own_errors(lambda: _next_step(run_dir)):
                        history = model.fit(**inputs, epochs=epoch + 1, initial_epoch=epoch,
                                            callbacks=callbacks + extra, verbose=verbose)
                seconds = time.perf_counter() - began
                if watch.bad:
                    name, value, step = watch.bad
                    where = _batch_words(model, first, step, steps_per_epoch)
                    raise TrainingDiverged(
                        f"'{name}' became {value} at epoch {epoch + 1}, {where}; training stopped and nothing "
                        f"from this epoch was saved; {last_good()}. Try a lower learning rate, "
                        f"e.g. --learning-rate {train.learning_rate / 10:g}"
                    )
                state.global_step = watch.global_start + watch.batches
                if first + watch.batches < steps_per_epoch:  # a signal stopped the epoch early
                    checkpoint(model, epoch, first + watch.batches)
                    break

                logs = (finished_epoch_logs(model, state.metric_state, epoch, echo) if history is None
                        else {k: float(v[-1]) for k, v in history.history.items() if v})
                if count > 1:
                    replicas.share_statistics(model)
                # A model may fit something of its own to the training images after each
                # epoch (e.g. a density over its codes), deterministically for the seed, so
                # a resumed run refits as an uninterrupted one does; it lands in the checkpoint.
                refit = getattr(model, "fit_after_epoch", None)
                if callable(refit):
                    refit(x, seed=train.seed * 1009 + epoch)
                if validation is not None:
                    with validation.own_errors(lambda: _next_step(run_dir)):
                        scores = model.evaluate(**validation.evaluate_inputs(), verbose=0, return_dict=True)
                    logs.update({f"val_{k}": float(v) for k, v in scores.items()})
                if count > 1:
                    logs = replicas.mean_logs(logs)
                if (bad := first_bad_value(logs)) is not None:
                    raise TrainingDiverged(
                        f"'{bad[0]}' became {bad[1]} at the end of epoch {epoch + 1}; training stopped and this "
                        f"epoch was not saved; {last_good()}. Try a lower learning rate, "
                        f"e.g. --learning-rate {train.learning_rate / 10:g}"
                    )
                if history is not None:  # else no batch was timed
                    logs["seconds"] = seconds
                    logs["images_per_second"] = (len(x) - first * batch) / seconds
                if first == 0:
                    epoch_seconds.append(seconds)
                state.history.append({"epoch": epoch + 1, **logs})
                checkpoint(model, epoch + 1, 0)
                write_metrics_csv(run_dir / METRICS_FILE, state.history)
                if events:
                    events.write(epoch + 1, logs)
                grids.write(model, epoch + 1)
                timing = f" ({logs['images_per_second']:,.0f} images/s, {seconds:.1f} s)" if history is not None else ""
                echo(f"Epoch {epoch + 1}/{train.epochs}: {format_logs(logs)}{timing}")
                try:
                    tell(listeners, "epoch_ended", epoch + 1, dict(state.history[-1]), model,
                         Path(os.path.realpath(run_dir)))
                except StopTraining as exc:
                    stopped_early = str(exc)
                    echo(f"Stopped after epoch {epoch + 1} of {train.epochs}: {exc}")
                    break
    except KeyboardInterrupt:
        # A second signal: stop now, leave the last checkpoint as it is.
        raise Interrupted(
            f"aborted; {last_good()}; {_next_step(run_dir)}",
            exit_code=stopper.exit_code,
        ) from None
    finally:
        if events:
            events.close()

    if stopper.requested and (state.epoch < train.epochs or state.step):
        if read_checkpoint(run_dir, missing_ok=True) is None:
            raise Interrupted(f"stopped before the first batch; {_next_step(run_dir)}", exit_code=stopper.exit_code)
        raise Interrupted(
            f"stopped {state.description} (of {train.epochs} epochs); checkpoint saved in {run_dir / state.file} "
            f"(and {model_path}); {_next_step(run_dir)}",
            exit_code=stopper.exit_code,
        )

    seconds = time.perf_counter() - start
    metrics = {k: v for k, v in state.history[-1].items() if k != "epoch"} if state.history else {}
    steady = epoch_seconds[1:] or epoch_seconds
    images_per_second = len(x) * len(steady) / sum(steady) if steady else 0.0
    files = {"config": run_dir / CONFIG_FILE, "model": model_path, "metrics": run_dir / METRICS_FILE}
    if events:
        files["tensorboard"] = events.directory
    files.update(grids.written)
    return TrainResult(run_dir, model_path, metrics, seconds, images_per_second, files, stopped_early)
