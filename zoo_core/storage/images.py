"""Image grids as PNG files (Pillow; no plotting library needed for pixels)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def grid(images: np.ndarray, columns: int, pad: int = 2) -> np.ndarray:
    """Tile ``(N, H, W, C)`` images in [0, 1] into one uint8 ``(rows*H, columns*W, C)`` image."""
    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    n, h, w, c = images.shape
    rows = -(-n // columns)
    out = np.ones((rows * (h + pad) + pad, columns * (w + pad) + pad, c), dtype=np.float32)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        out[y : y + h, x : x + w] = image
    return (out * 255.0 + 0.5).astype(np.uint8)


def save_grid(images: np.ndarray, path: os.PathLike | str, columns: int, scale: int = 2) -> Path:
    """Write a grid PNG, enlarged ``scale`` times so small images are visible."""
    from PIL import Image

    pixels = grid(images, columns)
    mode = "L" if pixels.shape[-1] == 1 else "RGB"
    picture = Image.fromarray(pixels[..., 0] if mode == "L" else pixels[..., :3], mode)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    from .files import atomic_write

    return atomic_write(path, lambda tmp: picture.save(tmp, format="PNG"))


def interleave_rows(originals: np.ndarray, reconstructions: np.ndarray, columns: int) -> np.ndarray:
    """Rows of originals, each followed by the row of their reconstructions."""
    rows = []
    for start in range(0, len(originals), columns):
        rows.append(originals[start : start + columns])
        rows.append(reconstructions[start : start + columns])
    return np.concatenate(rows)
