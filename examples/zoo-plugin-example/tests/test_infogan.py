"""InfoGAN (Chen et al. 2016) on zoo's multi-network trainer: it trains, D and
Q share one body, each loss reaches the networks it should and no other,
and it saves, loads and runs through ``zoo train`` (on whatever backend
KERAS_BACKEND selects)."""

from __future__ import annotations

import importlib.util
import tomllib

import numpy as np
import pytest
from click.testing import CliRunner

from zoo_core.cli import cli
from zoo_core.config import make_config
from zoo_core.registry import load_registry
from zoo_core.specs import DataInfo

REGISTRY = load_registry()
TERMS = {"d_loss", "g_loss", "info", "d_real", "d_fake"}
#: Small enough that a step takes milliseconds; three categories keep grids short.
TINY = {"noise_dim": 4, "num_categories": 3, "num_continuous": 2, "generator_units": [16],
        "discriminator_units": [16], "q_units": 8}


def build(**changes):
    import keras

    keras.utils.set_random_seed(0)
    spec, loss_spec = REGISTRY.model("infogan"), REGISTRY.loss("logistic-ns")
    model = spec.build(make_config(spec.config, {**TINY, **changes}), DataInfo((8, 8, 1), 10),
                       loss_spec.build(loss_spec.config()))
    model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    return model


@pytest.fixture(scope="module")
def digits():
    return REGISTRY.dataset("digits").load(None, None)


def numpy(values):
    from keras import ops

    return [None if v is None else ops.convert_to_numpy(v) for v in values]


def is_zero(gradients):
    """No gradient at all: None (TensorFlow, PyTorch) or zeros (JAX) everywhere."""
    return all(g is None or not np.any(g) for g in numpy(gradients))


def reaches_all(gradients):
    return all(g is not None and np.any(g) for g in numpy(gradients))


# === Training ===


def test_one_epoch_logs_finite_terms_and_moves_every_part(digits):
    model = build()
    body = {id(v) for v in model.body.trainable_variables}
    parts = {"body": model.body.trainable_variables,
             "score head": model.discriminator.get_layer("score").trainable_variables,
             "q head": [v for v in model.q.trainable_variables if id(v) not in body],
             "generator": model.generator.trainable_variables}
    before = {name: numpy(variables) for name, variables in parts.items()}
    history = model.fit(digits.x_train[:64], batch_size=32, epochs=1, verbose=0,
                        validation_data=(digits.x_test[:32],))
    assert set(history.history) == TERMS | {f"val_{t}" for t in TERMS}
    for key, values in history.history.items():
        assert np.all(np.isfinite(values)), f"{key} is not finite: {values}"
    assert 0 <= history.history["d_real"][0] <= 1 and 0 <= history.history["d_fake"][0] <= 1
    for name, variables in parts.items():
        assert all(not np.allclose(a, b) for a, b in zip(before[name], numpy(variables))), f"the {name} did not move"


# === The shared body ===


def test_q_and_the_discriminator_share_the_body_variables():
    model = build()
    body = {id(v) for v in model.body.trainable_variables}
    assert body and body <= {id(v) for v in model.discriminator.trainable_variables}
    assert body <= {id(v) for v in model.q.trainable_variables}
    assert not body & {id(v) for v in model.generator.trainable_variables}
    ids = [id(v) for v in model.trainable_variables]
    assert len(ids) == len(set(ids)), "a shared variable is listed twice"
    # Writing the body through the discriminator changes what Q reads.
    images = np.random.default_rng(0).uniform(0, 1, (4, 8, 8, 1)).astype(np.float32)
    before = model.infer_codes(images)[0]
    first = next(v for v in model.discriminator.trainable_variables if id(v) in body and len(v.shape) == 2)
    first.assign(np.zeros(first.shape, np.float32))
    np.testing.assert_allclose(model.infer_codes(images)[0], 1 / TINY["num_categories"], atol=1e-6)
    assert not np.allclose(before, model.infer_codes(images)[0])


# === Which loss reaches which network ===


