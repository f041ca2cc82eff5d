"""The label-conditioned adversarial autoencoder (``labelled-aae``, Makhzani
et al. 2015, section 2.3): one prior component per class, a discriminator
that sees each code beside its class, class-conditional sampling, zoo train
/ sample / eval on labelled data, and the errors a user can cause; on
whatever backend KERAS_BACKEND selects."""

from __future__ import annotations

import numpy as np
import pytest

from hybrids_tiny import (CLASSES, DATASET, LABELLED, REGISTRY, SHAPE, TINY, build, check_bad_setting,
                          check_save_and_load, check_zoo_train_and_sample, gradients, norm, numpy, overrides,
                          tiny_images, tiny_labels)
from zoo_core.errors import ZooError
from zoo_core.plugins.resolve import resolve_run

METRICS = {"reconstruction", "mse", "d_loss", "g_loss", "d_real", "d_fake"}
LATENT = TINY["labelled-aae"]["latent_dim"]


def labelled_batch(model, n=8):
    import keras

    images = tiny_images(n)
    return model.prepare_batch((keras.ops.convert_to_tensor(images), keras.ops.convert_to_tensor(tiny_labels(images))))


def test_component_means_are_distinct_and_at_the_radius():
    from zoo_hybrids.aae.model import mixture_means

    for classes, dim in ((10, 10), (10, 16), (10, 2), (4, 1)):
        means = mixture_means(classes, dim, 3.0)
        assert means.shape == (classes, dim)
        gaps = np.linalg.norm(means[:, None] - means[None], axis=-1)[~np.eye(classes, dtype=bool)]
        assert gaps.min() > 0.5
        if dim >= 2:
            np.testing.assert_allclose(np.linalg.norm(means, axis=1), 3.0, rtol=1e-6)
    np.testing.assert_array_equal(mixture_means(3, 4, 2.0)[:, :3], 2.0 * np.eye(3))


def test_the_discriminator_sees_codes_beside_their_class_and_prior_draws_come_from_their_component():
    model = build("labelled-aae", mixture_std=0.01)
    assert model.conditional and model.num_classes == CLASSES
    assert model.discriminator.input_shape == (None, LATENT + CLASSES)
    images, labels = labelled_batch(model)
    z_prior, codes = model.with_codes((images, labels))
    z_prior, codes, labels = numpy(z_prior), numpy(codes), numpy(labels)
    np.testing.assert_array_equal(z_prior[:, LATENT:], np.eye(CLASSES)[labels])
    np.testing.assert_array_equal(codes[:, LATENT:], np.eye(CLASSES)[labels])
    np.testing.assert_allclose(z_prior[:, :LATENT], model.means[labels], atol=0.1)


def test_trains_on_labelled_images_and_every_phase_reaches_its_networks():
    model = build("labelled-aae")
    images = tiny_images(16)
    history = model.fit(images, tiny_labels(images), batch_size=8, epochs=1, verbose=0).history
    assert set(history) == METRICS and all(np.all(np.isfinite(v)) for v in history.values())
    batch = labelled_batch(model)
    expected = [{"encoder", "decoder"}, {"discriminator"}, {"generator"}]
    for phase, names in zip(model.train_phases(), expected):
        grads = gradients(model, phase, batch)
        assert set(grads) == names and all(norm(grads[n]) > 1e-6 for n in names)


def test_generating_a_class_decodes_draws_from_its_component():
    model = build("labelled-aae", mixture_std=1e-6)
    images = model.generate(CLASSES, seed=1, labels=np.arange(CLASSES))
    np.testing.assert_allclose(images, model.decode(model.means), atol=1e-4)
    np.testing.assert_array_equal(model.generate(6, seed=2), model.generate(6, seed=2))
    grid, columns = model.sample_grid(3, seed=0)
    assert grid.shape == (CLASSES * 3, *SHAPE) and columns == 3
    with pytest.raises(ValueError, match=r"labels must be 2 ints in \[0, 4\)"):
        model.generate(2, labels=[0, 7])


def test_zoo_eval_measures_label_accuracy():
    from zoo_core.evaluation.evaluate import applicable
    from zoo_core.evaluation.sampling import is_conditional

    model = build("labelled-aae")
    assert is_conditional(model)
    assert applicable(model) == ["reconstruction", "fd", "kid", "coverage"]


def test_save_and_load_keep_the_mixture(tmp_path):
    model = build("labelled-aae", mixture_radius=2.0, generator_learning_rate=2e-4)
    loaded = check_save_and_load(model, tmp_path, rates=[1e-3, 1e-3, 1e-3, 2e-4], iterations=[2, 2, 2, 2])
    assert loaded.num_classes == CLASSES and loaded.mixture_radius == 2.0
    np.testing.assert_array_equal(loaded.means, model.means)


def test_zoo_train_and_zoo_sample_one_class(tmp_path):
    import keras

    from zoo_core.evaluation.commands import sample

    run = check_zoo_train_and_sample("labelled-aae", "hinge", METRICS, [("reconstruct", 4), (None, 4)], tmp_path,
                                     dataset=LABELLED)
    out = tmp_path / "class.npz"
    sample(str(run), num=3, seed=0, class_index=2, out=str(out), mode=None, dataset=None,
           backend=keras.backend.backend(), registry=REGISTRY, echo=lambda s: None)
    with np.load(out) as saved:
        assert saved["images"].shape == (3, *SHAPE) and list(saved["labels"]) == [2, 2, 2]


def test_unlabelled_data_is_a_clear_error(tmp_path):
    import keras

    from zoo_core.training import train_run

    resolved = resolve_run(REGISTRY, "labelled-aae", dataset=DATASET, overrides=overrides("labelled-aae"))
    with pytest.raises(ZooError, match="label") as info:
        train_run(resolved, tmp_path / "run", backend=keras.backend.backend(), echo=lambda s: None, verbose=0)
    assert "\n" not in str(info.value) and not (tmp_path / "run").exists()


@pytest.mark.parametrize("setting, message", [
    ("mixture_std=0", "'mixture_std' must be positive, got 0"),
    ("mixture_radius=-1", "'mixture_radius' must be positive, got -1"),
    ("latent_dim=0", "'latent_dim' must be at least 1, got 0"),
])
def test_bad_config_values_are_clear_errors(setting, message):
    check_bad_setting("labelled-aae", setting, message)
