"""What ``zoo sample``, ``zoo eval`` and ``zoo plot`` do, behind their Click
options in :mod:`zoo_core.cli`. Keras is imported only once a run is loaded."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import ZooError
from .loading import load_run, pick

SAMPLE_MODES = ("reconstruct", "interpolate", "traverse", "latent-plot")
DEFAULT_NUM = {None: 64, "reconstruct": 32, "interpolate": 8, "traverse": 10, "latent-plot": 15}
STEPS = {"interpolate": 10, "traverse": 11}


def default_output(run, stem: str) -> Path:
    """Files go into the run folder, or beside a bare ``.keras`` file; for an
    exported model (published as it is, perhaps in zoo's cache), into the
    current folder."""
    if getattr(run, "exported", False):
        return Path(f"{run.name}-{stem}.png")
    run_path = getattr(run, "path", run)
    if run_path.is_dir():
        return run_path / f"{stem}.png"
    return run_path.with_name(f"{run_path.stem}-{stem}.png")


def sample(run: str, *, num: Optional[int], seed: int, class_index: Optional[int], out: Optional[str],
           mode: Optional[str], dataset: Optional[str], backend: Optional[str], registry,
           echo: Callable[[str], None], pretrained: bool = False) -> list[Path]:
    """Generate (or reconstruct, interpolate, traverse, plot the latent space)
    and write ``.npz``/``.png`` files; returns the paths written."""
    from . import sampling as S

    if out is not None and Path(out).suffix not in (".npz", ".png"):
        raise ZooError(f"--out {out}: the file name must end in .npz (arrays) or .png (a grid)")
    if class_index is not None and mode is not None:
        raise ZooError(f"--class applies to generated samples, not to --{mode}")
    if dataset is not None and mode is None:
        raise ZooError("--dataset is for --reconstruct, --interpolate and --latent-plot; samples need no data")
    if out is not None:
        from ..storage.files import check_can_create

        check_can_create(out)  # before loading the model: fail fast
    loaded = load_run(run, registry, backend, pretrained=pretrained, echo=echo)
    model = loaded.model
    n = int(num or DEFAULT_NUM[mode])
    written: list[Path] = []

    if mode is None:
        images, labels = S.generate(model, n, seed=seed, class_index=class_index)
        conditional = S.is_conditional(model) and class_index is None
        columns = int(model.num_classes) if conditional else math.ceil(math.sqrt(n))
        path = Path(out) if out else default_output(loaded.run, f"sample-seed{seed}")
        written.append(S.write_images(path, images, columns, labels=labels))
        what = f"{n} samples" + (f" of class {class_index}" if class_index is not None else "")
        if conditional:
            what += f" (classes 0-{model.num_classes - 1} in turn: one column per class)"
        echo(f"Wrote {what}, seed {seed}, backend {_backend()}: {path}")
        return written

    if mode == "reconstruct":
        S.require(model, "reconstruct", "reconstruct images (it has no encoder)")
        name, data = loaded.dataset(dataset, registry, echo)
        source = data.x_test if len(data.x_test) else data.x_train
        labels_all = data.y_test if len(data.x_test) else data.y_train
        index = pick(source, n, seed)
        originals = source[index]
        recon = S.reconstruct(model, originals)
        columns = min(len(originals), 8)
        path = Path(out) if out else default_output(loaded.run, f"reconstructions-seed{seed}")
        if path.suffix == ".npz":
            S.write_npz(path, images=recon, originals=originals,
                        labels=None if labels_all is None else labels_all[index])
        else:
            from ..storage.images import interleave_rows

            S.write_images(path, interleave_rows(originals, recon, columns), columns)
        written.append(path)
        echo(f"Wrote {len(originals)} {name} test images and their reconstructions "
             f"(odd rows originals, even rows reconstructions): {path}")
        return written

    if mode == "interpolate":
        S.require(model, "encode", "encode images into its latent space")
        name, data = loaded.dataset(dataset, registry, echo)
        source = data.x_test if len(data.x_test) else data.x_train
        index = pick(source, 2 * n, seed)
        if len(index) < 2:
            raise ZooError(f"dataset '{name}' has too few images to interpolate between")
        half = len(index) // 2
        steps = STEPS["interpolate"]
        images = S.interpolate(model, source[index[:half]], source[index[half:2 * half]], steps)
        path = Path(out) if out else default_output(loaded.run, f"interpolation-seed{seed}")
        S.write_images(path, images, steps)
        written.append(path)
        echo(f"Wrote {half} latent interpolations between random {name} test images, {steps} steps each: {path}")
        return written

    if mode == "traverse":
        S.require(model, "decode", "decode latent points")
        latent = int(getattr(model, "latent_dim", 0) or 0)
        steps = STEPS["traverse"]
        images = S.traverse(model, np.zeros(latent, np.float32), dims=n, steps=steps)
        path = Path(out) if out else default_output(loaded.run, "traversal")
        S.write_images(path, images, steps)
        written.append(path)
        echo(f"Wrote a latent traversal: rows are dimensions 0-{min(n, latent) - 1} of {latent}, each swept over "
             f"-3...3 with the others at 0: {path}")
        return written

    # latent-plot
    images, values = S.latent_grid(model, n)
    path = Path(out) if out else default_output(loaded.run, "latent-grid")
    if path.suffix == ".npz":
        grid_z = np.array([[x, y] for y in values[::-1] for x in values], np.float32)
        S.write_npz(path, images=images, z=grid_z)
    else:
        S.write_images(path, images, n)
    written.append(path)
    echo(f"Wrote the latent-space grid: {n}x{n} decoded points at the N(0, 1) quantiles 5%...95% of z[0] "
         f"(left to right) and z[1] (bottom to top): {path}")
    if not loaded.run.config and dataset is None:
        echo("No scatter of test-set means: this bare .keras file names no data set (add --dataset NAME)")
        return written
    from .plots import plot_latent_scatter

    name, data = loaded.dataset(dataset, registry, echo)
    source, labels = (data.x_test, data.y_test) if len(data.x_test) else (data.x_train, data.y_train)
    means = S.encode_means(model, source)
    scatter = path.with_name(f"{path.stem}-scatter.png")
    written.append(plot_latent_scatter(means, labels, scatter, f"{loaded.run.name}: {name} test-set means"))
    echo(f"Wrote the scatter of {len(source):,} {name} test-set latent means coloured by label: {scatter}")
    return written


def _backend() -> str:
    import keras

    return keras.backend.backend()


def parse_count(value: str, option: str) -> Optional[int]:
    """``N`` (>= 1) or ``all`` (None)."""
    if str(value).lower() == "all":
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ZooError(f"{option} must be a positive whole number or 'all', got '{value}'")
    return number


def evaluate(runs: tuple[str, ...], *, metrics, options, dataset: Optional[str], as_json: bool,
             plot: Optional[str], save: bool, backend: Optional[str], registry,
             echo: Callable[[str], None], progress: Callable[[str], None], pretrained: bool = False) -> list[dict]:
    """Evaluate each run, print one report (or a comparison table, or JSON)."""
    from .evaluate import check_metric_names, evaluate_run
    from .report import format_comparison, format_report

    if plot is not None and Path(plot).suffix != ".png":
        raise ZooError(f"--plot {plot}: the file name must end in .png")
    wanted = check_metric_names(metrics)
    from ..saving.runs import open_source

    # Open (and fetch) every run before spending minutes on the first.
    opened = [open_source(run, registry, pretrained=pretrained, echo=progress) for run in runs]
    results = []
    for run in opened:
        progress(f"Evaluating {run.label} ...")
        results.append(evaluate_run(run, wanted, registry=registry, dataset=dataset, options=options,
                                    backend=backend, echo=progress, save=save))
    unsaved = [r.pop("save_error") for r in results if "save_error" in r]
    if as_json:
        echo(json.dumps(results[0] if len(results) == 1 else {"runs": results}, indent=2))
    elif len(results) == 1:
        echo(format_report(results[0]))
    else:
        for r in results:
            echo(format_report(r) + "\n")
        echo(format_comparison(results))
    if plot:
        from .plots import plot_comparison

        progress(f"Wrote the comparison chart: {plot_comparison(results, Path(plot))}")
    if unsaved:
        raise ZooError(f"{unsaved[0]}; the results above were not saved (--no-save does not try)")
    return results


def plot(runs: tuple[str, ...], *, out: Optional[str], compare: Optional[str],
         echo: Callable[[str], None]) -> list[Path]:
    """Loss curves for each run (``RUN/losses.png``, or ``out`` for a single
    run); and a bar chart of the runs' ``eval.json`` results, written to
    ``compare`` (default ``comparison.png`` when two or more runs are evaluated)."""
    from ..saving.runs import open_source
    from .evaluate import EVAL_FILE
    from .plots import plot_comparison, plot_losses

    if out is not None and len(runs) > 1:
        raise ZooError("--out names the loss-curve file of one run; with several runs each gets RUN/losses.png")
    for name, value in (("--out", out), ("--compare", compare)):
        if value is not None and Path(value).suffix != ".png":
            raise ZooError(f"{name} {value}: the file name must end in .png")
        if value is not None:
            from ..storage.files import check_can_create

            check_can_create(value)
    written: list[Path] = []
    results = []
    for run in runs:
        opened = open_source(run)
        if not opened.path.is_dir():
            raise ZooError(f"{run} is a .keras file; zoo plot needs the run folder (it reads metrics.csv)")
        target = Path(out) if out else (default_output(opened, "losses") if opened.exported else None)
        written.append(plot_losses(opened.path, target))
        echo(f"Wrote the loss curves: {written[-1]}")
        eval_path = opened.path / EVAL_FILE
        if eval_path.is_file():
            try:
                results.append(json.loads(eval_path.read_text()))
            except (OSError, ValueError) as exc:
                raise ZooError(f"{eval_path} is damaged ({exc}); run 'zoo eval {run}' again") from None
    if compare or len(results) > 1:
        if not results:
            raise ZooError("--compare needs evaluated runs; none has an eval.json (run 'zoo eval RUN ...' first)")
        target = Path(compare or "comparison.png")
        written.append(plot_comparison(results, target))
        echo(f"Wrote the comparison of {len(results)} evaluated run(s): {target}")
    return written
