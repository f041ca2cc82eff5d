"""One write path for every file a user asked for (zoo_core.storage.files): atomic,
and a one-line error naming the path and the fix on a read-only medium, a
missing or non-folder parent, a full disk or no permission; used by every
command that writes. Faults are injected at the rename that publishes a file
(``zoo_core.storage.files._replace``) or are real (a parent that is a file)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

import zoo_core.storage.files as files
from zoo_core.storage.files import TMP_MARK, WriteError, atomic_write, check_writable_folder, write_text
from zoo_core.training.checkpoints import read_checkpoint

from test_run_folders import TINY, one_line_error, snapshot, train

FAULTS = {
    errno.EROFS: "read-only",
    errno.ENOSPC: "disk is full",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


def fail_writes(monkeypatch, code, matching=""):
    """Make publishing any file whose path contains ``matching`` fail with ``code``."""
    real = files._replace

    def replace(tmp, path):
        if matching in str(path):
            raise OSError(code, os.strerror(code), str(path))
        return real(tmp, path)

    monkeypatch.setattr(files, "_replace", replace)


def no_temporary_files(folder):
    return [p for p in Path(folder).rglob("*") if TMP_MARK in p.name or ".tmp" in p.name]


# === The write path itself ===


@pytest.mark.parametrize("code, words", FAULTS.items())
def test_atomic_write_faults(tmp_path, monkeypatch, code, words):
    target = tmp_path / "out.txt"
    target.write_text("old")
    fail_writes(monkeypatch, code)
    with pytest.raises(WriteError) as caught:
        write_text(target, "new", what="the notes")
    assert str(caught.value).startswith(f"cannot write the notes {target}: ") and words in str(caught.value)
    assert target.read_text() == "old" and no_temporary_files(tmp_path) == []


def test_atomic_write_parent_is_a_file_or_missing(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(WriteError, match=f"{tmp_path / 'file'} is a file, not a folder"):
        write_text(tmp_path / "file" / "deeper" / "out.txt", "new")
    with pytest.raises(WriteError, match="does not exist"):
        atomic_write(tmp_path / "nowhere" / "out.txt", lambda p: p.write_text("x"), parents=False)
    with pytest.raises(WriteError, match="is a folder"):
        write_text(tmp_path, "new")
    assert no_temporary_files(tmp_path) == []


def test_a_failing_writer_leaves_no_half_file(tmp_path):
    def half(path):
        path.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(WriteError, match="disk is full"):
        atomic_write(tmp_path / "a.png", half)
    assert list(tmp_path.iterdir()) == []


def test_check_writable_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(WriteError, match="is a file, not a folder"):
        check_writable_folder(tmp_path / "file" / "cache")
    check_writable_folder(tmp_path / "new" / "cache")
    assert list((tmp_path / "new" / "cache").iterdir()) == []


# === Every command that writes ===


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished one-epoch run of the tiny VAE (shared: nothing here changes it for good)."""
    from click.testing import CliRunner
    import numpy as np

    from conftest import tiny_images
    from zoo_core.cli import cli as zoo

    root = tmp_path_factory.mktemp("trained")
    x = (tiny_images(48) * 255).astype(np.uint8)[..., 0]
    np.savez(root / "tiny.npz", x_train=x[:40], x_test=x[40:], y_train=np.arange(40) % 3, y_test=np.arange(8) % 3)
    result = CliRunner().invoke(zoo, ["train", "vae", "--dataset", f"npz:{root / 'tiny.npz'}",
                                      *map(str, TINY), "--out", str(root / "run")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root / "run"


@pytest.mark.parametrize("command", [
    ["build", "vae", "--set", "filters=[4,8]", "--out", "{blocked}/model.keras"],
    ["sample", "{run}", "--num", 4, "--out", "{blocked}/s.png"],
    ["sample", "{run}", "--num", 4, "--out", "{blocked}/s.npz"],
    ["plot", "{run}", "--out", "{blocked}/losses.png"],
    ["new-plugin", "fresh", "--dir", "{blocked}/plugins"],
    ["train", "vae", "--dataset", "mnist", "--out", "{blocked}/run"],
])
def test_parent_is_a_file(cli, tmp_path, trained, command):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    result = cli(*[str(a).format(run=trained, blocked=blocked) for a in command])
    one_line_error(result, "is a file, not a folder", str(blocked))
    assert blocked.read_text() == "not a folder"


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC, errno.EACCES])
@pytest.mark.parametrize("command, name", [
    (["build", "vae", "--set", "filters=[4,8]", "--out", "{tmp}/m.keras"], "m.keras"),
    (["sample", "{run}", "--num", 4, "--out", "{tmp}/s.png"], "s.png"),
    (["sample", "{run}", "--num", 4, "--out", "{tmp}/s.npz"], "s.npz"),
    (["plot", "{run}", "--out", "{tmp}/l.png"], "l.png"),
    (["new-plugin", "fresh", "--dir", "{tmp}/plugins"], "pyproject.toml"),
])
def test_unwritable_outputs(cli, tmp_path, trained, monkeypatch, code, command, name):
    fail_writes(monkeypatch, code, name)
    result = cli(*[str(a).format(run=trained, tmp=tmp_path) for a in command])
    one_line_error(result, "cannot write", name, FAULTS[code])
    assert no_temporary_files(tmp_path) == [] and not (tmp_path / "plugins" / "zoo-fresh").exists()


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC])
def test_eval_prints_the_metrics_when_eval_json_cannot_be_written(cli, trained, tmp_path, monkeypatch, code):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    fail_writes(monkeypatch, code, "eval.json")
    result = cli("eval", trained, "--metrics", "likelihood", "--k", 2, "--nll-images", 2)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "ELBO" in result.stdout  # the numbers were shown
    assert f"cannot write {trained / 'eval.json'}" in result.stderr and FAULTS[code] in result.stderr
    assert not (trained / "eval.json").exists() and no_temporary_files(trained) == []


