"""BiGAN / ALI: a GAN that learns an encoder too (Donahue et al. 2017,
"Adversarial Feature Learning"; Dumoulin et al. 2017, "Adversarially Learned
Inference").

An encoder E maps images to codes and a generator G maps prior draws
z ~ N(0, I) to images. A joint discriminator D(x, z) tells pairs
(x, E(x)) from pairs (G(z), z); at the game's optimum E and G invert each
other, so G(E(x)) reconstructs x although no loss asks for it. Each step has
two phases, as in both papers' algorithms:

1. D, on (x, E(x)) as real against (G(z), z) as fake, both made without
   gradient to E or G;
2. E and G together, on fresh pairs, minimising the discriminator's loss
   with real and fake swapped (the papers' "inverted labels"): E pushes
   D(x, E(x)) towards fake, G pushes D(G(z), z) towards real.

The adversarial terms are any ``"gan"`` loss found by name in zoo's registry
(zoo-gan's non-saturating by default). Only its ``discriminator(real, fake)``
is called, for both phases: with the labels swapped it is the non-saturating
objective for the logistic losses (so ``minimax`` trains as
``non-saturating`` does), the critic's negation for ``wasserstein``, the
least-squares targets for ``least-squares``, and hinge margins for ``hinge``.

Deviations: DCGAN-style conv networks sized for 28x28 (the papers' are
larger); D's image path has no normalisation (BiGAN's has batch norm) so
that every pair is judged on its own and a gradient penalty is defined; the
penalty (``wasserstein``) is taken on the joint input, the image and code
flattened into one vector.

No backend code: zoo's multi-network trainer runs the phases everywhere.
Pixels: ``fit`` and the public methods speak zoo's [0, 1]; inside, images
live in the generator's tanh range [-1, 1].
"""

from __future__ import annotations

from dataclasses import asdict

import keras
import numpy as np
from keras import layers, ops

from zoo_core.multinet import Phase, input_gradient

from .. import nets
from ..base import HybridModel

#: What :meth:`BiGAN.encode` returns as the log-variance of a deterministic
#: encoder (a point mass, log-variance -inf): a finite constant, a standard
#: deviation of 3e-7.
POINT_MASS_LOG_VAR = -30.0

ENCODERS = ("deterministic", "gaussian")


def build(config, data, loss):
    """A model for ``data`` from a :class:`~zoo_hybrids.bigan.BiGANConfig`, with its GAN loss attached."""
    model = BiGAN(image_shape=tuple(data.image_shape), **asdict(config))
    model.loss_fn = nets.check_gan_loss(loss, "BiGAN")
    return model


