"""Differentiable augmentation for GANs on small data sets (Zhao et al.
2020, "Differentiable Augmentation for Data-Efficient GAN Training").

The same random transformation family T is applied to every image the
discriminator sees while training, real and fake, in both players' losses:
D learns on T(x) and T(G(z)), and G's gradient flows back through T. So D
cannot memorise the few real images, and G is not pushed to draw augmented
images (which plain data augmentation of the reals alone would do).

The three policies of the paper, with its strengths, on images in the
model's pixel range:

- ``color``: per image, brightness + U(-0.5, 0.5); saturation x U(0, 2)
  about the channel mean; contrast x U(0.5, 1.5) about the image mean.
- ``translation``: per image, an integer shift of up to 1/8 of the size in
  each direction, zero-filled.
- ``cutout``: per image, a zeroed square of half the size at a random place
  (clipped at the borders).

Shifts and cut-outs are written as products with one-hot shift matrices and
masks from coordinate comparisons: ``keras.ops`` only, no backend code,
differentiable in the images everywhere.
"""

from __future__ import annotations

import keras
from keras import ops

from .policies import DIFFAUGMENT_POLICIES as POLICIES


def parse_policy(text: str) -> tuple[str, ...]:
    """``"color,translation,cutout"`` -> the names, checked; ``""`` -> none."""
    names = tuple(n.strip() for n in str(text or "").split(",") if n.strip())
    for name in names:
        if name not in POLICIES:
            raise ValueError(f"diffaugment: unknown policy '{name}'; choose from {', '.join(POLICIES)} "
                             f"(comma-separated), or '' for none")
    return names


def augment(images, policy: tuple[str, ...], seed_generator):
    """``images`` (N, H, W, C) through each policy in turn, fresh randomness per image."""
    x = ops.cast(images, "float32")
    for name in policy:
        x = {"color": color, "translation": translation, "cutout": cutout}[name](x, seed_generator)
    return x


def _uniform(n, seed_generator, low=0.0, high=1.0):
    return keras.random.uniform((n, 1, 1, 1), minval=low, maxval=high, seed=seed_generator)


def color(x, seed_generator):
    n = ops.shape(x)[0]
    x = x + _uniform(n, seed_generator, -0.5, 0.5)
    mean = ops.mean(x, axis=-1, keepdims=True)
    x = (x - mean) * _uniform(n, seed_generator, 0.0, 2.0) + mean
    mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
    return (x - mean) * _uniform(n, seed_generator, 0.5, 1.5) + mean


def _shift_matrices(n, size, max_shift, seed_generator):
    """(N, size, size) one-hot matrices M with (M @ v)[i] = v[i - shift], zero outside."""
    shift = ops.floor(keras.random.uniform((n, 1, 1), minval=-max_shift, maxval=max_shift + 1,
                                           seed=seed_generator))
    rows = ops.reshape(ops.arange(size, dtype="float32"), (1, size, 1))
    cols = ops.reshape(ops.arange(size, dtype="float32"), (1, 1, size))
    return ops.cast(ops.equal(cols, rows - shift), "float32")


def translation(x, seed_generator, ratio=0.125):
    n, h, w = ops.shape(x)[0], x.shape[1], x.shape[2]
    rows = _shift_matrices(n, h, int(h * ratio + 0.5), seed_generator)
    cols = _shift_matrices(n, w, int(w * ratio + 0.5), seed_generator)
    x = ops.einsum("nij,njwc->niwc", rows, x)
    return ops.einsum("nkl,nilc->nikc", cols, x)


def cutout(x, seed_generator, ratio=0.5):
    n, h, w = ops.shape(x)[0], x.shape[1], x.shape[2]
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # The square's top-left corner, as in the paper: centre offset so it may hang over the border.
    top = ops.floor(keras.random.uniform((n, 1, 1, 1), minval=0, maxval=h + (1 - ch % 2),
                                         seed=seed_generator)) - ch // 2
    left = ops.floor(keras.random.uniform((n, 1, 1, 1), minval=0, maxval=w + (1 - cw % 2),
                                          seed=seed_generator)) - cw // 2
    i = ops.reshape(ops.arange(h, dtype="float32"), (1, h, 1, 1))
    j = ops.reshape(ops.arange(w, dtype="float32"), (1, 1, w, 1))
    inside = ops.logical_and(ops.logical_and(i >= top, i < top + ch), ops.logical_and(j >= left, j < left + cw))
    return x * (1.0 - ops.cast(inside, "float32"))
