"""Test-set ELBO and the importance-weighted (IWAE) bound on log p(x).

Works for any model with the ``log_importance_weights`` capability (see
:mod:`zoo_core.evaluation`). Given ``log w_j = log p(x|z_j) + log p(z_j) -
log q(z_j|x)`` for ``z_j ~ q(z|x)``:

- ``mean_j log w_j`` is an unbiased estimate of the ELBO;
- ``log mean_j exp(log w_j)`` is the IWAE bound ``L_k`` (Burda et al. 2016):
  ``ELBO <= E[L_k] <= E[L_{k+1}] <= log p(x)``. On the same draws,
  ``L_k >= mean_j log w_j`` always (Jensen), so the NLL estimate ``-L_k``
  never exceeds ``-ELBO``.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

#: Decoded images per call to the model: bounds memory whatever k is.
MAX_DECODES = 4096
BINARISE = ("stochastic", "threshold", "none")


def log_mean_exp(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log(mean(exp(values)))`` without overflow."""
    values = np.asarray(values, np.float64)
    top = values.max(axis=axis, keepdims=True)
    return np.squeeze(top, axis=axis) + np.log(np.mean(np.exp(values - top), axis=axis))


def binarise(images: np.ndarray, how: str, seed: int = 0) -> tuple[np.ndarray, str]:
    """Binary pixels for a Bernoulli likelihood, and a sentence saying how.

    ``stochastic``: each pixel is 1 with probability its grey level, drawn
    once with ``seed`` (the usual "binarised MNIST" test protocol);
    ``threshold``: pixels above 0.5; ``none``: grey levels as they are.
    """
    images = np.asarray(images, np.float32)
    if np.isin(images, (0.0, 1.0)).all():
        return images, "the data is already binary (every pixel 0 or 1)"
    if how == "stochastic":
        rng = np.random.default_rng(seed)
        return ((rng.random(images.shape) < images).astype(np.float32),
                f"binarised stochastically: each pixel is 1 with probability its grey level, drawn once (seed {seed})")
    if how == "threshold":
        return (images > 0.5).astype(np.float32), "binarised by threshold: pixels above 0.5 are 1"
    if how == "none":
        return images, ("NOT binarised: the Bernoulli term on grey levels is a cross-entropy, not a log-probability, "
                        "so these 'nats' are not a likelihood")
    raise ValueError(f"binarise must be one of {', '.join(BINARISE)}, got {how!r}")


def _draw_seed(seed: int, *parts: int) -> int:
    """An int seed for one chunk of draws, a function of the base seed and the chunk."""
    return int(np.random.SeedSequence([seed, *parts]).generate_state(1)[0] % (2**31 - 1))