def test_unwritable_classifier_cache_fails_before_training(cli, trained, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "file" / "cache"))
    result = cli("eval", trained, "--metrics", "fd", "--num", 4)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "is a file, not a folder" in result.output and "ZOO_CACHE_DIR" in result.output
    assert "Trained the feature classifier" not in result.output  # no minutes spent first


def test_full_disk_while_writing_a_grid(cli, tiny_npz, tmp_path, monkeypatch):
    out = tmp_path / "run"
    from PIL import Image

    real = Image.Image.save
    calls = []

    def save(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) == 3:  # epoch 2's sample grid
            Path(fp).write_bytes(b"\x89PNG half")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)
    result = cli("train", "vae", "--dataset", f"npz:{tiny_npz}", *TINY[2:], "--epochs", 3, "--out", out)
    one_line_error(result, "cannot write", "epoch-002.png", "disk is full", "(after epoch 2) is intact",
                   f"resume with: zoo train --resume {out}")
    assert no_temporary_files(out) == [] and read_checkpoint(out).epoch == 2


def test_resume_removes_leftover_temporary_grids(cli, tiny_npz, tmp_path):
    out = tmp_path / "run"
    assert train(cli, tiny_npz, out).exit_code == 0
    legacy = out / "samples" / "epoch-001.tmp.png"  # how earlier versions named them
    legacy.write_bytes(b"half")
    ours = out / "reconstructions" / f".epoch-001{TMP_MARK}999.png"
    ours.write_bytes(b"half")
    mine = out / "samples" / "my-notes.tmp.txt"  # not zoo's: kept
    mine.write_text("mine")
    assert cli("train", "--resume", out, "--epochs", 2).exit_code == 0
    assert not legacy.exists() and not ours.exists() and mine.exists()


def test_first_tensorboard_event_file_on_a_full_disk(cli, tiny_npz, tmp_path, monkeypatch):
    from tensorboard.summary.writer import event_file_writer

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(event_file_writer, "EventFileWriter", full)
    result = train(cli, tiny_npz, tmp_path / "run")
    one_line_error(result, "cannot write the TensorBoard log in", "disk is full")
    assert not (tmp_path / "run").exists()


def test_train_into_a_read_only_place(cli, tiny_npz, tmp_path, monkeypatch):
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", read_only)
    result = train(cli, tiny_npz, tmp_path / "run")
    one_line_error(result, "cannot write the run folder", "read-only")
    assert not (tmp_path / "run").exists()
