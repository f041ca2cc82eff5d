"""The evaluation machinery: FD, KID, coverage, the ELBO and IWAE bound, and
the feature-classifier cache. Metrics are checked against closed forms and
against what they must do (grow as images degrade, vanish in expectation);
the likelihood against an exact log p(x)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoo_core.evaluation import metrics as M
from zoo_core.evaluation.likelihood import binarise, evaluate_likelihood, log_mean_exp

# === Data with meaning: a blob whose quadrant is its class ===


def quadrant_blobs(n, size=16, seed=0):
    """Images of one bright blob; the label is the quadrant it sits in."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    labels = rng.integers(0, 4, n)
    images = np.zeros((n, size, size, 1), np.float32)
    for i, label in enumerate(labels):
        cy = rng.uniform(0.15, 0.4) * size + (size / 2 if label // 2 else 0)
        cx = rng.uniform(0.15, 0.4) * size + (size / 2 if label % 2 else 0)
        r = rng.uniform(0.08, 0.15) * size
        images[i, ..., 0] = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)) * rng.uniform(0.7, 1.0)
    return images, labels.astype(np.int64)


def blur(images, sigma):
    """Separable Gaussian blur (numpy only)."""
    if sigma == 0:
        return images
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = np.pad(images, ((0, 0), (radius, radius), (radius, radius), (0, 0)), mode="edge")
    for axis in (1, 2):
        out = np.apply_along_axis(lambda v: np.convolve(v, taps, mode="valid"), axis, out)
    return out.astype(np.float32)


def noise(images, level, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(images + level * rng.standard_normal(images.shape), 0, 1).astype(np.float32)


# === Fréchet distance ===


def test_fd_of_a_set_with_itself_is_zero():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((500, 16)) @ rng.standard_normal((16, 16))
    assert M.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)
    shifted = features + 2.0
    assert M.frechet_distance(features, shifted) == pytest.approx(16 * 4.0, rel=1e-6)


