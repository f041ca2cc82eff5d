"""``zoo build`` and ``zoo train`` (new runs and ``--resume``)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ZooError
from .options import SEED, get_registry, parse_image_shape, run_options, track_option


@click.command()
@click.argument("name")
@run_options
@click.option("--image-shape", callback=parse_image_shape, metavar="HxWxC",
              help="Input shape when no data set gives one (default 28x28x1).")
@click.option("--num-classes", type=click.IntRange(min=1), help="Classes, for conditional models.")
@click.option("--out", type=click.Path(dir_okay=False), help="Save the untrained model to FILE.keras.")
def build(name, overrides, dataset, loss, backend, registry_files, image_shape, num_classes, out):
    """Build a model (or a preset's model) and print its summary."""
    from ..backend import choose_backend
    from ..plugins.resolve import resolve_run
    from ..specs import DataInfo

    if out and not out.endswith(".keras"):
        raise click.BadParameter("the file name must end in .keras", param_hint="--out")
    if out:
        from ..storage.files import check_can_create

        check_can_create(out, "the model")  # before building: fail fast
    registry = get_registry(registry_files)
    resolved = resolve_run(registry, name, dataset=dataset, loss=loss, overrides=overrides, require_dataset=False)
    shape = image_shape
    classes = num_classes
    if resolved.dataset is not None:
        from ..data.loading import dataset_info

        found = dataset_info(resolved)  # the data's own shape and classes, as zoo train sees them
        shape = shape or found.image_shape
        classes = classes or found.num_classes
    if resolved.config.train.image_size and shape:
        shape = (resolved.config.train.image_size, resolved.config.train.image_size, shape[2])
    if shape is None:
        shape = (28, 28, 1)
    backend_name = choose_backend(backend)
    from ..backend import import_keras
    from ..training import build_model

    import_keras()

    model = build_model(resolved, DataInfo(tuple(shape), classes))
    model.summary(print_fn=lambda line, *a, **k: click.echo(line), expand_nested=True)
    click.echo(f"{resolved.config.model}: {model.count_params():,} parameters "
               f"for {'x'.join(map(str, shape))} images (backend {backend_name})")
    if out:
        from ..storage.files import atomic_write

        atomic_write(out, lambda tmp: model.save(tmp), what="the model")
        click.echo(f"Saved the untrained model to {out}")


@click.command()
@click.argument("target", metavar="PRESET|MODEL", required=False)
@run_options
@click.option("--epochs", type=click.IntRange(min=1), help="Passes over the training data.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Images per step.")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), help="Optimizer step size.")
@click.option("--seed", type=SEED, help="Fixes initialisation, data order and sampling (0 to 2**32-1).")
@click.option("--out", type=click.Path(file_okay=False), help="Run folder (default: runs/NAME-TIMESTAMP).")
@click.option("--overwrite", is_flag=True, help="Replace the run folder if it exists.")
@click.option("--resume", "resume", type=click.Path(file_okay=False), metavar="RUN",
              help="Continue the run in folder RUN from its last checkpoint (--epochs N to go further).")
@click.option("--checkpoint-every", type=click.IntRange(min=1), metavar="STEPS",
              help="Also checkpoint every STEPS batches (default: at the end of each epoch).")
@click.option("--tensorboard", is_flag=True, help="Print the command that shows this run in TensorBoard.")
@click.option("--precision", type=click.Choice(["float32", "mixed_float16", "mixed_bfloat16"]),
              help="Keras dtype policy; mixed precision is for GPUs/TPUs; on a CPU only bfloat16 with native support pays (zoo doctor shows it).")
@click.option("--distribute", type=click.Choice(["none", "data-parallel"]),
              help="data-parallel: split each batch over all devices (JAX: keras.distribution; "
                   "TensorFlow: MirroredStrategy; PyTorch: one process per device, under torchrun).")
@click.option("--eval", "evaluate", is_flag=True,
              help="Run 'zoo eval' on the finished run and store it as RUN/eval.json.")
