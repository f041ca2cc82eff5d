"""The Laplace ELBO, written with ``keras.ops`` so it runs on every backend."""

from __future__ import annotations

import math

from keras import ops


class LaplaceELBO:
    """Negative ELBO for a VAE with a N(0, I) prior and a Laplace p(x|z).

    ``-log p(x|z) = sum_pixels |x - mean| / scale + log(2 * scale)``, with
    ``mean = sigmoid(logits)``: an L1 reconstruction term that, unlike the
    Bernoulli one, is a proper density for grey levels.

    Called as ``loss(x, outputs)`` with ``outputs`` holding ``logits``,
    ``z_mean`` and ``z_log_var`` (the "vae" loss interface); returns batch means
    of ``loss`` (reconstruction + beta * kl), ``reconstruction`` and ``kl`` in
    nats per image.
    """

    #: zoo eval reads this: grey-level images are not binarised for it.
    likelihood = "laplace"

    def __init__(self, scale: float = 0.2, beta: float = 1.0):
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.scale = float(scale)
        self.beta = float(beta)

    def __call__(self, x, outputs):
        x = ops.cast(x, "float32")
        reconstruction = -ops.mean(self.log_likelihood(x, outputs["logits"]))
        z_mean = ops.cast(outputs["z_mean"], "float32")
        z_log_var = ops.cast(outputs["z_log_var"], "float32")
        kl = ops.mean(-0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1))
        return {"loss": reconstruction + self.beta * kl, "reconstruction": reconstruction, "kl": kl}

    def log_likelihood(self, x, logits):
        """``log p(x|z)`` in nats per image, summed over the last three
        (height, width, channel) axes; ``x`` broadcasts against ``logits``."""
        mean = ops.sigmoid(ops.cast(logits, "float32"))
        per_pixel = -ops.abs(ops.cast(x, "float32") - mean) / self.scale - math.log(2.0 * self.scale)
        return ops.sum(per_pixel, axis=(-3, -2, -1))