def test_fd_matches_the_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    var1, var2 = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    got = M.frechet_distance_from_statistics(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(expected, rel=1e-9)


def test_fd_matches_scipy_for_non_commuting_covariances():
    """tr (S1 S2)^(1/2) against SciPy's general matrix square root, for a
    random SPD pair that does not commute (the diagonal test above cannot tell
    a correct formula from tr(S1^(1/2) S2^(1/2)), which is right only then)."""
    from scipy import linalg

    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((6, 6)), rng.standard_normal((6, 6))
    sigma1, sigma2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    assert np.linalg.norm(sigma1 @ sigma2 - sigma2 @ sigma1) > 1.0  # really non-commuting
    trace_sqrt = np.trace(linalg.sqrtm(sigma1 @ sigma2)).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt
    assert M.frechet_distance_from_statistics(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-8)
    # The commuting shortcut's distance is far off here, so the check above has teeth.
    shortcut = np.trace(linalg.sqrtm(sigma1) @ linalg.sqrtm(sigma2)).real
    assert expected + 2 * (trace_sqrt - shortcut) != pytest.approx(expected, rel=1e-3)
    # Symmetric in its two Gaussians, as a distance must be.
    assert M.frechet_distance_from_statistics(mu2, sigma2, mu1, sigma1) == pytest.approx(expected, rel=1e-8)


def test_fd_handles_singular_covariances():
    rng = np.random.default_rng(2)
    low_rank = rng.standard_normal((50, 3)) @ rng.standard_normal((3, 20))  # rank 3 in 20 dimensions
    assert np.isfinite(M.frechet_distance(low_rank, low_rank + 0.1))
    assert M.frechet_distance(low_rank, low_rank) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("degrade, levels", [(noise, [0.0, 0.05, 0.15, 0.4]), (blur, [0.0, 0.4, 0.8, 1.6])],
                         ids=["noise", "blur"])
def test_fd_and_kid_grow_as_images_degrade_pixel_features(degrade, levels):
    real, _ = quadrant_blobs(400, size=8, seed=0)  # 64 pixels: small matrices, a fast test
    reference, _ = quadrant_blobs(400, size=8, seed=1)
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731
    fds = [M.frechet_distance(flat(degrade(real, level)), flat(reference)) for level in levels]
    kids = [M.kernel_distance(flat(degrade(real, level)), flat(reference), 20, 200)["value"] for level in levels]
    assert fds == sorted(fds) and fds[-1] > 5 * fds[0], fds
    assert kids == sorted(kids) and kids[-1] > kids[0] + 10 * abs(kids[0]), kids


# === KID ===


def test_kid_is_unbiased_and_the_biased_estimate_is_not():
    """Over many pairs of samples from one distribution the unbiased MMD²
    averages to 0 (within its standard error); the V-statistic does not."""
    rng = np.random.default_rng(3)
    unbiased, biased = [], []
    for _ in range(300):
        a, b = rng.standard_normal((40, 8)), rng.standard_normal((40, 8))
        unbiased.append(M.mmd2_unbiased(a, b))
        k = M.polynomial_kernel
        biased.append(k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean())
    unbiased, biased = np.array(unbiased), np.array(biased)
    stderr = unbiased.std() / np.sqrt(len(unbiased))
    assert abs(unbiased.mean()) < 3 * stderr
    assert biased.mean() > 10 * biased.std() / np.sqrt(len(biased))
    assert (unbiased < 0).any()  # unbiased: single values straddle 0


def test_kid_subsets_report_mean_and_spread():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((300, 6)), rng.standard_normal((300, 6)) + 1.0
    out = M.kernel_distance(a, b, subsets=10, subset_size=100, seed=0)
    assert out["subsets"] == 10 and out["subset_size"] == 100 and out["std"] > 0
    assert out["value"] > 0.1
    assert M.kernel_distance(a, b, subsets=10, subset_size=100, seed=0) == out  # seeded
    assert M.kernel_distance(a[:30], b, subsets=3, subset_size=100)["subset_size"] == 30


# === Classes ===


def test_coverage_and_classifier_score():
    confident = np.eye(4)[np.arange(400) % 4]
    assert M.classifier_score(confident) == pytest.approx(4.0, rel=1e-6)
    assert M.classifier_score(np.full((10, 4), 0.25)) == pytest.approx(1.0)
    assert M.classifier_score(np.eye(4)[np.zeros(50, int)]) == pytest.approx(1.0, abs=1e-6)
    reference = np.array([100, 100, 100, 100])
    even = M.coverage(confident, reference)
    assert even["classes_present"] == 4 and even["kl_to_real"] == pytest.approx(0.0, abs=1e-9)
    collapsed = M.coverage(np.eye(4)[np.arange(400) % 3], reference, labels=np.arange(400) % 4)
    assert collapsed["classes_present"] == 3 and collapsed["histogram"][3] == 0
    assert collapsed["kl_to_real"] == pytest.approx(np.log(4 / 3), rel=1e-4)
    assert collapsed["label_accuracy"] == pytest.approx(np.mean(np.arange(400) % 3 == np.arange(400) % 4))


# === Likelihood ===


class LinearGaussian:
    """A tiny latent-variable model with a closed-form log p(x): z ~ N(0, 1),
    x | z ~ N(w z + b, s² I) in D dimensions, and a deliberately imperfect
    q(z|x) (the exact posterior, shifted and widened) so the ELBO is loose."""

    likelihood = "gaussian"

    def __init__(self, dims=4, seed=0):
        rng = np.random.default_rng(seed)
        self.w, self.b, self.s = rng.normal(size=dims) * 1.5, rng.normal(size=dims), 0.5

    def sample(self, n, seed=1):
        rng = np.random.default_rng(seed)
        z = rng.standard_normal(n)
        return z[:, None] * self.w + self.b + self.s * rng.standard_normal((n, len(self.w)))

    def log_px(self, x):
        cov = np.outer(self.w, self.w) + self.s**2 * np.eye(len(self.w))
        diff = x - self.b
        _, logdet = np.linalg.slogdet(cov)
        maha = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
        return -0.5 * (maha + logdet + len(self.w) * np.log(2 * np.pi))

    def posterior(self, x):
        precision = 1 + self.w @ self.w / self.s**2
        mean = (x - self.b) @ self.w / self.s**2 / precision
        return mean + 0.3, np.full(len(x), np.log(1.5 / precision))  # off on purpose

    def log_importance_weights(self, images, num_samples, seed=None):
        x = np.asarray(images, np.float64)
        mean, log_var = self.posterior(x)
        eps = np.random.default_rng(seed).standard_normal((len(x), num_samples))
        z = mean[:, None] + np.exp(0.5 * log_var)[:, None] * eps
        log_qz = -0.5 * (eps**2 + log_var[:, None] + np.log(2 * np.pi))
        log_pz = -0.5 * (z**2 + np.log(2 * np.pi))
        resid = x[:, None, :] - (z[..., None] * self.w + self.b)
        log_px_z = -0.5 * np.sum(resid**2 / self.s**2 + np.log(2 * np.pi * self.s**2), axis=-1)
        return {"log_px_z": log_px_z, "log_pz": log_pz, "log_qz_x": log_qz}


def test_iwae_matches_the_exact_likelihood_and_never_falls_below_the_elbo():
    model = LinearGaussian()
    x = model.sample(100)
    exact = model.log_px(x).mean()
    out = evaluate_likelihood(model, x, k=20000, iwae_images=None, echo=lambda s: None)
    assert out["iwae"]["nll"] == pytest.approx(-exact, abs=0.02)
    assert out["iwae"]["nll"] <= out["iwae"]["negative_elbo_same_images"]
    assert -out["elbo"]["elbo"] > -exact + 0.05  # the ELBO is loose here, so the check above has teeth
    assert "Gaussian" in out["data"] and "not binarised" in out["data"]


def test_iwae_tightens_as_k_grows():
    model = LinearGaussian(seed=1)
    x = model.sample(400, seed=2)
    nlls = [evaluate_likelihood(model, x, k=k, iwae_images=None, seed=5, echo=lambda s: None)["iwae"]
            for k in (1, 4, 32, 256, 2048)]
    values = [r["nll"] for r in nlls]
    assert all(b <= a + 1e-3 for a, b in zip(values, values[1:])), values
    assert values[0] - values[-1] > 0.05
    assert all(r["nll"] <= r["negative_elbo_same_images"] + 1e-9 for r in nlls)
    assert values[-1] >= -model.log_px(x).mean() - 0.02  # a bound: not below the true NLL


def test_log_mean_exp_is_stable():
    values = np.array([[-1000.0, -1000.0], [1000.0, 1000.0 + np.log(3)]])
    assert log_mean_exp(values) == pytest.approx([-1000.0, 1000.0 + np.log(2)])


def test_binarisation_is_stated_and_seeded():
    x = np.random.default_rng(0).random((10, 4, 4, 1)).astype(np.float32)
    a, how = binarise(x, "stochastic", seed=3)
    b, _ = binarise(x, "stochastic", seed=3)
    assert np.array_equal(a, b) and set(np.unique(a)) <= {0.0, 1.0} and "stochastic" in how
    assert np.array_equal(binarise(x, "threshold")[0], (x > 0.5).astype(np.float32))
    assert "NOT binarised" in binarise(x, "none")[1]
    assert "already binary" in binarise(a, "stochastic")[1]


def _tiny_vae(latent_dim=1, reconstruction="bce"):
    import keras

    from zoo_core.specs import DataInfo
    from zoo_vae import plugin

    keras.utils.set_random_seed(0)
    loss = plugin._build_elbo(plugin.ELBOConfig(reconstruction=reconstruction))
    return plugin._build_mlp(plugin.MLPVAEConfig(latent_dim=latent_dim, hidden_units=(8,)), DataInfo((4, 4, 1)), loss)


def _reference_log_px_z(x, logits, reconstruction):
    """log p(x|z) per image written out in NumPy, independently of zoo_vae:
    Bernoulli with logits, or a unit-variance Gaussian with mean sigmoid(logits)
    and its normalising constant."""
    x, logits = np.asarray(x, np.float64), np.asarray(logits, np.float64)
    if reconstruction == "bce":
        per_pixel = x * logits - np.logaddexp(0.0, logits)
    else:
        per_pixel = -0.5 * (x - 1.0 / (1.0 + np.exp(-logits))) ** 2 - 0.5 * np.log(2 * np.pi)
    return per_pixel.sum(axis=(-3, -2, -1))


@pytest.mark.parametrize("reconstruction", ["bce", "mse"])
def test_vae_iwae_matches_brute_force_integration_over_a_1d_latent(reconstruction):
    """zoo_vae's log_importance_weights against log p(x) = log ∫ p(x|z) p(z) dz
    computed on a fine grid of z, for a VAE with one latent dimension, with
    p(x|z) written out in NumPy (so a wrong constant or mean in the model's
    log_likelihood shows). bce on binary images, mse on grey levels."""
    from keras import ops

    model = _tiny_vae(reconstruction=reconstruction)
    # Make p(x|z) depend strongly on z, so the integral is not trivial.
    for w in model.decoder.weights:
        w.assign(ops.convert_to_numpy(w) * 4.0)
    x = np.random.default_rng(0).random((6, 4, 4, 1)).astype(np.float32)
    if reconstruction == "bce":
        x, _ = binarise(x, "stochastic")
    grid = np.linspace(-9, 9, 3601).astype(np.float32)
    logits = ops.convert_to_numpy(model.decoder(grid[:, None]))
    log_px_z = _reference_log_px_z(x[:, None], logits[None], reconstruction)  # (6, 3601)
    log_joint = log_px_z - 0.5 * (grid**2 + np.log(2 * np.pi))
    log_px = log_mean_exp(log_joint, axis=1) + np.log(grid[-1] - grid[0])  # Riemann sum of the integral
    out = evaluate_likelihood(model, x, k=4000, iwae_images=None, binarisation="none", echo=lambda s: None)
    assert out["iwae"]["nll"] == pytest.approx(-log_px.mean(), abs=0.05)
    assert out["iwae"]["nll"] <= out["iwae"]["negative_elbo_same_images"]
    assert ("already binary" if reconstruction == "bce" else "Gaussian") in out["data"]


def test_vae_elbo_parts_agree_with_the_training_loss():
    from keras import ops

    from zoo_core.evaluation.likelihood import elbo_and_iwae, importance_terms

    model = _tiny_vae(latent_dim=2)
    x = np.random.default_rng(1).random((32, 4, 4, 1)).astype(np.float32)
    parts = elbo_and_iwae(importance_terms(model, x, 2000, seed=0))
    z_mean, z_log_var = model.encode(x)
    analytic_kl = np.mean(-0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=-1))
    assert parts["kl"].mean() == pytest.approx(analytic_kl, abs=0.02)
    terms = model.loss_fn(x, model(x))  # the training loss: one draw per image
    assert parts["reconstruction"].mean() == pytest.approx(float(ops.convert_to_numpy(terms["reconstruction"])),
                                                           rel=0.05)
    # -ELBO against the training loss's reconstruction + kl (beta = 1), averaged
    # over 20 calls so its one-draw-per-image noise (~0.06 nats) is well under
    # the tolerance, which in turn is well under the KL (~0.4 nats): a missing
    # or mis-signed term in elbo_and_iwae's "elbo" fails here.
    calls = [model.loss_fn(x, model(x)) for _ in range(20)]
    training = np.mean([float(ops.convert_to_numpy(t["reconstruction"] + t["kl"])) for t in calls])
    assert parts["kl"].mean() > 0.2
    assert -parts["elbo"].mean() == pytest.approx(training, abs=0.1)
    out = evaluate_likelihood(model, x, k=1, iwae_images=0, binarisation="none", echo=lambda s: None)
    assert "NOT binarised" in out["data"] and out["elbo"]["images"] == 32 and "iwae" not in out


