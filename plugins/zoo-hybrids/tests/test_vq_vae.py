"""VQ-VAE (zoo_hybrids.vq_vae): the quantiser (nearest code, straight-through
gradient, EMA and loss codebooks), the PixelCNN's masks, sampling from the
learnt prior, the phases' routing, saving, zoo train / sample / eval, and the
errors a user can cause; on whatever backend KERAS_BACKEND selects (run it
with tensorflow, jax and torch)."""

from __future__ import annotations

import numpy as np
import pytest

from hybrids_tiny import (DATASET, REGISTRY, SHAPE, TINY, build, check_bad_setting, check_one_network_moves,
                          check_presets_take_loss, check_save_and_load, check_zoo_train_and_sample, gradients, norm,
                          numpy, overrides, tiny_images)
from zoo_core.errors import ZooError
from zoo_core.plugins.resolve import resolve_run

METRICS = {"loss", "mse", "commitment", "perplexity", "prior_nll"}
K = TINY["vq-vae"]["num_codes"]
GRID = (4, 4)  # 16x16 images, two stride-2 layers


def batch(model, n=8):
    import keras

    return model.prepare_batch(keras.ops.convert_to_tensor(tiny_images(n)))


def tensor(x):
    import keras

    return keras.ops.convert_to_tensor(np.asarray(x))


# === The quantiser ===


def test_each_vector_gets_its_nearest_code():
    model = build("vq-vae")
    embeddings = numpy(model.quantizer.embeddings)
    z = np.random.default_rng(0).normal(size=(2, *GRID, embeddings.shape[1])).astype(np.float32)
    codes, indices = model.quantizer(tensor(z), training=False)
    expected = np.argmin(((z[..., None, :] - embeddings) ** 2).sum(-1), axis=-1)
    np.testing.assert_array_equal(numpy(indices), expected)
    np.testing.assert_allclose(numpy(codes), embeddings[expected], atol=1e-6)


def test_the_ema_codebook_moves_each_used_code_towards_its_vectors_and_only_when_training():
    model = build("vq-vae")
    q = model.quantizer
    before = numpy(q.embeddings)
    z = np.repeat(before[:1] + 0.5, 16, axis=0).reshape(1, *GRID, -1)  # every vector nearest code 0's shifted copy
    q(tensor(z), training=False)
    np.testing.assert_array_equal(numpy(q.embeddings), before)
    _, indices = q(tensor(z), training=True)
    used = int(numpy(indices).ravel()[0])
    after = numpy(q.embeddings)
    target = z.reshape(-1, z.shape[-1])[0]
    assert np.linalg.norm(after[used] - target) < np.linalg.norm(before[used] - target)
    others = [k for k in range(K) if k != used]
    # Unused codes stay (to the smoothing's rounding).
    np.testing.assert_allclose(after[others], before[others], rtol=1e-3, atol=1e-4)


def test_the_straight_through_estimator_reaches_the_encoder_and_the_codebook_only_its_own_loss():
    model = build("vq-vae", codebook="loss")
    assert model.quantizer.embeddings.trainable
    grads = gradients(model, model.train_phases()[0], batch(model))
    assert set(grads) == {"encoder", "decoder", "codebook"}
    assert all(norm(grads[name]) > 1e-6 for name in grads)
    # With the EMA codebook the codebook is not a network with an optimizer.
    ema = build("vq-vae")
    assert not ema.quantizer.embeddings.trainable and set(ema.networks()) == {"encoder", "decoder", "prior"}
    assert set(gradients(ema, ema.train_phases()[0], batch(ema))) == {"encoder", "decoder"}


# === The prior ===


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_a_masked_convolution_sees_only_earlier_positions(mask_type):
    from zoo_hybrids.vq_vae.model import MaskedConv2D

    layer = MaskedConv2D(2, 3, mask_type)
    x = np.random.default_rng(1).normal(size=(1, 4, 4, 2)).astype(np.float32)
    base = numpy(layer(tensor(x)))
    for i in range(4):
        for j in range(4):
            changed = x.copy()
            changed[0, i, j] += 1.0
            moved = np.abs(numpy(layer(tensor(changed))) - base).sum(-1)[0] > 1e-6
            for p in range(4):
                for r in range(4):
                    later = (p, r) < (i, j) or ((p, r) == (i, j) and mask_type == "A")
                    if later:
                        assert not moved[p, r], f"position {(p, r)} saw {(i, j)}"


