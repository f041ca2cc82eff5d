"""The ``zoo`` command line. Listing and inspecting never import Keras."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from pathlib import Path
from typing import Optional

import click

from . import __version__
from .errors import ZooError

LIST_KINDS = ("models", "losses", "datasets", "presets", "plugins")


class ZooGroup(click.Group):
    """Turns :class:`ZooError` into a one-line message and exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ZooError as exc:
            from .errors import without_pickle_advice

            error = click.ClickException(without_pickle_advice(str(exc)))
            error.exit_code = exc.exit_code
            raise error from None
        except KeyboardInterrupt:
            click.echo("\nInterrupted.", err=True)
            ctx.exit(130)


#: Seeds go to numpy and Keras, which take 0 <= seed < 2**32.
SEED = click.IntRange(0, 2**32 - 1)


@contextlib.contextmanager
def json_stdout(as_json: bool):
    """With ``--json``, stdout holds the JSON document and nothing else: what
    is printed meanwhile (Keras' "Downloading data from ...", a plugin's
    chatter) goes to stderr. Yields the function that prints the document."""
    if not as_json:
        yield click.echo
        return
    real = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        yield lambda text="", **kwargs: click.echo(text, file=real)


def registry_option(f):
    """``--registry FILE`` (repeatable): extra preset files."""
    return click.option(
        "--registry",
        "registry_files",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="A TOML file of [presets.NAME] tables that adds or overrides presets (repeatable). "
        "./zoo.toml is read too.",
    )(f)


def get_registry(files=()):
    from .registry import load_registry

    registry = load_registry(files)
    for problem in registry.problems:
        click.secho(f"Warning: {problem}", fg="yellow", err=True)
    return registry


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zoo")
def cli():
    """zoo: train, compare and extend generative models on Keras 3.

    Models, losses, data sets and presets come from plugins; see what is
    installed with 'zoo list'.
    """


# === zoo list ===


@cli.command(name="list")
@click.argument("kind", required=False)
@click.argument("pattern", required=False, default="*")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@registry_option
def list_(kind, pattern, as_json, registry_files):
    """List models, losses, data sets, presets and plugins.

    KIND is one of models, losses, datasets, presets, plugins (default: all).
    PATTERN is a shell wildcard on names, e.g. 'zoo list models "vae*"'. A
    single argument that is not a KIND is taken as the PATTERN.
    """
    from . import listing

    if kind is not None and kind not in LIST_KINDS:
        singular = {k[:-1] if k != "losses" else "loss": k for k in LIST_KINDS}
        if kind in singular:
            kind = singular[kind]
        elif pattern == "*":
            kind, pattern = None, kind
        else:
            raise click.BadParameter(f"'{kind}' is not one of {', '.join(LIST_KINDS)}", param_hint="KIND")
    with json_stdout(as_json) as echo:
        registry = get_registry(registry_files)
        kinds = [kind] if kind else list(LIST_KINDS)
        if kind is None and pattern != "*":
            _check_pattern(registry, pattern)
        if as_json:
            echo(json.dumps(listing.as_json(registry, kinds, pattern), indent=2))
            return
    click.echo(listing.as_text(registry, kinds, pattern, single=kind is not None))


def _check_pattern(registry, pattern: str) -> None:
    """A bare word that matches nothing is most likely a misspelt KIND or name."""
    import difflib
    import fnmatch

    names = [n for k in ("model", "loss", "dataset", "preset") for n in registry.names(k)]
    names += list(registry.plugins)
    if any(fnmatch.fnmatchcase(n, pattern) for n in names):
        return
    close = difflib.get_close_matches(pattern, list(LIST_KINDS) + names, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}?" if close else f"KIND is one of {', '.join(LIST_KINDS)}"
    raise ZooError(f"nothing matches '{pattern}'; {hint} (zoo list KIND [PATTERN])")


# === zoo info ===


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@registry_option
def info(name, as_json, registry_files):
    """Describe a preset, model, loss or data set: its options, defaults and plugin."""
    from . import listing

    with json_stdout(as_json) as echo:
        registry = get_registry(registry_files)
        entry = registry.find(name)
        if as_json:
            echo(json.dumps(listing.info_json(registry, entry), indent=2))
            return
    click.echo(listing.info_text(registry, entry))