def test_the_discriminator_phase_gives_the_generator_nothing(digits):
    from zoo_core.multinet import Phase, phase_gradients

    model = build()
    real = model.prepare_batch(digits.x_train[:16])
    phase = model.train_phases()[0]
    assert phase.update == ("discriminator",) and phase.prepare is not None
    grads = phase_gradients(model, phase, real)
    assert set(grads) == {"discriminator"} and reaches_all(grads["discriminator"])
    # Even a phase that listed the generator would get nothing: the fakes come from prepare.
    both = Phase(("discriminator", "generator"), phase.loss, prepare=phase.prepare)
    grads = phase_gradients(model, both, real)
    assert reaches_all(grads["discriminator"]) and is_zero(grads["generator"])


def test_the_generator_phase_routes_info_to_q_and_g_loss_to_the_generator_only(digits):
    from zoo_core.multinet import phase_gradients

    model = build()
    real = model.prepare_batch(digits.x_train[:16])
    phase = model.train_phases()[1]
    assert phase.update == ("generator", "q")
    grads = phase_gradients(model, phase, real)
    assert reaches_all(grads["generator"]) and reaches_all(grads["q"])
    assert len(grads["q"]) == len(model.q.trainable_variables), "q owns the body in this phase"

    # Without the information term Q's loss is zero: g_loss never reaches the body or Q's head.
    model = build(info_weight=0.0, continuous_weight=0.0)
    grads = phase_gradients(model, model.train_phases()[1], real)
    assert reaches_all(grads["generator"]) and is_zero(grads["q"])


def test_the_information_term_alone_reaches_the_generator_and_q(digits):
    from zoo_core.multinet import Phase, phase_gradients

    model = build()

    def info_only(real, training):
        z, category, continuous = model.draw_codes(16)
        fake = model._generate(z, category, continuous, training)
        info = model.information_loss(fake, category, continuous, training)
        return info, {"info": info}

    grads = phase_gradients(model, Phase(("generator", "q"), info_only), model.prepare_batch(digits.x_train[:16]))
    assert reaches_all(grads["generator"]) and reaches_all(grads["q"])


def test_information_loss_matches_numpy():
    from keras import ops

    model = build(continuous_weight=0.5, learn_std=True)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (5, 8, 8, 1)).astype(np.float32)
    category, continuous = rng.integers(0, 3, 5), rng.uniform(-1, 1, (5, 2)).astype(np.float32)
    logits, mean, log_std = (ops.convert_to_numpy(t) for t in model.read_codes(images))
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -log_softmax[np.arange(5), category]
    nll = (0.5 * ((continuous - mean) / np.exp(log_std)) ** 2 + log_std + 0.5 * np.log(2 * np.pi)).sum(-1)
    got = float(ops.convert_to_numpy(model.information_loss(images, category, continuous, training=False)))
    np.testing.assert_allclose(got, (ce + 0.5 * nll).mean(), rtol=1e-5)


# === Sampling, saving, configs ===


def test_generate_and_the_grid():
    model = build()
    images = model.generate(6, seed=3)
    assert images.shape == (6, 8, 8, 1) and images.dtype == np.float32 and 0 <= images.min() <= images.max() <= 1
    np.testing.assert_array_equal(images, model.generate(6, seed=3))
    assert not np.allclose(images, model.generate(6, seed=4))
    grid, columns = model.sample_grid(4, seed=0)
    assert grid.shape == (3 * 4, 8, 8, 1) and columns == 4  # one row per category
    np.testing.assert_array_equal(grid, model.sample_grid(4, seed=0)[0])
    sweep, steps = model.traverse(1, steps=5, seed=0)
    assert sweep.shape == (3 * 5, 8, 8, 1) and steps == 5


