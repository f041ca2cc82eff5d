"""α-GAN (zoo_hybrids.alpha_gan): training with every GAN loss, its
phases' routing (which loss reaches which of the four networks), saving,
zoo train / sample / eval, and the errors a user can cause; on whatever
backend KERAS_BACKEND selects (run it with tensorflow, jax and torch)."""

from __future__ import annotations

import numpy as np
import pytest

from hybrids_tiny import (every_gan_loss, SHAPE, TINY, build, check_bad_setting, check_one_network_moves,
                          check_presets_take_loss, check_save_and_load, check_zoo_train_and_sample, gradients, norm,
                          numpy, snapshot, tiny_images)

METRICS = {"reconstruction", "e_loss", "g_loss", "d_loss", "c_loss", "d_real", "d_recon", "d_fake", "c_real",
           "c_fake"}
NETWORKS = ("encoder", "generator", "discriminator", "code_discriminator")
LATENT = TINY["alpha-gan"]["latent_dim"]


def batch(model, n=8):
    import keras

    return model.prepare_batch(keras.ops.convert_to_tensor(tiny_images(n)))


def zero(network):
    for variable in network.trainable_variables:
        variable.assign(np.zeros(variable.shape, np.float32))


# === Training ===


@pytest.mark.parametrize("loss", every_gan_loss())
def test_trains_with_every_gan_loss(loss):
    model = build("alpha-gan", loss)
    history = model.fit(tiny_images(16), batch_size=8, epochs=1, verbose=0).history
    assert set(history) == METRICS | ({"gp"} if loss == "wasserstein" else set())
    for key, values in history.items():
        assert np.all(np.isfinite(values)), f"{key} is not finite: {values}"


def test_what_zoo_uses():
    model = build("alpha-gan")
    model.fit(tiny_images(16), batch_size=8, epochs=1, verbose=0)
    samples = model.generate(5, seed=3)
    recon = model.reconstruct(tiny_images(4))
    for images in (samples, recon):
        assert images.dtype == np.float32 and 0.0 <= images.min() and images.max() <= 1.0
    assert samples.shape == (5, *SHAPE) and recon.shape == (4, *SHAPE)
    z, log_var = model.encode(tiny_images(4))
    assert z.shape == log_var.shape == (4, LATENT) and np.all(log_var == -30.0)
    np.testing.assert_allclose(model.decode(z), recon, atol=1e-6)
    np.testing.assert_array_equal(model.generate(4, seed=5), model.generate(4, seed=5))
    assert not np.allclose(model.generate(4, seed=5), model.generate(4, seed=6))


def test_eval_offers_sample_metrics_but_no_likelihood():
    from zoo_core.evaluation.evaluate import applicable

    assert applicable(build("alpha-gan")) == ["reconstruction", "fd", "kid", "coverage"]


# === Routing ===


def test_the_phases_run_in_algorithm_1s_order():
    phases = build("alpha-gan").train_phases()
    assert [p.update for p in phases] == [("encoder", "generator"), ("discriminator", "code_discriminator")]
    assert phases[0].prepare is None and phases[1].prepare is not None


def test_the_encoder_learns_from_the_code_discriminator_and_the_generator_from_the_image_one():
    """Without the reconstruction term (λ = 0): a constant code discriminator
    leaves the encoder no gradient at all, although the image terms depend on
    it through G(E(x)); a constant image discriminator leaves the generator
    none, although the code term flows through nothing of it anyway."""
    model = build("alpha-gan", reconstruction_weight=0.0)
    real = batch(model)
    phase = model.train_phases()[0]
    grads = gradients(model, phase, real)
    assert set(grads) == {"encoder", "generator"}
    assert norm(grads["encoder"]) > 1e-6 and norm(grads["generator"]) > 1e-6

    saved = snapshot(model.variables)
    zero(model.code_discriminator)
    grads = gradients(model, phase, real)
    assert norm(grads["encoder"]) == 0.0 and norm(grads["generator"]) > 1e-6
    for variable, value in zip(model.variables, saved):
        variable.assign(value)
    zero(model.discriminator)
    grads = gradients(model, phase, real)
    assert norm(grads["generator"]) == 0.0 and norm(grads["encoder"]) > 1e-6


def test_the_reconstruction_term_reaches_the_encoder_and_the_generator():
    model = build("alpha-gan", reconstruction_weight=1.0)
    zero(model.code_discriminator)
    zero(model.discriminator)
    grads = gradients(model, model.train_phases()[0], batch(model))
    assert norm(grads["encoder"]) > 1e-6 and norm(grads["generator"]) > 1e-6


def test_each_discriminator_minimises_its_own_loss():
    """D's gradient does not change when C changes, and the other way round."""
    model = build("alpha-gan")
    real = batch(model)
    phase = model.train_phases()[1]
    grads = gradients(model, phase, real)
    assert set(grads) == {"discriminator", "code_discriminator"}
    assert norm(grads["discriminator"]) > 1e-6 and norm(grads["code_discriminator"]) > 1e-6
    saved = snapshot(model.variables)
    zero(model.code_discriminator)
    other = gradients(model, phase, real)
    for a, b in zip(grads["discriminator"], other["discriminator"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for variable, value in zip(model.variables, saved):
        variable.assign(value)
    zero(model.discriminator)
    other = gradients(model, phase, real)
    for a, b in zip(grads["code_discriminator"], other["code_discriminator"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("active", NETWORKS)
def test_no_network_update_moves_another_networks_weights(active):
    check_one_network_moves("alpha-gan", active)


# === Saving ===


def test_save_and_load_keep_weights_and_all_four_optimizers(tmp_path):
    model = build("alpha-gan", code_discriminator_learning_rate=5e-4)
    check_save_and_load(model, tmp_path, rates=[1e-3, 1e-3, 1e-3, 5e-4], iterations=[2, 2, 2, 2])


# === zoo train, sample ===


def test_zoo_train_writes_samples_reconstructions_and_metrics_and_zoo_sample_reads_it(tmp_path):
    check_zoo_train_and_sample("alpha-gan", "wasserstein", METRICS | {"gp"}, [("reconstruct", 4)], tmp_path)


def test_presets_take_any_gan_loss_by_name():
    check_presets_take_loss("alpha-gan", "hinge", "non-saturating")


# === Errors a user can cause ===


@pytest.mark.parametrize("setting, message", [
    ("reconstruction_weight=-1", "'reconstruction_weight' must be >= 0"),
    ("code_discriminator_units=[]", "'code_discriminator_units' must be a non-empty list of positive integers"),
    ("code_discriminator_learning_rate=0", "'code_discriminator_learning_rate' must be positive, got 0"),
    ("latent_dim=0", "'latent_dim' must be at least 1, got 0"),
])
def test_bad_config_values_are_clear_errors(setting, message):
    check_bad_setting("alpha-gan", setting, message)
