"""Training that survives: resume, signals, NaNs, crashes mid-write, full
disks, damaged checkpoints, and reproducible seeds. Runs on whatever backend
KERAS_BACKEND selects (CI runs it on all three)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

from zoo_core.training import callbacks as zoo_callbacks
from zoo_core.training.checkpoints import (
    CheckpointState,
    CheckpointWriteError,
    clean_temporary_files,
    read_checkpoint,
    save_checkpoint,
)
from zoo_core.errors import Interrupted, ZooError
from zoo_core.plugins.resolve import resolve_run
from zoo_core.training import TrainingDiverged, resume_run, train_run

TINY_MODELS = {
    "vae": ["filters=[4, 8]", "dense_units=8", "latent_dim=2"],
    "dcgan": ["latent_dim=4", "generator_filters=[8, 4]", "discriminator_filters=[4, 8]"],
    # With dropout, which on PyTorch draws from torch's global generator.
    "gan": ["latent_dim=4", "generator_units=[16]", "discriminator_units=[16]", "dropout=0.3"],
    "vae-gan": ["latent_dim=4", "encoder_filters=[4, 8]", "encoder_units=8", "decoder_filters=[8, 4]",
                "discriminator_filters=[4, 8]", "discriminator_units=8", "kernel_size=3"],
}
QUIET = {"echo": lambda s: None, "verbose": 0}


def backend():
    import keras

    return keras.backend.backend()


def resolved(registry, model="vae", epochs=2, seed=0, **train):
    train = {"epochs": epochs, "batch_size": 8, "seed": seed, "grid_size": 2, **train}
    return resolve_run(registry, model, dataset="tiny", overrides=TINY_MODELS[model], train=train)


def weights(run_dir):
    """Every weight of the run's model.keras, in order."""
    import keras

    import zoo_gan.models  # noqa: F401  (register the classes with Keras)
    import zoo_vae.models  # noqa: F401
    import zoo_vaegan.models  # noqa: F401

    model = keras.saving.load_model(run_dir / "model.keras", compile=False)
    return [np.asarray(w) for w in model.get_weights()]


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


def csv_epochs(run_dir):
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    return [int(line.split(",")[0]) for line in lines[1:]]


# === Resume ===


@pytest.mark.parametrize("model", ["vae", "dcgan"])
def test_resume_matches_an_uninterrupted_run(registry, tmp_path, model):
    whole, split = tmp_path / "whole", tmp_path / "split"
    train_run(resolved(registry, model, epochs=2), whole, backend=backend(), **QUIET)
    train_run(resolved(registry, model, epochs=1), split, backend=backend(), **QUIET)
    assert read_checkpoint(split).epoch == 1

    result = resume_run(split, registry, backend=backend(), epochs=2, **QUIET)
    assert_same_weights(weights(whole), weights(split))
    assert csv_epochs(split) == [1, 2]  # continued, no epoch lost or repeated
    assert result.metrics["loss" if model == "vae" else "d_loss"] == pytest.approx(
        read_checkpoint(whole).history[-1]["loss" if model == "vae" else "d_loss"], rel=1e-4)
    with pytest.raises(ZooError, match="finished all 2 epochs"):
        resume_run(split, registry, backend=backend(), **QUIET)


