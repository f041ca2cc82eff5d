"""``zoo compare``'s table: what each run records (``eval.json``, the last
row of ``metrics.csv``, its timing and epochs), one column a metric, with its
real-data floor and the best run marked where the direction is known; as
text for people and as JSON. Nothing here imports Keras."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Optional

from ..errors import ZooError
from ..saving.runs import Run

EVAL_FILE = "eval.json"
METRICS_FILE = "metrics.csv"
TIMING = ("epoch", "seconds", "images_per_second")


@dataclass
class Entry:
    """One run to compare: what the user named, the run it opened, and what it records."""

    source: str
    run: Run
    label: str = ""
    #: a sweep trial's fixed label (``SWEEP/NNNN/seed-S``)
    fixed_label: Optional[str] = None
    evaluation: Optional[dict] = None
    curves: Optional[dict[str, list[float]]] = None
    #: why there are no samples (None: not tried yet, or they were drawn)
    no_samples: Optional[str] = None

    @property
    def config(self) -> dict:
        return self.run.config or {}


# === What each run records ===


def read_records(entry: Entry) -> None:
    """Read the run's ``eval.json`` and ``metrics.csv`` (either may be missing);
    a damaged one is an error naming the file."""
    from .plots import read_metrics_csv

    folder = entry.run.path if entry.run.path.is_dir() else None
    if folder is None:
        return
    path = folder / EVAL_FILE
    if path.is_file():
        try:
            evaluation = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ZooError(f"{path} is damaged ({exc}); run 'zoo eval {entry.source}' again, or remove it") from None
        if not isinstance(evaluation, dict) or not isinstance(evaluation.get("metrics"), dict):
            raise ZooError(f"{path} is damaged (it holds no \"metrics\" object); run 'zoo eval {entry.source}' "
                           f"again, or remove it")
        entry.evaluation = evaluation
    if (folder / METRICS_FILE).is_file():
        entry.curves = read_metrics_csv(folder / METRICS_FILE)


def _finite(value) -> Optional[float]:
    """A finite number (an int stays one), else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _epochs(entry: Entry) -> Optional[int]:
    if entry.curves and entry.curves.get("epoch"):
        last = _finite(entry.curves["epoch"][-1])
        if last is not None:
            return int(last)
    if entry.run.path.is_dir():
        try:
            return int(json.loads((entry.run.path / "checkpoint.json").read_text())["epoch"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    epochs = (entry.run.metadata or {}).get("epochs")
    return int(epochs) if isinstance(epochs, int) else None


def _timing(curves: Optional[dict]) -> tuple[Optional[float], Optional[float]]:
    """Training minutes (every epoch's seconds) and images/s over the epochs
    after the first (which includes compiling), as ``zoo train`` reports it."""
    if not curves or "seconds" not in curves:
        return None, None
    seconds = [_finite(s) for s in curves["seconds"]]
    rates = [_finite(r) for r in curves.get("images_per_second", [None] * len(seconds))]
    known = [s for s in seconds if s is not None]
    minutes = sum(known) / 60 if known else None
    pairs = [(s, r) for s, r in zip(seconds, rates) if s is not None and r is not None and s > 0]
    steady = pairs[1:] or pairs
    total = sum(s for s, _ in steady)
    rate = sum(s * r for s, r in steady) / total if total > 0 else None
    return minutes, rate


# === The table ===


#: Metrics of eval.json, in report order: (key, title, path, floor's path, lower is better).
EVAL_COLUMNS = (
    ("fd", "FD", ("fd", "value"), ("fd", "real_floor"), True),
    ("kid", "KID", ("kid", "value"), ("kid", "real_floor"), True),
    ("classes_present", "classes present", ("coverage", "classes_present"), ("coverage", "real", "classes_present"),
     False),
    ("kl_to_real", "KL(class hist || real)", ("coverage", "kl_to_real"), ("coverage", "real", "kl_to_real"), True),
    ("classifier_score", "classifier score", ("coverage", "classifier_score"),
     ("coverage", "real", "classifier_score"), False),
    ("min_class_fraction", "rarest class fraction", ("coverage", "min_fraction"), ("coverage", "real", "min_fraction"),
     False),
    ("label_accuracy", "label accuracy", ("coverage", "label_accuracy"), ("coverage", "real", "label_accuracy"),
     False),
    ("nll", "NLL (IWAE), nats", ("likelihood", "iwae", "nll"), None, True),
    ("elbo", "test ELBO, nats", ("likelihood", "elbo", "elbo"), None, False),
    ("reconstruction_mse", "reconstruction MSE", ("reconstruction", "mse"), None, True),
    ("reconstruction_mae", "reconstruction MAE", ("reconstruction", "mae"), None, True),
    ("mean_image_mse", "mean-image MSE (baseline)", ("reconstruction", "mean_image_mse"), None, None),
)
#: Numbers in eval.json that describe how a metric was measured, not the model.
BOOKKEEPING = {"seconds", "images", "generated", "subsets", "subset_size", "k", "samples_per_image", "classes"}
#: Final-loss columns whose direction is plain.
LOWER_LOSSES = re.compile(r"^(val_)?(loss|.*reconstruction.*|.*mse.*|.*mae.*)$")


@dataclass
class Column:
    """One metric: its values by run label (None: the run lacks it), floors, direction, best runs."""

    key: str
    title: str
    group: str  # "run", "final" or "eval"
    lower: Optional[bool] = None
    values: dict = field(default_factory=dict)
    floors: dict = field(default_factory=dict)
    best: list = field(default_factory=list)


def _dig(block, path):
    for part in path:
        if not isinstance(block, dict) or part not in block:
            return None
        block = block[part]
    return block


def _extra_eval(metrics: dict, covered: set) -> dict:
    """Numbers in eval.json no column above names (a newer zoo's metric): ``group.key``."""
    found = {}
    stack = [((name,), block) for name, block in metrics.items()]
    while stack:
        path, block = stack.pop(0)
        if isinstance(block, dict):
            stack += [(path + (k,), v) for k, v in block.items()
                      if k != "real" and k not in BOOKKEEPING and not k.endswith(("std", "stderr"))]
        elif isinstance(block, (int, float)) and not isinstance(block, bool) and path not in covered:
            found[".".join(path)] = block
    return found


def build_table(entries: list[Entry]) -> list[Column]:
    """Every column any run has, in order: the run's facts, its final losses, its eval.json metrics."""
    columns: dict[str, Column] = {}

    def put(key, title, group, label, value, lower=None, floor=None):
        column = columns.setdefault(key, Column(key, title, group, lower))
        column.values[label] = value
        if floor is not None:
            column.floors[label] = floor

    for e in entries:
        put("epochs", "epochs", "run", e.label, _epochs(e))
        minutes, rate = _timing(e.curves)
        put("training_minutes", "training minutes", "run", e.label, minutes)
        put("images_per_second", "images/s", "run", e.label, rate, lower=False)
    for e in entries:
        for name, values in (e.curves or {}).items():
            if name not in TIMING:
                put(f"final.{name}", f"final {name}", "final", e.label, _finite(values[-1]) if values else None,
                    lower=True if LOWER_LOSSES.match(name) else None)
    covered = {path for spec in EVAL_COLUMNS for path in spec[2:4] if path}
    for key, title, path, floor_path, lower in EVAL_COLUMNS:
        for e in entries:
            metrics = (e.evaluation or {}).get("metrics", {})
            value = _finite(_dig(metrics, path))
            if value is not None:
                put(f"eval.{key}", title, "eval", e.label, value, lower,
                    _finite(_dig(metrics, floor_path)) if floor_path else None)
    for e in entries:
        for name, value in _extra_eval((e.evaluation or {}).get("metrics", {}), covered).items():
            lower = True if name.split(".")[0] in ("fd", "kid") or "nll" in name or "mse" in name else None
            put(f"eval.{name}", name, "eval", e.label, _finite(value), lower)
    table = list(columns.values())
    for column in table:
        for e in entries:
            column.values.setdefault(e.label, None)
        _mark_best(column, entries)
    return table


def _mark_best(column: Column, entries: list[Entry]) -> None:
    """The best run(s) of a column with a direction, among two or more runs
    that measured it the same way (one data set; for final losses, one loss too)."""
    have = [e for e in entries if column.values.get(e.label) is not None]
    if column.lower is None or len(have) < 2:
        return

    def setting(e: Entry):
        if column.group == "eval":
            return (e.evaluation or {}).get("dataset")
        if column.group == "final":
            return e.config.get("dataset"), (e.config.get("loss") or {}).get("name")
        return None

    if len({str(setting(e)) for e in have}) > 1:
        return
    values = [column.values[e.label] for e in have]
    best = min(values) if column.lower else max(values)
    column.best = [e.label for e in have if column.values[e.label] == best]


def describe(entry: Entry) -> dict:
    """The run's facts: where it is, and what it is."""
    config = entry.config
    model = (config.get("model") or {}).get("name")
    if model is None and not config:
        from ..saving.runs import keras_file_config

        try:
            model = keras_file_config(entry.run.model_path).get("class_name")
        except ZooError:
            model = None
    kind = "export" if entry.run.exported else ("run" if entry.run.path.is_dir() else "keras file")
    return {"label": entry.label, "source": entry.source, "path": str(entry.run.path.absolute()), "kind": kind,
            "model": model, "dataset": config.get("dataset"), "preset": config.get("preset"),
            "loss": (config.get("loss") or {}).get("name"), "has_eval": entry.evaluation is not None,
            "has_metrics_csv": entry.curves is not None}


def table_json(entries: list[Entry], table: list[Column]) -> dict:
    """The table as one JSON document: one record per run, and the columns' directions and best runs."""
    runs = []
    for e in entries:
        record = describe(e)
        for column in table:
            if column.group == "run":
                record[column.key] = column.values[e.label]
        record["final"] = {c.key[6:]: c.values[e.label] for c in table if c.group == "final"}
        record["eval"] = {}
        for c in (c for c in table if c.group == "eval"):
            record["eval"][c.key[5:]] = c.values[e.label]
            if c.floors or any(spec[0] == c.key[5:] and spec[3] for spec in EVAL_COLUMNS):
                record["eval"][f"{c.key[5:]}_real_floor"] = c.floors.get(e.label)
        record["samples"] = e.no_samples or "drawn"
        runs.append(record)
    columns = [{"name": c.key, "title": c.title, "better": _better(c), "best": c.best} for c in table]
    return {"runs": runs, "columns": columns}


def _better(column: Column) -> Optional[str]:
    return None if column.lower is None else ("lower" if column.lower else "higher")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(entries: list[Entry], table: list[Column]) -> str:
    """A metric a row, a run a column; ``*`` marks the best; real-data floors in brackets."""
    headers = ["", "better", *[e.label for e in entries]]
    facts = [describe(e) for e in entries]
    rows = [[name, "", *[_cell(f[name]) for f in facts]] for name in ("model", "dataset", "preset")]
    for column in table:
        cells = []
        for e in entries:
            text = _cell(column.values[e.label])
            if text and e.label in column.floors:
                text += f" ({_cell(column.floors[e.label])})"
            cells.append(text + (" *" if e.label in column.best else ""))
        rows.append([column.title, _better(column) or "", *cells])
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [headers, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = ["* best of the runs (among runs on one data set; final losses: one loss too); "
             "(...) the real-data floor from eval.json."]
    if not any(e.evaluation for e in entries):
        notes.append("No run has an eval.json: run 'zoo eval RUN ...' for FD, KID, likelihood and the others.")
    return "\n".join(lines + notes)
