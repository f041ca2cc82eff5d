"""A conditional VAE on Keras 3, backend-neutral.

q(z|x, y) and p(x|z, y), both conditioned on the class label y: the encoder
need not spend z on the digit's identity, so z holds its style and the label
picks the digit (Sohn et al. 2015).

zoo trains class-conditional models with ``fit(x=images, y=labels)``, and
Keras hands only ``x`` to ``call``. So ``call`` runs the label-free part, the
encoder's trunk on the pixels, and ``compute_loss`` (which gets ``y``) does
the rest: the label-conditioned posterior heads, the draw of z, the decoder.
One optimizer suffices, so Keras' own ``train_step`` runs it on TensorFlow,
JAX and PyTorch alike.
"""

from __future__ import annotations

from dataclasses import asdict

import keras
import numpy as np
from keras import layers, ops

from zoo_core.multinet import replica_share

PACKAGE = "zoo_plugin_example"


def build(config, data, loss):
    """Make a CVAE for ``data`` (which must be labelled) and attach its loss."""
    if not data.num_classes:
        raise ValueError("cvae is class-conditional: use a labelled data set (e.g. digits, mnist)")
    model = ConditionalVAE(image_shape=tuple(data.image_shape), num_classes=int(data.num_classes), **asdict(config))
    model.loss_fn = loss
    return model


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConditionalVAE(keras.Model):
    """MLP encoder ``[x, one_hot(y)] -> (z_mean, z_log_var)``; MLP decoder ``[z, one_hot(y)] -> pixel logits``.

    For zoo's tools (see ``zoo_core.evaluation``) it is ``conditional``: its
    ``generate`` takes ``labels``. Its encode/decode/reconstruct take labels
    too, so they carry a ``_labelled`` suffix rather than the protocol's names.
    """

    conditional = True

    def __init__(self, image_shape, num_classes, latent_dim=2, hidden_units=(256,), seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.num_classes = int(num_classes)
        self.latent_dim = int(latent_dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        #: The loss object ("vae" interface); not saved with the model.
        self.loss_fn = None

        images = keras.Input(self.image_shape)
        h = layers.Flatten()(images)
        for units in self.hidden_units:
            h = layers.Dense(units, activation="relu")(h)
        self.encoder_trunk = keras.Model(images, h, name="encoder_trunk")

        # The label joins the encoder after its trunk: q(z|x, y) from the pixel features and y.
        features = keras.Input((self.hidden_units[-1],), name="features")
        label = keras.Input((self.num_classes,), name="one_hot_label")
        h = layers.Concatenate()([features, label])
        heads = [layers.Dense(self.latent_dim, name="z_mean")(h), layers.Dense(self.latent_dim, name="z_log_var")(h)]
        self.encoder_heads = keras.Model([features, label], heads, name="encoder_heads")

        z = keras.Input((self.latent_dim,), name="z")
        label = keras.Input((self.num_classes,), name="one_hot_label")
        h = layers.Concatenate()([z, label])
        for units in reversed(self.hidden_units):
            h = layers.Dense(units, activation="relu")(h)
        logits = layers.Reshape(self.image_shape)(layers.Dense(int(np.prod(self.image_shape)))(h))
        self.decoder = keras.Model([z, label], logits, name="decoder")
        # All three parts are functional, so every weight exists now; nothing
        # is left for a first call to build.
        self.built = True

    def call(self, x, training=False):
        """The label-free part of the encoder (see the module docstring)."""
        return self.encoder_trunk(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self.loss_fn is None:
            raise RuntimeError("this CVAE has no loss attached; train it with `zoo train` or set model.loss_fn")
        if y is None:
            raise ValueError("a conditional VAE trains on labelled data: fit(x=images, y=labels)")
        features = self(x, training=training) if y_pred is None else y_pred
        label = self._one_hot(y)
        z_mean, z_log_var = self.encoder_heads([features, label], training=training)
        eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator)
        z = z_mean + ops.exp(0.5 * z_log_var) * eps  # the reparameterisation trick
        logits = self.decoder([z, label], training=training)
        terms = self.loss_fn(x, {"logits": logits, "z_mean": z_mean, "z_log_var": z_log_var, "z": z})
        self.reconstruction_tracker.update_state(terms["reconstruction"])
        self.kl_tracker.update_state(terms["kl"])
        # In a data-parallel run (--distribute), this replica's share of the loss.
        return replica_share(terms["loss"])

    def _one_hot(self, labels):
        labels = ops.reshape(ops.cast(ops.convert_to_tensor(labels), "int32"), (-1,))
        return ops.one_hot(labels, self.num_classes)

    # --- what zoo's image grids and tools use ---

    def generate(self, num_samples, seed=None, labels=None):
        """Decode ``num_samples`` draws from N(0, I) for ``labels`` (default:
        0, 1, 2, ... cycling through the classes); float32 images in [0, 1]."""
        n = int(num_samples)
        labels = np.arange(n) % self.num_classes if labels is None else np.asarray(labels)
        z = keras.random.normal((n, self.latent_dim), seed=seed)
        return self.decode_labelled(z, labels)

    def sample_grid(self, grid_size, seed=None):
        """One row per class, ``grid_size`` columns; column j uses the same z in every row."""
        columns = int(grid_size)
        z = ops.convert_to_numpy(keras.random.normal((columns, self.latent_dim), seed=seed))
        labels = np.repeat(np.arange(self.num_classes), columns)
        return self.decode_labelled(np.tile(z, (self.num_classes, 1)), labels), columns

    def decode_labelled(self, z, labels):
        logits = self.decoder([ops.convert_to_tensor(z), self._one_hot(labels)], training=False)
        return np.asarray(ops.convert_to_numpy(ops.sigmoid(ops.cast(logits, "float32"))), np.float32)

    def encode_labelled(self, images, labels):
        """The posterior's mean and log-variance for labelled images."""
        features = self.encoder_trunk(ops.convert_to_tensor(images), training=False)
        z_mean, z_log_var = self.encoder_heads([features, self._one_hot(labels)], training=False)
        return ops.convert_to_numpy(z_mean), ops.convert_to_numpy(z_log_var)

    def reconstruct_labelled(self, images, labels):
        """Decode each image's posterior mean with its own label; float32 in [0, 1].
        (Not ``reconstruct``: zoo's grids would call that without labels.)"""
        z_mean, _ = self.encode_labelled(images, labels)
        return self.decode_labelled(z_mean, labels)

    # Only constructor arguments: from_config is cls(**config).
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_shape": list(self.image_shape),
            "num_classes": self.num_classes,
            "latent_dim": self.latent_dim,
            "hidden_units": list(self.hidden_units),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
