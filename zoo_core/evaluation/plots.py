"""Plots with matplotlib (Agg backend: files only, no display needed):
loss curves from ``metrics.csv``, a bar chart comparing evaluated runs, and
the scatter of test-set latent means coloured by label."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import ZooError

TIMING = ("epoch", "seconds", "images_per_second")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> Path:
    from ..storage.files import atomic_write

    try:
        return atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=110, bbox_inches="tight"))
    finally:
        _pyplot().close(figure)


def read_metrics_csv(path: Path) -> dict[str, list[float]]:
    """Columns of ``metrics.csv`` as float lists (empty cells become NaN)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise ZooError(f"{path.parent} has no {path.name}: nothing to plot (was it trained by zoo train?)") from None
    except UnicodeDecodeError:
        raise ZooError(f"{path} is not a zoo metrics file (it is not text); zoo train writes it: "
                       f"train the run again, or restore the file") from None
    except (OSError, csv.Error) as exc:
        raise ZooError(f"cannot read {path}: {exc}") from None
    if not rows:
        raise ZooError(f"{path} has no finished epochs yet: nothing to plot")
    columns: dict[str, list[float]] = {}
    for name in rows[0]:
        if name is None:  # a row longer than the header
            continue
        values = []
        for row in rows:
            try:
                values.append(float(row.get(name) or "nan"))
            except (TypeError, ValueError):
                values.append(float("nan"))
        columns[name] = values
    numeric = [n for n, v in columns.items() if n not in TIMING and any(math.isfinite(x) for x in v)]
    if "epoch" not in columns or not numeric:
        raise ZooError(
            f"{path} is not a zoo metrics file (it needs an 'epoch' column and at least one column of "
            f"numbers); zoo train writes it: train the run again, or restore the file"
        )
    return columns


def plot_losses(run_dir: Path, out: Optional[Path] = None) -> Path:
    """One panel per logged quantity (training and ``val_`` curves together), by epoch."""
    run_dir = Path(run_dir)
    columns = read_metrics_csv(run_dir / "metrics.csv")
    epochs = columns.get("epoch") or list(range(1, len(next(iter(columns.values()))) + 1))
    names = [n for n in columns if n not in TIMING and not n.startswith("val_")]
    names += [n[4:] for n in columns if n.startswith("val_") and n[4:] not in names]
    if not names:
        raise ZooError(f"{run_dir / 'metrics.csv'} holds no loss columns to plot")
    plt = _pyplot()
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    figure, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False, layout="constrained")
    for ax, name in zip(axes.flat, names):
        if name in columns:
            ax.plot(epochs, columns[name], marker="o", markersize=3, label="train")
        if f"val_{name}" in columns:
            ax.plot(epochs, columns[f"val_{name}"], marker="o", markersize=3, linestyle="--", label="test")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    figure.suptitle(run_dir.name)
    return _save(figure, out or run_dir / "losses.png")


#: (metric group, key, label, lower is better)
BARS = (
    ("fd", "value", "FD (classifier features)", True),
    ("kid", "value", "KID", True),
    ("coverage", "classifier_score", "classifier score", False),
    ("coverage", "kl_to_real", "KL(class histogram || real)", True),
    ("likelihood", "nll", "NLL (IWAE), nats", True),
)


def _bar_value(result: dict, group: str, key: str):
    block = result.get("metrics", {}).get(group)
    if block is None:
        return None, None
    if group == "likelihood":
        return (block["iwae"]["nll"], None) if "iwae" in block else (None, None)
    if group == "coverage":
        return block[key], block["real"][key]
    return block[key], block.get("real_floor")


def plot_comparison(results: list[dict], out: Path) -> Path:
    """Bars per run for each metric any run has; the real-data floor is drawn
    as a black tick on each bar."""
    panels = [(g, k, label, low) for g, k, label, low in BARS
              if any(_bar_value(r, g, k)[0] is not None for r in results)]
    if not panels:
        raise ZooError("no evaluation results to compare: run 'zoo eval RUN ...' first")
    plt = _pyplot()
    names = [Path(r["run"]).name for r in results]
    figure, axes = plt.subplots(1, len(panels), figsize=(max(3.2, 0.9 * len(names) + 1.6) * len(panels), 3.8),
                                squeeze=False, layout="constrained")
    for ax, (group, key, label, low) in zip(axes.flat, panels):
        values, floors = zip(*[_bar_value(r, group, key) for r in results])
        x = np.arange(len(names))
        heights = [np.nan if v is None else v for v in values]
        ax.bar(x, heights, color="tab:blue")
        for i, floor in enumerate(floors):
            if floor is not None:
                ax.plot([i - 0.4, i + 0.4], [floor, floor], color="black", linewidth=2,
                        label="real data" if i == 0 or "real data" not in ax.get_legend_handles_labels()[1] else None)
        ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{label} ({'lower' if low else 'higher'} is better)", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        if any(f is not None for f in floors):
            ax.legend(fontsize=7)
    return _save(figure, out)


def plot_latent_scatter(means: np.ndarray, labels: Optional[np.ndarray], out: Path, title: str = "") -> Path:
    """Test-set latent means (2-D) coloured by class label."""
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(6, 5), layout="constrained")
    if labels is None:
        ax.scatter(means[:, 0], means[:, 1], s=2, alpha=0.5)
    else:
        points = ax.scatter(means[:, 0], means[:, 1], c=labels, cmap="tab10", s=2, alpha=0.6)
        figure.colorbar(points, ax=ax, label="label")
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title(title or "test-set latent means")
    return _save(figure, out)
