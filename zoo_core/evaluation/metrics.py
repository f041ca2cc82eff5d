"""Sample-quality metrics on feature vectors and class probabilities.

Pure NumPy (float64 throughout), so every backend gets the same numbers
from the same features. The features come from zoo's own per-data-set
classifier (:mod:`zoo_core.evaluation.classifier`), not from an Inception
network, so the values are comparable between zoo runs on one data set and
classifier, not with published FID/KID numbers.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

# === Fréchet distance ===


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of ``(N, D)`` features."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need at least 2 feature vectors shaped (N, D), got {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance_from_statistics(mu1, sigma1, mu2, sigma2) -> float:
    """``||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))`` between two Gaussians.

    ``tr (S1 S2)^(1/2)`` is computed as ``tr (A S2 A)^(1/2)`` with ``A = S1^(1/2)``:
    the two matrices are similar, and the second is symmetric positive
    semi-definite, so an eigen-decomposition gives it without the complex
    round-off of a general matrix square root (and without SciPy).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    root1 = _psd_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    values = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = float(np.sqrt(np.clip(values, 0.0, None)).sum())
    diff = mu1 - mu2
    distance = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)
    return max(distance, 0.0)  # round-off can leave a tiny negative for equal sets


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets
    (FID's formula, on whatever features are given)."""
    return frechet_distance_from_statistics(*feature_statistics(features_a), *feature_statistics(features_b))


# === Kernel inception distance ===


def polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``k(x, y) = (x . y / D + 1) ** 3``, the kernel of Bińkowski et al. (2018)."""
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def mmd2_unbiased(a: np.ndarray, b: np.ndarray) -> float:
    """The unbiased estimate of the squared MMD between two equal-sized samples:
    within-set kernel means leave out the diagonal, so its expectation is 0
    when both come from one distribution (single values can be negative)."""
    m = len(a)
    if m < 2 or len(b) != m:
        raise ValueError(f"need two samples of one size >= 2, got {len(a)} and {len(b)}")
    k_aa, k_bb, k_ab = polynomial_kernel(a, a), polynomial_kernel(b, b), polynomial_kernel(a, b)
    within = (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
    return float(within - 2.0 * k_ab.mean())


def kernel_distance(
    features_a: np.ndarray,
    features_b: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: Optional[int] = 0,
) -> dict:
    """KID: the unbiased polynomial-kernel MMD², averaged over random subsets.

    Each of ``subsets`` rounds draws ``subset_size`` vectors (without
    replacement; fewer if a set is smaller) from each set.

    Returns:
        ``{"value": mean, "std": standard deviation over subsets, "subsets",
        "subset_size"}``.
    """
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    m = min(int(subset_size), len(a), len(b))
    if m < 2:
        raise ValueError(f"KID needs at least 2 feature vectors in each set, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    values = np.array([
        mmd2_unbiased(a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)])
        for _ in range(int(subsets))
    ])
    return {"value": float(values.mean()), "std": float(values.std()), "subsets": int(subsets), "subset_size": m}


# === Classes ===


def class_histogram(probabilities: np.ndarray, num_classes: Optional[int] = None) -> np.ndarray:
    """How many images the classifier assigns to each class (arg-max)."""
    probabilities = np.asarray(probabilities)
    num_classes = num_classes or probabilities.shape[1]
    return np.bincount(probabilities.argmax(axis=1), minlength=num_classes)


def histogram_kl(counts: np.ndarray, reference_counts: np.ndarray, epsilon: float = 1e-6) -> float:
    """``KL(p || q)`` in nats between two class histograms (counts or fractions).

    ``q`` (the real histogram) is smoothed by ``epsilon`` so a class the real
    data lacks gives a large, finite number instead of infinity.
    """
    p = np.asarray(counts, dtype=np.float64)
    q = np.asarray(reference_counts, dtype=np.float64)
    p, q = p / p.sum(), q / q.sum()
    q = (q + epsilon) / (1.0 + epsilon * len(q))
    present = p > 0
    return float(np.sum(p[present] * (np.log(p[present]) - np.log(q[present]))))


def classifier_score(probabilities: np.ndarray) -> float:
    """``exp(E_x KL(p(y|x) || p(y)))``: the Inception-score formula on zoo's
    classifier. 1 for uninformative or single-class samples; at most the
    number of classes (confident and evenly spread)."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    marginal = p.mean(axis=0)
    kl = np.sum(p * (np.log(p) - np.log(marginal)), axis=1)
    return float(np.exp(kl.mean()))


def coverage(probabilities: np.ndarray, reference_counts: np.ndarray, labels: Optional[np.ndarray] = None) -> dict:
    """Which classes generated images fall into, against the real histogram.

    Args:
        probabilities: ``(N, C)`` classifier probabilities of the images.
        reference_counts: the real class histogram (e.g. the test labels').
        labels: the classes a conditional model was asked for; adds
            ``label_accuracy``, the fraction the classifier agrees with.
    """
    num_classes = len(reference_counts)
    counts = class_histogram(probabilities, num_classes)
    result = {
        "classes": int(num_classes),
        "classes_present": int((counts > 0).sum()),
        "histogram": [int(c) for c in counts],
        "min_fraction": float(counts.min() / counts.sum()),
        "kl_to_real": histogram_kl(counts, reference_counts),
        "classifier_score": classifier_score(probabilities),
    }
    if labels is not None:
        result["label_accuracy"] = float(np.mean(np.asarray(probabilities).argmax(axis=1) == np.asarray(labels)))
    return result
