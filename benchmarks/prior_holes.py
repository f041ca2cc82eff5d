"""Where an encoder-decoder model's samples lose quality: FD (zoo eval's
classifier features, against the test set) of

- its reconstructions of test images: what the decoder can draw from codes
  the encoder gives;
- decodings of N(0, I) draws, and its samples (``zoo eval``'s: from N(0, I), or
  with zoo-vaegan's ``prior = "mixture"`` from the mixture it saved);
- decodings of a Gaussian fitted to the aggregated posterior (codes of
  20,000 train images): the prior moved to where the codes are;
- decodings of a mixture of 10 full-covariance Gaussians fitted to the same
  codes by EM (zoo-vaegan's ``prior = "mixture"``, Ghosh et al. 2020).

With the aggregated posterior's mean norm and covariance eigenvalues (both
0 and 1 when it matches N(0, I)). Reconstructions far better than samples
point at the prior's "holes", regions the codes never visit, not at the
decoder. Usage::

    python benchmarks/prior_holes.py runs/vaegan-fashion-mnist-...  [more runs]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--num", type=int, default=5000)
    args = parser.parse_args(argv)

    from zoo_core.evaluation import metrics as M
    from zoo_core.evaluation.classifier import get_classifier
    from zoo_core.evaluation.loading import load_run, pick
    from zoo_core.evaluation.sampling import generate, reconstruct
    from zoo_core.plugins.registry import load_registry
    from zoo_vaegan import mixture

    registry = load_registry()
    rng = np.random.default_rng(0)
    for run in args.runs:
        # A run folder, or a preset's published weights (e.g. vaegan-fashion-mnist).
        loaded = load_run(run, registry, pretrained=not Path(run).exists())
        name, data = loaded.dataset(None, registry, echo=lambda s: None)
        classifier = get_classifier(name, data.x_train, data.y_train, data.num_classes, epochs=3,
                                    echo=lambda s: None)
        model, n = loaded.model, args.num
        mean, log_var = model.encode(data.x_train[:20000])
        z = mean + np.exp(0.5 * log_var) * rng.standard_normal(mean.shape)
        centre, cov = z.mean(axis=0), np.cov(z.T)
        eigen = np.linalg.eigvalsh(cov)
        weights, means, scales, _ = mixture.fit(z, 10, seed=0)
        component = rng.choice(len(weights), n, p=weights / weights.sum())
        z_mixture = means[component] + np.einsum("nij,nj->ni", scales[component], rng.standard_normal((n, z.shape[1])))
        prior = getattr(model, "prior", "standard")
        prior = prior if isinstance(prior, str) else "its own"  # a model's prior may be a method, not a name
        sets = {
            "reconstructions": reconstruct(model, data.x_test[pick(data.x_test, n, 1)]),
            "decodings of N(0, I)": model.decode(rng.standard_normal((n, z.shape[1])).astype(np.float32)),
            f"samples (prior: {prior})": generate(model, n, seed=0)[0],
            "aggregated-posterior Gaussian": model.decode(rng.multivariate_normal(centre, cov, n).astype(np.float32)),
            "aggregated-posterior mixture of 10": model.decode(z_mixture.astype(np.float32)),
        }
        features, probs = classifier.features_and_probabilities(np.concatenate([data.x_test, *sets.values()]))
        test = features[:len(data.x_test)]
        print(f"{run}: aggregated posterior mean norm {np.linalg.norm(centre):.2f}, covariance eigenvalues "
              f"{eigen.min():.2f} to {eigen.max():.2f} (median {np.median(eigen):.2f}); "
              f"posterior std {np.exp(0.5 * log_var).mean():.3f}")
        start = len(data.x_test)
        for label in sets:
            part = slice(start, start + n)
            hist = np.bincount(probs[part].argmax(axis=1), minlength=data.num_classes) / n
            print(f"  {label:32s} FD {M.frechet_distance(features[part], test):6.2f}   rarest class {hist.min():.1%}")
            start += n
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
