"""``zoo eval``: every metric that applies to a run, with its real-data floor.

:func:`evaluate_run` is the one entry point (the CLI and ``zoo train --eval``
call it); it returns a JSON-ready dict and stores it as ``eval.json`` in the
run folder.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np

from ..version import __version__
from ..errors import ZooError
from . import metrics as M
from .loading import LoadedRun, load_run, pick

EVAL_FILE = "eval.json"
#: Metric groups, in report order. ``likelihood`` needs log_importance_weights;
#: ``reconstruction`` needs reconstruct(); the others need generate() and a
#: labelled data set (for the classifier).
METRICS = ("likelihood", "reconstruction", "fd", "kid", "coverage")
SAMPLE_METRICS = ("fd", "kid", "coverage")
RESULT_FORMAT = 1


@dataclass(frozen=True)
class EvalOptions:
    """How ``zoo eval`` measures.

    Attributes:
        num: generated images for FD, KID and coverage (at most the test split's size), and
            test images (a seeded random subset) for the reconstruction error.
        seed: fixes the generated images, the real subsets and the likelihood draws.
        k: importance samples per image for the IWAE bound.
        nll_images: test images (a seeded random subset) for the IWAE bound; None: all.
        binarise: for a Bernoulli likelihood: ``stochastic``, ``threshold`` or ``none``.
        classifier_epochs: epochs to train the feature classifier (part of its cache key).
        kid_subsets: random subsets KID averages over.
        kid_subset_size: images per KID subset (fewer if the sets are smaller).
    """

    num: int = 10_000
    seed: int = 0
    k: int = 1000
    nll_images: Optional[int] = 200
    binarise: str = "stochastic"
    classifier_epochs: int = 3
    kid_subsets: int = 100
    kid_subset_size: int = 1000


def applicable(model) -> list[str]:
    """The metric groups this model's capabilities allow."""
    found = []
    if callable(getattr(model, "log_importance_weights", None)):
        found.append("likelihood")
    if callable(getattr(model, "reconstruct", None)):
        found.append("reconstruction")
    if callable(getattr(model, "generate", None)):
        found += list(SAMPLE_METRICS)
    return found


def check_metric_names(names: Optional[Iterable[str]]) -> Optional[list[str]]:
    """Split and check ``--metrics`` values (comma-separated or repeated)."""
    if not names:
        return None
    wanted = [n.strip().lower() for item in names for n in str(item).split(",") if n.strip()]
    for name in wanted:
        if name not in METRICS:
            raise ZooError(f"unknown metric '{name}'; choose from {', '.join(METRICS)}")
    return [m for m in METRICS if m in wanted]


def evaluate_run(run_dir, metrics: Optional[Iterable[str]] = None, *, registry=None, dataset: Optional[str] = None,
                 options: Optional[EvalOptions] = None, backend: Optional[str] = None,
                 echo: Callable[[str], None] = print, save: bool = True, pretrained: bool = False) -> dict:
    """Evaluate a run folder (or ``.keras`` file, exported model, URL) and return the results.

    Args:
        run_dir: the run folder ``zoo train`` wrote, a ``.keras`` file, an exported
            model (folder or ``.zip``), a URL or ``hf://`` URI; with ``pretrained``,
            a preset name (its published weights).
        metrics: groups from :data:`METRICS`; None runs every one that applies
            (and skips, with a note, those the data cannot support). A named
            group the model cannot do is an error.
        registry: the plugin registry (loaded if None).
        dataset: evaluate on this data set instead of the run's.
        options: see :class:`EvalOptions`.
        backend: Keras backend (default: ``$KERAS_BACKEND`` or the fastest installed).
        echo: where progress and notices go.
        save: write ``eval.json`` into the run folder (merged with earlier results);
            never into an exported model.
        pretrained: ``run_dir`` is a preset whose published weights to evaluate.

    Returns:
        A JSON-ready dict; ``format_report`` prints it for people. When
        ``eval.json`` could not be written, ``file`` is None and ``save_error``
        says why.
    """
    if registry is None:
        from ..plugins.registry import load_registry

        registry = load_registry()
    loaded = load_run(run_dir, registry, backend, pretrained=pretrained, echo=echo)
    result = evaluate_loaded(loaded, registry, check_metric_names(metrics), dataset=dataset,
                             options=options or EvalOptions(), echo=echo)
    if loaded.run.exported:
        result["file"] = None  # an exported model stays as published: its eval.json is the exporter's
    elif save and loaded.run.path.is_dir():
        from ..storage.files import WriteError

        try:
            result["file"] = str(save_result(loaded.run.path, result))
        except WriteError as exc:  # the numbers are still worth showing
            result["file"] = None
            result["save_error"] = str(exc)
    return result


def evaluate_loaded(loaded: LoadedRun, registry, metrics: Optional[list[str]] = None, *,
                    dataset: Optional[str] = None, options: EvalOptions = EvalOptions(),
                    echo: Callable[[str], None] = print) -> dict:
    import keras

    model = loaded.model
    can = applicable(model)
    explicit = metrics is not None
    wanted = metrics if explicit else can
    for name in wanted:
        if name not in can:
            what = {"likelihood": "an importance-weighted likelihood (it has no log_importance_weights())",
                    "reconstruction": "reconstructions (it has no reconstruct())"}.get(
                        name, "generated samples (it has no generate())")
            raise ZooError(f"metric '{name}' does not apply to {loaded.run.label}: this "
                           f"{type(model).__name__} cannot give {what}")
    if not wanted:
        raise ZooError(f"no metric applies to {loaded.run.label}: its {type(model).__name__} can neither "
                       f"generate(), reconstruct() nor give log_importance_weights()")
    began = time.perf_counter()
    dataset_name, data = loaded.dataset(dataset, registry, echo)
    result = {
        "format": RESULT_FORMAT,
        "run": loaded.run.label,
        "model": loaded.label,
        "model_class": type(model).__name__,
        "dataset": dataset_name,
        "backend": keras.backend.backend(),
        "zoo_version": __version__,
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "options": asdict(options),
        "notes": [],
        "metrics": {},
    }
    if data.notice:
        result["notes"].append(data.notice)

    if "likelihood" in wanted:
        if getattr(model, "loss_fn", "own") is None:
            problem = loaded.problem or "the model has no likelihood attached"
            if explicit:
                raise ZooError(f"cannot compute the likelihood of {loaded.run.path}: {problem}")
            result["notes"].append(f"likelihood skipped: {problem}")
        elif not len(data.x_test):
            result["notes"].append(f"likelihood skipped: dataset '{dataset_name}' has no test split")
        else:
            result["metrics"]["likelihood"] = _likelihood(loaded, model, data, options, echo)
            beta = getattr(getattr(model, "loss_fn", None), "beta", 1.0)
            if beta not in (None, 1.0):
                result["notes"].append(f"trained with beta = {beta:g}; the ELBO reported here is the true "
                                       f"ELBO (beta = 1)")

    if "reconstruction" in wanted:
        if not len(data.x_test):
            if explicit:
                raise ZooError(f"dataset '{dataset_name}' has no test split to reconstruct")
            result["notes"].append(f"reconstruction skipped: dataset '{dataset_name}' has no test split")
        else:
            result["metrics"]["reconstruction"] = _reconstruction(model, data, options, echo)

    sample_metrics = [m for m in wanted if m in SAMPLE_METRICS]
    if sample_metrics:
        from .classifier import NoClassifier

        try:
            result["metrics"].update(_sample_metrics(model, data, dataset_name, sample_metrics, options, result, echo))
        except NoClassifier as exc:
            if explicit:
                raise
            result["notes"].append(f"{', '.join(sample_metrics)} skipped: {exc}")
    result["seconds"] = time.perf_counter() - began
    return result


# === The two families of metrics ===


def _likelihood(loaded, model, data, options: EvalOptions, echo) -> dict:
    from .likelihood import evaluate_likelihood

    began = time.perf_counter()
    order = pick(data.x_test, len(data.x_test), options.seed)  # the IWAE subset is a seeded random one
    echo(f"Likelihood: ELBO on {len(order):,} test images ...")
    out = evaluate_likelihood(model, data.x_test[order], k=options.k, iwae_images=options.nll_images,
                              binarisation=options.binarise, seed=options.seed, echo=echo)
    out["seconds"] = time.perf_counter() - began
    return out


def _reconstruction(model, data, options: EvalOptions, echo) -> dict:
    """Test-set reconstruction error: per-pixel squared and absolute error of
    ``reconstruct(x)`` against x on a seeded random subset of the test split,
    beside what the train split's mean image scores (a model that ignores its
    input)."""
    from .sampling import reconstruct

    began = time.perf_counter()
    n = min(int(options.num), len(data.x_test))
    images = np.clip(np.asarray(data.x_test[pick(data.x_test, n, options.seed)], np.float32), 0.0, 1.0)
    echo(f"Reconstruction: {n:,} test images ...")
    recon = reconstruct(model, images)
    if recon.shape != images.shape:
        raise ZooError(f"the model's reconstruct() returned shape {recon.shape} for images of shape {images.shape}")
    per_image = np.square(recon - images).reshape(n, -1).mean(axis=1)
    mean_image = np.asarray(data.x_train, np.float32).mean(axis=0) if len(data.x_train) else images.mean(axis=0)
    return {
        "mse": float(per_image.mean()),
        "mse_stderr": float(per_image.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0,
        "mae": float(np.abs(recon - images).mean()),
        "mean_image_mse": float(np.square(images - mean_image[None]).mean()),
        "images": n,
        "seconds": time.perf_counter() - began,
    }


def _sample_metrics(model, data, dataset_name: str, wanted: list[str], options: EvalOptions, result: dict,
                    echo) -> dict:
    from .classifier import get_classifier
    from .sampling import generate, is_conditional

    if not len(data.x_test):
        raise ZooError(f"dataset '{dataset_name}' has no test split to compare samples with")
    classifier = get_classifier(dataset_name, data.x_train, data.y_train, data.num_classes,
                                epochs=options.classifier_epochs, echo=echo)
    began = time.perf_counter()
    n = min(int(options.num), len(data.x_test), len(data.x_train))
    if n < 2:
        raise ZooError(f"need at least 2 images to compare, got {n} (--num, or a larger test split)")
    if n < options.num:
        result["notes"].append(f"{n:,} generated images, not {options.num:,}: the real sets hold no more")
    echo(f"Generating {n:,} images and computing classifier features ...")
    fake, labels = generate(model, n, seed=options.seed)
    real_idx = pick(data.x_train, n, options.seed)
    # One pass over all three sets: one compiled predict function on JAX, not three.
    features, probs = classifier.features_and_probabilities(
        np.concatenate([data.x_test, data.x_train[real_idx], fake]))
    t, r = len(data.x_test), len(data.x_test) + n
    test_features, real_features, fake_features = features[:t], features[t:r], features[r:]
    test_probs, real_probs, fake_probs = probs[:t], probs[t:r], probs[r:]
    accuracy = float(np.mean(test_probs.argmax(axis=1) == data.y_test)) if data.y_test is not None else None
    result["classifier"] = {
        "path": str(classifier.path),
        "trained_now": classifier.trained_now,
        "test_accuracy": accuracy,
        "test_images": int(len(data.x_test)),
        "train_images": classifier.key["train_images"],
        "epochs": classifier.key["epochs"],
        "features": int(test_features.shape[1]),
    }
    setup = {"generated": n, "reference": f"the {len(data.x_test):,} test images",
             "floor": f"{n:,} random train images against the same test images"}
    out: dict = {}
    if "fd" in wanted:
        out["fd"] = {"value": M.frechet_distance(fake_features, test_features),
                     "real_floor": M.frechet_distance(real_features, test_features), **setup}
    if "kid" in wanted:
        size = options.kid_subset_size
        model_kid = M.kernel_distance(fake_features, test_features, options.kid_subsets, size, options.seed)
        floor_kid = M.kernel_distance(real_features, test_features, options.kid_subsets, size, options.seed)
        out["kid"] = {"value": model_kid["value"], "std": model_kid["std"], "real_floor": floor_kid["value"],
                      "real_floor_std": floor_kid["std"], "subsets": model_kid["subsets"],
                      "subset_size": model_kid["subset_size"], **setup}
    if "coverage" in wanted:
        # The real class mix: the test labels, else (a data set labelled only in
        # its train split) the train labels.
        known = data.y_test if data.y_test is not None else data.y_train
        reference = np.bincount(np.asarray(known, np.int64), minlength=classifier.num_classes)
        if data.y_test is None:
            result["notes"].append("the test split has no labels: the real class mix is the train split's")
        cov = M.coverage(fake_probs, reference, labels if is_conditional(model) else None)
        real = M.coverage(real_probs, reference)
        if is_conditional(model):
            real["label_accuracy"] = accuracy  # a real image's label agrees as often as the classifier is right
        cov["real_histogram"] = [int(c) for c in reference]
        cov["real"] = real
        cov["generated"] = n
        out["coverage"] = cov
    result["classifier"]["seconds_for_sample_metrics"] = time.perf_counter() - began
    return out


# === eval.json ===


def save_result(run_dir: Path, result: dict) -> Path:
    """Write ``eval.json`` atomically, keeping metric groups from earlier
    evaluations that this one did not recompute."""
    path = Path(run_dir) / EVAL_FILE
    merged = dict(result)
    try:
        old = json.loads(path.read_text())
        if isinstance(old, dict) and old.get("format") == RESULT_FORMAT and old.get("dataset") == result["dataset"]:
            merged["metrics"] = {**old.get("metrics", {}), **result["metrics"]}
            if "classifier" in old and "classifier" not in result:
                merged["classifier"] = old["classifier"]
    except (OSError, ValueError):
        pass
    from ..storage.files import write_text

    return write_text(path, json.dumps(merged, indent=2, default=_plain))


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
