"""Experiment tracking (zoo_core.tracking): ``--track mlflow`` against a real
``mlflow server`` and MLflow's local store, and a tracker that fails never
costing a run.

The server is started once for the module, on 127.0.0.1, as the first test
begins (it takes ~5-15 s to come up, so it boots while the first tests run),
and killed at the end; the last test kills it mid-run on purpose.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from zoo_core.tracking import open_trackers
from zoo_core.tracking.base import flatten, mask_secrets, param_text
from zoo_core.tracking.safe import SafeTracker
from zoo_core.training import StopTraining

pytestmark = pytest.mark.one_backend  # what reaches MLflow is the same on every backend

TINY = ["--set", "filters=[4,8]", "--set", "dense_units=8", "--set", "latent_dim=2", "--set", "grid_size=2",
        "--batch-size", "16"]
WARNING = "Warning: tracker 'mlflow' failed"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", autouse=True)
def server_process(tmp_path_factory):
    """A real MLflow tracking server (sqlite backend store and artifact root in
    a temporary folder), started, not yet waited for: see ``mlflow_server``."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    mlflow = Path(sys.executable).with_name("mlflow")
    log = open(folder / "server.log", "w")
    process = subprocess.Popen(
        [str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination", str(folder / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,  # its own group: uvicorn is a child
    )
    yield process, f"http://127.0.0.1:{port}", folder / "server.log"
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)
    log.close()


@pytest.fixture
def mlflow_server(server_process):
    """The server's URL, once its /health answers."""
    process, url, log = server_process
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return url
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"mlflow server did not start:\n{Path(log).read_text()[-3000:]}")
        time.sleep(0.3)


