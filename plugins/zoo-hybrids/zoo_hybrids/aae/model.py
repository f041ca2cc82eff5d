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

``labelled-aae`` is the paper's section 2.3: the prior is a mixture with one
Gaussian per class, and the discriminator sees a one-hot label beside each
code: prior draws with the class of their component, codes E(x) with the
class of x. The encoder then maps each class onto its own component, and
generating from a component gives images of its class. (The paper's extra
"unlabelled" class for semi-supervised data is not offered: every image
must have a label.)

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


def build_labelled(config, data, loss):
    """A ``labelled-aae`` from a :class:`~zoo_hybrids.aae.LabelledAAEConfig`: one prior component per class."""
    if not data.num_classes:
        raise ValueError("labelled-aae puts one prior component per class and needs the number of classes: "
                         "use a labelled data set")
    model = AdversarialAutoencoder(image_shape=tuple(data.image_shape), num_classes=int(data.num_classes),
                                   **asdict(config))
    model.loss_fn = nets.check_gan_loss(loss, "the adversarial autoencoder")
    return model


def mixture_means(num_classes, latent_dim, radius):
    """One component mean per class, ``radius`` from the origin: along the
    first ``num_classes`` axes when the code has that many dimensions, else
    evenly spaced on a circle in the first two (on a line for a 1-D code)."""
    means = np.zeros((num_classes, latent_dim), np.float32)
    if latent_dim >= num_classes:
        means[np.arange(num_classes), np.arange(num_classes)] = radius
    elif latent_dim >= 2:
        angles = 2.0 * np.pi * np.arange(num_classes) / num_classes
        means[:, 0], means[:, 1] = radius * np.cos(angles), radius * np.sin(angles)
    else:
        means[:, 0] = np.linspace(-radius, radius, num_classes)
    return means


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
    config_keys = ("image_shape", "latent_dim", "encoder_filters", "encoder_units", "decoder_filters",
                   "kernel_size", "discriminator_units", "reconstruction", "encoder_learning_rate",
                   "decoder_learning_rate", "discriminator_learning_rate", "generator_learning_rate",
                   "num_classes", "mixture_radius", "mixture_std", "seed")

    def image_network(self):
        return self.decoder

    def __init__(self, image_shape, latent_dim=8, encoder_filters=(32, 64), encoder_units=256,
                 decoder_filters=(64, 32), kernel_size=4, discriminator_units=(256, 256), reconstruction="bce",
                 encoder_learning_rate=None, decoder_learning_rate=None, discriminator_learning_rate=None,
                 generator_learning_rate=None, num_classes=None, mixture_radius=3.0, mixture_std=0.5, seed=None,
                 **kwargs):
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
        #: With a number of classes: the label-conditioned mixture prior (``labelled-aae``).
        self.num_classes = int(num_classes) if num_classes else None
        self.mixture_radius, self.mixture_std = float(mixture_radius), float(mixture_std)
        if self.num_classes:
            self.means = mixture_means(self.num_classes, self.latent_dim, self.mixture_radius)
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
        # With labels, the discriminator sees the code and its class's one-hot vector side by side.
        width = self.latent_dim + (self.num_classes or 0)
        z = keras.Input((width,), name="z")
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

    @property
    def conditional(self) -> bool:
        return bool(self.num_classes)

    # --- labels ---

    def prepare_batch(self, data):
        """A fit batch -> images (and, with a mixture prior, their int labels)."""
        if not self.conditional:
            return super().prepare_batch(data)
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.to_model_range(x), ops.reshape(ops.cast(y, "int32"), (-1,))

    def _images(self, batch):
        return batch[0] if self.conditional else batch

    def judged(self, z, labels):
        """The discriminator's input: the code, beside its class's one-hot vector when labelled."""
        if labels is None:
            return z
        return ops.concatenate([nets.f32(z), ops.one_hot(labels, self.num_classes, dtype="float32")], axis=-1)

    def prior_for(self, labels, noise):
        """Prior draws from standard normal ``noise``: the noise itself, or with
        labels their classes' components."""
        if labels is None:
            return noise
        return ops.take(ops.convert_to_tensor(self.means), labels, axis=0) + self.mixture_std * noise

    # --- the phases ---

    def reconstruction_phase(self, batch, training=True):
        images = self._images(batch)
        reconstructions = self.decoder(self.encoder(images, training=training), training=training)
        loss = reconstruction_error(self.reconstruction, images, reconstructions)
        mse = ops.mean(ops.square(nets.f32(images) - nets.f32(reconstructions)))
        return loss, {"reconstruction": loss, "mse": mse}

    def with_codes(self, batch, training=True):
        """Prior draws and codes for the discriminator (no gradient flows through
        prepare); with labels, the draws come from the batch's classes' components."""
        images, labels = (batch if self.conditional else (batch, None))
        z_prior = self.prior_for(labels, self.prior(ops.shape(images)[0]))
        return self.judged(z_prior, labels), self.judged(self.encoder(images, training=training), labels)

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

    def generator_phase(self, batch, training=True):
        images, labels = (batch if self.conditional else (batch, None))
        codes = self.judged(self.encoder(images, training=training), labels)
        loss = self._loss().generator(nets.f32(self.discriminator(codes, training=training)))
        return loss, {"g_loss": loss}

    def call(self, images, training=False):
        """A [0, 1] batch: its codes and their reconstructions (and, unlabelled,
        the discriminator's scores of the codes)."""
        z = self.encoder(images, training=training)
        out = {"z": z, "reconstruction": self.decoder(z, training=training)}
        if not self.conditional:
            out["score"] = self.discriminator(z, training=training)
        return out

    # --- what zoo's grids, zoo sample and zoo eval use ---

    def generate(self, num_samples, seed=None, labels=None):
        """Images of ``num_samples`` prior draws; float32 in [0, 1]. With a
        mixture prior, ``labels`` (N,) picks each draw's component (default:
        the classes in turn)."""
        if not self.conditional:
            return super().generate(num_samples, seed=seed)
        n = int(num_samples)
        labels = np.arange(n) % self.num_classes if labels is None else np.asarray(labels).reshape(-1)
        if len(labels) != n or labels.min(initial=0) < 0 or labels.max(initial=0) >= self.num_classes:
            raise ValueError(f"labels must be {n} ints in [0, {self.num_classes})")
        noise = keras.random.normal((n, self.latent_dim), seed=seed)
        z = self.prior_for(ops.convert_to_tensor(labels.astype(np.int32)), noise)
        return self.decode(ops.convert_to_numpy(z))

    def sample_grid(self, grid_size, seed=None):
        """Unlabelled: ``grid_size`` squared samples. Labelled: one row per
        class, column j with the same noise in every row."""
        columns = int(grid_size)
        if not self.conditional:
            return self.generate(columns * columns, seed=seed), columns
        noise = ops.convert_to_numpy(keras.random.normal((columns, self.latent_dim), seed=seed))
        z = self.means.repeat(columns, axis=0) + self.mixture_std * np.tile(noise, (self.num_classes, 1))
        return self.decode(z), columns

    def encode(self, images):
        """``(z, log_var)`` for a batch of [0, 1] images, shaped like a VAE's
        posterior parameters: the deterministic code, and the constant
        :data:`POINT_MASS_LOG_VAR` (the code is a point mass)."""
        z = ops.convert_to_numpy(self.encoder(ops.convert_to_tensor(np.asarray(images, np.float32)),
                                              training=False)).astype(np.float32)
        return z, np.full_like(z, POINT_MASS_LOG_VAR)
