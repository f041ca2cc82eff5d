"""Soft-IntroVAE (zoo_hybrids.soft_introvae): its objective against the
paper's formulas, its phases' routing, the likelihood zoo eval reads,
saving, zoo train / sample / eval, and the errors a user can cause; on
whatever backend KERAS_BACKEND selects (run it with tensorflow, jax and torch)."""

from __future__ import annotations

import numpy as np
import pytest

from hybrids_tiny import (SHAPE, TINY, build, check_bad_setting, check_image_size_error, check_one_network_moves,
                          check_presets_take_loss, check_save_and_load, check_zoo_train_and_sample, gradients,
                          make_loss, norm, numpy, tiny_images)

METRICS = {"reconstruction", "kl", "kl_rec", "kl_fake", "e_loss", "d_loss", "mse"}
LATENT = TINY["soft-introvae"]["latent_dim"]


def batch(model, n=8):
    import keras

    return model.prepare_batch(keras.ops.convert_to_tensor(tiny_images(n)))


# === The objective ===


def test_the_loss_combines_the_terms_as_algorithm_1_does():
    loss = make_loss("soft-intro", beta_rec=2.0, beta_kl=0.5, beta_neg=64.0, gamma_r=0.1)
    scale = 1.0 / 256
    rec_err, rec_kl = np.array([3.0, 5.0], np.float32), np.array([1.0, 2.0], np.float32)
    fake_err, fake_kl = np.array([4.0, 6.0], np.float32), np.array([0.5, 0.25], np.float32)
    soft = lambda e, k: np.mean(np.exp(-2 * scale * (2.0 * e + 64.0 * k)))  # noqa: E731
    expected = scale * (2.0 * 10.0 + 0.5 * 7.0) + 0.25 * (soft(rec_err, rec_kl) + soft(fake_err, fake_kl))
    got = loss.encoder(10.0, 7.0, rec_err, rec_kl, fake_err, fake_kl, scale=scale)
    assert float(numpy(got)) == pytest.approx(expected, rel=1e-5)
    expected = scale * (2.0 * 10.0 + 0.25 * (3.0 + 4.0) + 0.5 * 0.1 * 2.0 * (1.0 + 2.0))
    assert float(numpy(loss.decoder(10.0, 3.0, 4.0, 1.0, 2.0, scale=scale))) == pytest.approx(expected, rel=1e-5)


def test_the_likelihood_is_the_gaussian_of_the_squared_error():
    """Variance 1 / (2 beta_rec): its density integrates the squared error with beta_rec's weight."""
    loss = make_loss("soft-intro", beta_rec=2.0)
    x = np.full((1, 2, 2, 1), 0.5, np.float32)
    mean = np.zeros((1, 2, 2, 1), np.float32)
    sigma2 = 1.0 / (2 * 2.0)
    expected = 4 * (-0.25 / (2 * sigma2) - 0.5 * np.log(2 * np.pi * sigma2))
    assert float(numpy(loss.log_likelihood(x, mean))[0]) == pytest.approx(expected, rel=1e-5)


# === Training ===


def test_trains_and_logs_finite_terms():
    model = build("soft-introvae")
    history = model.fit(tiny_images(16), batch_size=8, epochs=2, verbose=0).history
    assert set(history) == METRICS
    for key, values in history.items():
        assert np.all(np.isfinite(values)), f"{key} is not finite: {values}"


def test_what_zoo_uses():
    model = build("soft-introvae")
    model.fit(tiny_images(16), batch_size=8, epochs=1, verbose=0)
    samples, recon = model.generate(5, seed=3), model.reconstruct(tiny_images(4))
    for images in (samples, recon):
        assert images.dtype == np.float32 and 0.0 <= images.min() and images.max() <= 1.0
    assert samples.shape == (5, *SHAPE) and recon.shape == (4, *SHAPE)
    mean, log_var = model.encode(tiny_images(4))
    assert mean.shape == log_var.shape == (4, LATENT) and np.all(np.isfinite(log_var))
    np.testing.assert_allclose(model.decode(mean), recon, atol=1e-6)
    np.testing.assert_array_equal(model.generate(4, seed=5), model.generate(4, seed=5))


