"""``zoo compare``: runs, exports and sweeps side by side."""

from __future__ import annotations

import click

from .options import SEED, backend_option, get_registry, json_stdout, registry_option


@click.command()
@click.argument("runs", nargs=-1, metavar="RUN|EXPORT|SWEEP...")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Every model draws its samples at this seed.")
@click.option("--num", type=click.IntRange(1, 1024), default=16, show_default=True, help="Samples per run.")
@click.option("--out", metavar="DIR",
              help="A new (or empty) folder for the figures (default: a new compare-YYYYmmdd-HHMMSS here).")
@click.option("--no-samples", is_flag=True, help="Do not load the models: the table and the curves only (fast).")
@click.option("--table-only", is_flag=True, help="Print the table and write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON (nothing else on stdout).")
@backend_option
@registry_option
def compare(runs, seed, num, out, no_samples, table_only, as_json, backend, registry_files):
    """Compare runs: one table of every metric they record, their loss curves
    overlaid, and their samples at one seed side by side.

    Each RUN is a run folder, a .keras file, an exported model (folder or
    .zip), a URL or hf://OWNER/NAME of one, or a SWEEP folder ('zoo sweep'
    wrote it: every trial run in it that trained all its epochs; pruned and
    unfinished ones are left out, and counted on stderr). The table shows the
    model.*, loss.* and train.* settings in which the runs differ, each run's
    eval.json results (with the real-data floor; '[stale]' where eval.json is
    older than the model), its final losses from metrics.csv, images/s,
    training minutes and epochs, and a 'finished' row when a run stopped
    early; '*' marks the best where the direction is known. The figures
    (curves.png, samples.png, compare.json) go into a new folder; nothing is
    written into the runs.
    """
    from ..evaluation.compare import compare as run_compare

    with json_stdout(as_json) as echo:
        run_compare(runs, seed=seed, num=num, out=out, samples=not no_samples, files=not table_only,
                    as_json=as_json, backend=backend, registry=get_registry(registry_files), echo=echo,
                    progress=lambda line: click.echo(line, err=True))
