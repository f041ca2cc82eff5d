"""``zoo sweep show``: a sweep's table, its best setting as a preset file,
Optuna's parameter importances and a plot of the objective over trials."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Optional

from .objectives import SHOWN, objective as find_objective

BEST_FILE = "best.toml"
HISTORY_FILE = "history.png"


def trial_rows(study) -> list[dict]:
    """One row per setting (a retried trial replaces the one it retries), in trial order."""
    rows: dict[int, dict] = {}
    for trial in study.get_trials(deepcopy=False):
        if trial.user_attrs.get("surplus"):
            continue  # asked for after the study had its trials: never ran
        number = int(trial.user_attrs.get("zoo_number", trial.number))
        metrics = trial.user_attrs.get("metrics", [])
        row = {
            "trial": number,
            "optuna_trial": trial.number,
            "state": trial.state.name.lower(),
            "params": {k: _plain(v) for k, v in trial.params.items()},
            # Complete trials only: Optuna gives a pruned trial its last estimate as its value.
            "objective": trial.value if trial.state.name == "COMPLETE" else None,
            "estimate": _last_intermediate(trial),
            "std": trial.user_attrs.get("std"),
            "seeds": len(trial.user_attrs.get("values", [])),
            "metrics": {name: _mean([m[name] for m in metrics if name in m]) for name in SHOWN
                        if any(name in m for m in metrics)},
            "minutes": trial.user_attrs.get("minutes"),
            "epochs_trained": max(trial.intermediate_values, default=None),
            "folder": trial.user_attrs.get("folder"),
            "worker": trial.user_attrs.get("worker"),
            "note": trial.user_attrs.get("pruned") or trial.user_attrs.get("error") or "",
            # the first trial of the sweep, the target as it is (zoo sweep --baseline)
            "baseline": trial.user_attrs.get("baseline") or None,
        }
        if number in rows and trial.state.name in ("FAIL",) and rows[number]["state"] != "fail":
            continue  # a failed original behind its retry
        rows[number] = row
    return [rows[n] for n in sorted(rows)]


def _last_intermediate(trial) -> Optional[float]:
    if not trial.intermediate_values:
        return None
    return float(trial.intermediate_values[max(trial.intermediate_values)])


def _mean(values: list) -> Optional[float]:
    return sum(values) / len(values) if values else None


def _plain(value):
    """A choice (kept by Optuna as its TOML text) as the value it stands for."""
    if isinstance(value, str):
        import tomllib

        try:
            return tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            return value
    return value


def summary(study, plan_definition: dict) -> dict:
    """The whole report (``--json`` prints it as it is)."""
    from optuna.trial import TrialState

    goal = find_objective(plan_definition["objective"])
    rows = trial_rows(study)
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    best = None
    if complete:
        trial = study.best_trial
        best = {"trial": int(trial.user_attrs.get("zoo_number", trial.number)), "objective": trial.value,
                "std": trial.user_attrs.get("std"), "params": {k: _plain(v) for k, v in trial.params.items()},
                "config": trial.user_attrs.get("config")}
    signal = [t.user_attrs["signal_seconds"] / t.user_attrs["epoch_seconds"] for t in complete
              if t.user_attrs.get("signal_seconds") and t.user_attrs.get("epoch_seconds")]
    return {
        "study": study.study_name,
        "objective": goal.name,
        "direction": goal.direction,
        "sweep": plan_definition,
        "trials": rows,
        "states": {state: sum(r["state"] == state for r in rows) for state in
                   ("complete", "pruned", "running", "waiting", "fail")},
        "best": best,
        "importances": importances(study),
        "pruning_signal_cost": (sum(signal) / len(signal)) if signal else None,
    }


def importances(study) -> dict:
    """Optuna's parameter importances (its default evaluator), or {} while there are too few finished trials."""
    import optuna
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return {}
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. PED-ANOVA's note when trials tie
            return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}


