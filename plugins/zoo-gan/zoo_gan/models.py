"""The GAN architectures: MLP GAN, DCGAN, WGAN-GP and conditional DCGAN.

Each class only builds its two networks; training, sampling and saving are
shared (:mod:`zoo_gan.base`). ``__init__`` takes primitive hyper-parameters
only, so ``from_config(get_config())`` rebuilds the same model.
"""

from __future__ import annotations

from dataclasses import asdict

import keras
import numpy as np
from keras import layers

from zoo_core.layers import BatchNormalization, Conv2DTranspose
from zoo_core.multinet import NetworkOptimizers

from .base import GAN

PACKAGE = "zoo_gan"


def build(cls, config, data, loss):
    """Make a model of ``cls`` from a config dataclass and attach its loss."""
    options = asdict(config)
    for method in ("discriminator", "generator"):
        if not callable(getattr(loss, method, None)):
            raise ValueError(
                f"the loss object {loss!r} has no {method}() method, so it does not implement "
                "the 'gan' loss interface (see zoo_gan.losses)"
            )
    if getattr(loss, "gradient_penalty", 0) and options.get("discriminator_norm") == "batch":
        raise ValueError(
            f"the loss {loss!r} adds a gradient penalty, which is computed per image and is not "
            "defined for a discriminator with batch norm (Gulrajani et al. 2017, sec. 4); "
            "use --set discriminator_norm=layer (or none), or the wgan-gp model"
        )
    if cls.conditional:
        if not data.num_classes:
            raise ValueError(
                "this model is class-conditional and needs the number of classes: "
                "use a labelled data set (or --num-classes N with zoo build)"
            )
        options["num_classes"] = int(data.num_classes)
    model = cls(image_shape=tuple(data.image_shape), **options)
    model.loss_fn = loss
    return model


@keras.saving.register_keras_serializable(package=PACKAGE, name="AdversarialOptimizer")
class _SavedByZooGAN01(NetworkOptimizers):
    """Reads the optimizers of a model saved by zoo-gan 0.1 (its
    ``AdversarialOptimizer``: ``generator`` and ``discriminator``), whose
    weights sit where :class:`NetworkOptimizers` keeps them."""

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "optimizers" not in config:
            config = {"name": config.get("name"),
                      "optimizers": {k: config[k] for k in ("generator", "discriminator")}}
        return NetworkOptimizers.from_config(config, custom_objects)


def _init():
    # Radford et al.: all weights from N(0, 0.02).
    return keras.initializers.RandomNormal(stddev=0.02)


# === Goodfellow et al. (2014) ===


@keras.saving.register_keras_serializable(package=PACKAGE)
class MLPGAN(GAN):
    """Dense generator (ReLU) and discriminator (leaky ReLU, dropout) on flattened pixels."""

    def __init__(self, image_shape, generator_units=(256, 512, 1024), discriminator_units=(1024, 512, 256),
                 dropout=0.3, output_activation="tanh", **kwargs):
        super().__init__(image_shape, **kwargs)
        self.generator_units = tuple(int(u) for u in generator_units)
        self.discriminator_units = tuple(int(u) for u in discriminator_units)
        self.dropout = float(dropout)
        if output_activation not in ("tanh", "sigmoid"):
            raise ValueError(f"output_activation must be 'tanh' or 'sigmoid', got {output_activation!r}")
        self.output_activation = output_activation
        self._build_networks()

    def make_generator(self):
        z = keras.Input((self.latent_dim,), name="z")
        h = z
        for units in self.generator_units:
            h = layers.Dense(units, activation="relu")(h)
        h = layers.Dense(int(np.prod(self.image_shape)), activation=self.output_activation)(h)
        return keras.Model(z, layers.Reshape(self.image_shape)(h), name="generator")

    def make_discriminator(self):
        x = keras.Input(self.image_shape, name="images")
        h = layers.Flatten()(x)
        for units in self.discriminator_units:
            h = layers.LeakyReLU(0.2)(layers.Dense(units)(h))
            if self.dropout:
                h = layers.Dropout(self.dropout)(h)
        return keras.Model(x, layers.Dense(1, name="score")(h), name="discriminator")

    def get_config(self):
        return {
            **super().get_config(),
            "generator_units": list(self.generator_units),
            "discriminator_units": list(self.discriminator_units),
            "dropout": self.dropout,
            "output_activation": self.output_activation,
        }


# === Radford et al. (2016) ===


