"""BiGAN / ALI (zoo_hybrids.bigan): training with every GAN loss, its
phases' routing through the joint discriminator, saving, zoo train / sample
/ eval, and the errors a user can cause; on whatever backend KERAS_BACKEND
selects (run it with tensorflow, jax and torch)."""

from __future__ import annotations

import numpy as np
import pytest

from hybrids_tiny import (every_gan_loss, SHAPE, TINY, build, check_bad_setting, check_image_size_error,
                          check_one_network_moves, check_presets_take_loss, check_save_and_load,
                          check_zoo_train_and_sample, gradients, norm, numpy, snapshot, tiny_images)

METRICS = {"d_loss", "eg_loss", "d_real", "d_fake", "mse"}
NETWORKS = ("encoder", "generator", "discriminator")
LATENT = TINY["bigan"]["latent_dim"]


def batch(model, n=8):
    import keras

    return model.prepare_batch(keras.ops.convert_to_tensor(tiny_images(n)))


def zero(model, *layer_names):
    """Set the named discriminator layers' weights to zero."""
    for name in layer_names:
        for variable in model.discriminator.get_layer(name).trainable_variables:
            variable.assign(np.zeros(variable.shape, np.float32))


# === Training ===


@pytest.mark.parametrize("loss", every_gan_loss())
def test_trains_with_every_gan_loss(loss):
    model = build("bigan", loss)
    history = model.fit(tiny_images(16), batch_size=8, epochs=1, verbose=0).history
    assert set(history) == METRICS | ({"wasserstein", "gp"} if loss == "wasserstein" else set())
    for key, values in history.items():
        assert np.all(np.isfinite(values)), f"{key} is not finite: {values}"


@pytest.mark.parametrize("encoder", ["deterministic", "gaussian"])
def test_what_zoo_uses(encoder):
    model = build("bigan", encoder=encoder)
    model.fit(tiny_images(16), batch_size=8, epochs=1, verbose=0)
    samples = model.generate(5, seed=3)
    recon = model.reconstruct(tiny_images(4))
    for images in (samples, recon):
        assert images.dtype == np.float32 and 0.0 <= images.min() and images.max() <= 1.0
    assert samples.shape == (5, *SHAPE) and recon.shape == (4, *SHAPE)
    z_mean, z_log_var = model.encode(tiny_images(4))
    assert z_mean.shape == z_log_var.shape == (4, LATENT) and z_mean.dtype == z_log_var.dtype == np.float32
    # BiGAN's code is a point mass (a finite constant); ALI's encoder has a log-variance of its own.
    assert np.all(z_log_var == -30.0) == (encoder == "deterministic")
    np.testing.assert_allclose(model.decode(z_mean), recon, atol=1e-6)
    assert model.latent_dim == LATENT and model.image_shape == SHAPE


def test_generate_is_deterministic_for_a_seed():
    model = build("bigan")
    np.testing.assert_array_equal(model.generate(4, seed=5), model.generate(4, seed=5))
    assert not np.allclose(model.generate(4, seed=5), model.generate(4, seed=6))


def test_eval_offers_sample_metrics_but_no_likelihood():
    from zoo_core.evaluation.evaluate import applicable

    assert applicable(build("bigan")) == ["reconstruction", "fd", "kid", "coverage"]


# === Routing: which phase reaches which network ===


def test_the_discriminator_phase_comes_first_on_pairs_made_without_gradient():
    phases = build("bigan").train_phases()
    assert [p.update for p in phases] == [("discriminator",), ("encoder", "generator")]
    assert phases[0].prepare is not None and phases[1].prepare is None


def test_the_discriminator_phase_touches_the_discriminator_only():
    model = build("bigan")
    grads = gradients(model, model.train_phases()[0], batch(model))
    assert set(grads) == {"discriminator"} and norm(grads["discriminator"]) > 1e-6


