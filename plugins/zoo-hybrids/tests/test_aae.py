"""The adversarial autoencoder (zoo_hybrids.aae): training with every GAN
loss, its phases' routing, saving, zoo train / sample / eval, and the errors
a user can cause; on whatever backend KERAS_BACKEND selects (run it with
tensorflow, jax and torch)."""

from __future__ import annotations

import numpy as np
import pytest

from hybrids_tiny import (every_gan_loss, REGISTRY, SHAPE, TINY, build, check_bad_setting, check_image_size_error,
                          check_one_network_moves, check_presets_take_loss, check_save_and_load,
                          check_zoo_train_and_sample, gradients, norm, numpy, tiny_images)
from zoo_core.errors import ZooError

METRICS = {"reconstruction", "mse", "d_loss", "g_loss", "d_real", "d_fake"}
NETWORKS = ("encoder", "decoder", "discriminator", "generator")
LATENT = TINY["aae"]["latent_dim"]


def batch(model, n=8):
    import keras

    return model.prepare_batch(keras.ops.convert_to_tensor(tiny_images(n)))


# === Training ===


@pytest.mark.parametrize("loss", every_gan_loss())
def test_trains_with_every_gan_loss(loss):
    model = build("aae", loss)
    history = model.fit(tiny_images(16), batch_size=8, epochs=1, verbose=0).history
    assert set(history) == METRICS | ({"wasserstein", "gp"} if loss == "wasserstein" else set())
    for key, values in history.items():
        assert np.all(np.isfinite(values)), f"{key} is not finite: {values}"


@pytest.mark.parametrize("reconstruction", ["bce", "mse"])
def test_what_zoo_uses(reconstruction):
    model = build("aae", reconstruction=reconstruction)
    model.fit(tiny_images(16), batch_size=8, epochs=1, verbose=0)
    samples = model.generate(5, seed=3)
    recon = model.reconstruct(tiny_images(4))
    for images in (samples, recon):
        assert images.dtype == np.float32 and 0.0 <= images.min() and images.max() <= 1.0
    assert samples.shape == (5, *SHAPE) and recon.shape == (4, *SHAPE)
    z, log_var = model.encode(tiny_images(4))
    assert z.shape == log_var.shape == (4, LATENT) and z.dtype == log_var.dtype == np.float32
    assert np.all(log_var == -30.0)  # a point mass, as a finite constant
    np.testing.assert_allclose(model.decode(z), recon, atol=1e-6)
    assert model.latent_dim == LATENT and model.image_shape == SHAPE


def test_generate_is_deterministic_for_a_seed():
    model = build("aae")
    np.testing.assert_array_equal(model.generate(4, seed=5), model.generate(4, seed=5))
    assert not np.allclose(model.generate(4, seed=5), model.generate(4, seed=6))


def test_eval_offers_sample_metrics_but_no_likelihood():
    from zoo_core.evaluation.evaluate import applicable

    assert applicable(build("aae")) == ["reconstruction", "fd", "kid", "coverage"]


# === Routing: which phase reaches which network ===


def test_the_phases_run_in_the_papers_order():
    phases = build("aae").train_phases()
    assert [p.update for p in phases] == [("encoder", "decoder"), ("discriminator",), ("generator",)]
    assert phases[1].prepare is not None  # the codes the discriminator judges carry no gradient


def test_the_encoder_has_two_optimizers_for_its_two_roles():
    model = build("aae")
    assert model.networks()["generator"] is model.encoder
    optimizers = model.optimizer.optimizers
    assert len({id(o) for o in optimizers}) == 4
    assert len(model.optimizer.generator.variables) == len(model.optimizer.encoder.variables)


def test_reconstruction_reaches_the_encoder_and_decoder_and_not_the_discriminator():
    model = build("aae")
    grads = gradients(model, model.train_phases()[0], batch(model))
    assert set(grads) == {"encoder", "decoder"}
    assert norm(grads["encoder"]) > 1e-6 and norm(grads["decoder"]) > 1e-6


