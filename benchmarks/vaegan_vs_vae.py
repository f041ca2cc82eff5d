"""Reconstructions and samples of a VAE-GAN next to a plain VAE's, on Fashion-MNIST.

For each run folder (its ``model.keras``), on the first ``--images`` test images:

- sharpness: the mean variance of the 3x3 Laplacian of each image (edges and
  fine texture raise it; blur lowers it), for the reconstructions and, as
  the reference, for the test images themselves;
- pixel error: mean squared error per pixel between image and reconstruction;
- feature distance: mean L2 distance between the Fashion-MNIST classifier's
  penultimate (128-unit) features of each test image and of its
  reconstruction, divided by the mean distance between two random test
  images (0 = the classifier sees the same thing, 1 = as far as a stranger);
- label kept: how often the classifier gives a reconstruction the test
  image's true label (the classifier's own accuracy on the originals is the ceiling);
- samples: ``--samples`` prior samples, their sharpness, and the class coverage
  of ``gan_quality.py`` (all 10 classes, none under 3%).

The classifier is ``gan_quality.py``'s (trained once, cached). Usage::

    python benchmarks/vaegan_vs_vae.py /tmp/vaegan-runs/vaegan /tmp/vaegan-runs/vae --json side-by-side.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gan_quality import DEFAULT_CLASSIFIER, classifier, coverage, load_fashion_mnist  # noqa: E402


def laplacian_variance(images):
    """Per-image variance of the 4-neighbour Laplacian (valid region only)."""
    x = np.asarray(images, np.float64)[..., 0]
    lap = (x[:, :-2, 1:-1] + x[:, 2:, 1:-1] + x[:, 1:-1, :-2] + x[:, 1:-1, 2:] - 4.0 * x[:, 1:-1, 1:-1])
    return lap.reshape(len(x), -1).var(axis=1)


def features_and_logits(model, images, batch_size=500):
    """The classifier's penultimate features and its logits."""
    from keras import ops

    feats, logits = [], []
    for start in range(0, len(images), batch_size):
        h = ops.convert_to_tensor(images[start:start + batch_size])
        for layer in model.layers[:-1]:
            h = layer(h, training=False)
        feats.append(ops.convert_to_numpy(h))
        logits.append(ops.convert_to_numpy(model.layers[-1](h)))
    return np.concatenate(feats), np.concatenate(logits)


def load_run(run: Path):
    import keras

    # Register every bundled model class for safe-mode loading.
    import zoo_vae.models  # noqa: F401
    import zoo_vaegan.models  # noqa: F401

    return keras.saving.load_model(run / "model.keras" if run.is_dir() else run)


def in_batches(fn, n_or_images, batch_size=500, **kwargs):
    if isinstance(n_or_images, int):
        return np.concatenate([fn(min(batch_size, n_or_images - i), seed=kwargs["seed"] + i)
                               for i in range(0, n_or_images, batch_size)])
    return np.concatenate([fn(n_or_images[i:i + batch_size]) for i in range(0, len(n_or_images), batch_size)])


def measure(model, clf, images, labels, reference, samples: int, seed: int) -> dict:
    recon = in_batches(model.reconstruct, images)
    feats, _ = features_and_logits(clf, images)
    recon_feats, recon_logits = features_and_logits(clf, recon)
    distance = np.linalg.norm(feats - recon_feats, axis=1).mean() / reference["stranger_distance"]
    generated = in_batches(model.generate, samples, seed=seed)
    _, sample_logits = features_and_logits(clf, generated)
    probs = np.exp(sample_logits - sample_logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return {
        "reconstruction_sharpness": round(float(laplacian_variance(recon).mean()), 5),
        "sharpness_ratio": round(float(laplacian_variance(recon).mean() / reference["sharpness"]), 3),
        "pixel_mse": round(float(np.mean((recon - images) ** 2)), 5),
        "feature_distance": round(float(distance), 4),
        "label_kept": round(float((recon_logits.argmax(axis=1) == labels).mean()), 4),
        "sample_sharpness": round(float(laplacian_variance(generated).mean()), 5),
        "samples": coverage(probs),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (or .keras files)")
    parser.add_argument("--images", type=int, default=2000, help="test images to reconstruct")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--classifier", type=Path, default=DEFAULT_CLASSIFIER)
    parser.add_argument("--classifier-epochs", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    data = load_fashion_mnist()
    clf = classifier(args.classifier, data, args.classifier_epochs)
    images, labels = data.x_test[:args.images], data.y_test[:args.images]
    feats, logits = features_and_logits(clf, images)
    shuffled = np.random.default_rng(args.seed).permutation(len(feats))
    reference = {
        "sharpness": float(laplacian_variance(images).mean()),
        "stranger_distance": float(np.linalg.norm(feats - feats[shuffled], axis=1).mean()),
        "classifier_accuracy": float((logits.argmax(axis=1) == labels).mean()),
    }
    print(f"test images: sharpness {reference['sharpness']:.5f}, classifier accuracy "
          f"{reference['classifier_accuracy']:.4f} on {len(images)} images")
    results = {"reference": reference, "runs": {}}
    header = f"{'run':<40} {'sharp':>8} {'ratio':>6} {'mse':>7} {'featdist':>8} {'label':>6} " \
             f"{'s.sharp':>8} {'classes':>7} {'min%':>5} {'cov':>4}"
    rows = []
    for run in args.runs:
        r = measure(load_run(run), clf, images, labels, reference, args.samples, args.seed)
        results["runs"][str(run)] = r
        s = r["samples"]
        rows.append(f"{str(run)[-40:]:<40} {r['reconstruction_sharpness']:>8.5f} {r['sharpness_ratio']:>6.3f} "
                    f"{r['pixel_mse']:>7.4f} {r['feature_distance']:>8.4f} {r['label_kept']:>6.3f} "
                    f"{r['sample_sharpness']:>8.5f} {s['classes_present']:>7d} {100 * s['min_fraction']:>5.1f} "
                    f"{'ok' if s['passes'] else 'FAIL':>4}")
    print(header, *rows, sep="\n")
    for run, r in results["runs"].items():
        print(f"\n{run} sample classes:", ", ".join(f"{k} {v:.1%}" for k, v in r["samples"]["fractions"].items()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
