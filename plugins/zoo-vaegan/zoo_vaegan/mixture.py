"""A Gaussian mixture fitted to the codes of the training images, to sample from
instead of N(0, I): ex-post density estimation (Ghosh et al. 2020, "From
Variational to Deterministic Autoencoders", section 4; 10 full-covariance
components there as here).

Why: the VAE-GAN's decoder draws realistic garments from the codes its encoder
gives (reconstructions' FD 5.5 on Fashion-MNIST) but not from N(0, I) draws
(FD 27.8), which fall where no code ever was. A mixture fitted to the
aggregated posterior puts the draws where the codes are (zoo eval FD 3.4 with
the same networks; plugins/zoo-vaegan/README.md).

Plain numpy and deterministic for a seed (EM in float64), so a resumed run
refits to the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import numpy as np

#: Added to each component's covariance: keeps it invertible when a component
#: holds few codes.
RIDGE = 1e-4


def log_densities(z, weights, means, scales):
    """``log(w_k) + log N(z | mu_k, L_k L_k^T)`` for every code and component: (n, k)."""
    n, d = z.shape
    out = np.empty((n, len(weights)))
    for k in range(len(weights)):
        y = np.linalg.solve(scales[k], (z - means[k]).T)
        out[:, k] = (np.log(max(weights[k], 1e-300)) - 0.5 * np.sum(y * y, axis=0)
                     - np.sum(np.log(np.diag(scales[k]))) - 0.5 * d * np.log(2 * np.pi))
    return out


def fit(z, components: int, seed: int, iterations: int = 100, tolerance: float = 1e-3):
    """EM for a full-covariance mixture of ``components`` Gaussians.

    Starts from ``components`` distinct codes (seeded) as the means and the
    codes' covariance for every component; with fewer codes than components,
    the components left over come back with weight 0. Returns ``(weights (k,), means (k,
    d), scales (k, d, d))`` in float32, ``scales`` the lower Cholesky factors
    of the covariances, and the codes' mean log-likelihood at the last E step.
    Stops after ``iterations``, or once that mean log-likelihood moves by less
    than ``tolerance`` nats (scikit-learn's ``GaussianMixture`` defaults, which
    Ghosh et al. used).
    """
    z = np.asarray(z, np.float64)
    n, d = z.shape
    k = min(int(components), n)
    rng = np.random.default_rng(seed)
    means = z[rng.choice(n, k, replace=False)]
    covariance = np.cov(z.T).reshape(d, d) + RIDGE * np.eye(d)
    scales = np.stack([np.linalg.cholesky(covariance)] * k)
    weights = np.full(k, 1.0 / k)
    previous = -np.inf
    for _ in range(iterations):
        logp = log_densities(z, weights, means, scales)
        top = logp.max(axis=1, keepdims=True)
        total = top[:, 0] + np.log(np.exp(logp - top).sum(axis=1))
        responsibilities = np.exp(logp - total[:, None])
        counts = responsibilities.sum(axis=0) + 1e-10
        weights = counts / n
        means = responsibilities.T @ z / counts[:, None]
        for j in range(k):
            # s.T @ s of one array (not r * c against c): about 50 times faster here with OpenBLAS.
            weighted = (z - means[j]) * np.sqrt(responsibilities[:, j, None])
            cov = weighted.T @ weighted / counts[j] + RIDGE * np.eye(d)
            scales[j] = np.linalg.cholesky(cov)
        likelihood = float(total.mean())
        if abs(likelihood - previous) < tolerance:
            break
        previous = likelihood
    pad = int(components) - k  # fewer codes than components: the rest get weight 0
    if pad:
        weights = np.concatenate([weights, np.zeros(pad)])
        means = np.concatenate([means, np.zeros((pad, d))])
        scales = np.concatenate([scales, np.stack([np.eye(d)] * pad)])
    return weights.astype(np.float32), means.astype(np.float32), scales.astype(np.float32), likelihood
