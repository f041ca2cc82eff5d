"""Nothing a user owns is lost: --overwrite replaces only a zoo run folder,
and only once the new run has its first checkpoint; model.keras is its own
file; one writer per run folder (a lock naming its holder, stale locks taken
over). Runs on whatever backend KERAS_BACKEND selects."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import zipfile

import pytest

from zoo_core.storage.locks import LOCK_FILE, RunLock, read_holder
from zoo_core.storage.runfolder import NEW_MARK, OLD_MARK, RUN_MARK, is_run_folder, remove_leftovers
from zoo_core.training.checkpoints import read_checkpoint

TINY = ["--epochs", 1, "--batch-size", 8, "--set", "filters=[4,8]", "--set", "dense_units=8",
        "--set", "latent_dim=2", "--set", "grid_size=2"]


def train(cli, tiny_npz, out, *extra):
    return cli("train", "vae", "--dataset", f"npz:{tiny_npz}", *TINY, "--out", out, *extra)


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def one_line_error(result, *words):
    """A non-zero exit, no traceback, and the error on one line (the last) holding ``words``."""
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: ") and result.output.count("Error: ") == 1, result.output
    for word in words:
        assert word in last, result.output


@pytest.fixture
def run(cli, tiny_npz, tmp_path):
    """A finished one-epoch run folder."""
    out = tmp_path / "run"
    assert train(cli, tiny_npz, out).exit_code == 0
    return out


# === --overwrite ===


def test_overwrite_refuses_a_folder_that_is_not_a_run(cli, tiny_npz, tmp_path):
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "thesis.tex").write_text("years of work")
    (mine / "sub" / "config.toml").write_text("mine too")  # a marker deeper down does not count
    before = snapshot(mine)
    result = train(cli, tiny_npz, mine, "--overwrite")
    one_line_error(result, "--overwrite replaces only a zoo run folder", str(mine), "nothing was changed")
    assert snapshot(mine) == before


def test_overwrite_refuses_a_folder_with_only_a_config(cli, tiny_npz, tmp_path):
    half = tmp_path / "half"
    half.mkdir()
    (half / "config.toml").write_text("[model]\n")
    result = train(cli, tiny_npz, half, "--overwrite")
    one_line_error(result, "not one")
    assert (half / "config.toml").read_text() == "[model]\n"


@pytest.mark.one_backend
def test_overwrite_refuses_a_folder_with_a_config_and_a_model_file(cli, tiny_npz, tmp_path):
    """File names prove nothing: a user's config.toml beside any file named model.keras."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.toml").write_text("[zoo]\nversion = '0.1.0'\n")
    (mine / "model.keras").write_text("my notes, not a model")
    (mine / "checkpoint.json").write_text("{}")
    (mine / "data.csv").write_text("1,2,3")
    before = snapshot(mine)
    one_line_error(train(cli, tiny_npz, mine, "--overwrite"), "--overwrite replaces only a zoo run folder",
                   RUN_MARK, "nothing was changed")
    assert snapshot(mine) == before


@pytest.mark.one_backend
def test_overwrite_refuses_a_mark_that_does_not_match_the_config(cli, tiny_npz, run, tmp_path):
    """A run's mark copied (or a run's files copied) into a folder with another config is not a run."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / RUN_MARK).write_bytes((run / RUN_MARK).read_bytes())
    (mine / "config.toml").write_text("[zoo]\nrun_id = 'not-the-same'\n")
    (mine / "model.keras").write_bytes((run / "model.keras").read_bytes())
    before = snapshot(mine)
    one_line_error(train(cli, tiny_npz, mine, "--overwrite"), "not one")
    assert snapshot(mine) == before
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / RUN_MARK).symlink_to(run / RUN_MARK)
    (linked / "config.toml").symlink_to(run / "config.toml")
    assert not is_run_folder(linked)  # links into a run are not a run of this folder's own


def test_overwrite_refuses_a_run_holding_files_zoo_did_not_write(cli, tiny_npz, run):
    """A run folder is zoo's, but a file the user added to it (or an export made inside it) is not."""
    (run / "notes.txt").write_text("my notes on this run")
    (run / "export").mkdir()
    before = snapshot(run)
    one_line_error(train(cli, tiny_npz, run, "--overwrite"), "would delete what zoo did not write",
                   "export, notes.txt", "nothing was changed")
    assert snapshot(run) == before
    (run / "notes.txt").unlink()
    (run / "export").rmdir()
    (run / "eval.json").write_text("{}")  # zoo's own files do not stand in the way
    assert train(cli, tiny_npz, run, "--overwrite").exit_code == 0


