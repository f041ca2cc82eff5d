"""``zoo sweep``: search settings with Optuna (``zoo sweep PRESET|MODEL ...``), and
``zoo sweep show SWEEP``. Optuna is imported only when a sweep runs or is shown."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ConfigError, ZooError
from .options import backend_option, get_registry, json_stdout, registry_option, track_option


class _RunByDefault(click.Group):
    """``zoo sweep NAME ...`` is ``zoo sweep run NAME ...``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_RunByDefault)
def sweep():
    """Search a model's settings for the best samples (Optuna).

    \b
    zoo sweep PRESET|MODEL --space KEY=DIST ... --trials N --out SWEEP
    zoo sweep show SWEEP

    Each trial is a run folder under SWEEP/trials/, scored by a 'zoo eval'
    metric on the test split; start the same command in several shells (or on
    several machines with --storage) to share the trials.
    """


@sweep.command("run")
@click.argument("target", metavar="PRESET|MODEL|SWEEP", required=False)
@click.option("--space", "space_items", multiple=True, metavar="KEY=DIST",
              help="A searched key (repeatable): latent_dim=[16,32,64], learning_rate='loguniform(1e-5,1e-3)', "
                   "loss.beta='uniform(0.5,4)', epochs='int(5,20)'.")
@click.option("--trials", type=click.IntRange(min=1), help="How many trials the study runs in all (all workers).")
@click.option("--seeds", type=click.IntRange(min=1), help="Train each setting with K seeds and score their mean "
                                                          "(default 1).")
@click.option("--objective", help="The zoo eval metric to optimise: fd (default), kid, coverage, class-kl, nll, "
                                  "reconstruction.")
@click.option("--budget", type=click.FloatRange(min=0, min_open=True), metavar="MINUTES",
              help="This worker starts no trial after MINUTES (a running one finishes).")
@click.option("--pruner", type=click.Choice(["median", "halving", "hyperband", "none"]),
              help="Stop hopeless trials early, from a cheap per-epoch estimate (default median).")
@click.option("--eval-num", type=click.IntRange(min=2), help="Generated images per evaluation (default 1000).")
@click.option("--baseline/--no-baseline", default=True,
              help="A new sweep's first trial trains the preset's own setting (a model's defaults), when the "
                   "space holds it, so the table shows what the search beat (default on; a grid tries every "
                   "value anyway).")
@click.option("--storage", metavar="URL", help="Optuna's storage: postgresql://USER@HOST/DB (or any URL "
                                               "Optuna's RDB storage takes); default: SWEEP/study.db (SQLite).")
