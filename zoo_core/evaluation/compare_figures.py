"""``zoo compare``'s figures: the runs' per-epoch curves overlaid, and their
sample grids at one seed side by side; and the new folder they go into."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import ZooError

#: Runs per row of the sample picture; more wrap onto the next row.
PER_ROW = 8
#: Height of the label above each run's grid, in pixels.
LABEL_HEIGHT = 16
GAP = 8
SCALE = 2


# === The output folder ===


def output_folder(out: Optional[str]) -> Path:
    """``--out`` (a new or empty folder), else a new ``compare-YYYYmmdd-HHMMSS``
    here; checked now, created only once there is something to write."""
    from ..storage.files import check_can_create

    if out is None:
        stem = f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
        path, n = Path(stem), 1
        while path.exists() or path.is_symlink():
            n += 1
            path = Path(f"{stem}-{n}")
    else:
        path = Path(out).expanduser()
        if path.exists() and not path.is_dir():
            raise ZooError(f"--out {out} is a file; give the name of a new (or empty) folder")
        if path.is_dir() and any(path.iterdir()):
            raise ZooError(f"--out {out} already holds files; give a new (or empty) folder, so nothing "
                           f"there is overwritten")
    check_can_create(path / "curves.png", "the comparison")
    return path


def publish(folder: Path, files: dict[str, Callable[[Path], Path]]) -> dict[str, Path]:
    """Write ``files`` (name -> writer) into a hidden staging folder beside
    ``folder``, then rename it into place: ``folder`` gets all of them or none."""
    import shutil

    from ..storage.files import WriteError, reason

    staging = folder.with_name(f".{folder.name}.zoo-new-{os.getpid()}")
    try:
        staging.mkdir(parents=True)
        for name, write in files.items():
            write(staging / name)
        os.rename(staging, folder)  # onto a missing or empty folder only
    except WriteError as exc:
        raise WriteError(str(exc).replace(str(staging), str(folder))) from None
    except OSError as exc:
        if folder.is_dir() and any(folder.iterdir()):
            raise ZooError(f"{folder} got files while the comparison was drawn; it was left as it is") from None
        raise WriteError(f"cannot write {folder}: {reason(exc, folder)}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {name: folder / name for name in files}


# === Curves ===


def curve_names(curves: list[Optional[dict]]) -> list[str]:
    """One panel per quantity any run logs (its ``val_`` curve in the same panel), in first-seen order."""
    from .compare_table import TIMING

    names: list[str] = []
    for columns in curves:
        for name in columns or {}:
            base = name[4:] if name.startswith("val_") else name
            if name not in TIMING and base not in names:
                names.append(base)
    return names


def write_curves(runs: list[tuple[str, dict]], path: Path) -> Path:
    """``runs``: (label, metrics.csv columns). One panel per quantity, one colour per run;
    test (``val_``) curves dashed."""
    from .plots import _pyplot, _save

    names = curve_names([c for _, c in runs])
    plt = _pyplot()
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    figure, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows + 0.6), squeeze=False,
                                layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    handles = {}
    for ax, name in zip(axes.flat, names):
        dashed = False
        for i, (label, columns) in enumerate(runs):
            epochs = columns.get("epoch") or list(range(1, len(next(iter(columns.values()))) + 1))
            colour = colours[i % len(colours)]
            if name in columns:
                (line,) = ax.plot(epochs, columns[name], color=colour, marker="o", markersize=3)
                handles.setdefault(label, line)
            if f"val_{name}" in columns:
                (line,) = ax.plot(epochs, columns[f"val_{name}"], color=colour, linestyle="--", marker="o",
                                  markersize=3)
                handles.setdefault(label, line)
                dashed = True
        ax.set_title(name + (" (dashed: test)" if dashed else ""), fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    figure.legend(list(handles.values()), list(handles), loc="outside lower center",
                  ncols=min(4, len(handles)), fontsize=8)
    return _save(figure, path)


# === Samples ===


def draw_samples(model, num: int, seed: int) -> np.ndarray:
    """``num`` samples at ``seed`` as one grid (uint8, RGB, enlarged)."""
    from ..storage.images import grid
    from .sampling import generate

    images, _ = generate(model, num, seed=seed)
    pixels = grid(images, math.ceil(math.sqrt(num)))
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return np.repeat(np.repeat(pixels[..., :3], SCALE, axis=0), SCALE, axis=1)


def write_samples(panels: list[tuple[str, Optional[np.ndarray]]], path: Path) -> Path:
    """Each run's grid under its label, side by side (``PER_ROW`` a row); a
    run without samples gets a grey placeholder that says so."""
    from PIL import Image, ImageDraw, ImageFont

    from ..storage.files import atomic_write

    drawn = [p for _, p in panels if p is not None]
    width = max([p.shape[1] for p in drawn] + [96])
    height = max([p.shape[0] for p in drawn] + [96])
    per_row = min(PER_ROW, len(panels))
    rows = math.ceil(len(panels) / per_row)
    cell_w, cell_h = width + GAP, height + LABEL_HEIGHT + GAP
    picture = Image.new("RGB", (per_row * cell_w + GAP, rows * cell_h + GAP), "white")
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default()

    def fit(text: str) -> str:
        while len(text) > 1 and draw.textlength(text, font=font) > width:
            text = "…" + text[2:]  # keep the end: a sweep trial's number and seed
        return text

    for i, (label, pixels) in enumerate(panels):
        row, col = divmod(i, per_row)
        x, y = GAP + col * cell_w, GAP + row * cell_h
        draw.text((x, y), fit(label), fill="black", font=font)
        top = y + LABEL_HEIGHT
        if pixels is None:
            draw.rectangle([x, top, x + width - 1, top + height - 1], fill=(220, 220, 220))
            draw.text((x + width // 2, top + height // 2), "no samples", fill="black", font=font, anchor="mm")
        else:
            picture.paste(Image.fromarray(pixels), (x, top))
    return atomic_write(path, lambda tmp: picture.save(tmp, format="PNG"))
