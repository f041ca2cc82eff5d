"""α-GAN (zoo_hybrids.alpha_gan): training with every GAN loss, its
phases' routing (which loss reaches which of the four networks), saving,
zoo train / sample / eval, and the errors a user can cause; on whatever
backend KERAS_BACKEND selects (run it with tensorflow, jax and torch)."""

from __future__ import annotations

import numpy as np
import pytest

from hybrids_tiny import (DATASET, GAN_LOSSES, REGISTRY, SHAPE, TINY, build, gradients, norm, numpy, overrides,
                          snapshot, tiny_images)
from zoo_core.errors import ZooError
from zoo_core.resolve import resolve_run

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


@pytest.mark.parametrize("loss", GAN_LOSSES)
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

    assert applicable(build("alpha-gan")) == ["fd", "kid", "coverage"]


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
    import keras

    from zoo_core.multinet import NetworkOptimizers

    rates = {name: (0.1 if name == active else 0.0) for name in NETWORKS}
    model = build("alpha-gan", optimizer=NetworkOptimizers(**{n: keras.optimizers.SGD(r) for n, r in rates.items()}))
    before = {name: snapshot(net.trainable_variables) for name, net in model.networks().items()}
    model.fit(tiny_images(8), batch_size=8, epochs=1, shuffle=False, verbose=0)
    for name, net in model.networks().items():
        unchanged = all(np.array_equal(a, b) for a, b in zip(snapshot(net.trainable_variables), before[name]))
        assert unchanged == (name != active), f"{name} {'stood still' if unchanged else 'moved'}"


# === Saving ===


def test_save_and_load_keep_weights_and_all_four_optimizers(tmp_path):
    import keras

    model = build("alpha-gan", code_discriminator_learning_rate=5e-4)
    model.fit(tiny_images(16), batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")  # safe mode stays on
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(numpy(a), numpy(b))
    rates = [float(numpy(o.learning_rate)) for o in loaded.optimizer.optimizers]
    assert rates == pytest.approx([1e-3, 1e-3, 1e-3, 5e-4])
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(numpy(a), numpy(b))
    assert [int(numpy(o.iterations)) for o in loaded.optimizer.optimizers] == [2, 2, 2, 2]
    np.testing.assert_allclose(model.generate(3, seed=7), loaded.generate(3, seed=7), atol=1e-6)


# === zoo train, sample ===


def test_zoo_train_writes_samples_reconstructions_and_metrics_and_zoo_sample_reads_it(tmp_path):
    import keras

    from zoo_core.evaluation.commands import sample
    from zoo_core.training import train_run

    resolved = resolve_run(REGISTRY, "alpha-gan", dataset=DATASET, loss="wasserstein",
                           overrides=[*overrides("alpha-gan"), "epochs=2", "batch_size=16", "grid_size=4"])
    run = tmp_path / "run"
    result = train_run(resolved, run, backend=keras.backend.backend(), echo=lambda s: None, verbose=0)
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert METRICS | {"gp"} | {f"val_{m}" for m in METRICS} <= set(header)
    for key in METRICS:
        assert np.isfinite(result.metrics[key]), key
    for folder in ("samples", "reconstructions"):
        for epoch in (1, 2):
            assert (run / folder / f"epoch-{epoch:03d}.png").is_file(), (folder, epoch)
    out = tmp_path / "r.npz"
    sample(str(run), num=4, seed=0, class_index=None, out=str(out), mode="reconstruct", dataset=None,
           backend=keras.backend.backend(), registry=REGISTRY, echo=lambda s: None)
    assert np.load(out)["images"].shape == (4, *SHAPE)


def test_presets_take_any_gan_loss_by_name():
    for preset in ("alpha-gan-mnist", "alpha-gan-fashion-mnist"):
        assert resolve_run(REGISTRY, preset, loss="hinge").config.loss == "hinge"
        assert resolve_run(REGISTRY, preset).config.loss == "non-saturating"
        with pytest.raises(ZooError, match="is for vae models and cannot train 'alpha-gan'"):
            resolve_run(REGISTRY, preset, loss="elbo")


# === Errors a user can cause ===


@pytest.mark.parametrize("setting, message", [
    ("reconstruction_weight=-1", "'reconstruction_weight' must be >= 0"),
    ("code_discriminator_units=[]", "'code_discriminator_units' must be a non-empty list of positive integers"),
    ("code_discriminator_learning_rate=0", "'code_discriminator_learning_rate' must be positive, got 0"),
    ("latent_dim=0", "'latent_dim' must be at least 1, got 0"),
])
def test_bad_config_values_are_clear_errors(setting, message):
    key = setting.split("=")[0]
    sets = [s for s in overrides("alpha-gan") if s.split("=")[0] != key]
    with pytest.raises(ZooError, match=message.replace("[", r"\[")) as info:
        resolve_run(REGISTRY, "alpha-gan", dataset=DATASET, overrides=[*sets, setting])
    assert "\n" not in str(info.value)
