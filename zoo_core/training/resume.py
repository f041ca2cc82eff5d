"""``zoo train --resume``: a run goes on from its checkpoint, with the same
config, data order and random streams, so it ends where an uninterrupted run
would have. Built on :mod:`.loop` (the epochs themselves), which never
imports this module.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from ..data.loading import load_data
from ..errors import ZooError
from ..plugins.resolve import build_model
from ..specs import Dataset
from . import loop, replicas
from .listeners import RunListener, tell
from .loop import CONFIG_FILE, TrainResult, compile_model, load_checkpoint_weights
from .state import restore_backend_random_state, restore_random_states


def refuse_exported(run_dir: Path) -> None:
    """An exported model has no optimizer state or checkpoint: it cannot be resumed."""
    from ..saving.hub import is_exported_folder

    if is_exported_folder(Path(run_dir)):
        raise ZooError(f"{run_dir} is an exported model: weights only, without the optimizer state and "
                       f"checkpoint a resume needs; train a new run with zoo train (its preset: "
                       f"zoo info shows it in {CONFIG_FILE})")


def resume_run(
    run_dir: Path,
    registry,
    *,
    backend: str,
    epochs: Optional[int] = None,
    echo: Callable[[str], None] = print,
    verbose: Optional[int] = None,
    listeners: Sequence[RunListener] = (),
) -> TrainResult:
    """Continue a run from its checkpoint: same config, same data order and
    random streams, so it ends where an uninterrupted run would have. The run
    folder is locked meanwhile (a second writer is refused, naming this one).
    ``listeners`` as for :func:`~zoo_core.training.train_run`."""
    start = time.perf_counter()
    replicas.refuse_torchrun(backend)
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).is_file():
        raise ZooError(f"{run_dir} is not a zoo run folder (no {CONFIG_FILE}); give the folder zoo train wrote")
    refuse_exported(run_dir)
    if not replicas.is_main_process(backend):
        # As in train_run: rank 0 resumes the run; the others a copy of it.
        with replicas.scratch_folder(copy_of=run_dir) as scratch, replicas.quiet_interruption():
            result = _resume_locked(scratch, registry, start, backend=backend, epochs=epochs, echo=loop._silent,
                                    verbose=0)
    else:
        with loop.telling(listeners):
            result = _resume_main(run_dir, registry, start, backend=backend, epochs=epochs, echo=echo,
                                  verbose=verbose, listeners=listeners)
        tell(listeners, "run_ended", result, None)
    replicas.wait_for_rank_0(backend)
    return result


def _resume_main(run_dir: Path, registry, start: float, *, backend: str, epochs: Optional[int],
                 echo: Callable[[str], None], verbose: Optional[int], listeners: Sequence[RunListener]) -> TrainResult:
    """The process that writes the run resumes it under its lock."""
    from ..storage.locks import RunLock

    try:
        lock = RunLock(run_dir).acquire()  # before reading anything a live run may be rewriting
    except OSError as exc:
        from ..storage.files import write_error

        raise write_error(run_dir, exc, "the lock file of") from None
    try:
        return _resume_locked(run_dir, registry, start, backend=backend, epochs=epochs, echo=echo, verbose=verbose,
                              listeners=listeners)
    except ZooError as exc:
        raise loop._with_checkpoint_note(exc, run_dir) from None
    finally:
        lock.release()


def _resume_locked(run_dir: Path, registry, start: float, *, backend: str, epochs: Optional[int],
                   echo: Callable[[str], None], verbose: Optional[int],
                   listeners: Sequence[RunListener] = ()) -> TrainResult:
    import tomllib

    from .checkpoints import clean_temporary_files, read_checkpoint
    from ..plugins.resolve import resolve_stored
    from ..saving.runs import check_model_file

    config_path = run_dir / CONFIG_FILE
    try:
        doc = tomllib.loads(config_path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ZooError(f"{config_path} is damaged: {exc}") from None
    state = read_checkpoint(run_dir)
    resolved = resolve_stored(registry, doc, epochs=epochs)
    train = resolved.config.train
    if state.epoch >= train.epochs:
        raise ZooError(
            f"{run_dir} has finished all {train.epochs} epochs; "
            f"pass --epochs N (more than {state.epoch}) to train it further"
        )
    checkpoint = run_dir / state.file
    check_model_file(checkpoint, registry, doc)
    clean_temporary_files(run_dir)

    data = load_data(resolved)
    if data.notice:
        echo(f"Notice: {data.notice}")
    stored_shape = doc.get("data", {}).get("image_shape")
    if stored_shape and list(data.info.image_shape) != list(stored_shape):
        raise ZooError(
            f"dataset '{resolved.config.dataset}' now gives {data.info.image_shape} images, but the run "
            f"was trained on {tuple(stored_shape)}; it cannot be resumed on this data"
        )
    _refuse_changed_split(doc.get("data", {}), data, resolved.config.dataset)

    from ..backend import import_keras, keras_without_tensorflow

    keras = import_keras()
    from .devices import execution

    with execution(train, backend), keras_without_tensorflow():
        keras.utils.set_random_seed(train.seed)
        model = compile_model(build_model(resolved, data.info), train, backend)
        load_checkpoint_weights(model, checkpoint)
        restore_random_states(model, state.random_states)
        replicas.prepare(model, train, backend)
        if not state.step:  # inside an epoch, the first batch restores it (callbacks.resume_mid_epoch)
            restore_backend_random_state(backend, state.backend_random_state)
        loop._write_config(resolved, run_dir, backend, data, keras.__version__, previous=doc)
        echo(f"Resuming {run_dir} {state.description} (of {train.epochs} epochs), backend {backend}")
        loop._checkpoint_every_notice(model, train, echo)
        tell(listeners, "run_started", run_dir, resolved.config.to_dict(), resumed=True)
        return loop._fit_epochs(model, data, resolved, run_dir, state, start, echo, verbose, backend, listeners)


def _refuse_changed_split(stored: dict, data: Dataset, name: str) -> None:
    """A data set whose image count changed (an image folder that gained files)
    splits into train and test anew: resuming on it would train on another
    split, possibly on the run's former test images."""
    then = (stored.get("train_images"), stored.get("test_images"))
    now = (len(data.x_train), len(data.x_test))
    if None in then or tuple(then) == now:
        return
    raise ZooError(
        f"dataset '{name}' changed since the run started: {sum(then):,} images then ({then[0]:,} train, "
        f"{then[1]:,} test), {sum(now):,} now ({now[0]:,} train, {now[1]:,} test), so its train/test split "
        f"would change and could move test images into training; restore the data as it was, or start a new run"
    )