def client(uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def tracked_run(uri, run_dir: Path):
    """The one MLflow run tagged with the zoo run's id."""
    mlflow = client(uri)
    run_id = tomllib.loads((run_dir / "config.toml").read_text())["zoo"]["run_id"]
    experiments = [e.experiment_id for e in mlflow.search_experiments()]
    runs = mlflow.search_runs(experiments, filter_string=f"tags.`zoo.run_id` = '{run_id}'")
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return mlflow, runs[0]


def artifacts(mlflow, run_id, path=None) -> set:
    found = set()
    for item in mlflow.list_artifacts(run_id, path):
        found |= artifacts(mlflow, run_id, item.path) if item.is_dir else {item.path}
    return found


def assert_logged_like_the_folder(mlflow, run, run_dir: Path):
    """Params are config.toml, each metrics.csv column is a metric at step = epoch."""
    config = tomllib.loads((run_dir / "config.toml").read_text())
    assert run.data.params == {k: param_text(v) for k, v in flatten(config).items()}
    assert run.data.params["model.latent_dim"] == "2" and run.data.params["model.filters"] == "[4, 8]"
    assert run.data.tags["zoo.run_dir"] == str(run_dir)
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows and set(rows[0]) - {"epoch"} == set(run.data.metrics) - {k for k in run.data.metrics if k.startswith("eval.")}
    for column in rows[0]:
        if column == "epoch":
            continue
        history = sorted((m.step, m.value) for m in mlflow.get_metric_history(run.info.run_id, column))
        assert history == [(int(r["epoch"]), pytest.approx(float(r[column]), rel=1e-6)) for r in rows], column


def train(cli, tiny_npz, out, *track, epochs=2):
    return cli("train", "vae", "--dataset", f"npz:{tiny_npz}", *TINY, "--epochs", epochs, "--out", out,
               *[f"--track={t}" for t in track])


def one_line_error(result, *words):
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    for word in words:
        assert word in errors[0], result.output


# === Bad --track values: refused before anything runs ===


def test_an_unknown_tracker_or_a_bad_uri_is_a_one_line_error(cli, tiny_npz, tmp_path):
    one_line_error(train(cli, tiny_npz, tmp_path / "a", "mlfow"), "unknown tracker 'mlfow'", "did you mean mlflow",
                   "known trackers: mlflow")
    one_line_error(cli("eval", tmp_path / "nothing", "--track", "wandb"), "unknown tracker 'wandb'", "known trackers: mlflow")
    one_line_error(train(cli, tiny_npz, tmp_path / "b", "=http://x"), "give a tracker's name")
    one_line_error(train(cli, tiny_npz, tmp_path / "c", "mlflow="), "nothing follows '='")
    one_line_error(train(cli, tiny_npz, tmp_path / "d", "mlflow", "mlflow"), "given twice")
    twice = train(cli, tiny_npz, tmp_path / "d", "mlflow=http://u:s3cret@x", "mlflow=http://u:s3cret@x")
    one_line_error(twice, "given twice", "mlflow=http://u:***@x")
    assert "s3cret" not in twice.output
    one_line_error(train(cli, tiny_npz, tmp_path / "e", f"mlflow={tmp_path / 'folder'}"),
                   "not in a folder", "sqlite:///")
    one_line_error(train(cli, tiny_npz, tmp_path / "f", "mlflow=gopher://x"), "does not know the scheme 'gopher'")
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.npz"]  # nothing written, no mlflow.db


def test_a_missing_mlflow_is_a_one_line_error_naming_the_extra(cli, tiny_npz, tmp_path, monkeypatch):
    import mlflow  # noqa: F401  (so that monkeypatch puts this very module back)

    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if the extra were not installed: import mlflow fails
    one_line_error(train(cli, tiny_npz, tmp_path / "run", "mlflow"), "the mlflow tracker needs the 'mlflow' package",
                   "pip install 'zoo-core[mlflow]'")
    assert not (tmp_path / "run").exists()


def test_a_password_in_a_url_is_masked():
    assert mask_secrets("API request to http://u:s3cret@127.0.0.1:9/api/2.0/x failed; "
                        "postgresql://me:p@ss@db/m, http://127.0.0.1:5000/#/x, http://token@h/") == (
        "API request to http://u:***@127.0.0.1:9/api/2.0/x failed; "
        "postgresql://me:***@db/m, http://127.0.0.1:5000/#/x, http://token@h/")


def test_a_failing_tracker_warns_once_and_is_switched_off():
    class Broken:
        calls = 0

        def run_started(self, *args, **kwargs):
            self.calls += 1
            raise RuntimeError("boom\nsecond line")

        def epoch_ended(self, *args):
            self.calls += 1

        def run_ended(self, *args):
            raise StopTraining("never reached")

    lines, broken = [], Broken()
    safe = SafeTracker(broken, "broken", lines.append)
    safe.run_started(Path("run"), {}, resumed=False)
    safe.epoch_ended(1, {}, None, Path("run"))
    safe.run_ended(None, None)
    assert broken.calls == 1 and lines == [
        "Warning: tracker 'broken' failed and is off for the rest of this command (RuntimeError: boom second line); "
        "the run goes on without it"]
    with pytest.raises(StopTraining):  # a tracker may still end a run on purpose
        SafeTracker(broken, "broken", lines.append).run_ended(None, None)


# === MLflow's local store ===


def test_local_store_and_a_resumed_run_continue_one_mlflow_run(cli, tiny_npz, tmp_path):
    """The module's first training (Keras' start) and MLflow's sqlite tables being made: one
    epoch, resumed for a second, exported twice (~10 s here, 25 s while the server boots beside it)."""
    result = train(cli, tiny_npz, tmp_path / "run", "mlflow", epochs=1)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mlflow.db").is_file() and "Warning" not in result.output
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow, run = tracked_run(uri, tmp_path / "run")
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert_logged_like_the_folder(mlflow, run, tmp_path / "run")

    result = cli("train", "--resume", tmp_path / "run", "--epochs", 2, "--track", "mlflow")
    assert result.exit_code == 0, result.output
    mlflow, again = tracked_run(uri, tmp_path / "run")
    assert again.info.run_id == run.info.run_id and again.info.status == "FINISHED"
    assert [m.step for m in mlflow.get_metric_history(run.info.run_id, "loss")] == [1, 2]


# === A tracking server ===


def test_a_server_that_is_down_warns_once_and_the_run_completes(cli, tiny_npz, tmp_path):
    began = time.monotonic()
    result = train(cli, tiny_npz, tmp_path / "run", f"mlflow=http://u:s3cret@127.0.0.1:{free_port()}/", epochs=1)
    assert result.exit_code == 0, result.output
    assert result.stderr.count(WARNING) == 1 and "Connection refused" in result.stderr, result.stderr
    assert "s3cret" not in result.output and "http://u:***@127.0.0.1" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()[-1]) < 400
    for name in ("config.toml", "model.keras", "metrics.csv", "samples/epoch-001.png"):
        assert (tmp_path / "run" / name).is_file(), name
    assert time.monotonic() - began < 60


