"""The VAE-GAN architecture (Larsen et al. 2016, Table 1, scaled to 28x28).

This module only builds the three networks; training, sampling and saving
are shared (:mod:`zoo_vaegan.base`). ``__init__`` takes primitive
hyper-parameters only, so ``from_config(get_config())`` rebuilds the same model.
"""

from __future__ import annotations

from dataclasses import asdict

import keras
import numpy as np
from keras import layers

from zoo_core.layers import BatchNormalization, Conv2DTranspose
from zoo_core.multinet import NetworkOptimizers

from .base import BaseVAEGAN

PACKAGE = "zoo_vaegan"

NORMS = ("none", "layer", "batch")


@keras.saving.register_keras_serializable(package=PACKAGE, name="NetworkOptimizers")
class _SavedByZooVAEGAN01(NetworkOptimizers):
    """Reads the optimizers of a model saved by zoo-vaegan 0.1 (its own
    ``NetworkOptimizers``: ``encoder``, ``decoder``, ``discriminator``), whose
    weights sit where zoo's :class:`NetworkOptimizers` keeps them."""

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "optimizers" not in config:
            config = {"name": config.get("name"),
                      "optimizers": {k: config[k] for k in ("encoder", "decoder", "discriminator")}}
        return NetworkOptimizers.from_config(config, custom_objects)


def build(cls, config, data, loss):
    """Make a model of ``cls`` from a config dataclass and attach its GAN loss."""
    for method in ("discriminator", "generator"):
        if not callable(getattr(loss, method, None)):
            raise ValueError(
                f"the loss object {loss!r} has no {method}() method, so it does not implement "
                "the 'gan' loss interface the VAE-GAN's adversarial term needs"
            )
    if getattr(loss, "gradient_penalty", 0) and config.discriminator_norm == "batch":
        raise ValueError(
            f"the loss {loss!r} adds a gradient penalty, which is computed per image and is not "
            "defined for a discriminator with batch norm; use --set discriminator_norm=layer (or none)"
        )
    model = cls(image_shape=tuple(data.image_shape), **asdict(config))
    model.loss_fn = loss
    return model


def _norm(kind, axis):
    if kind == "batch":
        return BatchNormalization(momentum=0.9)
    if kind == "layer":
        return layers.LayerNormalization(axis=axis)
    return None


@keras.saving.register_keras_serializable(package=PACKAGE)
class VAEGAN(BaseVAEGAN):
    """Conv encoder (batch norm, ReLU) to a diagonal Gaussian posterior; a
    DCGAN-style decoder (batch norm, ReLU, tanh out); a strided-conv
    discriminator (leaky ReLU) that also returns one conv's output as the
    feature space of the reconstruction term."""

    def __init__(self, image_shape, encoder_filters=(32, 64), encoder_units=256, decoder_filters=(64, 32),
                 discriminator_filters=(32, 64, 128), discriminator_units=256, kernel_size=5,
                 discriminator_norm="layer", **kwargs):
        super().__init__(image_shape, **kwargs)
        self.encoder_filters = tuple(int(f) for f in encoder_filters)
        self.encoder_units = int(encoder_units)
        self.decoder_filters = tuple(int(f) for f in decoder_filters)
        self.discriminator_filters = tuple(int(f) for f in discriminator_filters)
        self.discriminator_units = int(discriminator_units)
        self.kernel_size = int(kernel_size)
        if discriminator_norm not in NORMS:
            raise ValueError(f"discriminator_norm must be one of {', '.join(NORMS)}, got {discriminator_norm!r}")
        self.discriminator_norm = discriminator_norm
        n = len(self.discriminator_filters)
        if not (1 <= self.feature_layer <= n or -n <= self.feature_layer <= -1):
            raise ValueError(f"feature_layer must be 1..{n} or -1..-{n} for {n} discriminator convs, "
                             f"got {self.feature_layer}")
        height, width, _ = self.image_shape
        factor = 2 ** len(self.decoder_filters)
        if height % factor or width % factor:
            raise ValueError(
                f"image size {height}x{width} must be divisible by {factor} for "
                f"{len(self.decoder_filters)} stride-2 decoder layers; resize with "
                f"--set image_size=N or change decoder_filters"
            )
        self._build_networks()

    def make_encoder(self):
        x = keras.Input(self.image_shape, name="images")
        h = x
        for filters in self.encoder_filters:
            # A bias before batch norm would be cancelled by it.
            h = layers.Conv2D(filters, self.kernel_size, strides=2, padding="same", use_bias=False)(h)
            h = layers.ReLU()(BatchNormalization(momentum=0.9)(h))
        h = layers.Dense(self.encoder_units, use_bias=False)(layers.Flatten()(h))
        h = layers.ReLU()(BatchNormalization(momentum=0.9)(h))
        z_mean = layers.Dense(self.latent_dim, name="z_mean")(h)
        z_log_var = layers.Dense(self.latent_dim, name="z_log_var")(h)
        return keras.Model(x, [z_mean, z_log_var], name="encoder")

    def make_decoder(self):
        height, width, channels = self.image_shape
        factor = 2 ** len(self.decoder_filters)
        small = (height // factor, width // factor, self.decoder_filters[0])
        z = keras.Input((self.latent_dim,), name="z")
        h = layers.Dense(int(np.prod(small)), use_bias=False)(z)
        h = layers.ReLU()(BatchNormalization(momentum=0.9)(layers.Reshape(small)(h)))
        for filters in self.decoder_filters[1:]:
            h = Conv2DTranspose(filters, self.kernel_size, strides=2, padding="same", use_bias=False)(h)
            h = layers.ReLU()(BatchNormalization(momentum=0.9)(h))
        images = Conv2DTranspose(channels, self.kernel_size, strides=2, padding="same", activation="tanh",
                                        name="images")(h)
        return keras.Model(z, images, name="decoder")

    def make_discriminator(self):
        x = keras.Input(self.image_shape, name="images")
        h, outputs = x, []
        for i, filters in enumerate(self.discriminator_filters):
            norm = _norm(self.discriminator_norm if i > 0 else "none", axis=(-3, -2, -1))
            h = layers.Conv2D(filters, self.kernel_size, strides=2, padding="same", use_bias=norm is None)(h)
            h = layers.LeakyReLU(0.2)(norm(h) if norm is not None else h)
            outputs.append(h)
        features = outputs[self.feature_layer - 1 if self.feature_layer > 0 else self.feature_layer]
        norm = _norm(self.discriminator_norm, axis=-1)
        h = layers.Dense(self.discriminator_units, use_bias=norm is None)(layers.Flatten()(h))
        h = layers.LeakyReLU(0.2)(norm(h) if norm is not None else h)
        score = layers.Dense(1, name="score")(h)
        return keras.Model(x, [score, features], name="discriminator")

    def get_config(self):
        return {
            **super().get_config(),
            "encoder_filters": list(self.encoder_filters),
            "encoder_units": self.encoder_units,
            "decoder_filters": list(self.decoder_filters),
            "discriminator_filters": list(self.discriminator_filters),
            "discriminator_units": self.discriminator_units,
            "kernel_size": self.kernel_size,
            "discriminator_norm": self.discriminator_norm,
        }
