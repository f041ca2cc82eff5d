"""``zoo sweep``: Optuna studies whose trials are zoo runs (tiny runs, real Optuna, real processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import tiny_images

pytestmark = pytest.mark.one_backend  # the study's bookkeeping; training itself is tested on every backend

TINY = ["--set", "filters=[4,8]", "--set", "dense_units=8", "--set", "batch_size=16", "--set", "grid_size=2"]


@pytest.fixture(scope="module")
def sweep_cache(tmp_path_factory):
    """A 3-class npz and zoo's caches, one for the file's tests: the feature classifier of
    the data (its cache key holds the data's path) is trained by the first process that
    needs it, not once in each test."""
    folder = tmp_path_factory.mktemp("sweep-data")
    x = (tiny_images(120) * 255).astype(np.uint8)[..., 0]
    np.savez(folder / "tiny.npz", x_train=x[:96], x_test=x[96:], y_train=np.arange(96) % 3,
             y_test=np.arange(24) % 3)
    return folder


@pytest.fixture
def sweep_env(tmp_path, monkeypatch, sweep_cache):
    """A working folder whose tiny.npz is the file's (a link), with zoo's caches beside that."""
    (tmp_path / "tiny.npz").symlink_to(sweep_cache / "tiny.npz")
    monkeypatch.setenv("ZOO_CACHE_DIR", str(sweep_cache / "cache"))
    return tmp_path


SPACE = ["--space", "latent_dim=[2,3]", "--space", "learning_rate=loguniform(1e-4,1e-2)"]


def sweep_args(*extra, out="sweep", trials=3, space=SPACE):
    return ["sweep", "vae", "--dataset", "npz:tiny.npz", *TINY, *space,
            *(["--trials", trials] if trials else []), "--eval-num", 16, "--out", out, *extra]


def zoo_process(cwd: Path, *args, **popen) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-m", "zoo_core.cli", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def finished(process: subprocess.Popen, timeout: int = 300) -> str:
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, out[-3000:]
    return out


def trial_table(cwd: Path, folder: str = "sweep", *extra) -> dict:
    """``zoo sweep show FOLDER --json``, in this process (a new one spends seconds importing Optuna)."""
    from tests.conftest import zoo_invoker

    done = zoo_invoker()("sweep", "show", cwd / folder, "--json", *extra)
    assert done.exit_code == 0, done.output[-2000:]
    return json.loads(done.stdout)


def test_a_sweep_scores_trials_by_zoo_eval_and_writes_a_preset_that_trains(cli, sweep_env):
    """A grid of two settings, two seeds each, tracked in MLflow's local store; then the best
    preset trains (about 25 s: five tiny trainings and four evaluations)."""
    store = f"sqlite:///{sweep_env / 'mlflow.db'}"
    result = cli("sweep", "vae", "--dataset", "npz:tiny.npz", *TINY, "--set", "epochs=1", "--space",
                 "latent_dim=[2,3]", "--trials", 2, "--seeds", 2, "--eval-num", 16, "--out", "sweep",
                 "--track", f"mlflow={store}")
    assert result.exit_code == 0, result.output
    assert "Best: trial" in result.output and "Parameter importances" in result.output
    report = json.loads(cli("sweep", "show", "sweep", "--json").output)
    assert report["states"]["complete"] == 2 and report["objective"] == "fd"
    assert sorted(r["params"]["model.latent_dim"] for r in report["trials"]) == [2, 3]  # a grid: both values
    for row in report["trials"]:
        runs = [Path(row["folder"]) / f"seed-{k}" for k in (0, 1)]
        stored = [json.loads((run / "eval.json").read_text()) for run in runs]
        values = [e["metrics"]["fd"]["value"] for e in stored]
        assert row["seeds"] == 2 and row["objective"] == pytest.approx(np.mean(values))
        assert row["std"] == pytest.approx(np.std(values)) and values[0] != values[1]
        assert all(e["options"]["num"] == 16 and e["options"]["seed"] == 0 for e in stored)
        configs = [(run / "config.toml").read_text() for run in runs]
        assert f"latent_dim = {row['params']['model.latent_dim']}" in configs[0]
        assert "seed = 0" in configs[0] and "seed = 1000" in configs[1]
    best = min(report["trials"], key=lambda r: r["objective"])
    assert report["best"]["trial"] == best["trial"]
    assert (sweep_env / "sweep" / "history.png").stat().st_size > 1000
    trained = cli("train", "sweep-best", "--registry", "sweep/best.toml", "--out", "best-run")
    assert trained.exit_code == 0, trained.output
    import tomllib

    swept = tomllib.loads((Path(best["folder"]) / "seed-0" / "config.toml").read_text())
    again = tomllib.loads((sweep_env / "best-run" / "config.toml").read_text())
    for section in ("model", "loss", "train", "dataset"):
        assert again[section] == swept[section]  # the best trial's recipe, as it is

    from mlflow import MlflowClient

    client = MlflowClient(store)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    parent = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parent) == 1 and parent[0].data.metrics["best_fd"] == pytest.approx(report["best"]["objective"])
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent[0].info.run_id]
    assert len(children) == 4 and all("eval.fd.value" in r.data.metrics for r in children)


def test_a_new_sweep_first_trains_the_presets_own_setting(sweep_env):
    """What the set-up queues as trial 0 (nothing trains here): the preset's own values when
    the space holds them; else none, and the values it does not hold; none for a grid."""
    from zoo_core.plugins.registry import load_registry
    from zoo_core.tuning import sweep_setup

    (sweep_env / "presets.toml").write_text(
        '[presets.tiny-vae]\nmodel = { name = "vae", filters = [4, 8], dense_units = 8, latent_dim = 3 }\n'
        'dataset = "npz:tiny.npz"\ntrain = { batch_size = 16, learning_rate = 0.002, epochs = 4 }\n')
    registry = load_registry([sweep_env / "presets.toml"])

    def setup(*space, target="tiny-vae", **options):
        return sweep_setup(registry, sweep_env / "sweep", target=target, space_items=space, options={"trials": 3},
                           **options)

    held = setup("latent_dim=[2,3,4]", "learning_rate=loguniform(1e-4,1e-2)", "epochs=int(2,8,2)",
                 "filters=[[4, 8], [8, 16]]")
    assert held.baseline == {"model.latent_dim": "3", "train.learning_rate": 0.002, "train.epochs": 4,
                             "model.filters": "[4, 8]"}  # choices are kept as their TOML text
    assert held.baseline_label == "tiny-vae's own setting" and held.outside == ()
    outside = setup("learning_rate=loguniform(1e-4,1e-3)", "epochs=int(3,9,2)", "latent_dim=int(2,6)")
    assert outside.baseline is None and outside.outside == ("train.learning_rate=0.002", "train.epochs=4")
    assert setup("latent_dim=[2,3]").baseline is None  # a grid tries every listed value anyway
    assert setup("learning_rate=loguniform(1e-4,1e-2)", baseline=False).baseline is None
    model = setup("learning_rate=loguniform(1e-4,1e-2)", target="vae", dataset="npz:tiny.npz")
    assert model.baseline == {"train.learning_rate": 0.001} and model.baseline_label == "vae's defaults"


def test_a_hopeless_trial_is_pruned_and_keeps_its_checkpoint(cli, sweep_env, monkeypatch):
    import optuna

    import zoo_core.tuning.study as study

    monkeypatch.setattr(study, "make_pruner", lambda name: optuna.pruners.ThresholdPruner(upper=-1.0))
    result = cli(*sweep_args("--set", "epochs=2", trials=1))
    assert result.exit_code == 0, result.output
    # The first trial of a new study is the target as it is (the model's defaults here).
    assert "Trial 0 (vae's defaults): model.latent_dim=2, train.learning_rate=0.001" in result.output
    row = json.loads(cli("sweep", "show", "sweep", "--json").output)["trials"][0]
    assert row["params"] == {"model.latent_dim": 2, "train.learning_rate": 0.001}
    assert row["baseline"] == "vae's defaults"
    assert "vae's defaults; estimate " in cli("sweep", "show", "sweep").output
    assert row["state"] == "pruned" and row["note"].startswith("pruned: its FD on 24 images (")
    assert row["objective"] is None and row["estimate"] > 0  # a pruned trial has an estimate, not an objective
    checkpoint = json.loads((Path(row["folder"]) / "seed-0" / "checkpoint.json").read_text())
    assert checkpoint["epoch"] == 1 and not (Path(row["folder"]) / "seed-0" / "eval.json").exists()


def test_two_workers_on_one_sqlite_study_split_the_trials(sweep_env):
    """Two real `zoo sweep` processes on one SQLite study (about 30 s: two processes import TensorFlow)."""
    args = sweep_args("--set", "epochs=1", "--pruner", "none", trials=4)
    workers = [zoo_process(sweep_env, *args) for _ in range(2)]  # at the same moment: one creates the study
    outputs = [finished(w) for w in workers]
    report = trial_table(sweep_env)
    assert [r["trial"] for r in report["trials"]] == [0, 1, 2, 3]
    assert report["states"]["complete"] == 4
    ran = [out.count("Trial ") and sum(1 for line in out.splitlines() if line.startswith("Trial ") and ": fd " in line)
           for out in outputs]
    assert sum(ran) == 4 and min(ran) >= 1, outputs  # each worker ran trials, none twice
    assert len({r["worker"] for r in report["trials"]}) == 2


def test_sigterm_stops_a_sweep_in_one_line_that_says_how_to_continue(sweep_env):
    args = sweep_args("--set", "epochs=30", "--pruner", "none", trials=1)
    worker = zoo_process(sweep_env, *args)
    state = sweep_env / "sweep" / "trials" / "0000" / "seed-0" / "checkpoint.json"
    deadline = time.monotonic() + 180
    while not state.is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    worker.send_signal(signal.SIGTERM)
    out, _ = worker.communicate(timeout=120)
    assert worker.returncode == 143 and "Traceback" not in out, out[-2000:]
    assert out.strip().splitlines()[-1].startswith("Error: stopped trial 0; its run keeps its last checkpoint")
    assert "continue the sweep with: zoo sweep sweep" in out
    report = trial_table(sweep_env)
    assert [r["state"] for r in report["trials"]] == ["waiting"]  # queued again, to resume


def test_a_killed_sweep_continues_and_resumes_its_interrupted_trial(sweep_env):
    """kill -9 mid-trial, then the same command again (about 30 s: two processes, a 4-epoch trial)."""
    args = sweep_args("--set", "epochs=4", "--pruner", "none", trials=2)
    first = zoo_process(sweep_env, *args, start_new_session=True)
    state = sweep_env / "sweep" / "trials" / "0000" / "seed-0" / "checkpoint.json"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if state.is_file() and json.loads(state.read_text() or "{}").get("epoch", 0) >= 1:
            break
        time.sleep(0.2)
    else:
        first.kill()
        pytest.fail(f"no checkpoint in time: {first.communicate()[0][-2000:]}")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    again = finished(zoo_process(sweep_env, *args))
    assert "Trial 0's worker" in again and "is gone: queued again" in again
    assert "Resuming" in again and "sweep/trials/0000/seed-0" in again
    report = trial_table(sweep_env)
    # Trial 0 and another setting: Optuna's trial 1 is trial 0 again (its folder, counted once).
    assert [r["trial"] for r in report["trials"]] == [0, 2] and report["states"]["complete"] == 2
    killed = report["trials"][0]
    lines = (sweep_env / "sweep" / "trials" / "0000" / "seed-0" / "metrics.csv").read_text().splitlines()
    assert len(lines) == 5 and killed["optuna_trial"] == 1  # 4 epochs, once each; a retry of trial 0


@pytest.mark.parametrize("extra, message", [
    (["--space", "latent_dimension=[2,3]"], "--space latent_dimension=[2,3]: unknown key 'latent_dimension'"),
    (["--space", "learning_rate=uniform(1e-2,1e-4)"], "the range is empty"),
    (["--space", "latent_dim=uniform(2,8)"], "--space model.latent_dim=uniform(2,8):"),
    (["--space", "epochs=int(1,5.5)"], "int() takes integers, got '5.5'"),
    (["--space", "learning_rate=loguniform(0,1e-3)"], "a log scale needs a positive low bound"),
    (["--space", "learning_rate=normal(0,1)"], "unknown distribution"),
    (["--space", "latent_dim=[2,2]"], "a value is listed twice"),
    (["--space", "latent_dim"], "--space expects KEY=DIST"),
    (["--objective", "nll2"], "unknown objective 'nll2'; choose from fd, kid"),
    (["--storage", "nosuchdb://x"], "cannot open the sweep's storage nosuchdb://x"),
])
def test_a_bad_sweep_is_refused_in_one_line_before_anything_is_written(cli, sweep_env, extra, message):
    space = extra if extra[0] == "--space" else SPACE
    result = cli(*sweep_args(*([] if extra[0] == "--space" else extra), space=space))
    assert result.exit_code == 1 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (sweep_env / "sweep").exists()


def test_sweep_refusals_that_need_a_model_or_a_folder(cli, sweep_env, monkeypatch):
    gan = cli("sweep", "dcgan", "--dataset", "npz:tiny.npz", "--set", "image_size=16", "--space", "latent_dim=[4,8]",
              "--trials", 2, "--objective", "nll", "--out", "sweep")
    assert gan.exit_code == 1 and "--objective nll does not apply to 'dcgan'" in gan.output
    assert "it can give: fd, kid, coverage" in gan.output and not (sweep_env / "sweep").exists()
    nothing = cli("sweep", "run")
    assert nothing.exit_code == 1 and "name a preset or model to sweep" in nothing.output
    no_trials = cli(*sweep_args(trials=None))
    assert no_trials.exit_code == 1 and "--trials N" in no_trials.output
    (sweep_env / "mine").mkdir()
    (sweep_env / "mine" / "notes.txt").write_text("mine")
    taken = cli(*sweep_args(out="mine"))
    assert taken.exit_code == 1 and "not a zoo sweep, so zoo leaves it alone" in taken.output
    assert sorted(p.name for p in (sweep_env / "mine").iterdir()) == ["notes.txt"]
    show = cli("sweep", "show", "mine")
    assert show.exit_code == 1 and "is not a sweep folder (no sweep.toml)" in show.output
    (sweep_env / "empty-sweep").mkdir()
    (sweep_env / "empty-sweep" / "sweep.toml").write_text('study_name = "x"\nstorage = "sqlite:///x"\n[sweep]\n')
    nowhere = cli("sweep", "show", "empty-sweep", "--storage", "sqlite:///nothere.db")
    assert nowhere.exit_code == 1 and "does not exist" in nowhere.output and not (sweep_env / "nothere.db").exists()
    monkeypatch.setitem(sys.modules, "optuna", None)
    missing = cli(*sweep_args())
    assert missing.exit_code == 1 and "needs Optuna, which is not installed; pip install 'zoo-core[sweep]'" \
        in missing.output and not (sweep_env / "sweep").exists()


def test_a_worker_with_another_space_is_refused_and_a_preset_brings_its_own(cli, sweep_env):
    (sweep_env / "presets.toml").write_text(
        '[presets.tiny-vae]\nmodel = { name = "vae", filters = [4, 8], dense_units = 8 }\n'
        'dataset = "npz:tiny.npz"\ntrain = { batch_size = 16, grid_size = 2, epochs = 1 }\n'
        '[presets.tiny-vae.sweep]\ntrials = 2\neval_num = 16\n'
        'space = { latent_dim = "[2, 3]" }\n')
    first = cli("sweep", "tiny-vae", "--registry", "presets.toml", "--out", "sweep")
    assert first.exit_code == 0, first.output
    report = json.loads(cli("sweep", "show", "sweep", "--json").output)
    assert sorted(r["params"]["model.latent_dim"] for r in report["trials"]) == [2, 3]  # a grid: both values
    other = cli("sweep", "tiny-vae", "--registry", "presets.toml", "--space", "latent_dim=[4,5]", "--out", "sweep")
    assert other.exit_code == 1 and "is a sweep of something else (space: {model.latent_dim=[2, 3]} there, {model.latent_dim=[4,5]} here)" in other.output
    more = cli("sweep", "sweep", "--trials", 2)  # continue the folder: nothing left to run
    assert more.exit_code == 0 and "This worker ran 0 trials." in more.output, more.output
