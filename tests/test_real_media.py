"""The write paths on real media: a tiny tmpfs that fills up, and a read-only
one. Needs permission to mount (root, as in the project's containers);
skipped elsewhere, where tests/test_write_errors.py covers the same classes
by injecting the faults."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import uuid

import pytest

from zoo_core.storage.files import TMP_MARK
from zoo_core.storage.runfolder import is_run_folder
from zoo_core.training.checkpoints import read_checkpoint

from test_run_folders import one_line_error, train
from test_write_errors import trained  # noqa: F401  (a module-scoped fixture)


@contextlib.contextmanager
def tmpfs(where, size):
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", f"zoo-test-{uuid.uuid4().hex[:8]}",
                              str(where)], capture_output=True)
    if mounted.returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def remount_read_only(where):
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True, capture_output=True)


def leftovers(folder):
    return [p for p in folder.rglob("*") if TMP_MARK in p.name or ".tmp" in p.name or ".zoo-new-" in p.name]


def test_disk_full_at_the_first_checkpoint_leaves_nothing(cli, tiny_npz, tmp_path):
    with tmpfs(tmp_path / "small", "64k") as disk:
        result = train(cli, tiny_npz, disk / "run")
        one_line_error(result, "first checkpoint", "No space left on device", "start it again")
        assert list(disk.iterdir()) == []


def test_disk_full_later_keeps_the_last_checkpoint(cli, tiny_npz, tmp_path):
    with tmpfs(tmp_path / "small", "320k") as disk:
        result = train(cli, tiny_npz, disk / "run", "--epochs", 6)
        one_line_error(result, "resume with: zoo train --resume")
        state = read_checkpoint(disk / "run")
        assert state.epoch >= 1 and (disk / "run" / state.file).is_file()
        assert leftovers(disk) == []


def test_read_only_medium(cli, trained, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    with tmpfs(tmp_path / "medium", "4m") as disk:
        shutil.copytree(trained, disk / "run")
        remount_read_only(disk)
        run = disk / "run"
        before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}

        result = cli("eval", run, "--metrics", "likelihood", "--k", 2, "--nll-images", 2)
        assert result.exit_code == 1 and "ELBO" in result.stdout, result.output
        assert "read-only" in result.stderr and "eval.json" in result.stderr

        one_line_error(cli("sample", run, "--num", 4), "read-only")
        one_line_error(cli("sample", run, "--num", 4, "--out", disk / "s.npz"), "read-only")
        one_line_error(cli("plot", run), "read-only")
        one_line_error(cli("train", "--resume", run, "--epochs", 2), "read-only")
        one_line_error(train(cli, tmp_path / "no.npz", disk / "new"), "read-only")
        one_line_error(cli("new-plugin", "fresh", "--dir", disk), "read-only")
        one_line_error(cli("build", "vae", "--set", "filters=[4,8]", "--out", disk / "m.keras"), "read-only")
        assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def _pages(nbytes):
    return -(-nbytes // 4096)


def test_disk_full_copying_the_first_checkpoint_to_model_keras_keeps_the_run(cli, tiny_npz, tmp_path):
    """The first checkpoint is complete, then the disk fills while it is copied to
    model.keras: the run is in its place with that checkpoint, which resumes.
    (Trains twice: once to measure the files, once on a disk sized from them.)"""
    probe = tmp_path / "probe"
    assert train(cli, tiny_npz, probe).exit_code == 0
    checkpoint = (probe / read_checkpoint(probe).file).stat().st_size
    model_file = (probe / "model.keras").stat().st_size
    rest = sum(_pages(p.stat().st_size) for p in probe.rglob("*") if p.is_file() and p.name != "model.keras")
    # Room for everything but model.keras, and less than its copy needs (the saved
    # sizes vary by a few bytes between runs: keep a page either side).
    size = 4096 * (rest + _pages(max(checkpoint, model_file)) // 2)
    assert _pages(model_file) >= 4, "the tiny model is too small to tell the two writes apart"
    with tmpfs(tmp_path / "small", str(size)) as disk:
        result = train(cli, tiny_npz, disk / "run")
        one_line_error(result, "copying it to model.keras failed", "No space left on device", "is intact",
                       f"resume with: zoo train --resume {disk / 'run'}")
        assert ".zoo-new-" not in result.output
        state = read_checkpoint(disk / "run")
        assert state.epoch == 1 and (disk / "run" / state.file).is_file()
        assert is_run_folder(disk / "run")
        assert leftovers(disk) == [] and sorted(p.name for p in disk.iterdir()) == ["run"]
        shutil.copytree(disk / "run", tmp_path / "moved")
    # What the message calls intact resumes, once there is room.
    result = cli("train", "--resume", tmp_path / "moved", "--epochs", 2)
    assert result.exit_code == 0, result.output
    assert read_checkpoint(tmp_path / "moved").epoch == 2 and (tmp_path / "moved" / "model.keras").is_file()
