"""The example's losses, written with ``keras.ops`` so they run on every backend:
the Laplace ELBO ('vae' interface) and the non-saturating logistic GAN loss
('gan' interface)."""

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


class LogisticNonSaturating:
    """The GAN loss of Goodfellow et al. (2014) with D = sigmoid(logits):
    D minimises -log D(x) - log(1 - D(G(z))), G the non-saturating
    -log D(G(z)) (their sec. 3). Batch means in nats.

    The "gan" loss interface agreed with zoo-gan (``discriminator``,
    ``generator``, ``readout``, ``gradient_penalty``), kept here so that
    infogan trains without zoo-gan installed; with it installed, infogan can
    also use zoo-gan's losses by name (``--loss hinge``).
    """

    gradient_penalty = 0.0

    def discriminator(self, real_logits, fake_logits):
        # -log sigmoid(r) = softplus(-r);  -log(1 - sigmoid(f)) = softplus(f)
        real_logits, fake_logits = ops.cast(real_logits, "float32"), ops.cast(fake_logits, "float32")
        return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))

    def generator(self, fake_logits):
        return ops.mean(ops.softplus(-ops.cast(fake_logits, "float32")))

    def readout(self, logits):
        """D's probability that an image is real."""
        return ops.sigmoid(ops.cast(logits, "float32"))

    def __repr__(self):
        return "LogisticNonSaturating()"