@pytest.mark.parametrize("encoder", ["deterministic", "gaussian"])
def test_the_encoder_and_generator_phase_reaches_each_through_its_own_pairs(encoder):
    """E reaches the loss through D's code input only (pairs (x, E(x))), G
    through D's image input only (pairs (G(z), z)): cut D's code path and
    E's gradient is exactly zero while G's is not, and the other way round.
    The logged reconstruction error sends nothing to G."""
    model = build("bigan", encoder=encoder)
    real = batch(model)
    phase = model.train_phases()[1]
    grads = gradients(model, phase, real)
    assert set(grads) == {"encoder", "generator"}
    assert norm(grads["encoder"]) > 1e-6 and norm(grads["generator"]) > 1e-6

    saved = snapshot(model.discriminator.trainable_variables)
    zero(model, "z_features")
    grads = gradients(model, phase, real)
    assert norm(grads["encoder"]) == 0.0 and norm(grads["generator"]) > 1e-6
    for variable, value in zip(model.discriminator.trainable_variables, saved):
        variable.assign(value)
    zero(model, "x_conv_0")
    grads = gradients(model, phase, real)
    assert norm(grads["generator"]) == 0.0 and norm(grads["encoder"]) > 1e-6


def test_encoder_and_generator_minimise_the_discriminator_loss_with_labels_swapped():
    """The E/G loss is the GAN loss's discriminator term called (fake, real)."""
    from hybrids_tiny import make_loss

    calls = []

    class Spy:
        inner = make_loss("non-saturating")

        def discriminator(self, real_logits, fake_logits):
            calls.append((real_logits, fake_logits))
            return self.inner.discriminator(real_logits, fake_logits)

        def generator(self, fake_logits):
            raise AssertionError("BiGAN calls discriminator() for both phases")

    model = build("bigan", loss=Spy(), dropout=0.0)
    real = batch(model)
    loss, terms = model.encoder_generator_phase(real, training=False)
    ((_, second),) = calls  # called (fake, real)
    codes = model.codes(real, False)[0]
    np.testing.assert_allclose(numpy(second), numpy(model.discriminate(real, codes, False)), atol=1e-6)
    assert float(numpy(loss)) == float(numpy(terms["eg_loss"]))


@pytest.mark.parametrize("active", NETWORKS)
def test_no_network_update_moves_another_networks_weights(active):
    check_one_network_moves("bigan", active)


def test_the_joint_gradient_penalty_trains_the_discriminator_only():
    model = build("bigan", "wasserstein", dropout=0.0)
    assert model.penalty_weight == 10.0
    real = batch(model)
    phases = model.train_phases()
    _, terms = model.discriminator_phase(model.pairs(real, training=False), training=False)
    assert np.isfinite(float(numpy(terms["gp"])))
    heavy = gradients(model, phases[0], real)["discriminator"]
    model.loss_fn.gradient_penalty = 0.0
    light = gradients(model, phases[0], real)["discriminator"]
    assert norm([a - b for a, b in zip(heavy, light)]) > 1e-6
    assert "gp" not in model.encoder_generator_phase(real, training=False)[1]


# === Saving ===


@pytest.mark.parametrize("encoder", ["deterministic", "gaussian"])
def test_save_and_load_keep_weights_and_all_three_optimizers(tmp_path, encoder):
    model = build("bigan", encoder=encoder, encoder_learning_rate=5e-4, discriminator_learning_rate=2e-4)
    loaded = check_save_and_load(model, tmp_path, rates=[5e-4, 1e-3, 2e-4], iterations=[2, 2, 2])
    assert loaded.get_config()["encoder"] == encoder


# === zoo train, sample, eval ===


def test_zoo_train_writes_samples_reconstructions_and_metrics_and_zoo_sample_reads_it(tmp_path):
    check_zoo_train_and_sample("bigan", "least-squares", METRICS, [("reconstruct", 4), ("interpolate", 2), (None, 4)],
                               tmp_path)


def test_presets_take_any_gan_loss_by_name():
    check_presets_take_loss("bigan", "hinge", "non-saturating")


# === Errors a user can cause ===


@pytest.mark.parametrize("setting, message", [
    ("latent_dim=0", "'latent_dim' must be at least 1, got 0"),
    ("discriminator_units=0", "'discriminator_units' must be at least 1"),
    ("generator_filters=[]", "'generator_filters' must be a non-empty list of positive integers"),
    ("encoder_filters=[4, -1]", "'encoder_filters' must be a non-empty list of positive integers"),
    ("encoder=vae", "'model.encoder' must be one of 'deterministic', 'gaussian'"),
    ("dropout=1", "'dropout' must be in [0, 1)"),
    ("encoder_learning_rate=0", "'encoder_learning_rate' must be positive, got 0"),
])
def test_bad_config_values_are_clear_errors(setting, message):
    check_bad_setting("bigan", setting, message)


def test_an_image_size_the_generator_cannot_make_is_a_clear_error():
    check_image_size_error("bigan", "generator_filters")
