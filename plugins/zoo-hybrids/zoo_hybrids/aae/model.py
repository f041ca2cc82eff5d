"""The adversarial autoencoder (Makhzani et al. 2015, "Adversarial Autoencoders").

A deterministic conv encoder E and a decoder Dec are trained on
reconstruction; a discriminator D on the latent code tells draws from the
prior p(z) = N(0, I) from codes E(x); the encoder then learns to fool it, so
that the aggregated posterior q(z) matches the prior and decoding prior draws
gives images. Each step runs the paper's two phases in its order (section 2):

1. reconstruction: E and Dec minimise the reconstruction error;
2. regularisation: first D, on prior draws (real) against codes (fake), then
   E as the adversarial network's generator, on fresh codes.

The adversarial terms are any ``"gan"`` loss found by name in zoo's registry
(zoo-gan's non-saturating by default), so every GAN loss trains it.

Deviations from the paper: Adam, not SGD with momentum; conv networks, not
its MLPs; the encoder's two roles each have their own optimizer (networks
``encoder`` and ``generator`` are the same sub-model), as common
implementations do, so that the reconstruction gradients' scale does not set
the adversarial steps' size through a shared Adam state.

No backend code: zoo's multi-network trainer runs the phases everywhere.
"""

from __future__ import annotations

from dataclasses import asdict

import keras
import numpy as np
from keras import layers, ops

from zoo_core.multinet import Phase, input_gradient

from .. import nets
from ..base import HybridModel

#: What :meth:`AdversarialAutoencoder.encode` returns as the log-variance. The
#: encoder is deterministic (a point mass, log-variance -inf); a finite
#: constant keeps arithmetic on it finite: a standard deviation of 3e-7.
POINT_MASS_LOG_VAR = -30.0

RECONSTRUCTIONS = ("bce", "mse")


def build(config, data, loss):
    """A model for ``data`` from an :class:`~zoo_hybrids.aae.AAEConfig`, with its GAN loss attached."""
    model = AdversarialAutoencoder(image_shape=tuple(data.image_shape), **asdict(config))
    model.loss_fn = nets.check_gan_loss(loss, "the adversarial autoencoder")
    return model


def reconstruction_error(kind, images, reconstructions):
    """Per-image sum over pixels, batch mean: binary cross-entropy or squared error."""
    x, r = nets.f32(images), nets.f32(reconstructions)
    if kind == "bce":
        r = ops.clip(r, 1e-7, 1.0 - 1e-7)
        per_pixel = -(x * ops.log(r) + (1.0 - x) * ops.log(1.0 - r))
    else:
        per_pixel = ops.square(x - r)
    return ops.mean(nets.sum_per_example(per_pixel))