def test_keras_save_and_load_round_trip(digits, tmp_path):
    import keras

    from zoo_plugin_example.losses import LogisticNonSaturating

    model = build()
    model.fit(digits.x_train[:32], batch_size=32, epochs=1, verbose=0)
    model.save(tmp_path / "infogan.keras")
    loaded = keras.saving.load_model(tmp_path / "infogan.keras")  # safe_mode stays on
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    np.testing.assert_allclose(model.generate(4, seed=7), loaded.generate(4, seed=7), atol=1e-6)
    np.testing.assert_allclose(model.sample_grid(2, seed=7)[0], loaded.sample_grid(2, seed=7)[0], atol=1e-6)
    body = {id(v) for v in loaded.body.trainable_variables}
    assert body <= {id(v) for v in loaded.q.trainable_variables}, "the loaded Q lost the shared body"
    assert body <= {id(v) for v in loaded.discriminator.trainable_variables}
    # It trains on from where it was saved (each network's optimizer state came back).
    assert int(loaded.optimizer.q.iterations) == int(model.optimizer.q.iterations) == 1
    loaded.loss_fn = LogisticNonSaturating()
    history = loaded.fit(digits.x_train[:32], batch_size=32, epochs=1, verbose=0)
    assert np.isfinite(history.history["info"][0]) and int(loaded.optimizer.q.iterations) == 2


@pytest.mark.parametrize("changes, message", [
    ({"num_categories": 1}, "'num_categories' must be at least 2"),
    ({"num_continuous": 0}, "'num_continuous' must be at least 1"),
    ({"noise_dim": 0}, "'noise_dim' must be at least 1"),
    ({"generator_units": []}, "'generator_units' must be a non-empty list"),
    ({"info_weight": -1.0}, "'info_weight' must be >= 0"),
    ({"q_learning_rate": 0.0}, "'q_learning_rate' must be positive"),
])
def test_config_validation(changes, message):
    from zoo_plugin_example.plugin import InfoGANConfig

    with pytest.raises(ValueError, match=message) as caught:
        InfoGANConfig(**changes)
    assert "\n" not in str(caught.value)


def test_a_loss_with_a_gradient_penalty_is_refused():
    spec = REGISTRY.model("infogan")

    class Penalised:
        gradient_penalty = 10.0

        def discriminator(self, real, fake):
            return 0.0

        def generator(self, fake):
            return 0.0

    with pytest.raises(ValueError, match="no gradient penalty"):
        spec.build(make_config(spec.config, TINY), DataInfo((8, 8, 1), None), Penalised())


# === Through zoo ===


def test_zoo_train_the_preset_writes_a_run_with_samples(tmp_path):
    from zoo_core.runs import load_model, open_run

    out = tmp_path / "run"
    # No validation: one compiled step fewer on JAX (the first test covers val_ terms).
    args = ["train", "infogan-digits", "--epochs", "1", "--set", "max_train_examples=128", "--set",
            "validation=false", "--out", str(out)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Done in" in result.output and (out / "samples" / "epoch-001.png").is_file()
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["preset"] == "infogan-digits" and config["model"]["name"] == "infogan"
    assert config["loss"]["name"] == "logistic-ns"
    model = load_model(open_run(out), REGISTRY)  # through zoo's safe loading
    grid, columns = model.sample_grid(10, seed=0)
    assert grid.shape == (100, 8, 8, 1) and columns == 10


@pytest.mark.skipif(importlib.util.find_spec("zoo_gan") is None, reason="needs zoo-gan")
def test_the_gan_interface_is_shared_with_zoo_gan(tmp_path):
    """infogan takes zoo-gan's losses by name, and zoo-gan's refuses it the one it cannot use."""
    out = tmp_path / "run"
    args = ["train", "infogan", "--dataset", "digits", "--loss", "hinge", "--epochs", "1", "--batch-size", "32",
            "--set", "max_train_examples=64", "--set", "validation=false", "--out", str(out)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert tomllib.loads((out / "config.toml").read_text())["loss"]["name"] == "hinge"
    result = CliRunner().invoke(cli, ["train", "infogan", "--dataset", "digits", "--loss", "wasserstein",
                                      "--epochs", "1", "--out", str(tmp_path / "refused")])
    assert result.exit_code != 0 and "no gradient penalty" in result.output
