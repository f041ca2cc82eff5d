"""Training every GAN with every GAN loss, on whatever backend KERAS_BACKEND
selects (CI runs this file on TensorFlow, JAX and PyTorch). Models are tiny:
16x16 images, a handful of filters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from zoo_core.plugins.config import make_config
from zoo_core.errors import ZooError
from zoo_core.hookspecs import hookimpl
from zoo_core.plugins.registry import load_registry
from zoo_core.plugins.resolve import resolve_run
from zoo_core.specs import DataInfo, Dataset, DatasetSpec, LossSpec
from zoo_core.training import build_model, train_run

SHAPE = (16, 16, 1)
CLASSES = 3
MODELS = ["gan", "dcgan", "wgan-gp", "cgan"]
LOSSES = ["minimax", "non-saturating", "wasserstein", "hinge", "least-squares"]
TINY = {
    "gan": {"latent_dim": 4, "generator_units": [16], "discriminator_units": [16]},
    "dcgan": {"latent_dim": 4, "generator_filters": [8, 4], "discriminator_filters": [4, 8]},
    "wgan-gp": {"latent_dim": 4, "generator_filters": [8, 4], "discriminator_filters": [4, 8], "n_critic": 2},
    "cgan": {"latent_dim": 4, "generator_filters": [8, 4], "discriminator_filters": [4, 8], "embedding_dim": 3},
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
    y = np.arange(40) % CLASSES
    return Dataset("gan-tiny", x[:32], x[32:], y[:32], y[32:], num_classes=CLASSES, source="generated")


class TinyData:
    """An in-test plugin: 40 labelled 16x16 images."""

    name = "gan-tiny-data"

    @hookimpl
    def zoo_datasets(self):
        return [DatasetSpec("gan-tiny", "40 squares", load=tiny_data, image_shape=SHAPE, num_classes=CLASSES)]


REGISTRY = load_registry(plugins=[TinyData()])


def tiny_options(model, loss):
    options = dict(TINY[model])
    if loss == "wasserstein" and model in ("dcgan", "cgan"):
        options["discriminator_norm"] = "layer"  # batch norm cannot take the penalty
    return options


def build(model_name, loss_name, **overrides):
    import keras

    spec, loss_spec = REGISTRY.model(model_name), REGISTRY.loss(loss_name)
    loss = loss_spec.build(make_config(loss_spec.config, {}))
    keras.utils.set_random_seed(0)
    config = make_config(spec.config, {**tiny_options(model_name, loss_name), **overrides})
    model = spec.build(config, DataInfo(SHAPE, CLASSES), loss)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    return spec, model


def fit(spec, model, n=16, batch_size=8, epochs=1, **kwargs):
    x = tiny_images(n)
    data = {"x": x, "y": np.arange(n) % CLASSES} if spec.needs_labels else {"x": x}
    return model.fit(**data, batch_size=batch_size, epochs=epochs, verbose=0, **kwargs)


def numpy(v):
    import keras

    return keras.ops.convert_to_numpy(v).copy()


# === Every model with every loss ===


def _every_model_and_loss():
    """Every pair on TensorFlow; on JAX and PyTorch CI runs every loss with dcgan and
    every model with its default loss (the rest are marked one_backend: the losses are
    the same keras.ops on every backend, and compiling 20 GANs on JAX costs minutes)."""
    for model in MODELS:
        for loss in LOSSES:
            every = model == "dcgan" or loss == REGISTRY.model(model).default_loss
            yield pytest.param(model, loss, id=f"{model}-{loss}", marks=() if every else pytest.mark.one_backend)


@pytest.mark.parametrize("model, loss", list(_every_model_and_loss()))
def test_every_model_trains_with_every_loss(model, loss):
    spec, gan = build(model, loss)
    history = fit(spec, gan).history
    expected = {"d_loss", "g_loss", "d_real", "d_fake"}
    if loss == "wasserstein":
        expected |= {"wasserstein", "gp"}
    assert set(history) == expected
    for key, values in history.items():
        assert np.all(np.isfinite(values)), f"{key} is not finite: {values}"
    samples = gan.generate(5, seed=3)
    assert samples.shape == (5, *SHAPE) and samples.dtype == np.float32
    assert 0.0 <= samples.min() and samples.max() <= 1.0


# === What one train step must update ===


def test_step_updates_both_networks_batch_norm_and_the_seed():
    """The JAX step is stateless: weights, batch-norm statistics and the noise
    seed only change if the step hands them back. Checked on every backend."""
    spec, gan = build("dcgan", "non-saturating")
    moving = [v for v in gan.non_trainable_variables if "moving" in v.path]
    assert moving, "DCGAN should have batch-norm statistics"
    before = {id(v): numpy(v) for v in gan.trainable_variables + moving + [gan.seed_generator.state]}
    fit(spec, gan)
    changed = lambda vs: [not np.array_equal(before[id(v)], numpy(v)) for v in vs]  # noqa: E731
    assert all(changed(gan.generator.trainable_variables))
    assert all(changed(gan.discriminator.trainable_variables))
    assert all(changed(moving))
    assert all(changed([gan.seed_generator.state]))


def test_n_critic_discriminator_updates_per_generator_update():
    spec, gan = build("wgan-gp", "wasserstein", n_critic=3)
    fit(spec, gan, n=18, batch_size=9, epochs=2)  # 4 batches of 9: sub-batches of 3
    assert int(numpy(gan.optimizer.generator.iterations)) == 4
    assert int(numpy(gan.optimizer.discriminator.iterations)) == 12


def test_critic_batches_are_consecutive_and_wrap_for_small_batches():
    from keras import ops

    _, gan = build("wgan-gp", "wasserstein", n_critic=3)
    x = ops.reshape(ops.arange(7, dtype="float32"), (7, 1, 1, 1))
    parts = [numpy(part).ravel().tolist() for part, _ in gan.critic_batches(x, None)]
    assert parts == [[0, 1], [2, 3], [4, 5]]  # the 7th image waits for the next batch
    tiny = ops.reshape(ops.arange(2, dtype="float32"), (2, 1, 1, 1))
    assert [numpy(p).ravel().tolist() for p, _ in gan.critic_batches(tiny, None)] == [[0], [1], [0]]


def test_separate_learning_rates_come_from_the_model_config():
    _, gan = build("dcgan", "hinge", generator_learning_rate=1e-4, discriminator_learning_rate=4e-4)
    assert float(numpy(gan.optimizer.generator.learning_rate)) == pytest.approx(1e-4)
    assert float(numpy(gan.optimizer.discriminator.learning_rate)) == pytest.approx(4e-4)
    _, same = build("dcgan", "hinge")
    assert float(numpy(same.optimizer.generator.learning_rate)) == pytest.approx(1e-3)
    assert same.optimizer.generator is not same.optimizer.discriminator


def test_saved_model_keeps_both_optimizers(tmp_path):
    import keras

    spec, gan = build("wgan-gp", "wasserstein", generator_learning_rate=5e-4)
    fit(spec, gan)
    gan.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert float(numpy(loaded.optimizer.generator.learning_rate)) == pytest.approx(5e-4)
    for a, b in zip(gan.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_allclose(numpy(a), numpy(b))
    assert int(numpy(loaded.optimizer.discriminator.iterations)) == 4


def test_generate_is_deterministic_for_a_seed():
    _, gan = build("dcgan", "non-saturating")
    np.testing.assert_array_equal(gan.generate(4, seed=5), gan.generate(4, seed=5))
    assert not np.allclose(gan.generate(4, seed=5), gan.generate(4, seed=6))


def test_conditional_grid_has_one_row_per_class():
    _, gan = build("cgan", "non-saturating")
    images, columns = gan.sample_grid(4, seed=0)
    assert columns == 4 and images.shape == (CLASSES * 4, *SHAPE)
    # Column j uses the same noise in every row, so only the label differs.
    again, _ = gan.sample_grid(4, seed=0)
    np.testing.assert_array_equal(images, again)
    by_label = gan.generate(CLASSES, seed=0, labels=np.arange(CLASSES))
    assert by_label.shape == (CLASSES, *SHAPE)


# === Pairings and the registry ===


def test_gradient_penalty_with_batch_norm_is_a_clear_error(tmp_path):
    resolved = resolve_run(REGISTRY, "dcgan", dataset="gan-tiny", loss="wasserstein")
    with pytest.raises(ZooError, match="batch norm.*discriminator_norm=layer"):
        build_model(resolved, DataInfo(SHAPE, CLASSES))
    resolved = resolve_run(REGISTRY, "dcgan", dataset="gan-tiny", loss="wasserstein",
                           overrides=["discriminator_norm=layer"])
    assert build_model(resolved, DataInfo(SHAPE, CLASSES)).discriminator_norm == "layer"


def test_conditional_model_without_classes_is_a_clear_error():
    resolved = resolve_run(REGISTRY, "cgan", require_dataset=False)
    with pytest.raises(ZooError, match="class-conditional.*number of classes"):
        build_model(resolved, DataInfo(SHAPE, None))


def test_a_vae_loss_cannot_train_a_gan():
    with pytest.raises(ZooError, match="losses that fit: .*hinge"):
        resolve_run(REGISTRY, "dcgan", dataset="gan-tiny", loss="elbo")


@dataclass(frozen=True)
class SmoothedConfig:
    real_label: float = 0.9


class SmoothedLoss:
    """Non-saturating GAN loss with one-sided label smoothing (Salimans et al.
    2016), written by a different plugin against the 'gan' interface."""

    def __init__(self, real_label):
        self.real_label = real_label

    def discriminator(self, real_logits, fake_logits):
        from keras import ops

        t = self.real_label
        real = t * ops.softplus(-real_logits) + (1 - t) * ops.softplus(real_logits)
        return ops.mean(real) + ops.mean(ops.softplus(fake_logits))

    def generator(self, fake_logits):
        from keras import ops

        return ops.mean(ops.softplus(-fake_logits))


class SmoothingPlugin:
    name = "smoothing-plugin"

    @hookimpl
    def zoo_losses(self):
        return [LossSpec("smoothed", "label-smoothed GAN loss", SmoothedConfig,
                         build=lambda c: SmoothedLoss(c.real_label), interface="gan")]


# cgan on TensorFlow only: a plugin's loss reaches both through the same lookup (one_backend)
@pytest.mark.parametrize("model", ["dcgan", pytest.param("cgan", marks=pytest.mark.one_backend)])
def test_loss_from_another_plugin_trains_a_bundled_gan(model, tmp_path):
    import keras

    registry = load_registry(plugins=[TinyData(), SmoothingPlugin()])
    assert registry.get("loss", "smoothed").plugin == "smoothing-plugin"
    sets = [f"{k}={v}" for k, v in TINY[model].items()]
    resolved = resolve_run(registry, model, dataset="gan-tiny", loss="smoothed",
                           overrides=[*sets, "epochs=2", "batch_size=8", "loss.real_label=0.8", "grid_size=3"])
    assert resolved.config.loss_config.real_label == 0.8
    result = train_run(resolved, tmp_path / "run", backend=keras.backend.backend(), echo=lambda s: None, verbose=0)
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "val_d_loss"):
        assert np.isfinite(result.metrics[key]), key
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(header)
    assert (tmp_path / "run" / "model.keras").is_file()
    assert (tmp_path / "run" / "samples" / "epoch-002.png").is_file()