@keras.saving.register_keras_serializable(package=nets.PACKAGE)
class BiGAN(HybridModel):
    """Encoder, generator and joint discriminator D(x, z)."""

    output_activation = "tanh"
    title = "BiGAN"
    config_keys = ("image_shape", "latent_dim", "encoder_filters", "encoder_units", "generator_filters",
                   "kernel_size", "discriminator_filters", "discriminator_units", "dropout",
                   "encoder_learning_rate", "generator_learning_rate", "discriminator_learning_rate", "seed")

    def image_network(self):
        return self.generator

    def __init__(self, image_shape, latent_dim=32, encoder="deterministic", encoder_filters=(32, 64),
                 encoder_units=256, generator_filters=(64, 32), kernel_size=4, discriminator_filters=(32, 64),
                 discriminator_units=256, dropout=0.2, encoder_learning_rate=None, generator_learning_rate=None,
                 discriminator_learning_rate=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.latent_dim = int(latent_dim)
        if encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {encoder!r}")
        self.encoder_kind = encoder
        self.encoder_filters = tuple(int(f) for f in encoder_filters)
        self.encoder_units = int(encoder_units)
        self.generator_filters = tuple(int(f) for f in generator_filters)
        self.kernel_size = int(kernel_size)
        self.discriminator_filters = tuple(int(f) for f in discriminator_filters)
        self.discriminator_units = int(discriminator_units)
        self.dropout = float(dropout)
        self.encoder_learning_rate = encoder_learning_rate
        self.generator_learning_rate = generator_learning_rate
        self.discriminator_learning_rate = discriminator_learning_rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.track("d_loss", "eg_loss", "d_real", "d_fake", "mse", "wasserstein", "gp")
        #: The GAN loss object (the "gan" interface); not saved with the model.
        self.loss_fn = None
        nets.check_image_size(self.image_shape, self.generator_filters, "generator_filters")

        heads = [("z", self.latent_dim)] if encoder == "deterministic" else [
            ("z_mean", self.latent_dim), ("z_log_var", self.latent_dim)]
        self.encoder = nets.conv_encoder(self.image_shape, self.encoder_filters, self.encoder_units,
                                         self.kernel_size, heads)
        self.generator = nets.conv_decoder(self.image_shape, self.latent_dim, self.generator_filters,
                                           self.kernel_size, "tanh", name="generator")
        self.discriminator = self._joint_discriminator()
        self.built = True  # every network is functional: all weights exist

    def _joint_discriminator(self):
        x = keras.Input(self.image_shape, name="images")
        z = keras.Input((self.latent_dim,), name="z")
        x_features = nets.conv_features(x, self.discriminator_filters, self.kernel_size, prefix="x_")
        z_features = layers.LeakyReLU(0.2)(layers.Dense(self.discriminator_units, name="z_features")(z))
        h = layers.Concatenate()([x_features, z_features])
        h = nets.mlp(h, [self.discriminator_units], self.dropout)
        return keras.Model([x, z], layers.Dense(1, name="score")(h), name="discriminator")

    def networks(self) -> dict:
        return {"encoder": self.encoder, "generator": self.generator, "discriminator": self.discriminator}

    def train_phases(self):
        """D on pairs made without gradient, then E and G together against it."""
        return [Phase("discriminator", self.discriminator_phase, prepare=self.pairs),
                Phase(("encoder", "generator"), self.encoder_generator_phase)]

    # --- the networks, as the phases call them ---

    def codes(self, x, training):
        """``(z, its mean)`` for images in the model's range: the code twice
        (deterministic), or for ALI's Gaussian encoder a reparameterised draw
        and the posterior mean."""
        if self.encoder_kind == "deterministic":
            z = self.encoder(x, training=training)
            return z, z
        z_mean, z_log_var = self.encoder(x, training=training)
        eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps, z_mean

    def discriminate(self, x, z, training):
        return nets.f32(self.discriminator([x, z], training=training))

    def pairs(self, real, training=True):
        """``(x, E(x), G(z), z)``; run by the trainer without gradients."""
        z = self.prior(ops.shape(real)[0])
        return real, self.codes(real, training)[0], self.generator(z, training=training), z

    # --- the phases ---

    def discriminator_phase(self, batch, training=True):
        real, codes, fakes, z = batch
        loss_fn = self._loss()
        real_logits = self.discriminate(real, codes, training)
        fake_logits = self.discriminate(fakes, z, training)
        loss = loss_fn.discriminator(real_logits, fake_logits)
        readout = nets.readout(loss_fn)
        terms = {"d_real": ops.mean(readout(real_logits)), "d_fake": ops.mean(readout(fake_logits))}
        if self.penalty_weight:
            gp = self.joint_gradient_penalty(real, codes, fakes, z)
            loss = loss + self.penalty_weight * gp
            terms["gp"] = gp
            terms["wasserstein"] = ops.mean(real_logits) - ops.mean(fake_logits)
        terms["d_loss"] = loss
        return loss, terms

    def joint_gradient_penalty(self, real, codes, fakes, z):
        """The penalty on D's gradient for the joint input: image and code flattened into one vector."""
        pixels = int(np.prod(self.image_shape))

        def joint(x, code):
            return ops.concatenate([ops.reshape(nets.f32(x), (-1, pixels)), nets.f32(code)], axis=-1)

        def critic(v):
            x, code = ops.split(v, [pixels], axis=-1)
            return self.discriminate(ops.reshape(x, (-1, *self.image_shape)), code, training=False)

        epsilon = keras.random.uniform((ops.shape(real)[0], 1), seed=self.seed_generator)
        return nets.gradient_penalty(critic, joint(real, ops.stop_gradient(codes)),
                                     joint(ops.stop_gradient(fakes), z), epsilon, input_gradient)

    def encoder_generator_phase(self, real, training=True):
        """One loss for E and G: the discriminator's loss with labels swapped.
        E reaches it through D(x, E(x)) only, G through D(G(z), z) only."""
        codes, means = self.codes(real, training)
        z = self.prior(ops.shape(real)[0])
        fakes = self.generator(z, training=training)
        real_logits = self.discriminate(real, codes, training)
        fake_logits = self.discriminate(fakes, z, training)
        loss = self._loss().discriminator(fake_logits, real_logits)
        # Logged only (no gradient asked for): how well G inverts E so far.
        recon = self.generator(ops.stop_gradient(means), training=False)
        mse = ops.mean(ops.square(self.to_unit_range(ops.stop_gradient(recon)) - self.to_unit_range(real)))
        return loss, {"eg_loss": loss, "mse": mse}

    def call(self, images, training=False):
        """A [0, 1] batch: its codes, G(E(x)) in [0, 1], and D's scores of the pairs (x, E(x))."""
        x = self.to_model_range(images)
        codes = self.codes(x, training)[1]
        return {"z": codes, "reconstruction": self.to_unit_range(self.generator(codes, training=training)),
                "score": self.discriminate(x, codes, training)}

    # --- what zoo's grids, zoo sample and zoo eval use ---

    def encode(self, images):
        """``(z_mean, z_log_var)`` for a batch of [0, 1] images, shaped like a
        VAE's posterior parameters: ALI's Gaussian encoder gives both; BiGAN's
        deterministic one gives its code and the constant :data:`POINT_MASS_LOG_VAR`."""
        x = self.to_model_range(ops.convert_to_tensor(np.asarray(images, np.float32)))
        if self.encoder_kind == "deterministic":
            z = ops.convert_to_numpy(self.encoder(x, training=False)).astype(np.float32)
            return z, np.full_like(z, POINT_MASS_LOG_VAR)
        z_mean, z_log_var = self.encoder(x, training=False)
        return (ops.convert_to_numpy(z_mean).astype(np.float32),
                ops.convert_to_numpy(z_log_var).astype(np.float32))

    def get_config(self):
        return {**super().get_config(), "encoder": self.encoder_kind}