# === zoo build / zoo train ===


def parse_image_shape(ctx, param, value):
    if value is None:
        return None
    try:
        dims = tuple(int(v) for v in value.lower().split("x"))
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) < 1:
        raise click.BadParameter(f"expected HxWxC such as 28x28x1, got '{value}'")
    return dims


def run_options(f):
    """Options shared by build and train."""
    f = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help="Override any config value: latent_dim=16, loss.beta=4, train.epochs=3 (repeatable).")(f)
    f = click.option("--dataset", help="Data set: NAME or NAME:ARG, e.g. fashion-mnist, npz:data.npz, folder:images/.")(f)
    f = click.option("--loss", help="Loss by name (any compatible loss from any plugin).")(f)
    f = click.option("--backend", type=click.Choice(["tensorflow", "jax", "torch"]),
                     help="Keras backend (default: $KERAS_BACKEND, else the fastest installed).")(f)
    return registry_option(f)


@cli.command()
@click.argument("name")
@run_options
@click.option("--image-shape", callback=parse_image_shape, metavar="HxWxC",
              help="Input shape when no data set gives one (default 28x28x1).")
@click.option("--num-classes", type=click.IntRange(min=1), help="Classes, for conditional models.")
@click.option("--out", type=click.Path(dir_okay=False), help="Save the untrained model to FILE.keras.")
def build(name, overrides, dataset, loss, backend, registry_files, image_shape, num_classes, out):
    """Build a model (or a preset's model) and print its summary."""
    from .backend import choose_backend
    from .resolve import resolve_run
    from .specs import DataInfo

    if out and not out.endswith(".keras"):
        raise click.BadParameter("the file name must end in .keras", param_hint="--out")
    if out:
        from .files import check_can_create

        check_can_create(out, "the model")  # before building: fail fast
    registry = get_registry(registry_files)
    resolved = resolve_run(registry, name, dataset=dataset, loss=loss, overrides=overrides, require_dataset=False)
    shape = image_shape
    classes = num_classes
    if resolved.dataset is not None:
        from .data import dataset_info

        found = dataset_info(resolved)  # the data's own shape and classes, as zoo train sees them
        shape = shape or found.image_shape
        classes = classes or found.num_classes
    if resolved.config.train.image_size and shape:
        shape = (resolved.config.train.image_size, resolved.config.train.image_size, shape[2])
    if shape is None:
        shape = (28, 28, 1)
    backend_name = choose_backend(backend)
    from .backend import import_keras
    from .training import build_model

    import_keras()

    model = build_model(resolved, DataInfo(tuple(shape), classes))
    model.summary(print_fn=lambda line, *a, **k: click.echo(line), expand_nested=True)
    click.echo(f"{resolved.config.model}: {model.count_params():,} parameters "
               f"for {'x'.join(map(str, shape))} images (backend {backend_name})")
    if out:
        from .files import atomic_write

        atomic_write(out, lambda tmp: model.save(tmp), what="the model")
        click.echo(f"Saved the untrained model to {out}")