# === Feature classifier and its cache ===


@pytest.fixture(scope="module")
def blobs():
    x, y = quadrant_blobs(200, seed=0)
    return x[:160], y[:160], x[160:], y[160:]


def _classifier(directory, x, y, notices, epochs=2):
    from zoo_core.evaluation.classifier import get_classifier

    return get_classifier("blobs", x, y, 4, epochs=epochs, echo=notices.append, directory=directory)


@pytest.fixture(scope="module")
def trained_classifier(tmp_path_factory, blobs):
    """One really trained classifier, shared by the tests that need one."""
    x, y, _, _ = blobs
    directory = tmp_path_factory.mktemp("classifier-cache")
    notices = []
    return _classifier(directory, x, y, notices, epochs=6), directory, notices


@pytest.fixture
def untrained(monkeypatch):
    """Cache-logic tests: skip the fitting (the cache, not learning, is under test)."""
    from zoo_core.evaluation import classifier

    calls = []

    def build_only(key, x_train, y_train, echo=print):
        calls.append(key)
        return classifier.build_classifier(tuple(key["image_shape"]), key["num_classes"])

    monkeypatch.setattr(classifier, "train_classifier", build_only)
    return calls


def test_classifier_learns_and_is_cached(trained_classifier, blobs):
    first, directory, notices = trained_classifier
    x, y, x_test, y_test = blobs
    assert first.trained_now and first.path.is_file() and first.path.with_suffix(".json").is_file()
    features, probs = first.features_and_probabilities(x_test)
    assert features.shape == (40, 128) and probs.shape == (40, 4)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert np.mean(probs.argmax(axis=1) == y_test) > 0.5  # chance is 0.25
    again = _classifier(directory, x, y, notices, epochs=6)
    assert not again.trained_now and again.path == first.path
    assert np.allclose(again.features_and_probabilities(x_test)[0], features, atol=1e-4)
    assert not any("Notice" in n for n in notices)
    meta = json.loads(first.path.with_suffix(".json").read_text())
    assert meta["dataset"] == "blobs" and meta["image_shape"] == [16, 16, 1] and meta["num_classes"] == 4
    assert meta["format"] >= 1 and len(meta["fingerprint"]) == 32 and meta["sha256"]