def influence(net, grid, codes):
    """moved[i, j][p, r]: changing the code at (i, j) changes the logits at (p, r)."""
    base = numpy(net(tensor(grid)))
    rows, cols = grid.shape[1:]
    moved = np.zeros((rows, cols, rows, cols), bool)
    for i in range(rows):
        for j in range(cols):
            changed = grid.copy()
            changed[0, i, j] = (changed[0, i, j] + 1) % codes
            moved[i, j] = np.abs(numpy(net(tensor(changed))) - base).sum(-1)[0] > 1e-7
    return moved


def test_the_gated_prior_sees_every_earlier_position_and_nothing_else():
    """Gated PixelCNN has no blind spot: each position's logits depend on every
    position before it in raster order, and on none at or after it."""
    import keras
    from zoo_hybrids.vq_vae.model import gated_pixelcnn, pixelcnn

    keras.utils.set_random_seed(0)
    grid = np.random.default_rng(0).integers(0, 6, (1, 5, 5)).astype(np.int32)
    moved = influence(gated_pixelcnn((5, 5), 6, 8, 2), grid, 6)
    for i, j, p, r in np.ndindex(moved.shape):
        assert moved[i, j, p, r] == ((i, j) < (p, r)), f"{(p, r)} and {(i, j)}"
    # The plain masked stack is blind to some earlier positions up and to the right.
    plain = influence(pixelcnn((5, 5), 6, 8, 2), grid, 6)
    assert not any(plain[i, j, p, r] for i, j, p, r in np.ndindex(plain.shape) if (i, j) >= (p, r))
    assert not plain[1, 4, 2, 0]


def test_a_model_saved_before_the_gated_prior_loads_with_its_plain_one():
    """Models (and config.toml files) from before ``pixelcnn`` existed name no
    ``pixelcnn``: they get the plain masked PixelCNN they were built with."""
    model = build("vq-vae", pixelcnn="plain")
    config = model.get_config()
    del config["pixelcnn"]
    again = type(model).from_config(config)
    assert again.pixelcnn == "plain"
    again.prior_network.set_weights(model.prior_network.get_weights())
    from zoo_hybrids.vq_vae import VQVAEConfig

    assert VQVAEConfig().pixelcnn == "plain" and build("vq-vae").pixelcnn == "gated"
    with pytest.raises(ValueError, match="pixelcnn must be one of gated, plain"):
        type(model).from_config({**config, "pixelcnn": "wavenet"})


def test_the_prior_phase_trains_the_prior_only_on_codes_made_without_gradient():
    model = build("vq-vae")
    phases = model.train_phases()
    assert [p.update for p in phases] == [("encoder", "decoder"), ("prior",)]
    grads = gradients(model, phases[1], batch(model))
    assert set(grads) == {"prior"} and norm(grads["prior"]) > 1e-6


def test_samples_come_from_the_learnt_prior():
    """A prior that puts all its mass on one code gives grids of that code,
    and images that are exactly its decoding: nothing Gaussian is involved."""
    model = build("vq-vae")
    logits = model.prior_network.get_layer("logits")
    kernel, bias = logits.weights
    kernel.assign(np.zeros(kernel.shape, np.float32))
    bias.assign(np.where(np.arange(K) == 2, 50.0, -50.0).astype(np.float32))
    grids = model.sample_code_grids(3, seed=0)
    assert grids.shape == (3, *GRID) and np.all(grids == 2)
    np.testing.assert_allclose(model.generate(3, seed=0), model.decode_code_grids(np.full((3, *GRID), 2)), atol=1e-6)


def test_sampling_is_seeded_and_the_prior_learns():
    model = build("vq-vae")
    np.testing.assert_array_equal(model.generate(4, seed=5), model.generate(4, seed=5))
    history = model.fit(tiny_images(32), batch_size=8, epochs=3, verbose=0).history
    assert history["prior_nll"][-1] < history["prior_nll"][0] <= np.log(K) + 0.5


