"""Soft-IntroVAE (Daniel & Tamar 2021, "Soft-IntroVAE: Analyzing and
Improving the Introspective Variational Autoencoder", CVPR).

A VAE whose encoder is also the adversary: besides the real images' ELBO,
the encoder is trained to give generated images (the decoder's samples from
the prior and its reconstructions of real images) a low ELBO, through the
soft exponential exp(2 ELBO) of the paper's eq. 7, and the decoder is trained
to make generated images the encoder gives a high ELBO (a code close to the
prior). Each step runs Algorithm 1's two updates in its order:

1. encoder: scale (beta_rec rec(x) + beta_kl KL(x)) + 1/4 mean exp(-2 scale
   (beta_rec rec(x') + beta_neg KL(x'))) over x' in {reconstructions, samples};
   the generated images carry no gradient;
2. decoder: scale (beta_rec rec(x) + beta_kl/2 (KL(rec) + KL(sample))
   + gamma_r beta_rec/2 (rec(rec) + rec(sample))), the KLs reached through
   the (not updated) encoder.

rec is the squared error summed over pixels, scale 1 / (pixels per image).
The loss (``soft-intro``, :class:`~zoo_hybrids.soft_introvae.loss.SoftIntroLoss`)
holds the weights.

Deviations from the paper: conv networks DCGAN-sized for 28x28, not its
ResNets; no warm-up epochs of plain VAE training (the authors use none for
image data sets either); the decoder's pass draws its own code for the real
images (Algorithm 1 reuses the encoder pass's draw), an equal-in-expectation
estimate that keeps the two phases independent.

No backend code: zoo's multi-network trainer runs the phases everywhere.
Pixels in [0, 1] throughout (sigmoid decoder).
"""

from __future__ import annotations

from dataclasses import asdict

import keras
import numpy as np
from keras import ops

from zoo_core.multinet import Phase

from .. import nets
from ..base import HybridModel


def build(config, data, loss):
    """A model for ``data`` from a :class:`~zoo_hybrids.soft_introvae.SoftIntroVAEConfig`, with its loss attached."""
    model = SoftIntroVAE(image_shape=tuple(data.image_shape), **asdict(config))
    model.loss_fn = nets.check_loss(loss, ("encoder", "decoder", "log_likelihood"),
                                    "the 'soft-intro' objective Soft-IntroVAE needs")
    return model


