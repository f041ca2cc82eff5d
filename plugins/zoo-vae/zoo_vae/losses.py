"""The ELBO, written with ``keras.ops`` so it runs on every backend."""

from __future__ import annotations

import numpy as np
from keras import ops


class ELBO:
    """Negative evidence lower bound for a VAE with a N(0, I) prior.

    Called as ``elbo(x, outputs)`` with the model's outputs
    (``logits``, ``z_mean``, ``z_log_var``); returns the batch means of
    ``loss`` (reconstruction + beta * kl), ``reconstruction`` and ``kl``,
    in nats per image.
    """

    def __init__(self, reconstruction: str = "bce", beta: float = 1.0):
        if reconstruction not in ("bce", "mse"):
            raise ValueError(f"reconstruction must be 'bce' or 'mse', got {reconstruction!r}")
        self.reconstruction = reconstruction
        self.beta = float(beta)

    def __call__(self, x, outputs):
        # Losses in float32 even under a mixed-precision policy.
        logits = ops.cast(outputs["logits"], "float32")
        z_mean = ops.cast(outputs["z_mean"], "float32")
        z_log_var = ops.cast(outputs["z_log_var"], "float32")
        x = ops.cast(x, "float32")
        pixel_axes = tuple(range(1, len(x.shape)))
        if self.reconstruction == "bce":
            per_pixel = ops.binary_crossentropy(x, logits, from_logits=True)
        else:
            # Gaussian with unit variance: 0.5 * squared error, constants dropped.
            per_pixel = 0.5 * ops.square(x - ops.sigmoid(logits))
        reconstruction = ops.mean(ops.sum(per_pixel, axis=pixel_axes))
        kl = ops.mean(
            -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)
        )
        return {"loss": reconstruction + self.beta * kl, "reconstruction": reconstruction, "kl": kl}

    # --- the likelihood itself, for evaluation (zoo eval's ELBO and IWAE bound) ---

    @property
    def likelihood(self) -> str:
        """``"bernoulli"`` (bce) or ``"gaussian"`` (mse): the decoder's p(x|z)."""
        return "bernoulli" if self.reconstruction == "bce" else "gaussian"

    def log_likelihood(self, x, logits):
        """``log p(x | z)`` in nats per image, summed over the last three
        (height, width, channel) axes; ``x`` broadcasts against ``logits``.

        Bernoulli: ``x * l - softplus(l)``, the negative of the bce term; a
        log-probability only for binary ``x`` (on grey levels it is the
        cross-entropy, not a normalised likelihood). Gaussian: the unit-variance
        density of the mse term, with its ``-0.5 * log(2 pi)`` per pixel kept.
        """
        logits = ops.cast(logits, "float32")
        x = ops.cast(x, "float32")
        if self.reconstruction == "bce":
            per_pixel = x * logits - ops.softplus(logits)
        else:
            per_pixel = -0.5 * ops.square(x - ops.sigmoid(logits)) - 0.5 * float(np.log(2.0 * np.pi))
        return ops.sum(per_pixel, axis=(-3, -2, -1))
