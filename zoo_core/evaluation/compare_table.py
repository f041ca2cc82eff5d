"""``zoo compare``'s table: what each run records (``eval.json``, the last
row of ``metrics.csv``, its timing and epochs, the settings in which the runs
differ), one column a metric, with its real-data floor and the best run
marked where the direction is known; as text for people and as JSON.
Whether a run finished training, and whether its ``eval.json`` is older than
its model, are read here too. Nothing here imports Keras."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..errors import ZooError
from ..saving.runs import Run

EVAL_FILE = "eval.json"
METRICS_FILE = "metrics.csv"
TIMING = ("epoch", "seconds", "images_per_second")
#: config.toml's sections whose differing values get a row each.
CONFIG_SECTIONS = ("model", "loss", "train")
#: The marker on a stale eval.json's cells.
STALE = "[stale]"


@dataclass
class Entry:
    """One run to compare: what the user named, the run it opened, and what it records."""

    source: str
    run: Run
    label: str = ""
    #: a sweep trial's fixed label (``SWEEP/NNNN/seed-S``)
    fixed_label: Optional[str] = None
    #: the sweep folder (as the user named it) this run is a trial of; None: named directly
    via: Optional[str] = None
    evaluation: Optional[dict] = None
    curves: Optional[dict[str, list[float]]] = None
    #: why there are no samples (None: not tried yet, or they were drawn)
    no_samples: Optional[str] = None
    #: whether training finished (None: cannot tell, e.g. an export or a bare .keras file)
    finished: Optional[bool] = None
    #: how far an unfinished run got ("epoch 3 of 8")
    progress: Optional[str] = None
    #: why eval.json describes an earlier model (None: it is current, or there is none)
    stale: Optional[str] = None

    @property
    def config(self) -> dict:
        return self.run.config or {}


# === What each run records ===


def training_state(folder: Path, config: dict) -> tuple[Optional[bool], Optional[str]]:
    """Whether the run in ``folder`` finished training: its ``checkpoint.json``
    is at the end of the last epoch (``epoch`` equals ``train.epochs``, ``step``
    0). Returns (finished, how far it got); (None, why) when it cannot tell."""
    from ..training.checkpoints import STATE_FILE, read_checkpoint

    state = read_checkpoint(folder, missing_ok=True)
    if state is None:
        what = "damaged" if (folder / STATE_FILE).exists() else "missing"
        return None, f"{STATE_FILE} {what}"
    epochs = (config.get("train") or {}).get("epochs")
    if not isinstance(epochs, int) or isinstance(epochs, bool):
        return None, "no train.epochs in config.toml"
    if state.step == 0 and state.epoch >= epochs:
        return True, None
    if state.step:
        return False, f"in epoch {state.epoch + 1} of {epochs}, after batch {state.step}"
    return False, f"epoch {state.epoch} of {epochs}"


def _stale(folder: Path) -> Optional[str]:
    """Why the run's ``eval.json`` describes an earlier model than its current
    one: it is older than ``model.keras`` or the last checkpoint (as after
    ``zoo train --resume``); None when it is not."""
    from ..saving.runs import MODEL_FILE
    from ..training.checkpoints import STATE_FILE

    try:
        evaluated = (folder / EVAL_FILE).stat().st_mtime_ns
    except OSError:
        return None
    newer = []
    for name in (MODEL_FILE, STATE_FILE):
        try:
            if (folder / name).stat().st_mtime_ns > evaluated:
                newer.append(name)
        except OSError:
            pass
    if not newer:
        return None
    return (f"its {EVAL_FILE} is older than its {' and '.join(newer)}: the model was trained further after "
            f"'zoo eval' (as by 'zoo train --resume'), so those results describe an earlier model")


def read_records(entry: Entry) -> None:
    """Read the run's ``eval.json`` and ``metrics.csv`` (either may be missing);
    a damaged one is an error naming the file. A run folder also says whether
    its training finished and whether its ``eval.json`` is stale."""
    from .plots import read_metrics_csv

    folder = entry.run.path if entry.run.path.is_dir() else None
    if folder is None:
        return
    if not entry.run.exported:  # an export is published as it is: no checkpoints, and its files' times say nothing
        entry.finished, entry.progress = training_state(folder, entry.config)
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
        if not entry.run.exported:
            entry.stale = _stale(folder)
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


def dataset_key(name) -> Optional[str]:
    """What tells two data sets apart: the name, with a path argument that
    exists (``npz:blobs.npz``, ``npz:../x/blobs.npz``) as its absolute path,
    so that two names of one file are one data set. A relative path is taken
    from the current folder (the only one known)."""
    if name is None:
        return None
    text = str(name)
    base, sep, arg = text.partition(":")
    for prefix, path in ((f"{base}:", arg), ("", text)) if sep else (("", text),):
        if path:
            try:
                local = Path(path).expanduser()
                if local.exists():
                    return prefix + str(local.resolve())
            except (OSError, RuntimeError, ValueError):
                pass
    return text


def _flat(block: dict, prefix: str) -> dict:
    found = {}
    for key, value in block.items():
        if isinstance(value, dict):
            found.update(_flat(value, f"{prefix}{key}."))
        else:
            found[f"{prefix}{key}"] = value
    return found


def config_differences(entries: list[Entry]) -> dict[str, dict]:
    """The ``model.*``, ``loss.*`` and ``train.*`` settings of config.toml in
    which the runs that have one differ (a key one run lacks differs too):
    ``{"loss.beta": {label: value or None}}``, in config order. The model's
    name has its own row, so is left out here."""
    configs = {e.label: {k: v for section in CONFIG_SECTIONS if isinstance(e.config.get(section), dict)
                         for k, v in _flat(e.config[section], f"{section}.").items()}
               for e in entries if e.config}
    if len(configs) < 2:
        return {}
    keys: list[str] = []
    for values in configs.values():
        keys += [k for k in values if k not in keys and k != "model.name"]
    order = {section: i for i, section in enumerate(CONFIG_SECTIONS)}
    keys.sort(key=lambda k: order[k.split(".")[0]])  # stable: config order within a section
    missing = object()
    found = {}
    for key in keys:
        seen = [configs[label].get(key, missing) for label in configs]
        if any(v != seen[0] or type(v) is not type(seen[0]) for v in seen):
            found[key] = {e.label: (configs[e.label].get(key) if e.label in configs else None) for e in entries}
    return found


def build_table(entries: list[Entry]) -> list[Column]:
    """Every column any run has, in order: the settings in which the runs
    differ, the run's facts, its final losses, its eval.json metrics."""
    columns: dict[str, Column] = {}

    def put(key, title, group, label, value, lower=None, floor=None):
        column = columns.setdefault(key, Column(key, title, group, lower))
        column.values[label] = value
        if floor is not None:
            column.floors[label] = floor

    for key, values in config_differences(entries).items():
        for label, value in values.items():
            put(f"config.{key}", key, "config", label, value)

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
    have = [e for e in entries if column.values.get(e.label) is not None
            and not (column.group == "eval" and e.stale)]  # a stale result is not the model's
    if column.lower is None or len(have) < 2:
        return

    def setting(e: Entry):
        if column.group == "eval":
            return dataset_key((e.evaluation or {}).get("dataset"))
        if column.group == "final":
            return dataset_key(e.config.get("dataset")), (e.config.get("loss") or {}).get("name")
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
            "loss": (config.get("loss") or {}).get("name"), "finished": entry.finished,
            "progress": entry.progress, "has_eval": entry.evaluation is not None, "eval_stale": entry.stale,
            "has_metrics_csv": entry.curves is not None}