def test_the_latent_discriminator_phase_touches_the_discriminator_only():
    model = build("aae")
    grads = gradients(model, model.train_phases()[1], batch(model))
    assert set(grads) == {"discriminator"} and norm(grads["discriminator"]) > 1e-6


def test_the_generator_phase_trains_the_encoder_against_the_discriminator():
    """The encoder's gradient there is that of the GAN loss's generator term on D(E(x))."""
    model = build("aae")
    real = batch(model)
    grads = gradients(model, model.train_phases()[2], real)
    assert set(grads) == {"generator"} and norm(grads["generator"]) > 1e-6
    # Against a discriminator that scores every code 0, the generator term is
    # constant: nothing reaches the encoder.
    for variable in model.discriminator.trainable_variables:
        variable.assign(np.zeros(variable.shape, np.float32))
    assert norm(gradients(model, model.train_phases()[2], real)["generator"]) == 0.0


@pytest.mark.parametrize("active", NETWORKS)
def test_no_network_update_moves_another_networks_weights(active):
    """Only ``active``'s optimizer has a learning rate: what it updates moves
    (the AAE's encoder for both of its roles), every other weight stays bit for bit."""
    check_one_network_moves("aae", active)


def test_the_gradient_penalty_trains_the_discriminator_only():
    model = build("aae", "wasserstein")
    assert model.penalty_weight == 10.0
    real = batch(model)
    phases = model.train_phases()
    heavy = gradients(model, phases[1], real)["discriminator"]
    model.loss_fn.gradient_penalty = 0.0
    light = gradients(model, phases[1], real)["discriminator"]
    assert norm([a - b for a, b in zip(heavy, light)]) > 1e-6
    _, terms = model.discriminator_phase(model.with_codes(real), training=True)
    assert "gp" not in terms  # weight 0: no penalty computed


# === Saving ===


def test_save_and_load_keep_weights_and_all_four_optimizers(tmp_path):
    model = build("aae", encoder_learning_rate=5e-4, generator_learning_rate=2e-4)
    check_save_and_load(model, tmp_path, rates=[5e-4, 1e-3, 1e-3, 2e-4], iterations=[2, 2, 2, 2])


# === zoo train, sample, eval ===


def test_zoo_train_writes_samples_reconstructions_and_metrics_and_zoo_sample_reads_it(tmp_path):
    import keras
    from PIL import Image

    from zoo_core.evaluation.commands import sample

    run = check_zoo_train_and_sample("aae", "hinge", METRICS, [("reconstruct", 4), ("interpolate", 2),
                                                              ("traverse", 3), (None, 4)], tmp_path)
    assert Image.open(run / "reconstructions" / "epoch-002.png").size == Image.open(
        run / "samples" / "epoch-002.png").size
    with pytest.raises(ZooError, match="2-D latent space"):
        sample(str(run), num=None, seed=0, class_index=None, out=None, mode="latent-plot", dataset=None,
               backend=keras.backend.backend(), registry=REGISTRY, echo=lambda s: None)


def test_presets_take_any_gan_loss_by_name():
    check_presets_take_loss("aae", "least-squares", "non-saturating")


# === Errors a user can cause ===


@pytest.mark.parametrize("setting, message", [
    ("latent_dim=0", "'latent_dim' must be at least 1, got 0"),
    ("encoder_units=0", "'encoder_units' must be at least 1"),
    ("decoder_filters=[]", "'decoder_filters' must be a non-empty list of positive integers"),
    ("discriminator_units=[8, 0]", "'discriminator_units' must be a non-empty list of positive integers"),
    ("reconstruction=l1", "'model.reconstruction' must be one of 'bce', 'mse'"),
    ("generator_learning_rate=0", "'generator_learning_rate' must be positive, got 0"),
    ("discriminator_learning_rate=-1", "'discriminator_learning_rate' must be positive"),
])
def test_bad_config_values_are_clear_errors(setting, message):
    check_bad_setting("aae", setting, message)


def test_an_image_size_the_decoder_cannot_make_is_a_clear_error():
    check_image_size_error("aae", "decoder_filters")
