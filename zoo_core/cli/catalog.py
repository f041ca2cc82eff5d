"""What is installed: ``zoo list``, ``zoo info``, ``zoo plugins``, ``zoo new-plugin``, ``zoo doctor``."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import click

from ..errors import ZooError
from ..version import __version__
from .options import LIST_KINDS, get_registry, json_stdout, registry_option


@click.command(name="list")
@click.argument("kind", required=False)
@click.argument("pattern", required=False, default="*")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@registry_option
def list_(kind, pattern, as_json, registry_files):
    """List models, losses, data sets, presets, trackers and plugins.

    KIND is one of models, losses, datasets, presets, trackers, plugins (default: all).
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

    names = [n for k in ("model", "loss", "dataset", "preset", "tracker") for n in registry.names(k)]
    names += list(registry.plugins)
    if any(fnmatch.fnmatchcase(n, pattern) for n in names):
        return
    close = difflib.get_close_matches(pattern, list(LIST_KINDS) + names, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}?" if close else f"KIND is one of {', '.join(LIST_KINDS)}"
    raise ZooError(f"nothing matches '{pattern}'; {hint} (zoo list KIND [PATTERN])")


@click.command()
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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--trace", is_flag=True, help="Also trace plugin loading and every hook call to stderr "
              "(as ZOO_TRACE_PLUGINS=1 does for any command).")
def plugins(as_json, trace):
    """List installed plugins: distribution, version, where found, hooks and what each returned.

    Plugins that failed to load, or need another zoo-core, are listed with
    the reason. ZOO_PLUGINS=name1,name2 limits which plugins load.
    """
    from ..plugins import report as plugin_report
    from ..plugins.manager import tracing

    writer = (lambda line: click.echo(line, err=True)) if trace else None
    with json_stdout(as_json) as echo:
        with tracing(writer) if writer else contextlib.nullcontext():
            report = plugin_report.collect()
        if as_json:
            echo(json.dumps(plugin_report.as_json(report), indent=2))
            return
    click.echo(plugin_report.as_text(report))


@click.command(name="new-plugin")
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
    from ..plugins.registry import load_registry
    from .scaffold import new_plugin as write_plugin

    target, written = write_plugin(name, Path(parent), registry=load_registry(), kind=kind)
    click.echo(f"Created {target}:")
    for path in written:
        click.echo(f"  {path.relative_to(target)}")
    click.echo(f"Next:\n  pip install -e {target}\n  zoo plugins\n  zoo train {name}-mnist --epochs 1\n"
               f"  cd {target} && pytest")


@click.command()
@click.option("--backend", type=click.Choice(["tensorflow", "jax", "torch"]),
              help="The backend to check (default: the one zoo train would use).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def doctor(backend, as_json):
    """Show the backend zoo would train on, its version, and the devices it sees."""
    from ..backend import choose_backend
    from ..training.devices import describe, installed_backends

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
