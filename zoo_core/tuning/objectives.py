"""What a sweep optimises: a ``zoo eval`` metric, and its cheap per-epoch
estimate that Optuna's pruners watch.

The objective is measured as ``zoo eval`` measures it (test split as the
reference, a fixed sample count and seed, so trials compare). The pruning
signal is the same kind of number on a small fixed sample after every epoch:
FD of 256 generated images against 256 test images in the feature
classifier's space (for FD, KID and coverage), or the reconstruction error of
256 test images; it is biased upwards by the small sample, the same way for
every trial, which is all a pruner needs (it compares trials at one epoch).
For ``nll`` the signal is the validation loss (the negative ELBO the model
trains on), which needs no extra work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..errors import ZooError
from ..training.listeners import RunListener, StopTraining


@dataclass(frozen=True)
class Objective:
    name: str
    group: str  # zoo eval's metric group
    direction: str  # "minimize" or "maximize"
    description: str
    read: Callable[[dict], Optional[float]]  # eval.json's "metrics" -> the value


def _get(*path: str) -> Callable[[dict], Optional[float]]:
    def read(metrics: dict) -> Optional[float]:
        value = metrics
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return float(value) if isinstance(value, (int, float)) else None

    return read


OBJECTIVES = {
    o.name: o for o in (
        Objective("fd", "fd", "minimize", "Frechet distance of generated to test images (feature classifier)",
                  _get("fd", "value")),
        Objective("kid", "kid", "minimize", "kernel distance of generated to test images", _get("kid", "value")),
        Objective("coverage", "coverage", "maximize",
                  "the rarest class's share of generated images (1/classes when even)",
                  _get("coverage", "min_fraction")),
        Objective("class-kl", "coverage", "minimize", "KL of the generated class mix to the real one",
                  _get("coverage", "kl_to_real")),
        Objective("nll", "likelihood", "minimize", "IWAE negative log-likelihood of test images (nats)",
                  _get("likelihood", "iwae", "nll")),
        Objective("reconstruction", "reconstruction", "minimize", "test-image reconstruction error (MSE)",
                  _get("reconstruction", "mse")),
    )
}

#: Metrics shown beside the objective in ``zoo sweep show``.
SHOWN = ("fd", "kid", "coverage", "nll", "reconstruction")


def objective(name: str) -> Objective:
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise ZooError(f"unknown objective '{name}'; choose from {', '.join(OBJECTIVES)}") from None


def read_metrics(report: dict) -> dict:
    """The sweep's numbers from a ``zoo eval`` report (those it has)."""
    found = {}
    for name in SHOWN:
        value = OBJECTIVES[name].read(report.get("metrics", {}))
        if value is not None:
            found[name] = value
    return found


#: (data set, image size, crop, subset, metric group): what load_data's images depend on
#: -> the estimate's fixed test images (and features)
_REFERENCES: dict = {}


class PruningSignal(RunListener):
    """After each epoch: the cheap estimate, reported to the Optuna trial;
    ends the run (:class:`StopTraining`) when the trial's pruner says so."""

    SAMPLE = 256

    def __init__(self, trial, goal: Objective, resolved, echo: Callable[[str], None]):
        self.trial, self.goal, self.resolved, self.echo = trial, goal, resolved, echo
        self.seconds: list[float] = []
        self._reference = None

    def epoch_ended(self, epoch: int, logs: dict, model, run_dir) -> None:
        if self.goal.group != "likelihood":
            self._data()  # once per trial, not counted as the estimate's cost (the classifier is cached)
        began = time.perf_counter()
        value = self.value(model, logs)
        self.seconds.append(time.perf_counter() - began)
        if value is None or not np.isfinite(value):
            return
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            raise StopTraining(f"pruned: its {self.signal_name} ({value:.4g} at epoch {epoch}) is worse than the "
                               f"other trials' ({type(self.trial.study.pruner).__name__})")

    @property
    def signal_name(self) -> str:
        images = len(self._reference["test"]) if self._reference else self.SAMPLE
        return {"likelihood": "validation loss", "reconstruction": f"reconstruction error on {images} images"}.get(
            self.goal.group, f"FD on {images} images")

    def value(self, model, logs: dict) -> Optional[float]:
        if self.goal.group == "likelihood":
            return logs.get("val_loss")
        data = self._data()
        if self.goal.group == "reconstruction":
            from ..evaluation.sampling import reconstruct

            images = data["test"]
            return float(np.square(reconstruct(model, images) - images).mean())
        from ..evaluation.metrics import frechet_distance
        from ..evaluation.sampling import generate

        fake, _ = generate(model, len(data["test"]), seed=0)
        features, _ = data["classifier"].features_and_probabilities(fake)
        return frechet_distance(features, data["features"])

    def _data(self) -> dict:
        """A fixed random subset of the test split (and its features): loaded once per process
        and data set, not once per trial."""
        if self._reference is None:
            config, train = self.resolved.config, self.resolved.config.train
            key = (config.dataset, train.image_size, train.crop, train.max_train_examples, self.goal.group)
            if key not in _REFERENCES:
                _REFERENCES[key] = self._load()
            self._reference = _REFERENCES[key]
        return self._reference

    def _load(self) -> dict:
        from ..data.loading import load_data
        from ..evaluation.loading import pick

        data = load_data(self.resolved)
        if not len(data.x_test):
            raise ZooError(f"dataset '{self.resolved.config.dataset}' has no test split to measure trials on")
        test = np.clip(np.asarray(data.x_test[pick(data.x_test, self.SAMPLE, 0)], np.float32), 0.0, 1.0)
        reference = {"test": test}
        if self.goal.group != "reconstruction":
            from ..evaluation.classifier import get_classifier

            classifier = get_classifier(self.resolved.config.dataset, data.x_train, data.y_train,
                                        data.num_classes, echo=self.echo)
            reference["classifier"] = classifier
            reference["features"] = classifier.features_and_probabilities(test)[0]
        return reference
