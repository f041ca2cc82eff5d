"""What the hybrids' tests share: tiny models, tiny data, an in-test
data-set plugin. 16x16 images and a handful of filters keep every backend fast."""

from __future__ import annotations

import re

import numpy as np
import pytest

from zoo_core.plugins.config import make_config
from zoo_core.errors import ZooError
from zoo_core.hookspecs import hookimpl
from zoo_core.plugins.registry import load_registry
from zoo_core.plugins.resolve import resolve_run
from zoo_core.specs import DataInfo, Dataset, DatasetSpec

SHAPE = (16, 16, 1)
DATASET = "hybrids-tiny"
LABELLED = "hybrids-tiny-labelled"
CLASSES = 4
GAN_LOSSES = ["minimax", "non-saturating", "wasserstein", "hinge", "least-squares"]
#: The losses a hybrid trains with on JAX and PyTorch too: the default and the
#: penalised critic (its gradient penalty differs per backend). The other three are
#: the same keras.ops on every backend (zoo-gan's tests train them everywhere with
#: dcgan) and run on TensorFlow only (one_backend), which keeps CI's JAX pass short.
EVERY_BACKEND_LOSSES = ("non-saturating", "wasserstein")


def every_gan_loss():
    """GAN_LOSSES as pytest params, those outside EVERY_BACKEND_LOSSES marked one_backend."""
    return [pytest.param(loss, marks=() if loss in EVERY_BACKEND_LOSSES else pytest.mark.one_backend)
            for loss in GAN_LOSSES]

#: Tiny configs, by model name.
TINY = {
    "aae": {"latent_dim": 3, "encoder_filters": [4, 8], "encoder_units": 8, "decoder_filters": [8, 4],
            "kernel_size": 3, "discriminator_units": [8]},
    "bigan": {"latent_dim": 3, "encoder_filters": [4, 8], "encoder_units": 8, "generator_filters": [8, 4],
              "kernel_size": 3, "discriminator_filters": [4, 8], "discriminator_units": 8},
    "alpha-gan": {"latent_dim": 3, "encoder_filters": [4, 8], "encoder_units": 8, "generator_filters": [8, 4],
                  "kernel_size": 3, "discriminator_filters": [4, 8], "discriminator_units": 8,
                  "code_discriminator_units": [8]},
    "soft-introvae": {"latent_dim": 3, "encoder_filters": [4, 8], "encoder_units": 8, "decoder_filters": [8, 4],
                      "kernel_size": 3},
    "labelled-aae": {"latent_dim": 4, "encoder_filters": [4, 8], "encoder_units": 8, "decoder_filters": [8, 4],
                     "kernel_size": 3, "discriminator_units": [8]},
    "vq-vae": {"num_codes": 6, "code_dim": 3, "encoder_filters": [4, 8], "decoder_filters": [8, 4], "kernel_size": 3,
               "pixelcnn": "gated", "prior_filters": 8, "prior_layers": 1},
}


def tiny_images(n, shape=SHAPE, seed=0):
    """Bright squares on black: structure enough for a first step."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, *shape), np.float32)
    for i in range(n):
        y, x = rng.integers(0, shape[0] // 2, size=2)
        images[i, y : y + shape[0] // 2, x : x + shape[1] // 2] = rng.uniform(0.5, 1.0)
    return images


def tiny_labels(images):
    """The quadrant (0 to 3) that holds each square's brightest corner."""
    h, w = images.shape[1] // 2, images.shape[2] // 2
    sums = np.array([[im[:h, :w].sum(), im[:h, w:].sum(), im[h:, :w].sum(), im[h:, w:].sum()] for im in images[..., 0]])
    return sums.argmax(axis=1).astype(np.int64)


def tiny_data(arg=None, image_size=None):
    x = tiny_images(40)
    return Dataset(DATASET, x[:32], x[32:], source="generated")


def tiny_labelled_data(arg=None, image_size=None):
    x = tiny_images(40)
    y = tiny_labels(x)
    return Dataset(LABELLED, x[:32], x[32:], y[:32], y[32:], num_classes=CLASSES, source="generated")


class TinyData:
    """An in-test plugin: 40 unlabelled 16x16 images."""

    name = "hybrids-tiny-data"

    @hookimpl
    def zoo_datasets(self):
        return [DatasetSpec(DATASET, "40 squares", load=tiny_data, image_shape=SHAPE),
                DatasetSpec(LABELLED, "40 squares, labelled by quadrant", load=tiny_labelled_data, image_shape=SHAPE,
                            num_classes=CLASSES)]


REGISTRY = load_registry(plugins=[TinyData()])


def make_loss(name, registry=REGISTRY, **options):
    spec = registry.loss(name)
    return spec.build(make_config(spec.config, options))


def build(model, loss=None, optimizer=None, registry=REGISTRY, **overrides):
    """A compiled tiny ``model``; ``loss`` is a registered name or a loss
    object (default: the model's own default loss)."""
    import keras

    spec = registry.model(model)
    loss = make_loss(loss or spec.default_loss, registry) if loss is None or isinstance(loss, str) else loss
    keras.utils.set_random_seed(0)
    classes = CLASSES if spec.needs_labels else None
    built = spec.build(make_config(spec.config, {**TINY[model], **overrides}), DataInfo(SHAPE, classes), loss)
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


