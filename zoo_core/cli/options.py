"""What the commands share: the group that turns a ZooError into one line, common options, the registry."""

from __future__ import annotations

import contextlib
import sys

import click

from ..errors import ZooError


LIST_KINDS = ("models", "losses", "datasets", "presets", "trackers", "plugins")


class ZooGroup(click.Group):
    """Turns :class:`ZooError` into a one-line message and exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ZooError as exc:
            from ..errors import without_pickle_advice

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
    from ..plugins.registry import load_registry

    registry = load_registry(files)
    for problem in registry.problems:
        click.secho(f"Warning: {problem}", fg="yellow", err=True)
    return registry


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


backend_option = click.option("--backend", type=click.Choice(["tensorflow", "jax", "torch"]),
                              help="Keras backend (default: $KERAS_BACKEND, else the fastest installed).")


def pretrained_option(f):
    return click.option("--pretrained", is_flag=True,
                        help="RUN is a preset name: use its published weights (no training; 'zoo info PRESET' "
                             "says whether it has them).")(f)


def track_option(f):
    """``--track NAME[=URI]`` (repeatable): send the runs to experiment trackers.

    The command gets ``track``, a tuple of the values as given. Open them
    once the registry is loaded and before anything is written, so a bad
    value is refused first, and pass them to the runs as listeners::

        @click.command()
        @track_option
        def sweep(..., track):
            registry = get_registry(...)
            from ..tracking import open_trackers

            trackers = open_trackers(track, registry, echo=lambda line: click.echo(line, err=True))
            for tracker in trackers:
                tracker.open_group(name, params)   # a sweep: one parent run ...
            train_run(..., listeners=[*trackers, ...])  # ... one child run per trial
            for tracker in trackers:
                tracker.close_group(summary)
                tracker.close()

    ``open_trackers`` raises ZooError (one line) for an unknown tracker or a
    missing library; a tracker that fails later warns once and is switched off.
    """
    return click.option(
        "--track", "track", multiple=True, metavar="NAME[=URI]",
        help="Log the run to an experiment tracker (repeatable): 'mlflow' (MLflow's local store, "
             "./mlflow.db) or 'mlflow=http://HOST:5000'; 'zoo list trackers' shows the installed ones. "
             "A tracker that fails warns once; the run goes on.",
    )(f)