def importance_terms(model, images: np.ndarray, k: int, seed: int = 0,
                     progress: Optional[Callable[[int], None]] = None) -> dict:
    """``log_px_z``, ``log_pz``, ``log_qz_x`` as float64 ``(N, k)`` arrays,
    computed in chunks of at most :data:`MAX_DECODES` decodes."""
    k = int(k)
    per_call = max(1, MAX_DECODES // k)
    sample_chunk = min(k, MAX_DECODES)
    parts: dict[str, list] = {"log_px_z": [], "log_pz": [], "log_qz_x": []}
    for start in range(0, len(images), per_call):
        batch = images[start:start + per_call]
        rows: dict[str, list] = {name: [] for name in parts}
        for s in range(0, k, sample_chunk):
            terms = model.log_importance_weights(batch, min(sample_chunk, k - s), seed=_draw_seed(seed, start, s))
            for name in parts:
                rows[name].append(np.asarray(terms[name], np.float64))
        for name in parts:
            parts[name].append(np.concatenate(rows[name], axis=1))
        if progress:
            progress(start + len(batch))
    return {name: np.concatenate(chunks, axis=0) for name, chunks in parts.items()}


def elbo_and_iwae(terms: dict) -> dict:
    """Per-image estimates from :func:`importance_terms`' arrays.

    Returns:
        ``elbo``, ``reconstruction`` (``-E log p(x|z)``), ``kl`` (``E[log q - log p(z)]``,
        a Monte-Carlo estimate) and ``iwae`` (``L_k``), each ``(N,)``.
    """
    log_w = terms["log_px_z"] + terms["log_pz"] - terms["log_qz_x"]
    return {
        "elbo": log_w.mean(axis=1),
        "reconstruction": -terms["log_px_z"].mean(axis=1),
        "kl": (terms["log_qz_x"] - terms["log_pz"]).mean(axis=1),
        "iwae": log_mean_exp(log_w, axis=1),
    }


def _summary(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def evaluate_likelihood(model, images: np.ndarray, *, k: int = 1000, iwae_images: Optional[int] = 1000,
                        binarisation: str = "stochastic", seed: int = 0,
                        echo: Callable[[str], None] = print) -> dict:
    """The test-set ELBO (all of ``images``, one draw each) and the IWAE NLL
    estimate (the first ``iwae_images``, ``k`` draws each), in nats per image.

    The data is binarised as ``binarisation`` says when the model's likelihood
    is Bernoulli; the result's ``data`` sentence states what was done.
    """
    kind = getattr(model, "likelihood", None)
    if kind == "bernoulli":
        images, data = binarise(images, binarisation, seed)
        data = f"Bernoulli likelihood; test images {data}"
    elif kind == "gaussian":
        images = np.asarray(images, np.float32)
        data = ("Gaussian likelihood (unit variance) on the grey levels, not binarised: nats of a density, "
                "not comparable with NLLs on binarised data")
    else:
        images = np.asarray(images, np.float32)
        data = f"{kind or 'unnamed'} likelihood on the test images as they are (not binarised)"

    whole = elbo_and_iwae(importance_terms(model, images, 1, seed))
    elbo, elbo_se = _summary(whole["elbo"])
    result = {
        "data": data,
        "likelihood": kind,
        "elbo": {
            "images": int(len(images)),
            "samples_per_image": 1,
            "elbo": elbo,
            "elbo_stderr": elbo_se,
            "reconstruction": float(whole["reconstruction"].mean()),
            "kl": float(whole["kl"].mean()),
        },
    }
    m = len(images) if iwae_images is None else min(int(iwae_images), len(images))
    if m and k:
        echo(f"IWAE bound: {m:,} test images x {k:,} samples ...")
        subset = elbo_and_iwae(importance_terms(model, images[:m], k, seed + 1))
        nll, nll_se = _summary(-subset["iwae"])
        result["iwae"] = {
            "images": int(m),
            "k": int(k),
            "nll": nll,
            "nll_stderr": nll_se,
            # The ELBO of the same images and draws: NLL <= -this holds exactly.
            "negative_elbo_same_images": float(-subset["elbo"].mean()),
        }
    return result


def diagonal_gaussian_terms(encoder, decoder, log_likelihood: Callable, images: np.ndarray, num_samples: int,
                            seed=None) -> dict:
    """The ``log_importance_weights`` capability for the common case, in
    ``keras.ops`` (any backend): an ``encoder`` whose outputs are the mean
    and log-variance of a diagonal Gaussian q(z|x), the prior N(0, I), and
    ``log_likelihood(x, decoded)`` -> ``log p(x|z)`` per image, where
    ``decoded`` is ``decoder(z)`` (logits, means: whatever the likelihood reads).

    Returns ``{"log_px_z", "log_pz", "log_qz_x"}`` as float32 ``(N, k)`` arrays.
    """
    import keras
    from keras import ops

    x = ops.convert_to_tensor(np.asarray(images, np.float32))
    z_mean, z_log_var = encoder(x, training=False)
    z_mean = ops.cast(z_mean, "float32")[:, None, :]
    z_log_var = ops.cast(z_log_var, "float32")[:, None, :]
    n, k, d = int(x.shape[0]), int(num_samples), int(z_mean.shape[-1])
    eps = keras.random.normal((n, k, d), seed=seed)
    z = z_mean + ops.exp(0.5 * z_log_var) * eps
    half_log_2pi = 0.5 * float(np.log(2.0 * np.pi))
    log_qz_x = ops.sum(-0.5 * ops.square(eps) - 0.5 * z_log_var - half_log_2pi, axis=-1)
    log_pz = ops.sum(-0.5 * ops.square(z) - half_log_2pi, axis=-1)
    decoded = decoder(ops.reshape(z, (n * k, d)), training=False)
    decoded = ops.reshape(decoded, (n, k, *tuple(decoded.shape[1:])))
    log_px_z = log_likelihood(x[:, None], decoded)
    return {name: np.asarray(ops.convert_to_numpy(value), np.float32)
            for name, value in (("log_px_z", log_px_z), ("log_pz", log_pz), ("log_qz_x", log_qz_x))}