@pytest.mark.parametrize("damage, words", [
    ("garbage-model", "checksum"),
    ("truncated-json", "unreadable"),
    ("other-data", "other data or settings"),
    ("missing-model", "missing"),
])
def test_a_corrupt_or_mismatched_cache_is_rebuilt_with_a_notice(tmp_path, blobs, untrained, damage, words):
    x, y, _, _ = blobs
    first = _classifier(tmp_path, x, y, [], epochs=1)
    meta_path = first.path.with_suffix(".json")
    if damage == "garbage-model":
        first.path.write_bytes(b"PK\x03\x04 not really a zip")
    elif damage == "truncated-json":
        meta_path.write_text(meta_path.read_text()[:20])
    elif damage == "other-data":
        meta = json.loads(meta_path.read_text())
        meta["fingerprint"] = "0" * 32
        meta_path.write_text(json.dumps(meta))
    else:
        first.path.unlink()
    notices = []
    rebuilt = _classifier(tmp_path, x, y, notices, epochs=1)
    assert rebuilt.trained_now and len(untrained) == 2, "a damaged cache entry was used"
    notice = [n for n in notices if n.startswith("Notice")]
    assert len(notice) == 1 and words in notice[0], notices
    assert not _classifier(tmp_path, x, y, [], epochs=1).trained_now  # the rebuilt entry is good
    assert len(untrained) == 2