# === Checks every hybrid's tests make (each model's file says what is its own) ===


def check_save_and_load(model, tmp_path, rates, iterations):
    """Fit one epoch, save, load in safe mode: config, weights, every
    optimizer's learning rate, variables and iterations, and what zoo
    samples and reconstructs all come back."""
    import keras

    images = tiny_images(16)
    data = (images, tiny_labels(images)) if getattr(model, "conditional", False) else (images,)
    model.fit(*data, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")  # safe mode stays on
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(numpy(a), numpy(b))
    assert [float(numpy(o.learning_rate)) for o in loaded.optimizer.optimizers] == pytest.approx(rates)
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(numpy(a), numpy(b))
    assert [int(numpy(o.iterations)) for o in loaded.optimizer.optimizers] == iterations
    np.testing.assert_allclose(model.generate(3, seed=7), loaded.generate(3, seed=7), atol=1e-6)
    images = tiny_images(3)
    np.testing.assert_allclose(model.reconstruct(images), loaded.reconstruct(images), atol=1e-6)
    return loaded


def check_zoo_train_and_sample(name, loss, metrics, modes, tmp_path, extra=(), dataset=DATASET):
    """``zoo train`` for two epochs (metrics.csv holds ``metrics`` and their
    ``val_`` versions, all finite; grids of samples and reconstructions each
    epoch), then ``zoo sample`` in each of ``modes`` reads the run."""
    import keras

    from zoo_core.evaluation.commands import sample
    from zoo_core.training import train_run

    resolved = resolve_run(REGISTRY, name, dataset=dataset, loss=loss,
                           overrides=[*overrides(name), "epochs=2", "batch_size=16", "grid_size=4", *extra])
    run = tmp_path / "run"
    result = train_run(resolved, run, backend=keras.backend.backend(), echo=lambda s: None, verbose=0)
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert set(metrics) | {f"val_{m}" for m in metrics} <= set(header)
    for key in metrics:
        assert np.isfinite(result.metrics[key]), key
    assert (run / "model.keras").is_file()
    for folder in ("samples", "reconstructions"):
        for epoch in (1, 2):
            assert (run / folder / f"epoch-{epoch:03d}.png").is_file(), (folder, epoch)
    for mode, num in modes:
        out = tmp_path / f"{mode}.npz"
        sample(str(run), num=num, seed=0, class_index=None, out=str(out), mode=mode, dataset=None,
               backend=keras.backend.backend(), registry=REGISTRY, echo=lambda s: None)
        images = np.load(out)["images"]
        assert images.dtype == np.float32 and images.shape[1:] == SHAPE and 0 <= images.min() <= images.max() <= 1
    return run


def check_presets_take_loss(name, loss, default, foreign="elbo", foreign_kind="vae"):
    """``NAME-mnist`` and ``NAME-fashion-mnist`` take ``loss`` by name, default
    to ``default``, and refuse a loss of another interface in one line."""
    for preset in (f"{name}-mnist", f"{name}-fashion-mnist"):
        resolved = resolve_run(REGISTRY, preset, loss=loss)
        assert resolved.config.loss == loss and resolved.config.model == name
        assert resolve_run(REGISTRY, preset).config.loss == default
        with pytest.raises(ZooError, match=f"is for {foreign_kind} models and cannot train '{name}'"):
            resolve_run(REGISTRY, preset, loss=foreign)


def check_bad_setting(name, setting, message):
    """``--set setting`` on a tiny ``name`` is a one-line ZooError holding ``message``."""
    key = setting.split("=")[0]
    sets = [s for s in overrides(name) if s.split("=")[0] != key]
    with pytest.raises(ZooError, match=re.escape(message)) as info:
        resolve_run(REGISTRY, name, dataset=DATASET, overrides=[*sets, setting])
    assert "\n" not in str(info.value)


def check_image_size_error(name, key):
    """Five stride-2 layers cannot make a 16x16 image: a clear error naming ``key``."""
    from zoo_core.training import build_model

    resolved = resolve_run(REGISTRY, name, dataset=DATASET, overrides=overrides(name, **{key: [8, 8, 8, 8, 8]}))
    with pytest.raises(ZooError, match=f"divisible by 32 .*{key}"):
        build_model(resolved, DataInfo(SHAPE, None))


def check_one_network_moves(name, active, **overrides):
    """Only ``active``'s optimizer has a learning rate: after a step of every
    phase, the weights of the network it updates have moved (for a network
    listed under two names, both), every other network's stand still bit for bit."""
    import keras

    from zoo_core.multinet import NetworkOptimizers

    names = list(build(name, **overrides).networks())
    rates = {n: (0.1 if n == active else 0.0) for n in names}
    model = build(name, optimizer=NetworkOptimizers(**{n: keras.optimizers.SGD(r) for n, r in rates.items()}),
                  **overrides)
    nets = model.networks()
    before = {n: snapshot(net.trainable_variables) for n, net in nets.items()}
    images = tiny_images(8)
    data = (images, tiny_labels(images)) if getattr(model, "conditional", False) else (images,)
    model.fit(*data, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for n, net in nets.items():
        unchanged = all(np.array_equal(a, b) for a, b in zip(snapshot(net.trainable_variables), before[n]))
        assert unchanged == (net is not nets[active]), f"{n} {'stood still' if unchanged else 'moved'}"
