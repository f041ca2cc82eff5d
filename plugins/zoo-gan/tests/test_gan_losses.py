"""The GAN losses on hand-computed inputs, and the gradient penalty on critics
whose gradient norm is known. Runs on whatever backend KERAS_BACKEND selects."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zoo_core.plugins.config import make_config
from zoo_core.errors import ConfigError
from zoo_core.plugins.registry import load_registry

REGISTRY = load_registry()
GAN_LOSSES = ["minimax", "non-saturating", "wasserstein", "hinge", "least-squares"]

# Two real and two fake raw discriminator outputs, shaped (batch, 1).
REAL = [[0.0], [2.0]]
FAKE = [[-1.0], [1.0]]


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def log_sigmoid(x):
    return math.log(sigmoid(x))


def log_one_minus_sigmoid(x):
    return math.log(1.0 - sigmoid(x))


# loss name -> (discriminator loss, generator loss, d_real readout, d_fake readout)
EXPECTED = {
    "minimax": (
        -(log_sigmoid(0) + log_sigmoid(2)) / 2 - (log_one_minus_sigmoid(-1) + log_one_minus_sigmoid(1)) / 2,
        (log_one_minus_sigmoid(-1) + log_one_minus_sigmoid(1)) / 2,
        (sigmoid(0) + sigmoid(2)) / 2,
        (sigmoid(-1) + sigmoid(1)) / 2,
    ),
    "non-saturating": (
        -(log_sigmoid(0) + log_sigmoid(2)) / 2 - (log_one_minus_sigmoid(-1) + log_one_minus_sigmoid(1)) / 2,
        -(log_sigmoid(-1) + log_sigmoid(1)) / 2,
        (sigmoid(0) + sigmoid(2)) / 2,
        (sigmoid(-1) + sigmoid(1)) / 2,
    ),
    # E[D(G(z))] - E[D(x)] = 0 - 1; the penalty is the model's to add.
    "wasserstein": (-1.0, 0.0, 1.0, 0.0),
    # relu(1 - [0, 2]) = [1, 0]; relu(1 + [-1, 1]) = [0, 2]
    "hinge": (0.5 + 1.0, 0.0, 1.0, 0.0),
    # ((0-1)^2 + (2-1)^2) / 2 = 1 and ((-1)^2 + 1^2) / 2 = 1, halved; G: ((-2)^2 + 0^2) / 2, halved
    "least-squares": (1.0, 1.0, 1.0, 0.0),
}


def build_loss(name, **options):
    spec = REGISTRY.loss(name)
    return spec.build(make_config(spec.config, options))


def value(x):
    from keras import ops

    return float(ops.convert_to_numpy(x))


@pytest.mark.parametrize("name", GAN_LOSSES)
def test_loss_values_by_hand(name):
    from keras import ops

    loss = build_loss(name)
    real, fake = ops.convert_to_tensor(REAL), ops.convert_to_tensor(FAKE)
    d_loss, g_loss, d_real, d_fake = EXPECTED[name]
    assert value(loss.discriminator(real, fake)) == pytest.approx(d_loss, abs=1e-5)
    assert value(loss.generator(fake)) == pytest.approx(g_loss, abs=1e-5)
    assert value(ops.mean(loss.readout(real))) == pytest.approx(d_real, abs=1e-5)
    assert value(ops.mean(loss.readout(fake))) == pytest.approx(d_fake, abs=1e-5)


def test_all_gan_losses_are_registered_by_zoo_gan():
    for name in GAN_LOSSES:
        entry = REGISTRY.get("loss", name)
        assert entry.spec.interface == "gan" and entry.distribution == "zoo-gan"


def test_only_wasserstein_carries_a_gradient_penalty():
    assert build_loss("wasserstein").gradient_penalty == 10.0
    assert build_loss("wasserstein", gradient_penalty=2.5).gradient_penalty == 2.5
    for name in set(GAN_LOSSES) - {"wasserstein"}:
        assert build_loss(name).gradient_penalty == 0.0


@pytest.mark.parametrize("weight", [0, -1.0])
def test_wasserstein_without_a_penalty_is_a_config_error(weight):
    with pytest.raises(ConfigError, match="gradient_penalty.*must be > 0"):
        build_loss("wasserstein", gradient_penalty=weight)


# === The gradient penalty ===


def penalty(critic, real, fake, epsilon):
    import keras

    from zoo_core.multinet import input_gradient
    from zoo_gan.base import gradient_penalty

    tensors = [keras.ops.convert_to_tensor(np.asarray(a, np.float32)) for a in (real, fake, epsilon)]
    return value(gradient_penalty(critic, *tensors, input_gradient))


def test_penalty_of_a_linear_critic_is_its_weight_norm_minus_one_squared():
    """D(x) = <w, x> has gradient w everywhere, so the penalty is (||w|| - 1)^2
    whatever the images and the mixing weights."""
    from keras import ops

    rng = np.random.default_rng(0)
    w = rng.normal(size=(1, 4, 4, 1)).astype(np.float32)
    w *= 3.0 / np.linalg.norm(w)  # ||w|| = 3
    critic = lambda x: ops.sum(x * ops.convert_to_tensor(w), axis=(1, 2, 3))[:, None]  # noqa: E731
    real, fake = rng.uniform(-1, 1, (2, 5, 4, 4, 1))
    epsilon = rng.uniform(size=(5, 1, 1, 1))
    assert penalty(critic, real, fake, epsilon) == pytest.approx((3.0 - 1.0) ** 2, rel=1e-5)


def test_penalty_of_a_quadratic_critic_is_taken_at_the_interpolates():
    """D(x) = ||x||^2 / 2 has gradient x; with real = 2 * fake and epsilon = 1/2,
    x_hat = 1.5 * fake, so the penalty is the mean of (1.5 ||fake|| - 1)^2."""
    from keras import ops

    rng = np.random.default_rng(1)
    fake = rng.uniform(-1, 1, (3, 2, 2, 1)).astype(np.float32)
    critic = lambda x: 0.5 * ops.sum(ops.square(x), axis=(1, 2, 3))[:, None]  # noqa: E731
    norms = np.linalg.norm(fake.reshape(3, -1), axis=1)
    expected = np.mean((1.5 * norms - 1.0) ** 2)
    assert penalty(critic, 2 * fake, fake, np.full((3, 1, 1, 1), 0.5)) == pytest.approx(expected, rel=1e-5)


def test_a_critic_with_unit_gradient_has_no_penalty():
    from keras import ops

    w = np.zeros((1, 2, 2, 1), np.float32)
    w[0, 0, 0, 0] = 1.0
    critic = lambda x: ops.sum(x * ops.convert_to_tensor(w), axis=(1, 2, 3))[:, None]  # noqa: E731
    real = np.ones((2, 2, 2, 1))
    assert penalty(critic, real, -real, np.full((2, 1, 1, 1), 0.3)) == pytest.approx(0.0, abs=1e-5)


# === with_gradient_penalty: the public helper a "gan" model adds the penalty with ===


def test_with_gradient_penalty_adds_the_weighted_penalty_the_loss_asks_for():
    """A linear critic's penalty is (||w|| - 1)^2 at any mixing weights, so the
    helper's result is known whatever epsilon it draws."""
    import keras
    from keras import ops

    from zoo_gan import penalty_weight, with_gradient_penalty

    rng = np.random.default_rng(2)
    w = rng.normal(size=(1, 4, 4, 1)).astype(np.float32)
    w *= 3.0 / np.linalg.norm(w)
    critic = lambda x: ops.sum(x * ops.convert_to_tensor(w), axis=(1, 2, 3))[:, None]  # noqa: E731
    real, fake = (ops.convert_to_tensor(a.astype(np.float32)) for a in rng.uniform(-1, 1, (2, 5, 4, 4, 1)))
    seed = keras.random.SeedGenerator(0)
    d_loss = ops.convert_to_tensor(0.25)

    wgan = build_loss("wasserstein", gradient_penalty=2.5)
    assert penalty_weight(wgan) == 2.5
    total, gp = with_gradient_penalty(wgan, d_loss, critic, real, fake, seed)
    assert value(gp) == pytest.approx(4.0, rel=1e-5)
    assert value(total) == pytest.approx(0.25 + 2.5 * 4.0, rel=1e-5)

    for name in ("hinge", "non-saturating"):
        same, none = with_gradient_penalty(build_loss(name), d_loss, critic, real, fake, seed)
        assert none is None and value(same) == pytest.approx(0.25)


def test_the_helpers_are_exported_without_importing_keras():
    import subprocess
    import sys

    code = ("import sys, zoo_gan; assert 'keras' not in sys.modules; "
            "from zoo_gan import with_gradient_penalty, gradient_penalty; print(with_gradient_penalty.__module__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "zoo_gan.losses", done.stderr