@keras.saving.register_keras_serializable(package=nets.PACKAGE)
class AdversarialAutoencoder(HybridModel):
    """Encoder, decoder and latent discriminator; pixels in [0, 1] throughout
    (sigmoid decoder)."""

    output_activation = "sigmoid"
    title = "adversarial autoencoder"

    def image_network(self):
        return self.decoder

    def __init__(self, image_shape, latent_dim=8, encoder_filters=(32, 64), encoder_units=256,
                 decoder_filters=(64, 32), kernel_size=4, discriminator_units=(256, 256), reconstruction="bce",
                 encoder_learning_rate=None, decoder_learning_rate=None, discriminator_learning_rate=None,
                 generator_learning_rate=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.latent_dim = int(latent_dim)
        self.encoder_filters = tuple(int(f) for f in encoder_filters)
        self.encoder_units = int(encoder_units)
        self.decoder_filters = tuple(int(f) for f in decoder_filters)
        self.kernel_size = int(kernel_size)
        self.discriminator_units = tuple(int(u) for u in discriminator_units)
        if reconstruction not in RECONSTRUCTIONS:
            raise ValueError(f"reconstruction must be one of {', '.join(RECONSTRUCTIONS)}, got {reconstruction!r}")
        self.reconstruction = reconstruction
        self.encoder_learning_rate = encoder_learning_rate
        self.decoder_learning_rate = decoder_learning_rate
        self.discriminator_learning_rate = discriminator_learning_rate
        self.generator_learning_rate = generator_learning_rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.track("reconstruction", "mse", "d_loss", "g_loss", "d_real", "d_fake", "wasserstein", "gp")
        #: The GAN loss object (the "gan" interface); not saved with the model.
        self.loss_fn = None
        nets.check_image_size(self.image_shape, self.decoder_filters)

        self.encoder = nets.conv_encoder(self.image_shape, self.encoder_filters, self.encoder_units,
                                         self.kernel_size, [("z", self.latent_dim)])
        self.decoder = nets.conv_decoder(self.image_shape, self.latent_dim, self.decoder_filters, self.kernel_size,
                                         "sigmoid")
        z = keras.Input((self.latent_dim,), name="z")
        score = layers.Dense(1, name="score")(nets.mlp(z, self.discriminator_units))
        self.discriminator = keras.Model(z, score, name="discriminator")
        self.built = True  # every network is functional: all weights exist

    def networks(self) -> dict:
        """The encoder appears twice: ``encoder`` (the reconstruction phase's
        optimizer) and ``generator`` (the regularisation phase's)."""
        return {"encoder": self.encoder, "decoder": self.decoder, "discriminator": self.discriminator,
                "generator": self.encoder}

    def train_phases(self):
        """The paper's order: reconstruction, then the latent discriminator, then the encoder as generator."""
        return [
            Phase(("encoder", "decoder"), self.reconstruction_phase),
            Phase("discriminator", self.discriminator_phase, prepare=self.with_codes),
            Phase("generator", self.generator_phase),
        ]

    # --- the phases ---

    def reconstruction_phase(self, images, training=True):
        reconstructions = self.decoder(self.encoder(images, training=training), training=training)
        loss = reconstruction_error(self.reconstruction, images, reconstructions)
        mse = ops.mean(ops.square(nets.f32(images) - nets.f32(reconstructions)))
        return loss, {"reconstruction": loss, "mse": mse}

    def with_codes(self, images, training=True):
        """Prior draws and codes for the discriminator (no gradient flows through prepare)."""
        return self.prior(ops.shape(images)[0]), self.encoder(images, training=training)

    def discriminator_phase(self, batch, training=True):
        z_prior, codes = batch
        loss_fn = self._loss()
        real_logits = nets.f32(self.discriminator(z_prior, training=training))
        fake_logits = nets.f32(self.discriminator(codes, training=training))
        loss = loss_fn.discriminator(real_logits, fake_logits)
        readout = nets.readout(loss_fn)
        terms = {"d_real": ops.mean(readout(real_logits)), "d_fake": ops.mean(readout(fake_logits))}
        if self.penalty_weight:
            epsilon = keras.random.uniform((ops.shape(codes)[0], 1), seed=self.seed_generator)
            critic = lambda z: self.discriminator(z, training=False)  # noqa: E731
            gp = nets.gradient_penalty(critic, z_prior, ops.stop_gradient(codes), epsilon, input_gradient)
            loss = loss + self.penalty_weight * gp
            terms["gp"] = gp
            terms["wasserstein"] = ops.mean(real_logits) - ops.mean(fake_logits)
        terms["d_loss"] = loss
        return loss, terms

    def generator_phase(self, images, training=True):
        codes = self.encoder(images, training=training)
        loss = self._loss().generator(nets.f32(self.discriminator(codes, training=training)))
        return loss, {"g_loss": loss}

    def call(self, images, training=False):
        """A [0, 1] batch: its codes, their reconstructions and the discriminator's scores of the codes."""
        z = self.encoder(images, training=training)
        return {"z": z, "reconstruction": self.decoder(z, training=training),
                "score": self.discriminator(z, training=training)}

    # --- what zoo's grids, zoo sample and zoo eval use ---

    def encode(self, images):
        """``(z, log_var)`` for a batch of [0, 1] images, shaped like a VAE's
        posterior parameters: the deterministic code, and the constant
        :data:`POINT_MASS_LOG_VAR` (the code is a point mass)."""
        z = ops.convert_to_numpy(self.encoder(ops.convert_to_tensor(np.asarray(images, np.float32)),
                                              training=False)).astype(np.float32)
        return z, np.full_like(z, POINT_MASS_LOG_VAR)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_shape": list(self.image_shape),
            "latent_dim": self.latent_dim,
            "encoder_filters": list(self.encoder_filters),
            "encoder_units": self.encoder_units,
            "decoder_filters": list(self.decoder_filters),
            "kernel_size": self.kernel_size,
            "discriminator_units": list(self.discriminator_units),
            "reconstruction": self.reconstruction,
            "encoder_learning_rate": self.encoder_learning_rate,
            "decoder_learning_rate": self.decoder_learning_rate,
            "discriminator_learning_rate": self.discriminator_learning_rate,
            "generator_learning_rate": self.generator_learning_rate,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
