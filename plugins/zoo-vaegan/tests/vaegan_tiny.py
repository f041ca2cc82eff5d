"""What both VAE-GAN test files share: a tiny model, tiny data, an in-test
data-set plugin. 16x16 images and a handful of filters keep every backend fast."""

from __future__ import annotations

import numpy as np

from zoo_core.plugins.config import make_config
from zoo_core.hookspecs import hookimpl
from zoo_core.plugins.registry import load_registry
from zoo_core.specs import DataInfo, Dataset, DatasetSpec

SHAPE = (16, 16, 1)
TINY = {"latent_dim": 4, "encoder_filters": [4, 8], "encoder_units": 8, "decoder_filters": [8, 4],
        "discriminator_filters": [4, 8], "discriminator_units": 8, "kernel_size": 3}


def tiny_images(n, shape=SHAPE, seed=0):
    """Bright squares on black: structure enough for a first step."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, *shape), np.float32)
    for i in range(n):
        y, x = rng.integers(0, shape[0] // 2, size=2)
        images[i, y : y + shape[0] // 2, x : x + shape[1] // 2] = rng.uniform(0.5, 1.0)
    return images


def tiny_data(arg=None, image_size=None):
    x = tiny_images(40)
    return Dataset("vaegan-tiny", x[:32], x[32:], source="generated")


class TinyData:
    """An in-test plugin: 40 unlabelled 16x16 images."""

    name = "vaegan-tiny-data"

    @hookimpl
    def zoo_datasets(self):
        return [DatasetSpec("vaegan-tiny", "40 squares", load=tiny_data, image_shape=SHAPE)]


REGISTRY = load_registry(plugins=[TinyData()])


def make_loss(name, registry=REGISTRY, **options):
    spec = registry.loss(name)
    return spec.build(make_config(spec.config, options))


def build(loss="non-saturating", optimizer=None, registry=REGISTRY, **overrides):
    """A compiled tiny VAE-GAN; ``loss`` is a registered name or a loss object."""
    import keras

    loss = make_loss(loss, registry) if isinstance(loss, str) else loss
    spec = registry.model("vae-gan")
    keras.utils.set_random_seed(0)
    model = spec.build(make_config(spec.config, {**TINY, **overrides}), DataInfo(SHAPE, None), loss)
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-3, beta_1=0.5))
    return model


def numpy(value):
    import keras

    return np.array(keras.ops.convert_to_numpy(value), copy=True)


def snapshot(variables):
    return [numpy(v) for v in variables]