@click.option("--study-name", help="The study's name in the storage (default: SWEEP's folder name).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Fix a value for every trial.")
@click.option("--dataset", help="Data set: NAME or NAME:ARG.")
@click.option("--loss", help="Loss by name.")
@backend_option
@registry_option
@track_option
@click.option("--out", type=click.Path(file_okay=False), help="The sweep folder (the same for every worker).")
def run(target, space_items, trials, seeds, objective, budget, pruner, eval_num, baseline, storage, study_name,
        overrides, dataset, loss, backend, registry_files, track, out):
    """Run trials until the study has --trials of them."""
    from ..backend import choose_backend
    from ..tuning import sweep_setup

    if target and (Path(target) / "sweep.toml").is_file() and not space_items:
        if out and Path(out).resolve() != Path(target).resolve():
            raise ZooError(f"{target} is a sweep folder: continue it without --out, or give a preset or model")
        out = target
        target = None
        if not registry_files:  # the preset files the sweep started with
            from ..tuning import stored_registry_files

            registry_files = stored_registry_files(Path(out))
    registry = get_registry(registry_files)
    if not out and not target:
        raise ZooError("name a preset or model to sweep: zoo sweep PRESET|MODEL --space KEY=DIST --trials N "
                       "--out SWEEP (or a sweep folder, to continue it)")
    if not out:
        raise ZooError("name the sweep folder: --out SWEEP (give every worker of the sweep the same one)")
    options = {"trials": trials, "seeds": seeds, "objective": objective, "pruner": pruner, "eval_num": eval_num}
    setup = sweep_setup(registry, Path(out), target=target, space_items=space_items, options=options,
                        dataset=dataset, loss=loss, fixed=list(overrides), storage=storage, study_name=study_name,
                        echo=click.echo, registry_files=[str(Path(f).resolve()) for f in registry_files],
                        baseline=baseline)
    setup.check_folder()
    setup.check_storage()
    backend_name = choose_backend(backend)
    trackers = []
    if track:
        from ..tracking import open_trackers

        trackers = open_trackers(track, registry, echo=lambda line: click.echo(line, err=True))
    setup.check_objective(backend_name)
    study = setup.create()
    from ..tuning.study import Worker

    worker = Worker(setup.plan, setup.folder, registry, backend_name, echo=click.echo, trackers=trackers)
    click.echo(f"Sweep {setup.folder} (study '{setup.plan.study_name}' in {setup.safe_url}): "
               f"{setup.trials} trial{'s' if setup.trials != 1 else ''}, objective {setup.plan.objective}")
    if setup.plan.space.is_grid and setup.plan.space.grid_size() < setup.trials:
        click.echo(f"Note: the grid has {setup.plan.space.grid_size()} settings, so the sweep runs "
                   f"{setup.plan.space.grid_size()} trials, not {setup.trials}")
    for tracker in trackers:  # one parent run; each trial's runs nest under it
        tracker.open_group(setup.plan.study_name, {**_flat(setup.plan.definition()), "trials": setup.trials})
    try:
        ran = worker.run(study, setup.trials, budget)
        click.echo(f"This worker ran {ran} trial{'s' if ran != 1 else ''}.")
        report = _show(setup, study, as_json=False)
        best = report.get("best") or {}
        for tracker in trackers:
            tracker.close_group({"best_trial": best.get("trial"), f"best_{report['objective']}": best.get("objective"),
                                 **{f"best.{k}": v for k, v in (best.get("params") or {}).items()}})
    finally:
        for tracker in trackers:
            tracker.close()


def _flat(definition: dict) -> dict:
    out = {}
    for key, value in definition.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value if not isinstance(value, list) else " ".join(map(str, value))
    return out


@sweep.command("show")
@click.argument("folder", metavar="SWEEP", type=click.Path(file_okay=False))
@click.option("--storage", metavar="URL", help="The study's storage, if not the sweep folder's study.db "
                                               "(a password is never stored in sweep.toml).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@registry_option
def show(folder, storage, as_json, registry_files):
    """The trials' table, the best setting (written as SWEEP/best.toml), Optuna's
    parameter importances and a plot of the objective over trials (SWEEP/history.png)."""
    from ..tuning import open_sweep

    if not Path(folder).exists():
        raise ZooError(f"{folder} does not exist; give the --out of a zoo sweep")
    setup = open_sweep(Path(folder), storage=storage)
    study = setup.load()
    _show(setup, study, as_json)


def _show(setup, study, as_json: bool) -> dict:
    import json

    from ..tuning.report import format_table, summary, write_best_preset, write_history_plot

    with json_stdout(as_json) as echo:
        report = summary(study, setup.plan.definition())
        files = {}
        try:
            best = write_best_preset(report, setup.folder)
            plot = write_history_plot(study, setup.folder)
        except (OSError, ZooError) as exc:
            best = plot = None
            click.echo(f"Warning: could not write the sweep's files: {exc}", err=True)
        if best:
            files["best_preset"] = str(best)
        if plot:
            files["plot"] = str(plot)
        report["files"] = files
        if as_json:
            echo(json.dumps(report, indent=2, default=str))
            return report
        echo(format_table(report))
        if best:
            from ..tuning.report import best_preset_name

            import shlex

            echo(f"Best setting as a preset: {best} (zoo train {shlex.quote(best_preset_name(report['study']))} "
                 f"--registry {shlex.quote(str(best))})")
        if plot:
            echo(f"Objective over trials: {plot}")
        return report


__all__ = ["sweep", "ConfigError"]