def table_json(entries: list[Entry], table: list[Column]) -> dict:
    """The table as one JSON document: one record per run, and the columns' directions and best runs."""
    runs = []
    for e in entries:
        record = describe(e)
        record["config"] = {c.key[7:]: c.values[e.label] for c in table if c.group == "config"}
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


def _setting(value) -> str:
    """A config.toml value as written there (in full: two settings may differ in the fifth digit)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_setting(v) for v in value) + "]"
    if isinstance(value, str) and (not value or value != value.strip()):
        return json.dumps(value)  # an empty setting, not a missing one
    return str(value)


def _finished(entry: Entry) -> str:
    if entry.finished is None:
        return "?" if entry.progress and not entry.run.exported else ""
    return "yes" if entry.finished else f"no ({entry.progress})"


def format_table(entries: list[Entry], table: list[Column]) -> str:
    """A metric a row, a run a column; ``*`` marks the best; real-data floors in brackets."""
    headers = ["", "better", *[e.label for e in entries]]
    facts = [describe(e) for e in entries]
    rows = [[name, "", *[_cell(f[name]) for f in facts]] for name in ("model", "dataset", "preset")]
    if any(e.finished is False for e in entries):
        rows.append(["finished", "", *[_finished(e) for e in entries]])
    for column in table:
        cells = []
        for e in entries:
            if column.group == "config":
                cells.append(_setting(column.values[e.label]))
                continue
            text = _cell(column.values[e.label])
            if text and e.label in column.floors:
                text += f" ({_cell(column.floors[e.label])})"
            if text and column.group == "eval" and e.stale:
                text += f" {STALE}"
            cells.append(text + (" *" if e.label in column.best else ""))
        rows.append([column.title, _better(column) or "", *cells])
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [headers, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = ["* best of the runs (among runs on one data set; final losses: one loss too); "
             "(...) the real-data floor from eval.json."]
    if any(c.group == "config" for c in table):
        notes.append("model.*, loss.*, train.*: the config.toml settings in which the runs differ.")
    if any(e.stale for e in entries):
        notes.append(f"{STALE} results from an eval.json older than the run's model (not counted for *): "
                     f"run 'zoo eval' on the run again.")
    if not any(e.evaluation for e in entries):
        notes.append("No run has an eval.json: run 'zoo eval RUN ...' for FD, KID, likelihood and the others.")
    return "\n".join(lines + notes)
