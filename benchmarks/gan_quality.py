"""Mode coverage of GANs trained on Fashion-MNIST, measured with a classifier.

A small convnet is trained on the Fashion-MNIST training split (cached, so
several runs share it) and its test accuracy is reported. Each run's
``model.keras`` then generates samples, the classifier labels them, and the
script prints the class histogram: a GAN without mode collapse gives every
class a fair share (the bar zoo's issue 3 sets: all 10 classes, none under
3%). Also printed: the mean top-class confidence and the "classifier score"
exp(E_x KL(p(y|x) || p(y))) (an Inception-Score analogue, at most 10).

Usage::

    python benchmarks/gan_quality.py runs/dcgan-fashion-mnist runs/wgan-gp-fashion-mnist \
        --samples 10000 --json quality.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zoo"
DEFAULT_CLASSIFIER = CACHE / "fashion-classifier.keras"


def load_fashion_mnist():
    from zoo_core.plugins.registry import load_registry

    return load_registry().dataset("fashion-mnist").load(None, None)


def classifier(path: Path, data, epochs: int, seed: int = 0):
    """Load the cached classifier, or train one: two conv blocks, dense 128, dropout."""
    import keras
    from keras import layers

    if path.is_file():
        model = keras.saving.load_model(path)
        print(f"classifier: loaded {path}")
        return model
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dropout(0.3),
        layers.Dense(128, activation="relu"), layers.Dense(10),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(data.x_train, data.y_train, batch_size=128, epochs=epochs, verbose=2)
    print(f"classifier: trained {epochs} epochs in {time.perf_counter() - start:.0f} s")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return model


def probabilities(model, images, batch_size=500):
    import keras

    logits = model.predict(images, batch_size=batch_size, verbose=0)
    return keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))


def coverage(probs, threshold=0.03):
    """Histogram of predicted classes and the summary numbers."""
    predicted = probs.argmax(axis=1)
    counts = np.bincount(predicted, minlength=10)
    fractions = counts / counts.sum()
    marginal = probs.mean(axis=0)
    kl = np.sum(probs * (np.log(probs + 1e-12) - np.log(marginal + 1e-12)), axis=1)
    return {
        "samples": int(len(probs)),
        "histogram": {name: int(c) for name, c in zip(CLASSES, counts)},
        "fractions": {name: round(float(f), 4) for name, f in zip(CLASSES, fractions)},
        "classes_present": int((counts > 0).sum()),
        "min_fraction": round(float(fractions.min()), 4),
        "max_fraction": round(float(fractions.max()), 4),
        "mean_confidence": round(float(probs.max(axis=1).mean()), 4),
        "classifier_score": round(float(np.exp(kl.mean())), 3),
        "passes": bool((counts > 0).all() and fractions.min() >= threshold),
    }


def generate(run: Path, n: int, seed: int, batch_size: int = 1000):
    import keras

    import zoo_gan.models  # noqa: F401  (registers the classes for safe-mode loading)

    model = keras.saving.load_model(run / "model.keras")
    chunks = [model.generate(min(batch_size, n - i), seed=seed + i) for i in range(0, n, batch_size)]
    return np.concatenate(chunks)


def print_report(name, report):
    print(f"\n{name}: {report['samples']} samples, classes present {report['classes_present']}/10, "
          f"min {report['min_fraction']:.1%}, max {report['max_fraction']:.1%}, "
          f"mean confidence {report['mean_confidence']:.3f}, classifier score {report['classifier_score']:.2f}, "
          f"{'PASS' if report['passes'] else 'FAIL'} (every class >= 3%)")
    for cls, count in report["histogram"].items():
        print(f"  {cls:<12} {count:6d}  {report['fractions'][cls]:6.1%}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", type=Path, help="run folders holding model.keras")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1234, help="noise seed for the samples")
    parser.add_argument("--classifier", type=Path, default=DEFAULT_CLASSIFIER)
    parser.add_argument("--classifier-epochs", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    data = load_fashion_mnist()
    model = classifier(args.classifier, data, args.classifier_epochs)
    test_probs = probabilities(model, data.x_test)
    accuracy = float((test_probs.argmax(axis=1) == data.y_test).mean())
    print(f"classifier test accuracy: {accuracy:.4f} on {len(data.x_test):,} test images")
    results = {"classifier": {"path": str(args.classifier), "test_accuracy": round(accuracy, 4)},
               "reference_test_split": coverage(test_probs), "runs": {}}
    print_report("Fashion-MNIST test split (reference)", results["reference_test_split"])

    for run in args.runs:
        images = generate(run, args.samples, args.seed)
        report = coverage(probabilities(model, images))
        results["runs"][str(run)] = report
        print_report(str(run), report)

    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(r["passes"] for r in results["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
