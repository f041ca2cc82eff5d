"""Soft-IntroVAE's objective (Daniel & Tamar 2021, eq. 7 and Algorithm 1),
written with ``keras.ops``: the terms come from the model, the weights and
the way they combine live here, so ``--loss soft-intro --set loss.beta_neg=512``
changes the objective without touching the networks."""

from __future__ import annotations

import numpy as np
from keras import ops


class SoftIntroLoss:
    """The encoder's and the decoder's losses from per-image terms.

    Reconstruction errors are squared errors summed over pixels; KLs are
    KL(q(z|x) || N(0, I)) in nats. ``scale`` is 1 / (pixels per image), as in
    the authors' code, so the exponential terms neither vanish nor explode
    with the image size.
    """

    likelihood = "gaussian"

    def __init__(self, beta_rec=1.0, beta_kl=1.0, beta_neg=256.0, gamma_r=1e-8):
        self.beta_rec = float(beta_rec)
        self.beta_kl = float(beta_kl)
        self.beta_neg = float(beta_neg)
        self.gamma_r = float(gamma_r)

    def soft_elbo(self, error, kl, scale):
        """The batch mean of exp(-2 scale (beta_rec error + beta_neg kl)) for
        per-image ``error`` and ``kl``: the encoder's exponential term for
        generated images (it falls as their ELBO does)."""
        return ops.mean(ops.exp(-2.0 * scale * (self.beta_rec * error + self.beta_neg * kl)))

    def encoder(self, error, kl, rec_error, rec_kl, fake_error, fake_kl, scale):
        """Algorithm 1's encoder loss: the real images' beta-ELBO (batch means
        ``error`` and ``kl``) plus a quarter of the soft exponential term of
        each kind of generated image (reconstructions and samples, per image)."""
        real = scale * (self.beta_rec * error + self.beta_kl * kl)
        return real + 0.25 * (self.soft_elbo(rec_error, rec_kl, scale) + self.soft_elbo(fake_error, fake_kl, scale))

    def decoder(self, error, rec_kl, fake_kl, rec_error, fake_error, scale):
        """Algorithm 1's decoder loss (batch means): reconstruct the real
        images, make generated images whose codes look like the prior's to
        the encoder, and (weight ``gamma_r``) let them be reconstructed."""
        return scale * (self.beta_rec * error + 0.5 * self.beta_kl * (rec_kl + fake_kl)
                        + 0.5 * self.gamma_r * self.beta_rec * (rec_error + fake_error))

    # --- the likelihood, for zoo eval's ELBO and IWAE bound ---

    def log_likelihood(self, x, images):
        """``log p(x | z)`` in nats per image for decoded ``images`` (same
        range as ``x``): the Gaussian whose negative log density is
        ``beta_rec`` times the squared error, i.e. variance 1 / (2 beta_rec),
        with its normalising constant; summed over the last three axes."""
        x = ops.cast(x, "float32")
        images = ops.cast(images, "float32")
        per_pixel = -self.beta_rec * ops.square(x - images) - 0.5 * float(np.log(np.pi / self.beta_rec))
        return ops.sum(per_pixel, axis=(-3, -2, -1))
