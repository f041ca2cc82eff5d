"""VAE models on Keras 3, backend-neutral (``keras.ops``, ``SeedGenerator``).

One optimizer suffices, so the models override ``compute_loss`` and let
Keras' own ``train_step`` run on TensorFlow, JAX and PyTorch alike.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from zoo_core.layers import Conv2DTranspose
from zoo_core.multinet import replica_share

PACKAGE = "zoo_vae"


def build(cls, config, data, loss):
    """Make a model of ``cls`` from a config dataclass and attach its loss."""
    from dataclasses import asdict

    model = cls(image_shape=tuple(data.image_shape), **asdict(config))
    model.loss_fn = loss
    model(ops.zeros((1, *data.image_shape)))  # create the weights
    return model


# === Base ===


class BaseVAE(keras.Model):
    """A VAE: ``encoder`` maps images to (z_mean, z_log_var); ``decoder`` maps
    z to pixel logits. Subclasses build both in ``__init__``."""

    def __init__(self, image_shape, latent_dim, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.latent_dim = int(latent_dim)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        #: The loss object (see ``zoo_vae.losses.ELBO``); not saved with the model.
        self.loss_fn = None

    def call(self, x, training=False):
        z_mean, z_log_var = self.encoder(x, training=training)
        eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator)
        z = z_mean + ops.exp(0.5 * z_log_var) * eps  # the reparameterisation trick
        logits = self.decoder(z, training=training)
        return {"logits": logits, "z_mean": z_mean, "z_log_var": z_log_var, "z": z}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self.loss_fn is None:
            raise RuntimeError(
                "this VAE has no loss attached; train it with `zoo train` or set model.loss_fn"
            )
        if y_pred is None:
            y_pred = self(x, training=training)
        terms = self.loss_fn(x, y_pred)
        self.reconstruction_tracker.update_state(terms["reconstruction"])
        self.kl_tracker.update_state(terms["kl"])
        return replica_share(terms["loss"])  # this replica's part, in a data-parallel run

    # --- what zoo's image grids and later tools use ---

    def generate(self, num_samples, seed=None):
        """Decode ``num_samples`` draws from the prior; float32 images in [0, 1]."""
        z = keras.random.normal((int(num_samples), self.latent_dim), seed=seed)
        return self.decode(z)

    def decode(self, z):
        logits = self.decoder(z, training=False)
        return np.asarray(ops.convert_to_numpy(ops.sigmoid(ops.cast(logits, "float32"))))

    def encode(self, images):
        """The posterior's mean and log-variance for a batch of images."""
        z_mean, z_log_var = self.encoder(ops.convert_to_tensor(images), training=False)
        return ops.convert_to_numpy(z_mean), ops.convert_to_numpy(z_log_var)

    def reconstruct(self, images):
        """Decode the posterior mean of each image; float32 in [0, 1]."""
        z_mean, _ = self.encoder(ops.convert_to_tensor(images), training=False)
        return self.decode(z_mean)

    # --- likelihood, for zoo eval (see zoo_core.evaluation for the protocol) ---

    @property
    def likelihood(self):
        """The decoder's p(x|z) family, from the attached loss (e.g. ``"bernoulli"``); None if no loss."""
        return getattr(self.loss_fn, "likelihood", None)

    def log_importance_weights(self, images, num_samples, seed=None):
        """The terms of ``log w = log p(x|z) + log p(z) - log q(z|x)`` for
        ``num_samples`` draws ``z ~ q(z|x)`` per image.

        ``mean_k log w`` estimates the ELBO (beta = 1, whatever beta trained the
        model); ``log mean_k exp(log w)`` is the IWAE bound on ``log p(x)``
        (Burda et al. 2016). p(z) = N(0, I); q(z|x) the encoder's diagonal
        Gaussian; p(x|z) the attached loss's ``log_likelihood``. The caller
        keeps ``len(images) * num_samples`` decodes small enough for memory.

        Args:
            images: ``(N, H, W, C)`` float32 in [0, 1] (binarised by the caller if wanted).
            num_samples: draws per image (k).
            seed: an int fixes the draws.

        Returns:
            ``{"log_px_z", "log_pz", "log_qz_x"}``: float32 numpy arrays shaped ``(N, k)``.
        """
        log_likelihood = getattr(self.loss_fn, "log_likelihood", None)
        if log_likelihood is None:
            raise ValueError("this VAE has no likelihood attached (model.loss_fn with log_likelihood); "
                             "rebuild the loss from the run's config")
        from zoo_core.evaluation.likelihood import diagonal_gaussian_terms

        return diagonal_gaussian_terms(self.encoder, self.decoder, log_likelihood, images, num_samples, seed)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_shape": list(self.image_shape),
            "latent_dim": self.latent_dim,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _latent_heads(h, latent_dim):
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    return z_mean, z_log_var