def test_a_checksum_valid_but_wrong_model_is_rebuilt(tmp_path, blobs, untrained):
    """A file that matches its recorded checksum but is not a feature
    classifier of the right shape (e.g. written by hand) is not used either."""
    import hashlib

    import keras

    x, y, _, _ = blobs
    first = _classifier(tmp_path, x, y, [], epochs=1)
    other = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    other.save(first.path)
    meta_path = first.path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = hashlib.sha256(first.path.read_bytes()).hexdigest()
    meta_path.write_text(json.dumps(meta))
    notices = []
    assert _classifier(tmp_path, x, y, notices, epochs=1).trained_now
    assert any("shapes" in n for n in notices), notices


def test_changed_data_gets_its_own_classifier(tmp_path, blobs, untrained):
    x, y, _, _ = blobs
    first = _classifier(tmp_path, x, y, [], epochs=1)
    changed = x.copy()
    changed[0, 0, 0, 0] += 0.5
    second = _classifier(tmp_path, changed, y, [], epochs=1)
    assert second.trained_now and second.path != first.path


def test_no_labels_no_classifier(tmp_path, blobs):
    from zoo_core.evaluation.classifier import NoClassifier, get_classifier

    with pytest.raises(NoClassifier, match="no class labels"):
        get_classifier("unlabelled", blobs[0], None, None, directory=tmp_path)