@keras.saving.register_keras_serializable(package=PACKAGE)
class DCGAN(GAN):
    """Transposed-conv generator with batch norm and ReLU, tanh output;
    strided-conv discriminator with leaky ReLU and (configurable) norm."""

    def __init__(self, image_shape, generator_filters=(128, 64), discriminator_filters=(64, 128), kernel_size=4,
                 discriminator_norm="batch", **kwargs):
        super().__init__(image_shape, **kwargs)
        self.generator_filters = tuple(int(f) for f in generator_filters)
        self.discriminator_filters = tuple(int(f) for f in discriminator_filters)
        self.kernel_size = int(kernel_size)
        if discriminator_norm not in ("batch", "layer", "none"):
            raise ValueError(f"discriminator_norm must be 'batch', 'layer' or 'none', got {discriminator_norm!r}")
        self.discriminator_norm = discriminator_norm
        height, width, _ = self.image_shape
        factor = 2 ** len(self.generator_filters)
        if height % factor or width % factor:
            raise ValueError(
                f"image size {height}x{width} must be divisible by {factor} for "
                f"{len(self.generator_filters)} stride-2 generator layers; resize with "
                f"--set image_size=N or change generator_filters"
            )
        self._build_networks()

    # Conditional subclasses feed labels in through these two hooks.
    def _generator_inputs(self):
        z = keras.Input((self.latent_dim,), name="z")
        return z, z

    def _discriminator_inputs(self):
        x = keras.Input(self.image_shape, name="images")
        return x, x

    def make_generator(self):
        height, width, channels = self.image_shape
        factor = 2 ** len(self.generator_filters)
        inputs, h = self._generator_inputs()
        small = (height // factor, width // factor, self.generator_filters[0])
        h = layers.Dense(int(np.prod(small)), use_bias=False, kernel_initializer=_init())(h)
        h = layers.Reshape(small)(h)
        h = layers.ReLU()(BatchNormalization(momentum=0.9)(h))
        for filters in self.generator_filters[1:]:
            h = Conv2DTranspose(filters, self.kernel_size, strides=2, padding="same", use_bias=False,
                                       kernel_initializer=_init())(h)
            h = layers.ReLU()(BatchNormalization(momentum=0.9)(h))
        images = Conv2DTranspose(channels, self.kernel_size, strides=2, padding="same", activation="tanh",
                                        kernel_initializer=_init(), name="images")(h)
        return keras.Model(inputs, images, name="generator")

    def make_discriminator(self):
        inputs, h = self._discriminator_inputs()
        for i, filters in enumerate(self.discriminator_filters):
            norm = self.discriminator_norm if i > 0 else "none"  # never on the first layer (Radford et al.)
            # A bias before a normalisation would be cancelled by it.
            h = layers.Conv2D(filters, self.kernel_size, strides=2, padding="same", use_bias=norm == "none",
                              kernel_initializer=_init())(h)
            if norm == "batch":
                h = BatchNormalization(momentum=0.9)(h)
            elif norm == "layer":
                h = layers.LayerNormalization(axis=(-3, -2, -1))(h)
            h = layers.LeakyReLU(0.2)(h)
        score = layers.Dense(1, kernel_initializer=_init(), name="score")(layers.Flatten()(h))
        return keras.Model(inputs, score, name="discriminator")

    def get_config(self):
        return {
            **super().get_config(),
            "generator_filters": list(self.generator_filters),
            "discriminator_filters": list(self.discriminator_filters),
            "kernel_size": self.kernel_size,
            "discriminator_norm": self.discriminator_norm,
        }


# === Gulrajani et al. (2017) ===


@keras.saving.register_keras_serializable(package=PACKAGE)
class WGANGP(DCGAN):
    """The DCGAN generator against a critic without batch norm, ``n_critic``
    critic updates per generator update; pair with the ``wasserstein`` loss."""

    def __init__(self, image_shape, n_critic=5, discriminator_norm="none", **kwargs):
        super().__init__(image_shape, n_critic=n_critic, discriminator_norm=discriminator_norm, **kwargs)


# === Conditional (Mirza & Osindero 2014) ===


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConditionalGAN(DCGAN):
    """The DCGAN with labels in: the generator sees z next to a label
    embedding, the discriminator the image next to a learned label plane."""

    conditional = True

    def __init__(self, image_shape, num_classes=10, embedding_dim=50, **kwargs):
        # Set before DCGAN.__init__ builds the networks; plain ints, not state.
        self.num_classes = int(num_classes)
        self.embedding_dim = int(embedding_dim)
        super().__init__(image_shape, **kwargs)

    def _generator_inputs(self):
        z = keras.Input((self.latent_dim,), name="z")
        labels = keras.Input((1,), dtype="int32", name="labels")
        embedded = layers.Flatten()(layers.Embedding(self.num_classes, self.embedding_dim)(labels))
        return [z, labels], layers.Concatenate()([z, embedded])

    def _discriminator_inputs(self):
        height, width, _ = self.image_shape
        x = keras.Input(self.image_shape, name="images")
        labels = keras.Input((1,), dtype="int32", name="labels")
        plane = layers.Reshape((height, width, 1))(layers.Embedding(self.num_classes, height * width)(labels))
        return [x, labels], layers.Concatenate()([x, plane])

    def sample_grid(self, grid_size, seed=None):
        """One row per class, ``grid_size`` columns; column j uses the same noise in every row."""
        columns = int(grid_size)
        z = keras.ops.convert_to_numpy(keras.random.normal((columns, self.latent_dim), seed=seed))
        labels = np.repeat(np.arange(self.num_classes), columns)
        noise = np.tile(z, (self.num_classes, 1))
        images = self.generator([noise, labels.reshape(-1, 1).astype("int32")], training=False)
        images = np.clip(keras.ops.convert_to_numpy(self.to_unit_range(images)), 0.0, 1.0).astype(np.float32)
        return images, columns

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "embedding_dim": self.embedding_dim}