def test_server_gets_params_metrics_grids_model_and_eval_in_one_run(cli, tiny_npz, tmp_path, mlflow_server):
    """Trains 2 epochs, exports, evaluates (~10 s), after waiting for the server if it is still starting."""
    result = train(cli, tiny_npz, tmp_path / "run", f"mlflow={mlflow_server}")
    assert result.exit_code == 0 and "Warning" not in result.output, result.output
    assert f"MLflow: logging to run 'run' at {mlflow_server}/#/experiments/" in result.stderr
    mlflow, run = tracked_run(mlflow_server, tmp_path / "run")
    assert run.info.status == "FINISHED"
    assert_logged_like_the_folder(mlflow, run, tmp_path / "run")
    logged = artifacts(mlflow, run.info.run_id)
    assert {"samples/epoch-001.png", "samples/epoch-002.png", "reconstructions/epoch-002.png", "metrics.csv",
            "config.toml", "model/model.weights.h5", "model/config.toml", "model/README.md"} <= logged, logged

    result = cli("eval", tmp_path / "run", "--metrics", "reconstruction", "--num", 8, "--track", f"mlflow={mlflow_server}")
    assert result.exit_code == 0 and "Warning" not in result.output, result.output
    mlflow, evaluated = tracked_run(mlflow_server, tmp_path / "run")  # the same run, not a new one
    assert evaluated.info.run_id == run.info.run_id
    assert evaluated.data.metrics["eval.reconstruction.mse"] > 0
    assert "eval/eval.json" in artifacts(mlflow, run.info.run_id, "eval")