def test_fd_and_kid_grow_as_images_degrade_classifier_features(trained_classifier):
    clf = trained_classifier[0]
    real, _ = quadrant_blobs(300, seed=5)
    reference, _ = quadrant_blobs(300, seed=6)
    ref_features = clf.features_and_probabilities(reference)[0]
    fds, kids = [], []
    for level in (0.0, 0.1, 0.25, 0.5):
        features = clf.features_and_probabilities(noise(real, level, seed=7))[0]
        fds.append(M.frechet_distance(features, ref_features))
        kids.append(M.kernel_distance(features, ref_features, 20, 150)["value"])
    assert fds == sorted(fds) and fds[-1] > 3 * fds[0], fds
    assert kids == sorted(kids), kids


# === Reconstruction error ===


class _Reconstructs:
    def __init__(self, fn):
        self.reconstruct = fn


def test_reconstruction_error_is_zero_for_a_copy_and_the_baseline_for_the_mean_image():
    from zoo_core.errors import ZooError
    from zoo_core.evaluation.evaluate import EvalOptions, _reconstruction, applicable
    from zoo_core.specs import Dataset

    x, _ = quadrant_blobs(60, size=8, seed=1)
    data = Dataset("blobs", x[:40], x[40:])
    options = EvalOptions(num=15)
    copy = _reconstruction(_Reconstructs(lambda images: images), data, options, echo=lambda _: None)
    assert copy["mse"] == copy["mae"] == 0.0 and copy["images"] == 15
    mean = x[:40].mean(axis=0)
    blind = _reconstruction(_Reconstructs(lambda images: np.repeat(mean[None], len(images), 0)), data, options,
                            echo=lambda _: None)
    assert blind["mse"] == pytest.approx(blind["mean_image_mse"], rel=1e-5) and blind["mse"] > 0.01
    # Worse reconstructions score worse; a seeded subset gives the same number twice.
    noisy = _Reconstructs(lambda images: np.clip(images + 0.2, 0, 1))
    once = _reconstruction(noisy, data, options, echo=lambda _: None)
    assert 0 < once["mse"] == _reconstruction(noisy, data, options, echo=lambda _: None)["mse"]
    with pytest.raises(ZooError, match="returned shape"):
        _reconstruction(_Reconstructs(lambda images: images[:, :4]), data, options, echo=lambda _: None)
    assert applicable(_Reconstructs(lambda images: images)) == ["reconstruction"]