@pytest.mark.parametrize("codebook", ["ema", "loss"])
def test_trains_and_logs_finite_terms(codebook):
    model = build("vq-vae", codebook=codebook)
    history = model.fit(tiny_images(16), batch_size=8, epochs=1, verbose=0).history
    assert set(history) == METRICS
    for key, values in history.items():
        assert np.all(np.isfinite(values)), f"{key} is not finite: {values}"
    assert 1.0 <= history["perplexity"][0] <= K


def test_what_zoo_uses():
    from zoo_core.evaluation.evaluate import applicable

    model = build("vq-vae")
    assert applicable(model) == ["reconstruction", "fd", "kid", "coverage"]
    samples, recon = model.generate(5, seed=3), model.reconstruct(tiny_images(4))
    for images in (samples, recon):
        assert images.dtype == np.float32 and 0.0 <= images.min() and images.max() <= 1.0
    assert samples.shape == (5, *SHAPE) and recon.shape == (4, *SHAPE)
    z, _ = model.encode(tiny_images(4))
    assert z.shape == (4, model.latent_dim) and model.latent_dim == GRID[0] * GRID[1] * TINY["vq-vae"]["code_dim"]
    np.testing.assert_allclose(model.decode(z), recon, atol=1e-6)


@pytest.mark.parametrize("active", ["encoder", "decoder", "prior"])
def test_no_network_update_moves_another_networks_weights(active):
    check_one_network_moves("vq-vae", active)


# === Saving, zoo train / sample ===


@pytest.mark.parametrize("codebook, rates", [("ema", [1e-3, 1e-3, 5e-4]), ("loss", [1e-3, 1e-3, 1e-3, 5e-4])])
def test_save_and_load_keep_weights_the_codebook_state_and_every_optimizer(tmp_path, codebook, rates):
    model = build("vq-vae", codebook=codebook, prior_learning_rate=5e-4)
    loaded = check_save_and_load(model, tmp_path, rates=rates, iterations=[2] * len(rates))
    if codebook == "ema":
        for name in ("embeddings", "counts", "sums"):
            np.testing.assert_array_equal(numpy(getattr(model.quantizer, name)), numpy(getattr(loaded.quantizer, name)))


def test_zoo_train_writes_samples_reconstructions_and_metrics_and_zoo_sample_reads_it(tmp_path):
    check_zoo_train_and_sample("vq-vae", None, METRICS, [("reconstruct", 4), ("interpolate", 2), (None, 4)],
                               tmp_path, extra=["loss.commitment=0.5"])


def test_presets_take_their_objective_and_refuse_a_gan_loss():
    check_presets_take_loss("vq-vae", "vq", "vq", foreign="hinge", foreign_kind="gan")


# === Errors a user can cause ===


@pytest.mark.parametrize("setting, message", [
    ("num_codes=1", "'num_codes' must be at least 2, got 1"),
    ("decay=1", "'decay' must be in (0, 1), got 1"),
    ("decoder_filters=[8]", "'encoder_filters' and 'decoder_filters' must have as many entries"),
    ("codebook=kmeans", "'model.codebook' must be one of 'ema', 'loss'"),
    ("prior_layers=0", "'prior_layers' must be at least 1, got 0"),
    ("loss.commitment=-1", "'commitment' must be >= 0, got -1"),
])
def test_bad_config_values_are_clear_errors(setting, message):
    check_bad_setting("vq-vae", setting, message)


def test_an_image_size_the_decoder_cannot_make_is_a_clear_error():
    from zoo_core.specs import DataInfo
    from zoo_core.training import build_model

    resolved = resolve_run(REGISTRY, "vq-vae", dataset=DATASET,
                           overrides=overrides("vq-vae", encoder_filters=[4] * 5, decoder_filters=[8] * 5))
    with pytest.raises(ZooError, match="divisible by 32 .*decoder_filters"):
        build_model(resolved, DataInfo(SHAPE, None))