def test_a_run_is_marked_and_its_mark_matches_its_config(run):
    import tomllib

    run_id = json.loads((run / RUN_MARK).read_text())["run_id"]
    assert tomllib.loads((run / "config.toml").read_text())["zoo"]["run_id"] == run_id
    assert is_run_folder(run)
    (run / RUN_MARK).unlink()  # as a run made before zoo marked its runs: never replaced
    assert not is_run_folder(run)


@pytest.mark.parametrize("out", [".", "..", "{cwd}"])
def test_out_never_takes_the_current_folder(cli, tiny_npz, tmp_path, out):
    (tmp_path / "notes.txt").write_text("keep me")
    before = snapshot(tmp_path)
    result = train(cli, tiny_npz, out.format(cwd=tmp_path), "--overwrite")
    one_line_error(result, "current folder")
    assert snapshot(tmp_path) == before


def test_overwrite_replaces_a_run_once_the_new_one_has_a_checkpoint(cli, tiny_npz, run):
    old_created = json.loads((run / "checkpoint.json").read_text())
    (run / "eval.json").write_text("{}")  # a file the new run does not write: gone with the old run
    result = train(cli, tiny_npz, run, "--overwrite", "--seed", 7)
    assert result.exit_code == 0, result.output
    assert is_run_folder(run) and not (run / "eval.json").exists() and not (run / LOCK_FILE).exists()
    assert "seed = 7" in (run / "config.toml").read_text()
    assert json.loads((run / "checkpoint.json").read_text()) != old_created
    assert [p.name for p in run.parent.iterdir() if NEW_MARK in p.name or OLD_MARK in p.name] == []
    assert str(run) in result.output and NEW_MARK not in result.output  # messages name the real folder


def test_a_new_run_failing_before_its_first_checkpoint_leaves_the_old_run(cli, tiny_npz, run, monkeypatch):
    import zoo_core.training.checkpoints as checkpoints

    before = snapshot(run)

    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoints, "_fsync", full)
    result = train(cli, tiny_npz, run, "--overwrite")
    one_line_error(result, "first checkpoint", "No space left on device", "start it again", "was not changed")
    assert "--resume" not in result.output  # nothing to resume: say what can work
    assert snapshot(run) == before
    assert [p.name for p in run.parent.iterdir() if NEW_MARK in p.name] == []


def test_a_fresh_run_failing_before_its_first_checkpoint_leaves_nothing(cli, tiny_npz, tmp_path, monkeypatch):
    import zoo_core.training.checkpoints as checkpoints

    monkeypatch.setattr(checkpoints, "_fsync", lambda path: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    result = train(cli, tiny_npz, tmp_path / "new")
    one_line_error(result, "nothing of this run was saved")
    assert not (tmp_path / "new").exists() and not list(tmp_path.glob(f".new{NEW_MARK}*"))


def test_leftovers_of_a_killed_swap_are_put_back(tmp_path):
    """kill -9 between moving the old run aside and moving the new one in:
    the next run puts the old one back; a dead process's half-built run goes."""
    old = tmp_path / f".run{OLD_MARK}999999"
    old.mkdir()
    (old / "config.toml").write_text("old")
    new = tmp_path / f".run{NEW_MARK}999999"
    new.mkdir()
    remove_leftovers(tmp_path / "run")
    assert (tmp_path / "run" / "config.toml").read_text() == "old" and not old.exists() and not new.exists()


def test_a_folder_filled_by_someone_else_meanwhile_is_never_replaced(tmp_path):
    from zoo_core.storage.files import WriteError
    from zoo_core.storage.runfolder import StagedRunFolder

    folder = StagedRunFolder(tmp_path / "run")
    staging = folder.create()
    (staging / "config.toml").write_text("new")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "theirs.txt").write_text("theirs")  # a concurrent writer got there first
    with pytest.raises(WriteError, match="filled by another process"):
        folder.place()
    folder.close()
    assert (tmp_path / "run" / "theirs.txt").read_text() == "theirs"
    assert (staging / "config.toml").read_text() == "new"  # and this run is kept, named in the error