def format_table(report: dict) -> str:
    rows = report["trials"]
    keys = list(dict.fromkeys(k for r in rows for k in r["params"]))
    extra = [m for m in SHOWN if m != report["objective"] and any(m in r["metrics"] for r in rows)]
    header = ["trial", "state", *keys, report["objective"], *extra, "min", "note"]
    lines = []
    for r in rows:
        value = _number(r["objective"])
        if r["std"] and r["seeds"] > 1:
            value += f" ± {r['std']:.2g} ({r['seeds']} seeds)"
        note = r["note"]
        if r["state"] in ("pruned", "running") and r["estimate"] is not None:
            note = f"estimate {r['estimate']:.4g} after epoch {r['epochs_trained']}" + (
                " (pruned)" if r["state"] == "pruned" else "")
        if r.get("baseline"):
            note = "; ".join(filter(None, [r["baseline"], note]))
        lines.append([str(r["trial"]), r["state"], *[_cell(r["params"].get(k, "")) for k in keys], value,
                      *[_number(r["metrics"].get(m)) for m in extra],
                      _number(r["minutes"], ".1f"), note[:70]])
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    direction = "lower" if report["direction"] == "minimize" else "higher"
    out.append("")
    states = ", ".join(f"{n} {s}" for s, n in report["states"].items() if n)
    out.append(f"Study '{report['study']}': {len(rows)} trial{'s' if len(rows) != 1 else ''} ({states or 'none yet'}); "
               f"objective {report['objective']} ({direction} is better)")
    best = report["best"]
    if best:
        shown = ", ".join(f"{k}={_cell(v)}" for k, v in best["params"].items())
        out.append(f"Best: trial {best['trial']}, {report['objective']} {_number(best['objective'])}"
                   + (f" ± {best['std']:.2g}" if best.get("std") else "") + f": {shown}")
    if report["importances"]:
        out.append("Parameter importances (Optuna): " +
                   ", ".join(f"{k} {v:.2f}" for k, v in report["importances"].items()))
    if report["pruning_signal_cost"] is not None:
        out.append(f"Pruning signal: {100 * report['pruning_signal_cost']:.1f}% of an epoch's training time")
    return "\n".join(out)


def _cell(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _number(value, fmt: str = ".4g") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, fmt)


def best_preset_name(study_name: str) -> str:
    return (re.sub(r"[^A-Za-z0-9_.+-]+", "-", study_name).strip(".-") or "sweep") + "-best"


def write_best_preset(report: dict, folder: Path) -> Optional[Path]:
    """``best.toml``: the best trial's resolved config as a preset, trained as it is by
    ``zoo train NAME-best --registry best.toml``."""
    best = report["best"]
    if not best or not best.get("config"):
        return None
    config = dict(best["config"])
    name = best_preset_name(report["study"])
    shown = ", ".join(f"{k}={_cell(v)}" for k, v in best["params"].items())
    table = {
        "description": f"Best of sweep '{report['study']}' (trial {best['trial']}, {report['objective']} "
                       f"{_number(best['objective'])}): {shown}",
        "model": config["model"],
        "dataset": config["dataset"],
        "loss": config["loss"],
        "train": config["train"],
    }
    from ..training import write_toml

    path = folder / BEST_FILE
    write_toml({"presets": {name: table}}, path)
    return path


def write_history_plot(study, folder: Path) -> Optional[Path]:
    """Optuna's optimisation-history plot (the objective of each trial and the best so far)."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from optuna.visualization.matplotlib import plot_optimization_history
    except ImportError:
        return None
    import warnings

    from ..storage.files import atomic_write

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        axes = plot_optimization_history(study)
    figure = axes.get_figure()
    figure.set_size_inches(7, 4)
    figure.tight_layout()
    path = folder / HISTORY_FILE
    atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=100, format="png"), what="the sweep plot")
    plt.close(figure)
    return path