def ctrl_c_at_batch(monkeypatch, global_batch: int, times: int):
    """Make training send itself SIGINT ``times`` times once ``global_batch``
    batches of the run are done; returns the real ``make_callbacks``."""
    real = zoo_callbacks.make_callbacks

    def with_ctrl_c(*args, **kwargs):
        import keras

        callbacks, watch = real(*args, **kwargs)

        class CtrlC(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if watch.global_start + watch.batches == global_batch:
                    for _ in range(times):
                        os.kill(os.getpid(), signal.SIGINT)

        return callbacks + [CtrlC()], watch

    monkeypatch.setattr(zoo_callbacks, "make_callbacks", with_ctrl_c)
    return real


def test_signal_mid_epoch_saves_and_resumes_exactly(registry, tmp_path, monkeypatch):
    whole, split = tmp_path / "whole", tmp_path / "split"
    train_run(resolved(registry, epochs=2), whole, backend=backend(), **QUIET)

    real = ctrl_c_at_batch(monkeypatch, 6, times=1)  # epoch 2 of 4 batches each
    with pytest.raises(Interrupted, match="resume with: zoo train --resume") as caught:
        train_run(resolved(registry, epochs=2, steps_per_execution=1), split, backend=backend(), **QUIET)
    assert caught.value.exit_code == 130
    state = read_checkpoint(split)
    assert (state.epoch, state.step) == (1, 3)  # stopped after the batch that saw the signal
    assert csv_epochs(split) == [1]

    monkeypatch.setattr(zoo_callbacks, "make_callbacks", real)
    resume_run(split, registry, backend=backend(), **QUIET)
    assert_same_weights(weights(whole), weights(split))
    assert csv_epochs(split) == [1, 2]


@pytest.mark.parametrize("model", ["vae", "gan", "vae-gan"])
def test_a_stop_mid_epoch_resumes_to_the_uninterrupted_run(registry, tmp_path, monkeypatch, model):
    """Weights, and every metrics.csv value (the interrupted epoch's training
    means over all its batches, validation), as if never stopped."""
    whole, split = tmp_path / "whole", tmp_path / "split"
    train_run(resolved(registry, model, epochs=2, steps_per_execution=1), whole, backend=backend(), **QUIET)
    real = ctrl_c_at_batch(monkeypatch, 6, times=1)  # epoch 2 of 4 batches each
    with pytest.raises(Interrupted):
        train_run(resolved(registry, model, epochs=2, steps_per_execution=1), split, backend=backend(), **QUIET)
    assert (read_checkpoint(split).epoch, read_checkpoint(split).step) == (1, 3)
    monkeypatch.setattr(zoo_callbacks, "make_callbacks", real)
    resume_run(split, registry, backend=backend(), **QUIET)
    assert_same_weights(weights(whole), weights(split))
    rows, expected = read_checkpoint(split).history, read_checkpoint(whole).history
    assert [r["epoch"] for r in rows] == [1, 2]
    for row, want in zip(rows, expected):
        assert set(row) == set(want)
        for key in set(want) - {"seconds", "images_per_second"}:
            assert row[key] == pytest.approx(want[key], rel=1e-4, abs=1e-5), (row["epoch"], key)


def test_a_second_signal_aborts_at_once_and_keeps_the_previous_checkpoint(registry, tmp_path, monkeypatch):
    run = tmp_path / "run"
    real = ctrl_c_at_batch(monkeypatch, 6, times=2)  # epoch 2 of 4 batches each
    with pytest.raises(Interrupted, match=r"aborted; the last good checkpoint \(after epoch 1\)") as caught:
        train_run(resolved(registry, epochs=2, steps_per_execution=1), run, backend=backend(), **QUIET)
    assert caught.value.exit_code == 130 and "resume with: zoo train --resume" in str(caught.value)
    state = read_checkpoint(run)
    assert (state.epoch, state.step) == (1, 0)  # the end-of-epoch-1 checkpoint, nothing newer
    assert csv_epochs(run) == [1]
    monkeypatch.setattr(zoo_callbacks, "make_callbacks", real)
    resume_run(run, registry, backend=backend(), **QUIET)
    assert csv_epochs(run) == [1, 2]

def test_step_checkpoints(registry, tmp_path):
    run = tmp_path / "run"
    train_run(resolved(registry, epochs=1, checkpoint_every_steps=3,
                       steps_per_execution=1 if backend() == "torch" else 2), run, backend=backend(), **QUIET)
    state = read_checkpoint(run)
    assert (state.epoch, state.step, state.global_step) == (1, 0, 4)
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["epoch-0001-step-000000.keras"]


def test_same_seed_same_first_epoch(registry, tmp_path):
    runs = [tmp_path / name for name in ("a", "b", "c")]
    for run, seed in zip(runs, (3, 3, 4)):
        train_run(resolved(registry, epochs=1, seed=seed), run, backend=backend(), **QUIET)
    a, b, c = (read_checkpoint(run).history[0] for run in runs)
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
    assert a["loss"] != pytest.approx(c["loss"], rel=1e-5)


# === Faults ===


def test_nan_stops_and_keeps_the_last_good_checkpoint(registry, tmp_path, monkeypatch):
    run = tmp_path / "run"

    def poison(self, model, epoch):
        # After epoch 1's checkpoint is written, break the weights.
        # (The output layer's bias: a NaN before a ReLU can vanish, as max(0, nan) may be 0.)
        last = model.trainable_variables[-1]
        last.assign(np.full(last.shape, np.nan, "float32"))

    monkeypatch.setattr(zoo_callbacks.Grids, "write", poison)
    with pytest.raises(TrainingDiverged) as caught:
        train_run(resolved(registry, epochs=3, steps_per_execution=1), run, backend=backend(), **QUIET)
    message = str(caught.value)
    assert "became nan at epoch 2, batch 1" in message
    assert "after epoch 1" in message and "--learning-rate 0.0001" in message
    assert read_checkpoint(run).epoch == 1
    assert all(np.isfinite(w).all() for w in weights(run))
    assert csv_epochs(run) == [1]


class FakeModel:
    """Writes a .keras-like zip; optionally fails or hangs half-way."""

    def __init__(self, fail=None, hang=False):
        self.fail, self.hang = fail, hang

    def save(self, path):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 half a zip")
            f.flush()
            if self.hang:
                time.sleep(60)
            if self.fail:
                raise OSError(self.fail, os.strerror(self.fail))
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", "{}")


def test_disk_full_keeps_the_previous_checkpoint(tmp_path):
    save_checkpoint(tmp_path, FakeModel(), CheckpointState(epoch=1))
    before = (tmp_path / "checkpoint.json").read_bytes()
    with pytest.raises(CheckpointWriteError, match="No space left on device.*previous checkpoint \\(after epoch 1\\) is intact"):
        save_checkpoint(tmp_path, FakeModel(fail=errno.ENOSPC), CheckpointState(epoch=2))
    assert (tmp_path / "checkpoint.json").read_bytes() == before
    assert zipfile.is_zipfile(tmp_path / read_checkpoint(tmp_path).file)
    assert zipfile.is_zipfile(tmp_path / "model.keras")
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["epoch-0001-step-000000.keras"]


def test_disk_full_during_training_is_a_clean_error(cli, tmp_path, tiny_npz, monkeypatch):
    import zoo_core.training.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "_fsync", _failing_fsync([]))
    out = tmp_path / "run"
    result = cli("train", "vae", "--dataset", f"npz:{tiny_npz}", "--epochs", 3, "--batch-size", 8,
                 "--set", "filters=[4,8]", "--set", "grid_size=2", "--out", out)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "No space left on device" in result.output and "(after epoch 1) is intact" in result.output
    assert read_checkpoint(out).epoch == 1 and csv_epochs(out) == [1]
    assert not list((out / "checkpoints").glob(".*"))  # no half-written file left