@track_option
def train(target, overrides, dataset, loss, backend, registry_files, epochs, batch_size,
          learning_rate, seed, out, overwrite, resume, checkpoint_every, tensorboard, precision, distribute,
          evaluate, track):
    """Train a preset or a model and write a run folder.

    The folder holds config.toml (the resolved config), model.keras,
    metrics.csv, TensorBoard logs, a checkpoint after every epoch, and
    per-epoch PNG grids of samples and reconstructions. Ctrl-C or SIGTERM
    stops after the current batch with a checkpoint; continue with
    --resume RUN. --eval then measures the run as 'zoo eval RUN' does.
    --track mlflow also logs it to MLflow (docs/tracking.md).
    """
    from ..backend import choose_backend
    from ..plugins.resolve import resolve_run
    from ..training import check_run_dir, default_run_dir

    registry = get_registry(registry_files)
    if resume:
        changed = {"PRESET|MODEL": target, "--set": overrides, "--dataset": dataset, "--loss": loss,
                   "--batch-size": batch_size, "--learning-rate": learning_rate, "--seed": seed, "--out": out,
                   "--overwrite": overwrite, "--checkpoint-every": checkpoint_every,
                   "--precision": precision, "--distribute": distribute}
        given = [name for name, value in changed.items() if value]
        if given:
            raise ZooError(
                f"--resume continues a run with its own config, so {', '.join(given)} cannot be "
                f"changed; only --epochs and --backend can (start a new run to change more)"
            )
        run_dir = Path(resume)
        from ..training.resume import refuse_exported

        refuse_exported(run_dir)  # before choosing the backend it was trained on
        backend_name = choose_backend(backend or _run_backend(run_dir))
        if tensorboard:
            _print_tensorboard(run_dir)
        from ..training import resume_run

        trackers = _open_trackers(track, registry, backend_name)
        result = resume_run(run_dir, registry, backend=backend_name, epochs=epochs, echo=click.echo,
                            listeners=trackers)
    else:
        if not target:
            raise ZooError("name a preset or a model to train (see 'zoo list presets'), or --resume RUN")
        resolved = resolve_run(
            registry, target, dataset=dataset, loss=loss, overrides=overrides,
            train={"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed,
                   "checkpoint_every_steps": checkpoint_every, "precision": precision,
                   "distribute": distribute},
        )
        run_dir = Path(out) if out else default_run_dir(resolved.config.preset or resolved.config.model)
        check_run_dir(run_dir, overwrite)
        backend_name = choose_backend(backend)
        if tensorboard:
            _print_tensorboard(run_dir)

        from ..training import train_run

        trackers = _open_trackers(track, registry, backend_name)
        result = train_run(resolved, run_dir, backend=backend_name, overwrite=overwrite, echo=click.echo,
                           listeners=trackers)
    from ..training.replicas import is_main_process

    if not is_main_process(backend_name):
        return  # one of torchrun's other processes: rank 0 reports (and evaluates)
    shown = ", ".join(f"{k} {v:.4g}" for k, v in result.metrics.items() if k not in ("seconds", "images_per_second"))
    click.echo(f"Done in {result.seconds:.1f} s ({result.images_per_second:,.0f} images/s). Final: {shown}")
    width = max(len(k) for k in result.files)
    for key, path in result.files.items():
        click.echo(f"  {key + ':':<{width + 1}} {path}")
    if evaluate:
        from ..evaluation import evaluate_run
        from ..evaluation.report import format_report

        click.echo(f"Evaluating {run_dir} (as 'zoo eval {run_dir}') ...")
        report = evaluate_run(run_dir, registry=registry, backend=backend_name,
                              echo=lambda line: click.echo(line, err=True))
        click.echo(format_report(report))
        for tracker in trackers:
            tracker.log_eval(run_dir, report)
        if report.get("save_error"):
            raise ZooError(f"{report.pop('save_error')}; the results above were not saved")
        click.echo(f"  eval: {report['file']}")


def _open_trackers(track, registry, backend_name: str) -> list:
    """The ``--track`` trackers (none on torchrun's other processes: rank 0 logs the run)."""
    from ..training.replicas import is_main_process

    if not track or not is_main_process(backend_name):
        return []
    from ..tracking import open_trackers

    trackers = open_trackers(track, registry, echo=lambda line: click.echo(line, err=True))
    click.get_current_context().call_on_close(lambda: [tracker.close() for tracker in trackers])
    return trackers


def _run_backend(run_dir: Path):
    """The backend a run was trained on, from its config.toml (None if unknown)."""
    import tomllib

    try:
        return tomllib.loads((run_dir / "config.toml").read_text()).get("zoo", {}).get("backend")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None


def _print_tensorboard(run_dir: Path) -> None:
    import shlex

    click.echo(f"TensorBoard: tensorboard --logdir {shlex.quote(str(run_dir / 'logs'))}")
