"""What the hybrids share: a ``"gan"`` loss object from zoo's registry, an
N(0, I) prior on the code, pixels in zoo's [0, 1] outside and in the image
network's range inside, and the methods zoo's grids, ``zoo sample`` and
``zoo eval`` call. Each model adds its networks, phases, ``encode`` and
``image_network``."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from zoo_core.multinet import MultiNetworkModel


class HybridModel(MultiNetworkModel):
    #: ``tanh``: the image network works in [-1, 1]; ``sigmoid``: in [0, 1].
    output_activation = "tanh"
    #: What messages call the model.
    title = "model"
    #: Terms logged only when the GAN loss has a gradient penalty.
    penalty_terms = ("wasserstein", "gp")
    #: The constructor's arguments, each kept as an attribute of the same
    #: name, that ``get_config`` saves (tuples as lists).
    config_keys: tuple = ()

    def image_network(self):
        """The network that maps codes to images (a decoder or generator)."""
        raise NotImplementedError

    # --- pixels ---

    def to_model_range(self, images):
        images = ops.cast(images, "float32")
        return images * 2.0 - 1.0 if self.output_activation == "tanh" else images

    def to_unit_range(self, images):
        images = ops.cast(images, "float32")
        return (images + 1.0) * 0.5 if self.output_activation == "tanh" else images

    # --- what the phases share ---

    def _loss(self):
        if self.loss_fn is None:
            raise RuntimeError(f"this {self.title} has no loss attached; train it with `zoo train` "
                               "or set model.loss_fn")
        return self.loss_fn

    @property
    def penalty_weight(self) -> float:
        return float(getattr(self.loss_fn, "gradient_penalty", 0.0) or 0.0)

    def prepare_batch(self, data):
        """A fit batch -> real images in the model's range."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.to_model_range(x)

    def prior(self, n):
        return keras.random.normal((n, self.latent_dim), seed=self.seed_generator)

    def logged_terms(self):
        skip = () if self.penalty_weight else self.penalty_terms
        return [name for name in self.term_trackers if name not in skip]

    # --- what zoo's grids, zoo sample and zoo eval use ---

    def generate(self, num_samples, seed=None):
        """The images of ``num_samples`` prior draws N(0, I); float32 in [0, 1],
        (N, H, W, C). The same int ``seed`` gives the same images."""
        return self.decode(keras.random.normal((int(num_samples), self.latent_dim), seed=seed))

    def decode(self, z):
        images = self.image_network()(ops.convert_to_tensor(np.asarray(z, np.float32)), training=False)
        return np.clip(ops.convert_to_numpy(self.to_unit_range(images)), 0.0, 1.0).astype(np.float32)

    def reconstruct(self, images):
        """The images of each image's code (its posterior mean); float32 in [0, 1]."""
        return self.decode(self.encode(images)[0])

    # --- saving ---

    def get_config(self):
        values = {key: getattr(self, key) for key in self.config_keys}
        return {"name": self.name, "trainable": self.trainable,
                **{key: list(v) if isinstance(v, tuple) else v for key, v in values.items()}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
