"""DiffAugment (Zhao et al. 2020): what each policy does to an image, that
a GAN trains with it on every backend, and that a bad policy is refused."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo_core.plugins.config import make_config
from zoo_core.errors import ConfigError
from zoo_gan import diffaugment as D

from test_gan_training import REGISTRY, build, fit

N, H, W, C = 6, 16, 16, 3


def images():
    return np.random.default_rng(0).uniform(0.1, 1.0, size=(N, H, W, C)).astype("float32")


def run(policy):
    out = D.augment(images(), D.parse_policy(policy), keras.random.SeedGenerator(1))
    return keras.ops.convert_to_numpy(out)


def test_translation_shifts_each_image_by_at_most_an_eighth_with_zeros():
    x, out = images(), run("translation")
    s = int(H * 0.125 + 0.5)
    for a, b in zip(x, out):
        matches = []
        for dy in range(-s, s + 1):
            for dx in range(-s, s + 1):
                shifted = np.zeros_like(a)
                shifted[max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
                    a[max(-dy, 0):H - max(dy, 0), max(-dx, 0):W - max(dx, 0)]
                matches.append(np.allclose(shifted, b, atol=1e-6))
        assert sum(matches) == 1


def test_cutout_zeroes_one_square_of_at_most_half_the_size():
    x, out = images(), run("cutout")
    for a, b in zip(x, out):
        zeroed = np.all(b == 0, axis=-1)
        assert np.allclose(b[~zeroed], a[~zeroed])
        rows, cols = np.flatnonzero(zeroed.any(axis=1)), np.flatnonzero(zeroed.any(axis=0))
        assert 0 < len(rows) <= H // 2 and 0 < len(cols) <= W // 2
        assert zeroed[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].all()  # one solid rectangle


def test_color_changes_brightness_saturation_contrast_per_image():
    x, out = images(), run("color")
    assert out.shape == x.shape and not np.allclose(out, x)
    shifts = (out - x).mean(axis=(1, 2, 3))
    assert np.std(shifts) > 0.01  # each image has its own draw


def test_the_same_generator_state_gives_the_same_augmentation_and_a_new_draw_after():
    gen = keras.random.SeedGenerator(3)
    policy = D.parse_policy("color,translation,cutout")
    a = keras.ops.convert_to_numpy(D.augment(images(), policy, keras.random.SeedGenerator(3)))
    b = keras.ops.convert_to_numpy(D.augment(images(), policy, gen))
    c = keras.ops.convert_to_numpy(D.augment(images(), policy, gen))
    assert np.allclose(a, b) and not np.allclose(b, c)


# cgan on TensorFlow only: the policies are the same keras.ops for both (one_backend)
@pytest.mark.parametrize("model", ["dcgan", pytest.param("cgan", marks=pytest.mark.one_backend)])
def test_a_gan_trains_with_every_policy(model):
    spec, gan = build(model, "non-saturating", diffaugment="color,translation,cutout")
    assert gan.diffaugment == "color,translation,cutout"
    history = fit(spec, gan)
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    again = gan.__class__.from_config(gan.get_config())
    assert again.diffaugment == gan.diffaugment


def test_unknown_policy_is_refused():
    with pytest.raises(ConfigError, match="unknown policy 'flip'"):
        make_config(REGISTRY.model("dcgan").config, {"diffaugment": "color,flip"})
