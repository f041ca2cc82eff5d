"""Generating from a trained model: samples, reconstructions, latent
interpolations, traversals and the 2-D latent-space grid, plus writing them
as ``.npz`` arrays or PNG grids.

Everything asks the model for a capability (see :mod:`zoo_core.evaluation`)
and says plainly when it lacks one.
"""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist
from typing import Optional

import numpy as np

from ..errors import ZooError

#: Images per call to ``generate``; fixed, so a seed gives the same images however many are asked for.
CHUNK = 500


def model_kind(model) -> str:
    return type(model).__name__


def require(model, capability: str, what: str) -> None:
    """Fail clearly when ``model`` lacks a method a command needs."""
    if not callable(getattr(model, capability, None)):
        raise ZooError(f"this {model_kind(model)} cannot {what}: it has no {capability}() method")


def is_conditional(model) -> bool:
    return bool(getattr(model, "conditional", False)) and bool(getattr(model, "num_classes", None))


def chunk_seed(seed: int, index: int) -> int:
    """The seed of the ``index``-th chunk of samples; the first chunk uses ``seed`` itself."""
    if index == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), index]).generate_state(1)[0] % (2**31 - 1))


def generate(model, num: int, seed: int = 0, class_index: Optional[int] = None,
             labels: Optional[np.ndarray] = None) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """``num`` images, float32 in [0, 1], and for a conditional model their labels.

    A conditional model gets ``labels`` if given, else every image of class
    ``class_index``, else the classes in turn (0, 1, 2, ...). An unconditional
    one refuses ``class_index``.
    """
    require(model, "generate", "generate images")
    num = int(num)
    if is_conditional(model):
        classes = int(model.num_classes)
        if class_index is not None:
            if not 0 <= class_index < classes:
                raise ZooError(f"--class {class_index} is out of range: this model has classes 0 to {classes - 1}")
            labels = np.full(num, class_index, np.int64)
        elif labels is None:
            labels = np.arange(num, dtype=np.int64) % classes
    elif class_index is not None or labels is not None:
        raise ZooError(f"this {model_kind(model)} is not class-conditional, so --class does not apply")
    chunks = []
    for i, start in enumerate(range(0, num, CHUNK)):
        size = min(CHUNK, num - start)
        if labels is None:
            chunks.append(model.generate(size, seed=chunk_seed(seed, i)))
        else:
            chunks.append(model.generate(size, seed=chunk_seed(seed, i), labels=labels[start:start + size]))
    images = np.concatenate(chunks) if chunks else np.zeros((0, *getattr(model, "image_shape", (1, 1, 1))), np.float32)
    return np.clip(np.asarray(images, np.float32), 0.0, 1.0), labels


def reconstruct(model, images: np.ndarray) -> np.ndarray:
    require(model, "reconstruct", "reconstruct images (it has no encoder)")
    return np.concatenate([np.asarray(model.reconstruct(images[i:i + CHUNK]), np.float32)
                           for i in range(0, len(images), CHUNK)])


def _latents(model, images: np.ndarray) -> np.ndarray:
    require(model, "encode", "encode images into its latent space")
    means = [np.asarray(model.encode(images[i:i + CHUNK])[0], np.float32) for i in range(0, len(images), CHUNK)]
    return np.concatenate(means)


def interpolate(model, starts: np.ndarray, ends: np.ndarray, steps: int = 10) -> np.ndarray:
    """Decode straight lines between the latent means of ``starts`` and
    ``ends`` (pairs of images): one row of ``steps`` images per pair."""
    require(model, "decode", "decode latent points")
    a, b = _latents(model, starts), _latents(model, ends)
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[None, :, None]
    path = (1.0 - t) * a[:, None] + t * b[:, None]
    return np.asarray(model.decode(path.reshape(-1, a.shape[1])), np.float32)


def traverse(model, origin: np.ndarray, dims: int = 10, steps: int = 11, span: float = 3.0) -> np.ndarray:
    """One row per latent dimension (at most ``dims``): that coordinate swept
    over ``[-span, span]``, the others held at ``origin``."""
    require(model, "decode", "decode latent points")
    latent = int(getattr(model, "latent_dim", len(origin)))
    rows = min(dims, latent)
    values = np.linspace(-span, span, steps, dtype=np.float32)
    z = np.tile(np.asarray(origin, np.float32), (rows, steps, 1))
    for d in range(rows):
        z[d, :, d] = values
    return np.asarray(model.decode(z.reshape(-1, latent)), np.float32)


def latent_grid(model, size: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """The classic 2-D latent-space plot (Kingma & Welling 2014, fig. 4):
    decode a ``size`` x ``size`` grid at the N(0, 1) quantiles 5%...95%, so
    the grid covers the prior evenly. Returns (images, the grid's z values)."""
    require(model, "decode", "decode latent points")
    if int(getattr(model, "latent_dim", 0)) != 2:
        raise ZooError(f"the latent-space plot needs a 2-D latent space; this model's has "
                       f"{getattr(model, 'latent_dim', '?')} dimensions (try --interpolate or --traverse)")
    quantiles = np.linspace(0.05, 0.95, size)
    values = np.array([NormalDist().inv_cdf(q) for q in quantiles], np.float32)
    # Rows go down as z2 decreases, as in the usual plot.
    z = np.array([[x, y] for y in values[::-1] for x in values], np.float32)
    return np.asarray(model.decode(z), np.float32), values


def encode_means(model, images: np.ndarray) -> np.ndarray:
    return _latents(model, images)


# === Writing ===


def write_npz(path: Path, **arrays) -> Path:
    """Write arrays to ``path`` atomically."""
    from ..storage.files import atomic_write

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **{k: v for k, v in arrays.items() if v is not None})

    return atomic_write(path, write)


def write_images(path: Path, images: np.ndarray, columns: int, labels: Optional[np.ndarray] = None,
                 **extra) -> Path:
    """``.npz``: ``images`` (float32, (N, H, W, C), [0, 1]), ``labels`` if any, and
    ``extra`` arrays; ``.png``: a grid ``columns`` wide."""
    from ..storage.images import save_grid

    path = Path(path)
    if path.suffix == ".npz":
        return write_npz(path, images=np.asarray(images, np.float32), labels=labels, **extra)
    if path.suffix == ".png":
        return save_grid(images, path, max(1, int(columns)))
    raise ZooError(f"--out {path}: the file name must end in .npz (arrays) or .png (a grid)")