@cli.command()
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
def train(target, overrides, dataset, loss, backend, registry_files, epochs, batch_size,
          learning_rate, seed, out, overwrite, resume, checkpoint_every, tensorboard, precision, distribute,
          evaluate):
    """Train a preset or a model and write a run folder.

    The folder holds config.toml (the resolved config), model.keras,
    metrics.csv, TensorBoard logs, a checkpoint after every epoch, and
    per-epoch PNG grids of samples and reconstructions. Ctrl-C or SIGTERM
    stops after the current batch with a checkpoint; continue with
    --resume RUN. --eval then measures the run as 'zoo eval RUN' does.
    """
    from .backend import choose_backend
    from .resolve import resolve_run
    from .training import check_run_dir, default_run_dir

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
        from .training.loop import refuse_exported

        refuse_exported(run_dir)  # before choosing the backend it was trained on
        backend_name = choose_backend(backend or _run_backend(run_dir))
        if tensorboard:
            _print_tensorboard(run_dir)
        from .training import resume_run

        result = resume_run(run_dir, registry, backend=backend_name, epochs=epochs, echo=click.echo)
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

        from .training import train_run

        result = train_run(resolved, run_dir, backend=backend_name, overwrite=overwrite, echo=click.echo)
    from .training.replicas import is_main_process

    if not is_main_process(backend_name):
        return  # one of torchrun's other processes: rank 0 reports (and evaluates)
    shown = ", ".join(f"{k} {v:.4g}" for k, v in result.metrics.items() if k not in ("seconds", "images_per_second"))
    click.echo(f"Done in {result.seconds:.1f} s ({result.images_per_second:,.0f} images/s). Final: {shown}")
    width = max(len(k) for k in result.files)
    for key, path in result.files.items():
        click.echo(f"  {key + ':':<{width + 1}} {path}")
    if evaluate:
        from .evaluation import evaluate_run
        from .evaluation.report import format_report

        click.echo(f"Evaluating {run_dir} (as 'zoo eval {run_dir}') ...")
        report = evaluate_run(run_dir, registry=registry, backend=backend_name,
                              echo=lambda line: click.echo(line, err=True))
        click.echo(format_report(report))
        if report.get("save_error"):
            raise ZooError(f"{report.pop('save_error')}; the results above were not saved")
        click.echo(f"  eval: {report['file']}")


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


# === zoo sample / zoo eval / zoo plot ===

backend_option = click.option("--backend", type=click.Choice(["tensorflow", "jax", "torch"]),
                              help="Keras backend (default: $KERAS_BACKEND, else the fastest installed).")