def _failing_fsync(calls):
    """An fsync that reports a full disk on the second checkpoint."""
    real = os.fsync

    def fsync(path):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        fd = os.open(path, os.O_RDONLY)
        try:
            real(fd)
        finally:
            os.close(fd)

    return fsync


KILL_SCRIPT = textwrap.dedent("""
    import sys, time, zipfile
    from pathlib import Path
    from zoo_core.training.checkpoints import CheckpointState, save_checkpoint

    class Hanging:
        def save(self, path):
            with open(path, "wb") as f:
                f.write(b"PK half a zip")
                f.flush()
                print("writing", flush=True)
                time.sleep(60)

    save_checkpoint(Path(sys.argv[1]), Hanging(), CheckpointState(epoch=2))
""")


def test_kill_9_mid_write_leaves_the_previous_checkpoint(tmp_path):
    save_checkpoint(tmp_path, FakeModel(), CheckpointState(epoch=1, history=[{"epoch": 1, "loss": 1.0}]))
    before = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    child = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert list((tmp_path / "checkpoints").glob(".*.tmp.keras"))  # the half-written file is there...
    state = read_checkpoint(tmp_path)  # ...but the checkpoint is the old, whole one
    assert state.epoch == 1 and state.history == [{"epoch": 1, "loss": 1.0}]
    assert zipfile.is_zipfile(tmp_path / state.file)
    clean_temporary_files(tmp_path)
    after = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