def test_eval_offers_the_likelihood_and_its_iwae_bound_is_above_the_elbo():
    from zoo_core.evaluation.evaluate import applicable
    from zoo_core.evaluation.likelihood import evaluate_likelihood

    model = build("soft-introvae")
    model.fit(tiny_images(16), batch_size=8, epochs=1, verbose=0)
    assert applicable(model) == ["likelihood", "reconstruction", "fd", "kid", "coverage"]
    assert model.likelihood == "gaussian"
    terms = model.log_importance_weights(tiny_images(3), 5, seed=1)
    assert {k: v.shape for k, v in terms.items()} == {k: (3, 5) for k in ("log_px_z", "log_pz", "log_qz_x")}
    out = evaluate_likelihood(model, tiny_images(6), k=16, iwae_images=6, binarisation="none", seed=0,
                              echo=lambda s: None)
    assert np.isfinite(out["iwae"]["nll"]) and out["iwae"]["nll"] <= out["iwae"]["negative_elbo_same_images"] + 1e-4


# === Routing ===


def test_the_phases_run_in_algorithm_1s_order():
    phases = build("soft-introvae").train_phases()
    assert [p.update for p in phases] == [("encoder",), ("decoder",)]
    assert all(p.prepare is not None for p in phases)


def test_each_phase_reaches_only_its_network():
    model = build("soft-introvae")
    real = batch(model)
    for phase, name in zip(model.train_phases(), ("encoder", "decoder")):
        grads = gradients(model, phase, real)
        assert set(grads) == {name} and norm(grads[name]) > 1e-6


def test_the_encoder_pushes_generated_images_away_only_through_beta_neg():
    """With the exponential term's weight set to (almost) nothing, the encoder's
    gradient is the plain VAE's; with beta_neg it differs."""
    model = build("soft-introvae")
    real = batch(model)
    phase = model.train_phases()[0]
    model.loss_fn.beta_neg = 1e6  # exp(-huge) = 0: the generated images' term vanishes...
    model.loss_fn.beta_rec = 1.0
    vanished = gradients(model, phase, real)["encoder"]
    model.loss_fn.beta_neg = 1e-6  # ...and here it has a gradient through the reconstruction errors
    present = gradients(model, phase, real)["encoder"]
    assert norm([a - b for a, b in zip(vanished, present)]) > 1e-8


def test_the_decoder_learns_to_give_its_images_prior_like_codes():
    """The decoder's KL terms reach it through the encoder: with beta_kl 0 the gradient changes."""
    model = build("soft-introvae")
    real = batch(model)
    phase = model.train_phases()[1]
    with_kl = gradients(model, phase, real)["decoder"]
    model.loss_fn.beta_kl = 1e-12
    without = gradients(model, phase, real)["decoder"]
    assert norm([a - b for a, b in zip(with_kl, without)]) > 1e-6


@pytest.mark.parametrize("active", ["encoder", "decoder"])
def test_no_network_update_moves_another_networks_weights(active):
    check_one_network_moves("soft-introvae", active)


# === Saving, zoo train / sample ===


def test_save_and_load_keep_weights_and_both_optimizers(tmp_path):
    model = build("soft-introvae", decoder_learning_rate=5e-4)
    check_save_and_load(model, tmp_path, rates=[1e-3, 5e-4], iterations=[2, 2])


def test_zoo_train_writes_samples_reconstructions_and_metrics_and_zoo_sample_reads_it(tmp_path):
    check_zoo_train_and_sample("soft-introvae", None, METRICS, [("reconstruct", 4), ("interpolate", 2),
                                                                ("traverse", 3), (None, 4)], tmp_path,
                               extra=["loss.beta_neg=32"])


def test_presets_take_their_objective_and_refuse_a_gan_loss():
    check_presets_take_loss("soft-introvae", "soft-intro", "soft-intro", foreign="hinge", foreign_kind="gan")


# === Errors a user can cause ===


@pytest.mark.parametrize("setting, message", [
    ("latent_dim=0", "'latent_dim' must be at least 1, got 0"),
    ("decoder_filters=[]", "'decoder_filters' must be a non-empty list of positive integers"),
    ("encoder_learning_rate=0", "'encoder_learning_rate' must be positive, got 0"),
    ("loss.beta_neg=0", "'beta_neg' must be positive, got 0"),
    ("loss.gamma_r=-1", "'gamma_r' must be >= 0, got -1"),
])
def test_bad_config_values_are_clear_errors(setting, message):
    check_bad_setting("soft-introvae", setting, message)


def test_an_image_size_the_decoder_cannot_make_is_a_clear_error():
    check_image_size_error("soft-introvae", "decoder_filters")
