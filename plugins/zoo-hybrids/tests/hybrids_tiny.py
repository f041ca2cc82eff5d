"""What the hybrids' tests share: tiny models, tiny data, an in-test
data-set plugin. 16x16 images and a handful of filters keep every backend fast."""

from __future__ import annotations

import numpy as np

from zoo_core.config import make_config
from zoo_core.hookspecs import hookimpl
from zoo_core.registry import load_registry
from zoo_core.specs import DataInfo, Dataset, DatasetSpec

SHAPE = (16, 16, 1)
DATASET = "hybrids-tiny"
GAN_LOSSES = ["minimax", "non-saturating", "wasserstein", "hinge", "least-squares"]

#: Tiny configs, by model name.
TINY = {
    "aae": {"latent_dim": 3, "encoder_filters": [4, 8], "encoder_units": 8, "decoder_filters": [8, 4],
            "kernel_size": 3, "discriminator_units": [8]},
    "bigan": {"latent_dim": 3, "encoder_filters": [4, 8], "encoder_units": 8, "generator_filters": [8, 4],
              "kernel_size": 3, "discriminator_filters": [4, 8], "discriminator_units": 8},
    "alpha-gan": {"latent_dim": 3, "encoder_filters": [4, 8], "encoder_units": 8, "generator_filters": [8, 4],
                  "kernel_size": 3, "discriminator_filters": [4, 8], "discriminator_units": 8,
                  "code_discriminator_units": [8]},
}


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
    return Dataset(DATASET, x[:32], x[32:], source="generated")


class TinyData:
    """An in-test plugin: 40 unlabelled 16x16 images."""

    name = "hybrids-tiny-data"

    @hookimpl
    def zoo_datasets(self):
        return [DatasetSpec(DATASET, "40 squares", load=tiny_data, image_shape=SHAPE)]


REGISTRY = load_registry(plugins=[TinyData()])


def make_loss(name, registry=REGISTRY, **options):
    spec = registry.loss(name)
    return spec.build(make_config(spec.config, options))


def build(model, loss="non-saturating", optimizer=None, registry=REGISTRY, **overrides):
    """A compiled tiny ``model``; ``loss`` is a registered name or a loss object."""
    import keras

    loss = make_loss(loss, registry) if isinstance(loss, str) else loss
    spec = registry.model(model)
    keras.utils.set_random_seed(0)
    built = spec.build(make_config(spec.config, {**TINY[model], **overrides}), DataInfo(SHAPE, None), loss)
    built.compile(optimizer=optimizer or keras.optimizers.Adam(1e-3, beta_1=0.5))
    return built


def overrides(model, **changes):
    """``--set`` strings for a tiny ``model``, with ``changes``."""
    values = {**TINY[model], **changes}
    return [f"{k}={v}" for k, v in values.items()]


def numpy(value):
    import keras

    return np.array(keras.ops.convert_to_numpy(value), copy=True)


def snapshot(variables):
    return [numpy(v) for v in variables]


def norm(arrays):
    return float(np.sqrt(sum(np.sum(np.square(numpy(a))) for a in arrays if a is not None)))


def gradients(model, phase, batch):
    """``{network: [numpy gradient or zeros]}`` of one update of ``phase``,
    computed by the backend's train-step code; every model variable (seed
    state included) is restored afterwards."""
    from zoo_core.multinet import phase_gradients

    saved = snapshot(model.variables)
    grads = phase_gradients(model, phase, batch)
    for variable, value in zip(model.variables, saved):
        variable.assign(value)
    nets = model.networks()
    out = {}
    for name, values in grads.items():
        variables = nets[name].trainable_variables
        assert len(values) == len(variables) > 0, name
        out[name] = [np.zeros(v.shape, np.float32) if g is None else numpy(g) for g, v in zip(values, variables)]
    return out
