"""α-GAN (Rosca et al. 2017, "Variational Approaches for Auto-Encoding
Generative Adversarial Networks").

An autoencoder whose two regularisers are learnt: an image discriminator D
tells real images from reconstructions G(E(x)) and samples G(z), and a code
discriminator C tells prior draws z ~ N(0, I) from codes E(x) (a learnt
stand-in for the VAE's KL term). Each step has two phases, in the order of
the paper's Algorithm 1 (encoder and generator first, then the two
discriminators), each network minimising its own loss from one pass:

1. encoder: λ · L1 + the GAN loss's generator term on C(E(x));
   generator: λ · L1 + the generator term on D(G(E(x))) and on D(G(z));
2. D: the GAN loss's discriminator term, x real against reconstructions and
   samples; C: the discriminator term, prior draws real against codes. The
   images and codes are made again with the updated E and G, without gradient.

L1 is the mean absolute pixel error of G(E(x)), pixels in [0, 1].

Deviations from the paper: its E and G minimise the ratio loss
-log(D / (1 - D)); here they minimise the chosen ``"gan"`` loss's generator
term (``non-saturating`` by default: -log D), so any GAN loss trains it.
With two kinds of fake the discriminator term is the mean over the two (the
paper sums them), so a real image weighs as much as in a plain GAN. The
encoder is deterministic; conv networks DCGAN-sized for 28x28.

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

#: What :meth:`AlphaGAN.encode` returns as the log-variance: the code is a
#: point mass (log-variance -inf); a finite constant, a standard deviation of 3e-7.
POINT_MASS_LOG_VAR = -30.0

NETWORKS = ("encoder", "generator", "discriminator", "code_discriminator")


def build(config, data, loss):
    """A model for ``data`` from an :class:`~zoo_hybrids.alpha_gan.AlphaGANConfig`, with its GAN loss attached."""
    model = AlphaGAN(image_shape=tuple(data.image_shape), **asdict(config))
    model.loss_fn = nets.check_gan_loss(loss, "α-GAN")
    return model


@keras.saving.register_keras_serializable(package=nets.PACKAGE)
class AlphaGAN(HybridModel):
    """Encoder, generator, image discriminator and code discriminator."""

    output_activation = "tanh"
    title = "α-GAN"
    config_keys = ("image_shape", "latent_dim", "encoder_filters", "encoder_units", "generator_filters",
                   "kernel_size", "discriminator_filters", "discriminator_units", "code_discriminator_units",
                   "reconstruction_weight", "encoder_learning_rate", "generator_learning_rate",
                   "discriminator_learning_rate", "code_discriminator_learning_rate", "seed")
    penalty_terms = ('gp',)

    def image_network(self):
        return self.generator

    def __init__(self, image_shape, latent_dim=32, encoder_filters=(32, 64), encoder_units=256,
                 generator_filters=(64, 32), kernel_size=4, discriminator_filters=(32, 64), discriminator_units=256,
                 code_discriminator_units=(256, 256), reconstruction_weight=10.0, encoder_learning_rate=None,
                 generator_learning_rate=None, discriminator_learning_rate=None,
                 code_discriminator_learning_rate=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.latent_dim = int(latent_dim)
        self.encoder_filters = tuple(int(f) for f in encoder_filters)
        self.encoder_units = int(encoder_units)
        self.generator_filters = tuple(int(f) for f in generator_filters)
        self.kernel_size = int(kernel_size)
        self.discriminator_filters = tuple(int(f) for f in discriminator_filters)
        self.discriminator_units = int(discriminator_units)
        self.code_discriminator_units = tuple(int(u) for u in code_discriminator_units)
        self.reconstruction_weight = float(reconstruction_weight)
        self.encoder_learning_rate = encoder_learning_rate
        self.generator_learning_rate = generator_learning_rate
        self.discriminator_learning_rate = discriminator_learning_rate
        self.code_discriminator_learning_rate = code_discriminator_learning_rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.track("reconstruction", "e_loss", "g_loss", "d_loss", "c_loss", "d_real", "d_recon", "d_fake",
                   "c_real", "c_fake", "gp")
        #: The GAN loss object (the "gan" interface); not saved with the model.
        self.loss_fn = None
        nets.check_image_size(self.image_shape, self.generator_filters, "generator_filters")

        self.encoder = nets.conv_encoder(self.image_shape, self.encoder_filters, self.encoder_units,
                                         self.kernel_size, [("z", self.latent_dim)])
        self.generator = nets.conv_decoder(self.image_shape, self.latent_dim, self.generator_filters,
                                           self.kernel_size, "tanh", name="generator")
        x = keras.Input(self.image_shape, name="images")
        h = nets.mlp(nets.conv_features(x, self.discriminator_filters, self.kernel_size), [self.discriminator_units])
        self.discriminator = keras.Model(x, layers.Dense(1, name="score")(h), name="discriminator")
        z = keras.Input((self.latent_dim,), name="z")
        score = layers.Dense(1, name="score")(nets.mlp(z, self.code_discriminator_units))
        self.code_discriminator = keras.Model(z, score, name="code_discriminator")
        self.built = True  # every network is functional: all weights exist

    def networks(self) -> dict:
        return {name: getattr(self, name) for name in NETWORKS}

    def train_phases(self):
        """Algorithm 1's order: encoder and generator, then both discriminators."""
        return [Phase(("encoder", "generator"), self.autoencoder_phase),
                Phase(("discriminator", "code_discriminator"), self.discriminators_phase, prepare=self.fakes)]

    # --- the phases ---

    def score(self, network, inputs, training):
        return nets.f32(network(inputs, training=training))

    def autoencode(self, real, training):
        """``(codes, reconstructions, prior draws, samples)`` for real images (model range).

        Not named ``forward``: on PyTorch a Keras model is a ``torch.nn.Module``
        whose ``forward`` is what calling it runs."""
        codes = self.encoder(real, training=training)
        z = self.prior(ops.shape(real)[0])
        return codes, self.generator(codes, training=training), z, self.generator(z, training=training)

    def autoencoder_phase(self, real, training=True):
        """Each of E and G minimises its own loss (Algorithm 1's L_E and L_G)."""
        loss_fn = self._loss()
        codes, recon, _, samples = self.autoencode(real, training)
        l1 = ops.mean(ops.abs(self.to_unit_range(real) - self.to_unit_range(recon)))
        reconstruction = self.reconstruction_weight * l1
        code_term = loss_fn.generator(self.score(self.code_discriminator, codes, training))
        image_terms = (loss_fn.generator(self.score(self.discriminator, recon, training))
                       + loss_fn.generator(self.score(self.discriminator, samples, training)))
        e_loss, g_loss = reconstruction + code_term, reconstruction + image_terms
        return ({"encoder": e_loss, "generator": g_loss},
                {"reconstruction": l1, "e_loss": e_loss, "g_loss": g_loss})

    def fakes(self, real, training=True):
        """Real images, codes, reconstructions, prior draws and samples; run without gradients."""
        return (real, *self.autoencode(real, training))

    def discriminators_phase(self, batch, training=True):
        """D on images (x real; reconstructions and samples fake), C on codes (prior draws real)."""
        real, codes, recon, z, samples = batch
        loss_fn = self._loss()
        real_logits = self.score(self.discriminator, real, training)
        recon_logits = self.score(self.discriminator, recon, training)
        fake_logits = self.score(self.discriminator, samples, training)
        d_loss = 0.5 * (loss_fn.discriminator(real_logits, recon_logits)
                        + loss_fn.discriminator(real_logits, fake_logits))
        prior_logits = self.score(self.code_discriminator, z, training)
        code_logits = self.score(self.code_discriminator, codes, training)
        c_loss = loss_fn.discriminator(prior_logits, code_logits)
        readout = nets.readout(loss_fn)
        terms = {"d_real": ops.mean(readout(real_logits)), "d_recon": ops.mean(readout(recon_logits)),
                 "d_fake": ops.mean(readout(fake_logits)), "c_real": ops.mean(readout(prior_logits)),
                 "c_fake": ops.mean(readout(code_logits))}
        if self.penalty_weight:
            n = ops.shape(real)[0]
            image_critic = lambda x: self.score(self.discriminator, x, False)  # noqa: E731
            code_critic = lambda c: self.score(self.code_discriminator, c, False)  # noqa: E731
            eps_image = keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator)
            eps_code = keras.random.uniform((n, 1), seed=self.seed_generator)
            image_gp = 0.5 * (nets.gradient_penalty(image_critic, real, recon, eps_image, input_gradient)
                              + nets.gradient_penalty(image_critic, real, samples, eps_image, input_gradient))
            code_gp = nets.gradient_penalty(code_critic, z, codes, eps_code, input_gradient)
            d_loss = d_loss + self.penalty_weight * image_gp
            c_loss = c_loss + self.penalty_weight * code_gp
            terms["gp"] = image_gp
        terms["d_loss"], terms["c_loss"] = d_loss, c_loss
        return {"discriminator": d_loss, "code_discriminator": c_loss}, terms

    def call(self, images, training=False):
        """A [0, 1] batch: its codes, reconstructions in [0, 1], and both discriminators' scores."""
        x = self.to_model_range(images)
        codes = self.encoder(x, training=training)
        return {"z": codes, "reconstruction": self.to_unit_range(self.generator(codes, training=training)),
                "score": self.discriminator(x, training=training),
                "code_score": self.code_discriminator(codes, training=training)}

    # --- what zoo's grids, zoo sample and zoo eval use ---

    def encode(self, images):
        """``(z, log_var)`` for a batch of [0, 1] images, shaped like a VAE's
        posterior parameters: the code, and the constant :data:`POINT_MASS_LOG_VAR`."""
        x = self.to_model_range(ops.convert_to_tensor(np.asarray(images, np.float32)))
        z = ops.convert_to_numpy(self.encoder(x, training=False)).astype(np.float32)
        return z, np.full_like(z, POINT_MASS_LOG_VAR)
