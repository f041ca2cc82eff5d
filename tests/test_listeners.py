"""A run's listeners (zoo_core.training.listeners): what trackers and sweeps hear."""

import csv

import pytest

from zoo_core.plugins.resolve import resolve_run
from zoo_core.training import RunListener, StopTraining, resume_run, train_run

pytestmark = pytest.mark.one_backend  # the epoch loop's bookkeeping, the same on every backend

TINY_VAE = ["filters=[4, 8]", "dense_units=8", "latent_dim=2"]


class Recorder(RunListener):
    def __init__(self, stop_at=None):
        self.events, self.stop_at = [], stop_at

    def run_started(self, run_dir, config, *, resumed):
        self.events.append(("started", run_dir, config["model"]["name"], resumed))

    def epoch_ended(self, epoch, logs, model, run_dir):
        self.events.append(("epoch", epoch, logs, (run_dir / "checkpoint.json").is_file()))
        if epoch == self.stop_at:
            raise StopTraining("the pruner said so")

    def run_ended(self, result, error):
        self.events.append(("ended", result, error))


def test_listeners_hear_each_epoch_and_may_stop_a_run_that_resumes_later(registry, tmp_path):
    resolved = resolve_run(registry, "vae", dataset="tiny", overrides=TINY_VAE,
                           train={"epochs": 3, "batch_size": 16, "grid_size": 2})
    heard = Recorder(stop_at=2)
    result = train_run(resolved, tmp_path / "run", backend="tensorflow", verbose=0, echo=lambda line: None,
                       listeners=[heard])
    started, first, second, ended = heard.events
    assert started == ("started", tmp_path / "run", "vae", False)
    assert [first[1], second[1]] == [1, 2] and first[3] and second[3]  # each told once its checkpoint is saved
    with open(tmp_path / "run" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and float(rows[1]["loss"]) == pytest.approx(second[2]["loss"])
    assert ended == ("ended", result, None) and result.stopped_early == "the pruner said so"

    again = Recorder()
    resumed = resume_run(tmp_path / "run", registry, backend="tensorflow", verbose=0, echo=lambda line: None,
                         listeners=[again])
    assert again.events[0] == ("started", tmp_path / "run", "vae", True)
    assert [e[1] for e in again.events[1:-1]] == [3] and resumed.stopped_early is None


def test_a_failed_run_tells_its_listeners_why(registry, tmp_path):
    class Failing(Recorder):
        def epoch_ended(self, epoch, logs, model, run_dir):
            raise OSError("disk full")

    resolved = resolve_run(registry, "vae", dataset="tiny", overrides=TINY_VAE,
                           train={"epochs": 1, "batch_size": 16, "grid_size": 2})
    heard = Failing()
    with pytest.raises(OSError):
        train_run(resolved, tmp_path / "run", backend="tensorflow", verbose=0, echo=lambda line: None,
                  listeners=[heard])
    assert heard.events[-1][0] == "ended" and isinstance(heard.events[-1][2], OSError)