def test_a_run_being_created_elsewhere_refuses_a_second_one(cli, tiny_npz, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        staging = tmp_path / f".run{NEW_MARK}{holder.pid}"
        staging.mkdir()
        (staging / LOCK_FILE).write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(), "since": "x"}))
        one_line_error(train(cli, tiny_npz, tmp_path / "run"), "is being created by another zoo train",
                       str(holder.pid))
        assert not (tmp_path / "run").exists()
    finally:
        holder.kill()
        holder.wait()
    assert train(cli, tiny_npz, tmp_path / "run").exit_code == 0  # its process is gone: the leftover goes
    assert not staging.exists()


# === model.keras ===


def test_model_keras_is_an_independent_copy_of_the_checkpoint(cli, run):
    state = read_checkpoint(run)
    checkpoint = run / state.file
    assert os.stat(run / "model.keras").st_ino != os.stat(checkpoint).st_ino
    assert (run / "model.keras").read_bytes() == checkpoint.read_bytes()
    with open(run / "model.keras", "r+b") as f:  # damage the model in place
        f.truncate(10)
    assert zipfile.is_zipfile(checkpoint)
    result = cli("train", "--resume", run, "--epochs", 2)
    assert result.exit_code == 0, result.output
    assert zipfile.is_zipfile(run / "model.keras")


# === Locks ===


def test_a_live_lock_refuses_every_writer_naming_its_holder(cli, tiny_npz, run):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / LOCK_FILE).write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(),
                                                 "since": "2026-01-01T00:00:00"}))
        before = snapshot(run)
        for result in (cli("train", "--resume", run, "--epochs", 2), train(cli, tiny_npz, run, "--overwrite"),
                       train(cli, tiny_npz, run)):
            one_line_error(result, "is in use by process", str(holder.pid), socket.gethostname())
            assert "corrupt" not in result.output and "damaged" not in result.output
        assert snapshot(run) == before
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone: its lock is stale, and the next writer takes over.
    assert read_holder(run) is None
    result = cli("train", "--resume", run, "--epochs", 2)
    assert result.exit_code == 0, result.output
    assert not (run / LOCK_FILE).exists()


def test_lock_of_another_host_is_respected(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": 1, "host": "elsewhere", "since": "x"}))
    from zoo_core.storage.locks import RunInUse

    with pytest.raises(RunInUse, match="process 1 on elsewhere"):
        RunLock(tmp_path).acquire()
    (tmp_path / LOCK_FILE).write_text("garbage")
    with pytest.raises(RunInUse, match="unreadable"):
        RunLock(tmp_path).acquire()


def test_second_writer_while_training_and_kill_9(cli, tiny_npz, tmp_path):
    """A real run in another process holds its folder: --overwrite and
    --resume are refused; after kill -9 its lock is stale and resume works."""
    out = tmp_path / "busy"
    import keras

    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend()}
    command = [sys.executable, "-m", "zoo_core.cli", "train", "vae", "--dataset", f"npz:{tiny_npz}",
               *map(str, TINY), "--epochs", "500", "--out", str(out)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                             cwd=tmp_path)
    try:
        lines = []
        for line in child.stdout:
            lines.append(line)
            if line.startswith("Epoch 2/"):
                break
        assert is_run_folder(out), "".join(lines)
        for result in (train(cli, tiny_npz, out, "--overwrite"), cli("train", "--resume", out)):
            one_line_error(result, "in use by process", str(child.pid))
        assert child.poll() is None  # still training, undisturbed
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert (out / LOCK_FILE).exists() and read_holder(out) is None  # stale
    result = cli("train", "--resume", out, "--epochs", read_checkpoint(out).epoch + 1)
    assert result.exit_code == 0, result.output