@pytest.mark.parametrize("damage, words", [
    ("truncate", ["not a .keras file"]),
    ("foreign", ["cannot load the checkpoint"]),
    ("state", ["checkpoint.json is damaged"]),
    ("no-state", ["no checkpoint.json"]),
    ("missing-file", ["which is missing"]),
    ("plugin", ["which no installed plugin provides", "pip install zoo-vae"]),
])
def test_damaged_runs_refuse_to_resume(cli, tiny_npz, tmp_path, damage, words):
    out = tmp_path / "run"
    assert cli("train", "vae", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, "--batch-size", 8,
               "--set", "filters=[4,8]", "--set", "grid_size=2", "--out", out).exit_code == 0
    state = read_checkpoint(out)
    checkpoint = out / state.file
    if damage == "truncate":
        checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    elif damage == "foreign":
        import keras

        other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        checkpoint.unlink()
        other.save(checkpoint)
    elif damage == "state":
        (out / "checkpoint.json").write_text("{not json")
    elif damage == "no-state":
        (out / "checkpoint.json").unlink()
    elif damage == "missing-file":
        checkpoint.unlink()
    elif damage == "plugin":
        config = (out / "config.toml").read_text().replace('name = "vae"', 'name = "vae-from-elsewhere"')
        (out / "config.toml").write_text(config)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = cli("train", "--resume", out, "--epochs", 2)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    for word in words:
        assert word in result.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # nothing lost


@pytest.mark.parametrize("args, words", [
    (["--resume", "{run}", "--set", "latent_dim=3"], ["--resume", "--set", "cannot be changed"]),
    (["vae-mnist", "--resume", "{run}"], ["PRESET|MODEL"]),
    (["--resume", "{tmp}/nowhere"], ["not a zoo run folder"]),
    ([], ["name a preset or a model"]),
])
def test_resume_bad_inputs(cli, tmp_path, args, words):
    run = tmp_path / "run"
    run.mkdir()
    result = cli("train", *[a.format(run=run, tmp=tmp_path) for a in args])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    for word in words:
        assert word in result.output


@pytest.mark.parametrize("arrays, model, words", [
    ({"x_train": np.zeros((0, 8, 8)), "x_test": np.zeros((0, 8, 8))}, "vae", ["is empty", "at least one image"]),
    ({"x_train": np.zeros((4, 8, 8, 2)), "x_test": np.zeros((2, 8, 8, 2))}, "vae", ["shape (4, 8, 8, 2)", "expected (N, H, W)"]),
    ({"x_train": np.full((4, 8, 8), 2.0), "x_test": np.zeros((2, 8, 8))}, "vae", ["[0, 1]"]),
    ({"x_train": np.zeros((4, 8, 8)), "x_test": np.zeros((2, 8, 8))}, "cgan", ["no labels", "class-conditional"]),
])
def test_bad_data(cli, tmp_path, arrays, model, words):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    result = cli("train", model, "--dataset", f"npz:{path}", "--out", tmp_path / "run")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    for word in words:
        assert word in result.output
    assert not (tmp_path / "run").exists()


# === Signals from outside, TensorBoard ===


def test_sigterm_from_outside(tiny_npz, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "KERAS_BACKEND": backend()}
    command = [sys.executable, "-m", "zoo_core.cli", "train", "vae", "--dataset", f"npz:{tiny_npz}",
               "--epochs", "500", "--batch-size", "8", "--set", "filters=[4,8]", "--set", "grid_size=2",
               "--out", str(out), "--tensorboard"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                             cwd=tmp_path)
    lines = []
    for line in child.stdout:
        lines.append(line)
        if line.startswith("Epoch 2/"):
            child.send_signal(signal.SIGTERM)
            break
    output = "".join(lines) + child.stdout.read()
    assert child.wait(timeout=120) == 128 + signal.SIGTERM, output
    assert "SIGTERM received" in output and f"zoo train --resume {out}" in output
    assert f"tensorboard --logdir {out / 'logs'}" in output
    assert "Traceback" not in output
    state = read_checkpoint(out)
    assert state.epoch >= 2
    assert json.loads((out / "checkpoint.json").read_text())["file"] == state.file
    assert list((out / "logs").iterdir())  # TensorBoard event file