def kl_per_example(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per example, nats."""
    mean, log_var = nets.f32(mean), nets.f32(log_var)
    return -0.5 * ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)


def squared_error(images, reconstructions):
    """Per-image sum of squared pixel errors."""
    return nets.sum_per_example(ops.square(nets.f32(images) - nets.f32(reconstructions)))


@keras.saving.register_keras_serializable(package=nets.PACKAGE)
class SoftIntroVAE(HybridModel):
    """A Gaussian encoder and a sigmoid decoder, each with its own optimizer."""

    output_activation = "sigmoid"
    title = "Soft-IntroVAE"
    config_keys = ("image_shape", "latent_dim", "encoder_filters", "encoder_units", "decoder_filters",
                   "kernel_size", "encoder_learning_rate", "decoder_learning_rate", "seed")
    penalty_terms = ()

    def image_network(self):
        return self.decoder

    def __init__(self, image_shape, latent_dim=32, encoder_filters=(32, 64), encoder_units=256,
                 decoder_filters=(64, 32), kernel_size=4, encoder_learning_rate=None, decoder_learning_rate=None,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.latent_dim = int(latent_dim)
        self.encoder_filters = tuple(int(f) for f in encoder_filters)
        self.encoder_units = int(encoder_units)
        self.decoder_filters = tuple(int(f) for f in decoder_filters)
        self.kernel_size = int(kernel_size)
        self.encoder_learning_rate = encoder_learning_rate
        self.decoder_learning_rate = decoder_learning_rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        #: 1 / pixels per image: the authors' scale of every term.
        self.scale = 1.0 / float(np.prod(self.image_shape))
        self.track("reconstruction", "kl", "kl_rec", "kl_fake", "e_loss", "d_loss", "mse")
        self.loss_fn = None
        nets.check_image_size(self.image_shape, self.decoder_filters)
        self.encoder = nets.conv_encoder(self.image_shape, self.encoder_filters, self.encoder_units,
                                         self.kernel_size, [("z_mean", self.latent_dim), ("z_log_var", self.latent_dim)])
        self.decoder = nets.conv_decoder(self.image_shape, self.latent_dim, self.decoder_filters, self.kernel_size,
                                         "sigmoid")
        self.built = True

    def networks(self) -> dict:
        return {"encoder": self.encoder, "decoder": self.decoder}

    def train_phases(self):
        """Algorithm 1's order: the encoder, then the decoder."""
        return [
            Phase("encoder", self.encoder_phase, prepare=self.with_samples),
            Phase("decoder", self.decoder_phase, prepare=self.with_codes),
        ]

    # --- pieces ---

    def posterior(self, images, training):
        """``(mean, log_var, z)`` with z drawn by the reparameterisation trick."""
        mean, log_var = self.encoder(images, training=training)
        mean, log_var = nets.f32(mean), nets.f32(log_var)
        eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean, log_var, mean + ops.exp(0.5 * log_var) * eps

    def with_samples(self, images, training=True):
        """Real images and decoded prior draws (no gradient flows through prepare)."""
        return images, self.decoder(self.prior(ops.shape(images)[0]), training=training)

    def with_codes(self, images, training=True):
        """Real images, a posterior draw for each, and prior draws, all without gradient."""
        _, _, z = self.posterior(images, training)
        return images, z, self.prior(ops.shape(images)[0])

    # --- the phases ---

    def encoder_phase(self, batch, training=True):
        images, samples = batch
        loss_fn = self._loss()
        mean, log_var, z = self.posterior(images, training)
        reconstructions = self.decoder(z, training=training)
        error = ops.mean(squared_error(images, reconstructions))
        kl = ops.mean(kl_per_example(mean, log_var))
        # The encoder judges generated images as they are: no gradient reaches their making.
        terms = []
        for generated in (ops.stop_gradient(reconstructions), ops.stop_gradient(samples)):
            g_mean, g_log_var, g_z = self.posterior(generated, training)
            again = self.decoder(g_z, training=training)
            terms += [squared_error(generated, again), kl_per_example(g_mean, g_log_var)]
        loss = loss_fn.encoder(error, kl, *terms, scale=self.scale)
        mse = ops.mean(ops.square(nets.f32(images) - nets.f32(reconstructions)))
        return loss, {"reconstruction": error, "kl": kl, "kl_rec": ops.mean(terms[1]),
                      "kl_fake": ops.mean(terms[3]), "e_loss": loss, "mse": mse}

    def decoder_phase(self, batch, training=True):
        images, z, z_prior = batch
        loss_fn = self._loss()
        reconstructions = self.decoder(z, training=training)
        samples = self.decoder(z_prior, training=training)
        error = ops.mean(squared_error(images, reconstructions))
        kls, errors = [], []
        for generated in (reconstructions, samples):
            g_mean, g_log_var, g_z = self.posterior(generated, training)
            kls.append(ops.mean(kl_per_example(g_mean, g_log_var)))
            again = self.decoder(ops.stop_gradient(g_z), training=training)
            errors.append(ops.mean(squared_error(ops.stop_gradient(generated), again)))
        loss = loss_fn.decoder(error, *kls, *errors, scale=self.scale)
        return loss, {"d_loss": loss}

    def call(self, images, training=False):
        """A [0, 1] batch: the posterior's parameters and the reconstructions of its means."""
        mean, log_var = self.encoder(images, training=training)
        return {"z_mean": mean, "z_log_var": log_var, "reconstruction": self.decoder(mean, training=training)}

    # --- what zoo's grids, zoo sample and zoo eval use ---

    def encode(self, images):
        """``(z_mean, z_log_var)`` of q(z|x) for a batch of [0, 1] images."""
        mean, log_var = self.encoder(ops.convert_to_tensor(np.asarray(images, np.float32)), training=False)
        return (ops.convert_to_numpy(mean).astype(np.float32), ops.convert_to_numpy(log_var).astype(np.float32))

    @property
    def likelihood(self):
        """``"gaussian"``: p(x|z) has variance 1 / (2 beta_rec); None without a loss."""
        return getattr(self.loss_fn, "likelihood", None)

    def log_importance_weights(self, images, num_samples, seed=None):
        """``log p(x|z)``, ``log p(z)`` and ``log q(z|x)`` for ``num_samples``
        draws z ~ q(z|x) per image, ``(N, k)`` float32 arrays (zoo eval's
        protocol). p(x|z) is the loss's Gaussian, the one whose ELBO the
        encoder maximises for real images."""
        from zoo_core.evaluation.likelihood import diagonal_gaussian_terms

        return diagonal_gaussian_terms(self.encoder, self.decoder, self._loss().log_likelihood, images, num_samples,
                                       seed)
