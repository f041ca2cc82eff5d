"""``zoo export``: a run as a shareable model."""

from __future__ import annotations


import click

from .options import backend_option, get_registry, pretrained_option, registry_option


@click.command()
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
    from ..sharing.export import export_run
    from ..saving.hub import sha256_file

    path = export_run(run, out, registry=get_registry(registry_files), backend=backend, echo=click.echo,
                      pretrained=pretrained)
    if path.is_file():
        click.echo(f"Exported {run} to {path} ({path.stat().st_size / 1e6:.1f} MB, sha256 {sha256_file(path)})")
        click.echo(f"Serve it and load it with: zoo sample https://HOST/{path.name}#sha256={sha256_file(path)}")
    else:
        click.echo(f"Exported {run} to {path}/ (model card: {path / 'README.md'})")