def fake_run(run_dir: Path, epochs: int) -> list[dict]:
    """A run folder as zoo leaves it (its mark, config.toml, metrics.csv of
    ``epochs`` epochs), for trackers driven directly, without training; its rows."""
    from zoo_core.storage.runfolder import RUN_MARK

    run_id = uuid.uuid4().hex
    run_dir.mkdir(parents=True)
    (run_dir / RUN_MARK).write_text(json.dumps({"run_id": run_id}))
    (run_dir / "config.toml").write_text(f'[model]\nlatent_dim = 2\n\n[zoo]\nrun_id = "{run_id}"\n')
    rows = [{"epoch": e, "loss": 10.0 / e, "val_loss": 11.0 / e} for e in range(1, epochs + 1)]
    with open(run_dir / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def test_workers_and_restarts_of_a_sweep_share_one_parent_and_a_resumed_trial_catches_up(
        registry, tmp_path, mlflow_server):
    """Two workers of one sweep, the first killed (-9) after epoch 3's checkpoint but
    before it logged it, then a restart that resumes its trial: trackers driven directly."""
    group = f"sweep-{uuid.uuid4().hex[:8]}"
    trial = tmp_path / "sweep" / "trials" / "0003" / "seed-1"
    rows = fake_run(trial, 4)
    (tmp_path / "sweep" / "sweep.toml").write_text(f'study_name = "{group}"\n')
    lines = []

    def worker():
        tracker = open_trackers([f"mlflow={mlflow_server}"], registry, echo=lines.append)[0]
        tracker.open_group(group, {"space": {"train.learning_rate": "loguniform(1e-4, 1e-2)"}, "trials": 8})
        return tracker

    first, second = worker(), worker()
    parent = first.tracker.parent_id
    assert second.tracker.parent_id == parent
    first.run_started(trial, {}, resumed=False)
    for row in rows[:2]:
        first.epoch_ended(row["epoch"], row, None, trial)  # epoch 3 is checkpointed, never logged: kill -9
    second.close_group({"best_trial": 3, "best_value": 1.5})
    second.close()
    mlflow = client(mlflow_server)
    assert mlflow.get_run(parent).info.status == "FINISHED"  # the second worker ended; the first never did

    child = tracked_run(mlflow_server, trial)[1]
    assert child.info.run_name == "0003/seed-1" and child.data.tags["mlflow.parentRunId"] == parent
    assert child.data.tags["zoo.trial"] == "3" and child.data.tags["zoo.seed"] == "1"
    old = mlflow.create_run(child.info.experiment_id, run_name="a parent from before").info.run_id
    mlflow.set_tag(child.info.run_id, "mlflow.parentRunId", old)  # as a sweep's earlier parent left it

    restart = worker()
    assert restart.tracker.parent_id == parent and mlflow.get_run(parent).info.status == "RUNNING"
    restart.tracker.log_model = False
    restart.run_started(trial, {}, resumed=True)
    restart.epoch_ended(4, rows[3], None, trial)  # metrics.csv held it already: logged once
    restart.run_ended(SimpleNamespace(run_dir=trial, stopped_early=None), None)
    restart.close_group({"best_trial": 3, "best_value": 1.25})
    assert restart.active and first.active and not [line for line in lines if "Warning" in line], lines

    mlflow, child = tracked_run(mlflow_server, trial)  # the same run, under the one parent
    assert child.data.tags["mlflow.parentRunId"] == parent and child.info.status == "FINISHED"
    for key in ("loss", "val_loss"):
        history = sorted((m.step, m.value) for m in mlflow.get_metric_history(child.info.run_id, key))
        assert history == [(r["epoch"], pytest.approx(r[key])) for r in rows], key
    parents = mlflow.search_runs([child.info.experiment_id], filter_string=f"tags.`zoo.group` = '{group}'")
    assert [p.info.run_id for p in parents] == [parent]
    assert parents[0].info.status == "FINISHED" and parents[0].data.metrics["best_value"] == 1.25
    assert parents[0].data.params["trials"] == "8"


def test_a_sweep_is_a_parent_run_and_a_server_killed_mid_run_warns_once(registry, tmp_path, mlflow_server,
                                                                       server_process):
    """Kills the module's server: the last test of the file."""
    from zoo_core.backend import choose_backend
    from zoo_core.plugins.resolve import resolve_run
    from zoo_core.training import RunListener, train_run

    lines = []
    trackers = open_trackers([f"mlflow={mlflow_server}"], registry, echo=lines.append)
    trackers[0].open_group("sweep-1", {"space": {"train.learning_rate": "loguniform(1e-4, 1e-2)"}})

    class Killer(RunListener):
        def epoch_ended(self, epoch, logs, model, run_dir):
            if epoch == 1:
                mlflow = client(mlflow_server)
                child = mlflow.search_runs([e.experiment_id for e in mlflow.search_experiments()],
                                           filter_string="attributes.run_name = 'trial'")[0]
                parent = mlflow.get_run(child.data.tags["mlflow.parentRunId"])
                assert parent.info.run_name == "sweep-1" and "space.train.learning_rate" in parent.data.params
                assert child.data.metrics["loss"] == pytest.approx(logs["loss"])
                os.killpg(server_process[0].pid, signal.SIGKILL)
                server_process[0].wait(30)

    resolved = resolve_run(registry, "vae", dataset="tiny", overrides=["filters=[4, 8]", "dense_units=8", "latent_dim=2"],
                           train={"epochs": 2, "batch_size": 16, "grid_size": 2})
    result = train_run(resolved, tmp_path / "trial", backend=choose_backend(None), verbose=0, echo=lambda line: None,
                       listeners=[*trackers, Killer()])
    trackers[0].close_group({"best_value": 1.0})
    assert result.stopped_early is None and (tmp_path / "trial" / "model.keras").is_file()
    warnings = [line for line in lines if line.startswith("Warning")]
    assert len(warnings) == 1 and WARNING in warnings[0] and "\n" not in warnings[0], lines