@cli.command()
@click.argument("name", metavar="NAME|NAME:ARG")
@click.option("--image-size", type=click.IntRange(min=4), help="Resize to NxN on the way in, as --set image_size=N does for training.")
@click.option("--out", type=click.Path(dir_okay=False), help="The examples grid, FILE.png (default: data-NAME.png here).")
@click.option("--crop", is_flag=True, help="Cut each image to its centred square first, as --set crop=true does.")
@click.option("--num", type=click.IntRange(min=1), default=64, show_default=True, help="Examples in the grid.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Which examples.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@registry_option
def data(name, image_size, crop, out, num, seed, as_json, registry_files):
    """Show a data set as zoo sees it: counts, shape, pixel range, classes, source, and a PNG of examples.

    NAME is a data set (zoo list datasets), e.g. fashion-mnist, folder:~/pictures, npz:data.npz.
    """
    from .datashow import format_summary, show

    with json_stdout(as_json) as echo:
        result = show(get_registry(registry_files), name, image_size=image_size, out=out, num=num, seed=seed,
                      echo=echo, crop=crop)
        echo(json.dumps(result, indent=2) if as_json else format_summary(result))


def pretrained_option(f):
    return click.option("--pretrained", is_flag=True,
                        help="RUN is a preset name: use its published weights (no training; 'zoo info PRESET' "
                             "says whether it has them).")(f)


@cli.command()
@click.argument("run", metavar="RUN")
@click.option("--num", type=click.IntRange(min=1), help="Images to generate (default 64); for the other modes: "
              "images to reconstruct (32), interpolation rows (8), dimensions to traverse (10), grid side (15).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="The same seed gives the same images.")
@click.option("--class", "class_index", type=int, help="Generate only this class (class-conditional models).")
@click.option("--out", type=click.Path(dir_okay=False),
              help="FILE.npz (images float32 in [0, 1], labels) or FILE.png (a grid); default: a PNG in RUN.")
@click.option("--reconstruct", is_flag=True, help="Test images above their reconstructions.")
@click.option("--interpolate", is_flag=True, help="Decoded straight lines between pairs of test images' latents.")
@click.option("--traverse", is_flag=True, help="Sweep each latent dimension from -3 to 3, one row each.")
@click.option("--latent-plot", is_flag=True, help="2-D latents: the decoded latent grid and a scatter of "
              "test-set means coloured by label.")
@click.option("--dataset", help="Data for --reconstruct, --interpolate, --latent-plot (default: the run's).")
@pretrained_option
@backend_option
@registry_option
def sample(run, num, seed, class_index, out, reconstruct, interpolate, traverse, latent_plot, dataset, pretrained,
           backend, registry_files):
    """Generate images from a trained model.

    RUN is a run folder, a .keras file, an exported model (folder or .zip),
    an http(s):// URL of one (#sha256=HEX checks it), hf://OWNER/NAME, or
    with --pretrained a preset name.
    """
    from .evaluation import commands

    modes = [m for m, on in zip(commands.SAMPLE_MODES, (reconstruct, interpolate, traverse, latent_plot)) if on]
    if len(modes) > 1:
        raise ZooError(f"choose one of --{', --'.join(modes)}")
    commands.sample(run, num=num, seed=seed, class_index=class_index, out=out, mode=modes[0] if modes else None,
                    dataset=dataset, backend=backend, registry=get_registry(registry_files), echo=click.echo,
                    pretrained=pretrained)


@cli.command(name="eval")
@click.argument("runs", nargs=-1, required=True, metavar="RUN...")
@click.option("--metrics", multiple=True, metavar="LIST",
              help="Comma-separated: likelihood, reconstruction, fd, kid, coverage (default: every one that applies).")
@click.option("--num", type=click.IntRange(min=2), default=10_000, show_default=True,
              help="Generated images for FD, KID and coverage, and test images for the reconstruction error (capped at the test split's size).")
@click.option("--k", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Importance samples per image for the IWAE likelihood bound.")
@click.option("--nll-images", default="200", show_default=True, metavar="N|all",
              help="Random test images for the IWAE bound (the ELBO always uses the whole test split).")
@click.option("--binarise", type=click.Choice(["stochastic", "threshold", "none"]), default="stochastic",
              show_default=True, help="How test images are binarised for a Bernoulli likelihood.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Fixes samples, subsets and draws.")
@click.option("--classifier-epochs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Epochs for the cached feature classifier (trained once per data set).")
@click.option("--dataset", help="Evaluate against this data set instead of the run's.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (one object, or {runs: [...]}).")
@click.option("--plot", type=click.Path(dir_okay=False), help="Also draw a bar chart of the runs to FILE.png.")
@click.option("--no-save", is_flag=True, help="Do not write eval.json into the run folders.")
@pretrained_option
@backend_option
@registry_option
def eval_(runs, metrics, num, k, nll_images, binarise, seed, classifier_epochs, dataset, as_json, plot, no_save,
          pretrained, backend, registry_files):
    """Measure trained runs: likelihood (ELBO, IWAE NLL), reconstruction error, FD, KID, class coverage.

    FD, KID and coverage use a classifier zoo trains on the data set's train
    split and caches; each number is shown beside its real-data floor.
    Several runs give one comparison table. Results are also saved as
    RUN/eval.json (not into exported models). RUN takes what 'zoo sample'
    takes: a run folder, an exported model, a URL, or a preset with --pretrained.
    """
    from .evaluation import commands
    from .evaluation.evaluate import EvalOptions

    options = EvalOptions(num=num, seed=seed, k=k, nll_images=commands.parse_count(nll_images, "--nll-images"),
                          binarise=binarise, classifier_epochs=classifier_epochs)
    with json_stdout(as_json) as echo:
        commands.evaluate(runs, metrics=metrics, options=options, dataset=dataset, as_json=as_json, plot=plot,
                          save=not no_save, backend=backend, registry=get_registry(registry_files), echo=echo,
                          progress=lambda line: click.echo(line, err=True), pretrained=pretrained)


@cli.command()
@click.argument("run", metavar="RUN")
@click.argument("out", metavar="OUT")
@pretrained_option
@backend_option
@registry_option
def export(run, out, pretrained, backend, registry_files):
    """Write RUN as a shareable model: folder OUT, or OUT.zip.

    It holds the weights only (no code), the resolved config.toml,
    metadata.json (versions, data set, parameter count, eval results, a
    SHA-256 per file), a model card README.md and a sample grid. Run
    'zoo eval RUN' first to include its numbers. Every command that takes a
    run takes the export too, as a path or served from a URL.
    """
    from .export import export_run
    from .hub import sha256_file

    path = export_run(run, out, registry=get_registry(registry_files), backend=backend, echo=click.echo,
                      pretrained=pretrained)
    if path.is_file():
        click.echo(f"Exported {run} to {path} ({path.stat().st_size / 1e6:.1f} MB, sha256 {sha256_file(path)})")
        click.echo(f"Serve it and load it with: zoo sample https://HOST/{path.name}#sha256={sha256_file(path)}")
    else:
        click.echo(f"Exported {run} to {path}/ (model card: {path / 'README.md'})")


@cli.command()
@click.argument("runs", nargs=-1, required=True, metavar="RUN...")
@click.option("--out", type=click.Path(dir_okay=False), help="Loss-curve file for one run (default RUN/losses.png).")
@click.option("--compare", type=click.Path(dir_okay=False),
              help="Bar chart of the runs' eval.json results (default comparison.png for 2+ evaluated runs).")
def plot(runs, out, compare):
    """Plot loss curves from metrics.csv, and compare evaluated runs."""
    from .evaluation import commands

    commands.plot(runs, out=out, compare=compare, echo=click.echo)


# === zoo plugins / zoo new-plugin ===


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--trace", is_flag=True, help="Also trace plugin loading and every hook call to stderr "
              "(as ZOO_TRACE_PLUGINS=1 does for any command).")
def plugins(as_json, trace):
    """List installed plugins: distribution, version, where found, hooks and what each returned.

    Plugins that failed to load, or need another zoo-core, are listed with
    the reason. ZOO_PLUGINS=name1,name2 limits which plugins load.
    """
    from . import plugin_report
    from .plugins import tracing

    writer = (lambda line: click.echo(line, err=True)) if trace else None
    with json_stdout(as_json) as echo:
        with tracing(writer) if writer else contextlib.nullcontext():
            report = plugin_report.collect()
        if as_json:
            echo(json.dumps(plugin_report.as_json(report), indent=2))
            return
    click.echo(plugin_report.as_text(report))


@cli.command(name="new-plugin")
@click.argument("name")
@click.option("--dir", "parent", type=click.Path(file_okay=False), default=".", show_default=True,
              help="The folder to create zoo-NAME in.")
@click.option("--kind", type=click.Choice(["vae", "adversarial"]), default="vae", show_default=True,
              help="vae: an MLP VAE with one optimizer. adversarial: an MLP GAN with two networks and "
                   "two optimizers on zoo's multi-network trainer, no backend code.")
def new_plugin(name, parent, kind):
    """Write a working plugin package, zoo-NAME: pyproject with the entry point,
    a model (NAME), a loss (NAME-elbo, or NAME-loss for --kind adversarial),
    a preset (NAME-mnist), tests, README."""
    from .registry import load_registry
    from .scaffold import new_plugin as write_plugin

    target, written = write_plugin(name, Path(parent), registry=load_registry(), kind=kind)
    click.echo(f"Created {target}:")
    for path in written:
        click.echo(f"  {path.relative_to(target)}")
    click.echo(f"Next:\n  pip install -e {target}\n  zoo plugins\n  zoo train {name}-mnist --epochs 1\n"
               f"  cd {target} && pytest")


@cli.command()
@click.option("--backend", type=click.Choice(["tensorflow", "jax", "torch"]),
              help="The backend to check (default: the one zoo train would use).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def doctor(backend, as_json):
    """Show the backend zoo would train on, its version, and the devices it sees."""
    from .backend import choose_backend
    from .training.devices import describe, installed_backends

    with json_stdout(as_json) as echo:
        name = choose_backend(backend)
        report = {"zoo": __version__, "installed_backends": installed_backends(), **describe(name)}
        if as_json:
            echo(json.dumps(report, indent=2))
            return
    width = max(len(k) for k in report)
    for key, value in report.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "(none)"
        elif isinstance(value, list):
            value = ", ".join(value) or "(none)"
        click.echo(f"{key + ':':<{width + 1}} {value}")
    if not report["accelerators"]:
        click.echo("No GPU or TPU visible: training runs on the CPU. See the README's Backends "
                   "section for GPU builds.")
        if report["cpu_bfloat16"] and name == "tensorflow":
            click.echo("This CPU computes in bfloat16 natively: --precision mixed_bfloat16 may train faster "
                       "(about 1.3x for dcgan-mnist and the conv VAE on such a CPU, benchmarks/RESULTS.md).")


def main():
    cli(prog_name="zoo")


if __name__ == "__main__":
    main()
