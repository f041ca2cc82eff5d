"""Faults around a training run, each met for real: a streamed image cache
cut short while training reads it, an image folder that gained images before
``--resume``, a ``checkpoint.json`` that points into another run, ``kill -9``
right after the checkpoint at an epoch's last batch, ``torchrun`` on a backend
it does not serve, and options that are infinite or NaN."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from test_cli import assert_clean_error
from test_resilience import backend
from test_streaming import write_folder
from zoo_core.errors import ZooError
from zoo_core.training import replicas
from zoo_core.training.checkpoints import read_checkpoint

REPO = Path(__file__).resolve().parents[1]
TINY_VAE = ["--set", "filters=[4,8]", "--set", "dense_units=8", "--set", "latent_dim=2", "--set", "grid_size=2"]


def zoo_process(args, prelude: str = "", env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    """``zoo ARGS`` in a process of its own, after ``prelude`` (Python run first,
    to plant a fault); stdout and stderr together in ``.stdout``."""
    script = f"{prelude}\nimport sys\nfrom zoo_core.cli import cli\nsys.exit(cli(sys.argv[1:]))\n"
    full_env = {**os.environ, "KERAS_BACKEND": backend(), "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=full_env, cwd=cwd, timeout=300)


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error")]


# === A streamed cache cut short while training ===

#: Truncates every image cache under $ZOO_DATA_CACHE_DIR to half its size after
#: the __AT__-th training batch of the process, as another program (or a full disk) might.
CUT_THE_CACHE = """
import os
from zoo_core.training import callbacks
made = callbacks.make_callbacks
seen = [0]
def make_callbacks(*args, **kwargs):
    import keras
    found, watch = made(*args, **kwargs)
    class Cut(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen[0] += 1
            if seen[0] == __AT__:
                for root, _, files in os.walk(os.environ["ZOO_DATA_CACHE_DIR"]):
                    for name in files:
                        if name == "images.npy":
                            path = os.path.join(root, name)
                            os.truncate(path, os.path.getsize(path) // 2)
    return found + [Cut()], watch
callbacks.make_callbacks = make_callbacks
"""


@pytest.mark.every_backend  # the last case on every backend (each feeds data its own way), the others on TensorFlow
@pytest.mark.parametrize("at, next_step", [
    pytest.param(3, "nothing was saved yet", marks=pytest.mark.one_backend),  # the train step's data pipeline
    pytest.param(9, "nothing was saved yet", marks=pytest.mark.one_backend),  # after the last batch: validation's
    (12, "resume with: zoo train --resume"),
])
def test_a_cache_cut_short_while_training_is_one_line(tmp_path, at, next_step):
    """The cache of an image folder is truncated in the middle of an epoch (the
    first: nothing saved yet; the second: the first epoch's checkpoint stays):
    zoo's own line, not TensorFlow's wrapped traceback. Over 10 s: one or two
    real processes that each import TensorFlow and train (15-45 s on a busy 2-core machine)."""
    pics = write_folder(tmp_path / "pics")  # 36 training images: 9 batches of 4 per epoch
    cache = tmp_path / "cache"
    run = tmp_path / "run"
    args = ["train", "vae", "--dataset", f"folder:{pics}", "--epochs", "2", "--batch-size", "4", *TINY_VAE,
            "--set", "steps_per_execution=1", "--out", run]
    result = zoo_process(args, CUT_THE_CACHE.replace("__AT__", str(at)), env={"ZOO_DATA_CACHE_DIR": str(cache)})
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stdout and "UnknownError" not in result.stdout, result.stdout
    (line,) = error_lines(result.stdout)
    assert "was cut short while training" in line and next_step in line, line
    if at <= 9:  # in the first epoch
        assert not run.exists()
        return
    assert read_checkpoint(run).epoch == 1  # the first epoch's checkpoint, as the line says
    resumed = zoo_process(["train", "--resume", run], env={"ZOO_DATA_CACHE_DIR": str(cache)})
    assert resumed.returncode == 0, resumed.stdout  # the cache was written anew from the folder
    assert read_checkpoint(run).epoch == 2


# === An image folder that changed before --resume ===


def test_resume_refuses_a_folder_that_gained_images(cli, tmp_path):
    pics = write_folder(tmp_path / "pics")
    result = cli("train", "vae", "--dataset", f"folder:{pics}", "--epochs", "1", "--batch-size", "8", *TINY_VAE,
                 "--out", "run")
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    config, state = (run / "config.toml").read_bytes(), (run / "checkpoint.json").read_bytes()
    extra = (np.arange(28 * 28, dtype=np.uint8).reshape(28, 28) % 251)
    for i in range(10):
        Image.fromarray(extra).save(pics / "class0" / f"new{i}.png")

    result = cli("train", "--resume", "run", "--epochs", "2")
    assert_clean_error(result, "changed since the run started", "40 images then", "50 now",
                       "restore the data as it was, or start a new run")
    assert (run / "config.toml").read_bytes() == config and (run / "checkpoint.json").read_bytes() == state

    for path in pics.glob("class0/new*.png"):
        path.unlink()
    result = cli("train", "--resume", "run", "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert read_checkpoint(run).epoch == 2


# === checkpoint.json names a file outside the run ===


@pytest.fixture
def two_runs(tmp_path):
    """Two run folders, as far as read_checkpoint looks: checkpoint.json and its file."""
    runs = []
    for name in ("ours", "other"):
        run = tmp_path / name
        (run / "checkpoints").mkdir(parents=True)
        (run / "checkpoints" / "epoch-0001-step-000000.keras").write_bytes(b"weights of " + name.encode())
        doc = {"epoch": 1, "file": "checkpoints/epoch-0001-step-000000.keras", "format": 1}
        (run / "checkpoint.json").write_text(json.dumps(doc))
        runs.append(run)
    return runs


def point_at(run: Path, file: str) -> None:
    doc = json.loads((run / "checkpoint.json").read_text())
    (run / "checkpoint.json").write_text(json.dumps({**doc, "file": file}))


@pytest.mark.one_backend
@pytest.mark.parametrize("how", ["relative", "dots inside", "absolute", "linked file", "linked folder"])
def test_a_checkpoint_outside_the_run_is_refused(two_runs, how):
    ours, other = two_runs
    assert read_checkpoint(ours).file == "checkpoints/epoch-0001-step-000000.keras"
    theirs = other / "checkpoints" / "epoch-0001-step-000000.keras"
    if how == "relative":
        point_at(ours, "../other/checkpoints/epoch-0001-step-000000.keras")
    elif how == "dots inside":
        point_at(ours, "checkpoints/../../other/checkpoints/epoch-0001-step-000000.keras")
    elif how == "absolute":
        point_at(ours, str(theirs))
    elif how == "linked file":
        (ours / "checkpoints" / "linked.keras").symlink_to(theirs)
        point_at(ours, "checkpoints/linked.keras")
    else:
        shutil.rmtree(ours / "checkpoints")
        (ours / "checkpoints").symlink_to(other / "checkpoints")
    with pytest.raises(ZooError, match="outside this run's checkpoints/ folder; a run resumes only from its own"):
        read_checkpoint(ours)
    assert read_checkpoint(ours, missing_ok=True) is None  # nor is it called intact in other messages
    assert theirs.read_bytes() == b"weights of other"


@pytest.mark.one_backend
def test_resume_from_another_runs_checkpoint_is_refused(cli, tiny_npz, tmp_path):
    for name in ("a", "b"):
        result = cli("train", "vae", "--dataset", f"npz:{tiny_npz}", "--epochs", "1", "--batch-size", "8",
                     *TINY_VAE, "--out", name)
        assert result.exit_code == 0, result.output
    state = json.loads((tmp_path / "a" / "checkpoint.json").read_text())
    point_at(tmp_path / "a", f"../b/{state['file']}")
    assert_clean_error(cli("train", "--resume", "a", "--epochs", "2"), "outside this run's checkpoints/ folder")
    assert read_checkpoint(tmp_path / "b").epoch == 1


# === kill -9 right after the checkpoint at an epoch's last batch ===

#: kill -9 of this process as soon as the checkpoint after batch __STEP__ of an epoch is written.
KILL_AFTER_STEP = """
import os, signal
from zoo_core.training import checkpoints
save = checkpoints.save_checkpoint
def save_checkpoint(run_dir, model, state, *args, **kwargs):
    written = save(run_dir, model, state, *args, **kwargs)
    if state.step == __STEP__:
        os.kill(os.getpid(), signal.SIGKILL)
    return written
checkpoints.save_checkpoint = save_checkpoint
"""

TINY_VQ_VAE = ["--set", "num_codes=6", "--set", "code_dim=3", "--set", "encoder_filters=[4,8]",
               "--set", "decoder_filters=[8,4]", "--set", "kernel_size=3", "--set", "pixelcnn=gated",
               "--set", "prior_filters=8", "--set", "prior_layers=1", "--set", "grid_size=2"]


def metric_rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.every_backend  # the vq-vae case on TensorFlow only: its three phases compile for long on JAX
@pytest.mark.parametrize("model, options", [("vae", TINY_VAE),
                                            pytest.param("vq-vae", TINY_VQ_VAE, marks=pytest.mark.one_backend)])
def test_kill_9_after_an_epochs_last_batch_keeps_its_training_metrics(cli, tiny_npz, tmp_path, model, options):
    """A real process killed with SIGKILL between the step checkpoint at the
    first epoch's last batch and that epoch's end; the resumed run's metrics.csv
    has the epoch's training columns, equal to an uninterrupted run's. Over 10 s:
    a real process to kill and two runs to compare (25-45 s per model on a busy 2-core machine)."""
    args = ["train", model, "--dataset", f"npz:{tiny_npz}", "--epochs", "2", "--batch-size", "8", *options,
            "--set", "steps_per_execution=1", "--checkpoint-every", "5"]  # 40 images: 5 batches per epoch
    killed = zoo_process([*args, "--out", tmp_path / "killed"], KILL_AFTER_STEP.replace("__STEP__", "5"))
    assert killed.returncode == -9, killed.stdout
    state = read_checkpoint(tmp_path / "killed")
    assert (state.epoch, state.step) == (0, 5)

    resumed = cli("train", "--resume", tmp_path / "killed")
    assert resumed.exit_code == 0, resumed.output
    assert "Notice: epoch 1 had trained all its batches when the run stopped" in resumed.output
    assert "no timing (seconds, images_per_second)" in resumed.output
    whole = cli(*args, "--out", tmp_path / "whole")
    assert whole.exit_code == 0, whole.output

    got, want = metric_rows(tmp_path / "killed"), metric_rows(tmp_path / "whole")
    assert [row["epoch"] for row in got] == ["1", "2"]
    timing = ("seconds", "images_per_second")
    assert got[0]["seconds"] == got[0]["images_per_second"] == ""  # not measured: named in the notice
    for row, reference in zip(got, want, strict=True):
        columns = [k for k in reference if k not in timing]
        assert all(row[k] != "" for k in columns), row
        assert [float(row[k]) for k in columns] == pytest.approx([float(reference[k]) for k in columns],
                                                                 rel=1e-4, abs=1e-5)


# === torchrun on a backend it does not serve ===

TORCHRUN_ENV = {"TORCHELASTIC_RUN_ID": "zoo-test", "RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2",
                "LOCAL_WORLD_SIZE": "2", "GROUP_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


@pytest.mark.every_backend
def test_torchrun_on_another_backend_is_refused_before_training(tiny_npz, tmp_path):
    """A real process with torchrun's environment. About 5 s."""
    if backend() == "torch":
        pytest.skip("torchrun serves PyTorch: tests/test_devices.py covers it")
    run = tmp_path / "run"
    result = zoo_process(["train", "vae", "--dataset", f"npz:{tiny_npz}", "--epochs", "1", *TINY_VAE,
                          "--out", run], env=TORCHRUN_ENV, cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stdout
    (line,) = error_lines(result.stdout)
    for words in ("one of 2 that torchrun started", "torchrun serves only --backend torch",
                  "--distribute data-parallel", "without torchrun"):
        assert words in line, line
    assert not run.exists() and "Training" not in result.stdout


@pytest.mark.one_backend
@pytest.mark.parametrize("name", ["tensorflow", "jax"])
def test_torchrun_is_told_apart(monkeypatch, name):
    for key in (*TORCHRUN_ENV, "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    replicas.refuse_torchrun(name)  # not under torchrun
    for key, value in TORCHRUN_ENV.items():
        monkeypatch.setenv(key, value)
    replicas.refuse_torchrun("torch")  # the backend torchrun serves
    engine = {"tensorflow": "MirroredStrategy", "jax": "DataParallel"}[name]
    with pytest.raises(ZooError, match=f"one of 2 that torchrun started.*{engine}"):
        replicas.refuse_torchrun(name)
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    replicas.refuse_torchrun(name)  # torchrun with one process: nothing trains twice


@pytest.mark.every_backend
def test_resume_under_torchrun_on_another_backend_is_refused_before_the_lock(cli, tiny_npz, tmp_path, monkeypatch):
    if backend() == "torch":
        pytest.skip("torchrun serves PyTorch")
    result = cli("train", "vae", "--dataset", f"npz:{tiny_npz}", "--epochs", "1", "--batch-size", "8", *TINY_VAE,
                 "--out", "run")
    assert result.exit_code == 0, result.output
    before = sorted(p.name for p in (tmp_path / "run").iterdir())
    for key, value in TORCHRUN_ENV.items():
        monkeypatch.setenv(key, value)
    assert_clean_error(cli("train", "--resume", "run", "--epochs", "2"), "torchrun serves only --backend torch")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == before


# === Infinite and NaN options ===


@pytest.mark.one_backend
@pytest.mark.parametrize("setting, key", [
    ("loss.beta=inf", "loss.beta"), ("loss.beta=-inf", "loss.beta"), ("loss.beta=nan", "loss.beta"),
    ("learning_rate=inf", "train.learning_rate"), ("beta_1=nan", "train.beta_1"),
    ("loss.beta=1e999", "loss.beta"), (f"loss.beta={10 ** 400}", "loss.beta"),
])
def test_non_finite_options_are_refused_naming_the_key(cli, tiny_npz, setting, key):
    result = cli("train", "vae", "--dataset", f"npz:{tiny_npz}", "--set", setting, "--out", "run")
    assert_clean_error(result, f"'{key}' must be a finite number")
    assert not Path("run").exists()


@pytest.mark.one_backend
def test_a_non_finite_learning_rate_flag_is_refused(cli, tiny_npz):
    assert_clean_error(cli("train", "vae", "--dataset", f"npz:{tiny_npz}", "--learning-rate", "inf"),
                       "'train.learning_rate' must be a finite number")


# === TensorFlow's remapper on models of several networks ===


def test_a_gan_on_tensorflow_logs_no_remapper_error(tiny_npz, tmp_path):
    """With oneDNN on (TensorFlow's default on most x86 CPUs) and TensorFlow's
    ERROR lines shown (TF_CPP_MIN_LOG_LEVEL=2, as many users set it), a GAN's
    train step made grappler's remapper fail with an ``E0000 ... remapper
    failed`` line; a real process. Over 10 s: it imports TensorFlow and trains."""
    if backend() != "tensorflow":
        pytest.skip("a TensorFlow graph optimizer")
    result = zoo_process(["train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--epochs", "1", "--batch-size", "8",
                          "--set", "latent_dim=4", "--set", "generator_filters=[8,4]",
                          "--set", "discriminator_filters=[4,8]", "--set", "grid_size=2", "--out", tmp_path / "run"],
                         env={"TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "remapper failed" not in result.stdout and "E0000" not in result.stdout, result.stdout


def test_the_remapper_is_off_only_for_a_multi_network_run(registry):
    """A one-network model keeps the remapper (it works there); the setting ends with the run."""
    if backend() != "tensorflow":
        pytest.skip("a TensorFlow graph optimizer")
    import tensorflow as tf

    from test_resilience import resolved
    from zoo_core.training.devices import execution
    from zoo_core.training.loop import build_model, compile_model, load_data

    def remapping():
        return tf.config.optimizer.get_experimental_options().get("remapping", True)

    before = tf.config.optimizer.get_experimental_options().get("remapping", True)
    tf.config.optimizer.set_experimental_options({"remapping": True})  # grappler's default
    try:
        for model, expected in (("vae", True), ("dcgan", False)):
            run = resolved(registry, model, epochs=1)
            data = load_data(run)
            with execution(run.config.train, "tensorflow"):
                compile_model(build_model(run, data.info), run.config.train, "tensorflow")
                assert remapping() is expected, model
            assert remapping() is True
        # Compiled outside a run (a test, a script), a model leaves the global option alone.
        run = resolved(registry, "dcgan", epochs=1)
        compile_model(build_model(run, load_data(run).info), run.config.train, "tensorflow")
        assert remapping() is True
    finally:
        tf.config.optimizer.set_experimental_options({"remapping": before})