# === Models ===


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConvVAE(BaseVAE):
    """The keras-io convolutional VAE, for any image size divisible by
    2 ** len(filters)."""

    def __init__(self, image_shape, latent_dim=2, filters=(32, 64), dense_units=16, kernel_size=3, **kwargs):
        super().__init__(image_shape, latent_dim, **kwargs)
        self.filters = tuple(int(f) for f in filters)
        self.dense_units = int(dense_units)
        self.kernel_size = int(kernel_size)
        height, width, channels = self.image_shape
        factor = 2 ** len(self.filters)
        if height % factor or width % factor:
            raise ValueError(
                f"image size {height}x{width} must be divisible by {factor} for "
                f"{len(self.filters)} stride-2 conv layers; resize with --set image_size=N "
                f"or use fewer filters"
            )

        inputs = keras.Input(self.image_shape)
        h = inputs
        for f in self.filters:
            h = layers.Conv2D(f, self.kernel_size, strides=2, padding="same", activation="relu")(h)
        h = layers.Flatten()(h)
        h = layers.Dense(self.dense_units, activation="relu")(h)
        self.encoder = keras.Model(inputs, _latent_heads(h, self.latent_dim), name="encoder")

        small = (height // factor, width // factor, self.filters[-1])
        z = keras.Input((self.latent_dim,))
        h = layers.Dense(int(np.prod(small)), activation="relu")(z)
        h = layers.Reshape(small)(h)
        for f in reversed(self.filters):
            h = Conv2DTranspose(f, self.kernel_size, strides=2, padding="same", activation="relu")(h)
        logits = Conv2DTranspose(channels, self.kernel_size, padding="same", name="logits")(h)
        self.decoder = keras.Model(z, logits, name="decoder")

    def get_config(self):
        return {
            **super().get_config(),
            "filters": list(self.filters),
            "dense_units": self.dense_units,
            "kernel_size": self.kernel_size,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class MLPVAE(BaseVAE):
    """Kingma & Welling's MLP VAE on flattened pixels."""

    def __init__(self, image_shape, latent_dim=20, hidden_units=(500,), activation="tanh", **kwargs):
        super().__init__(image_shape, latent_dim, **kwargs)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        pixels = int(np.prod(self.image_shape))

        inputs = keras.Input(self.image_shape)
        h = layers.Flatten()(inputs)
        for units in self.hidden_units:
            h = layers.Dense(units, activation=activation)(h)
        self.encoder = keras.Model(inputs, _latent_heads(h, self.latent_dim), name="encoder")

        z = keras.Input((self.latent_dim,))
        h = z
        for units in reversed(self.hidden_units):
            h = layers.Dense(units, activation=activation)(h)
        logits = layers.Reshape(self.image_shape, name="logits")(layers.Dense(pixels)(h))
        self.decoder = keras.Model(z, logits, name="decoder")

    def get_config(self):
        return {**super().get_config(), "hidden_units": list(self.hidden_units), "activation": self.activation}
