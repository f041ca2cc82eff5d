"""Looking at a trained model: ``zoo sample``, ``zoo eval``, ``zoo plot``."""

from __future__ import annotations


import click

from ..errors import ZooError
from .options import SEED, backend_option, get_registry, json_stdout, pretrained_option, registry_option, track_option


@click.command()
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
    from ..evaluation import commands

    modes = [m for m, on in zip(commands.SAMPLE_MODES, (reconstruct, interpolate, traverse, latent_plot)) if on]
    if len(modes) > 1:
        raise ZooError(f"choose one of --{', --'.join(modes)}")
    commands.sample(run, num=num, seed=seed, class_index=class_index, out=out, mode=modes[0] if modes else None,
                    dataset=dataset, backend=backend, registry=get_registry(registry_files), echo=click.echo,
                    pretrained=pretrained)


@click.command(name="eval")
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
@track_option
@pretrained_option
@backend_option
@registry_option
def eval_(runs, metrics, num, k, nll_images, binarise, seed, classifier_epochs, dataset, as_json, plot, no_save,
          track, pretrained, backend, registry_files):
    """Measure trained runs: likelihood (ELBO, IWAE NLL), reconstruction error, FD, KID, class coverage.

    FD, KID and coverage use a classifier zoo trains on the data set's train
    split and caches; each number is shown beside its real-data floor.
    Several runs give one comparison table. Results are also saved as
    RUN/eval.json (not into exported models). RUN takes what 'zoo sample'
    takes: a run folder, an exported model, a URL, or a preset with --pretrained.
    --track mlflow logs the results into the MLflow run the run trained in.
    """
    from ..evaluation import commands
    from ..evaluation.evaluate import EvalOptions

    options = EvalOptions(num=num, seed=seed, k=k, nll_images=commands.parse_count(nll_images, "--nll-images"),
                          binarise=binarise, classifier_epochs=classifier_epochs)
    with json_stdout(as_json) as echo:
        registry = get_registry(registry_files)
        trackers = []
        if track:
            from ..tracking import open_trackers

            trackers = open_trackers(track, registry, echo=lambda line: click.echo(line, err=True))
        results = commands.evaluate(runs, metrics=metrics, options=options, dataset=dataset, as_json=as_json,
                                    plot=plot, save=not no_save, backend=backend, registry=registry, echo=echo,
                                    progress=lambda line: click.echo(line, err=True), pretrained=pretrained)
        for run, report in zip(runs, results):
            for tracker in trackers:
                tracker.log_eval(_run_folder(run, report, pretrained), report)
        for tracker in trackers:
            tracker.close()


def _run_folder(run: str, report: dict, pretrained: bool):
    """The run folder ``zoo eval`` measured (where eval.json went), or None
    for an exported model, a URL or a preset."""
    from pathlib import Path

    from ..storage.runfolder import is_run_folder

    if report.get("file"):
        return Path(report["file"]).parent
    return Path(run) if not pretrained and is_run_folder(run) else None


@click.command()
@click.argument("runs", nargs=-1, required=True, metavar="RUN...")
@click.option("--out", type=click.Path(dir_okay=False), help="Loss-curve file for one run (default RUN/losses.png).")
@click.option("--compare", type=click.Path(dir_okay=False),
              help="Bar chart of the runs' eval.json results (default comparison.png for 2+ evaluated runs).")
def plot(runs, out, compare):
    """Plot loss curves from metrics.csv, and compare evaluated runs."""
    from ..evaluation import commands

    commands.plot(runs, out=out, compare=compare, echo=click.echo)
