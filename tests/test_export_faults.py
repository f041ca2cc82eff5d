"""``zoo export`` under faults and in what it tells: a full disk (a real tmpfs,
in a real process, where HDF5 used to crash the interpreter), the exporter's
paths kept out of what is shared, and the sample count eval really used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest

from zoo_core.saving import hub
from zoo_core.sharing.export import eval_summary, private_strings, scrub
from zoo_core.plugins.registry import load_registry

from test_real_media import tmpfs
from test_run_folders import one_line_error, train

GAN = "dcgan-fashion-mnist"


def gan_weights_size() -> int:
    """The published GAN's weights file, in bytes (about 3.6 MB)."""
    path = hub.package_file(load_registry().preset(GAN).weights["uri"], load_registry())
    with zipfile.ZipFile(path) as archive:
        return archive.getinfo(hub.WEIGHTS_FILE).file_size


# === A full disk ===


@pytest.mark.one_backend
@pytest.mark.parametrize("room, out", [
    (lambda weights: 200 * 1024, "out"),                # full before the weights are half written
    (lambda weights: weights - 64 * 1024, "out"),       # full inside the weights file
    (lambda weights: weights * 3 // 2, "out.zip"),      # the folder fits, its .zip does not
], ids=["early", "inside-the-weights", "zip"])
def test_export_to_a_full_disk_is_one_line_in_a_real_process(room, out, tmp_path):
    """A GAN's 3.6 MB weights exported by ``python -m zoo_core.cli`` to a tmpfs
    too small for them: once HDF5 wrote straight to that disk, h5py printed
    tracebacks and the process died of a segfault (exit 139). Each case is a
    fresh process (the crash came at its exit), so each takes about 15 s."""
    size = room(gan_weights_size()) // 4096 * 4096
    with tmpfs(tmp_path / "small", str(size)) as disk:
        scratch = tmp_path / "tmp"  # the system temp folder of that process: Keras uses it while saving
        scratch.mkdir()
        env = {**os.environ, "ZOO_CACHE_DIR": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "3",
               "TMPDIR": str(scratch)}
        done = subprocess.run([sys.executable, "-m", "zoo_core.cli", "export", GAN, "--pretrained", disk / out],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        assert done.returncode == 1, (done.returncode, done.stderr[-3000:])
        assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr[-3000:]
        errors = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
        assert errors == [f"Error: cannot write {disk / out}: the disk is full; free some space or choose "
                          f"another disk"], done.stderr[-3000:]
        assert list(disk.iterdir()) == []  # no OUT, no staging folder, no half-written zip
        assert list(scratch.iterdir()) == []


@pytest.mark.one_backend
def test_every_step_of_an_export_on_a_full_disk_fails_cleanly(cli, tiny_npz, tmp_path):
    """A tiny run exported to disks that fill at each of its files in turn
    (weights, config, metrics, grid, card, metadata): one line that names OUT,
    not zoo's staging folder, and nothing left behind; then to one that holds
    it. Eight exports in one process: 30-55 s on a shared 2-core machine."""
    run = tmp_path / "run"
    assert train(cli, tiny_npz, run).exit_code == 0
    assert cli("export", run, tmp_path / "reference").exit_code == 0
    order = [hub.WEIGHTS_FILE, hub.CONFIG_FILE, "metrics.csv", hub.GRID_FILE, hub.CARD_FILE, hub.METADATA_FILE]
    assert sorted(order) == sorted(p.name for p in (tmp_path / "reference").iterdir())
    pages = [-(-(tmp_path / "reference" / name).stat().st_size // 4096) for name in order]
    for k in range(len(order)):  # room for the files before the k-th, none for it
        with tmpfs(tmp_path / f"disk{k}", str(max(1, sum(pages[:k])) * 4096)) as disk:
            result = cli("export", run, disk / "out")
            one_line_error(result, f"cannot write {disk / 'out'}", "the disk is full")
            assert ".zoo-new-" not in result.output, order[k]
            assert list(disk.iterdir()) == [], order[k]
    with tmpfs(tmp_path / "roomy", str((sum(pages) + 2) * 4096)) as disk:
        assert cli("export", run, disk / "out").exit_code == 0
        hub.verify_folder(disk / "out")


# === The exporter's paths ===


@pytest.mark.one_backend
def test_an_export_names_its_data_but_not_where_it_lay(cli, tiny_npz, tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert train(cli, tiny_npz, run).exit_code == 0
    assert str(tiny_npz) in (run / "config.toml").read_text()
    assert cli("eval", run, "--metrics", "reconstruction", "--num", 50).exit_code == 0
    result = cli("export", run, tmp_path / "shared")
    assert result.exit_code == 0, result.output
    shared = tmp_path / "shared"
    for name in ("config.toml", "metadata.json", "README.md", "eval.json"):
        text = (shared / name).read_text()
        assert str(tmp_path) not in text, (name, text)
    meta = json.loads((shared / "metadata.json").read_text())
    assert meta["dataset"]["name"] == "npz:tiny.npz" and meta["dataset"]["source"] == "tiny.npz"
    assert meta["eval"]["dataset"] == "npz:tiny.npz"
    assert "trained by zoo on `npz:tiny.npz`" in (shared / "README.md").read_text()
    assert 'dataset = "npz:tiny.npz"' in (shared / "config.toml").read_text()
    hub.verify_folder(shared)  # the checksums cover the files as written
    # Never into the run itself (a later --overwrite of the run would take the export with it).
    one_line_error(cli("export", run, run / "inside"), "is inside the run", "choose another OUT")
    assert not (run / "inside").exists()
    # Still a model: it samples, and evaluates on the data named again.
    assert cli("sample", shared, "--num", 2, "--out", tmp_path / "s.npz").exit_code == 0
    result = cli("eval", shared, "--metrics", "reconstruction", "--num", 4, "--dataset", f"npz:{tiny_npz}")
    assert result.exit_code == 0, result.output
    # Without --dataset, from a folder without tiny.npz (the cli fixture's cwd is tmp_path, which has it):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = cli("eval", shared, "--metrics", "reconstruction", "--num", 4, "--no-save")
    one_line_error(result, "tiny.npz", "the data set", "records", "--dataset NAME[:ARG]")


@pytest.mark.one_backend
def test_scrub_replaces_whole_paths_only():
    private = {"/home/me/data/x.npz": "x.npz", "/home/me": "~"}
    assert scrub({"a": ["/home/me/data/x.npz", "at /home/me/runs/r1.", "/home/meadow", "/home/me.d"], "n": 3},
                 private) == {"a": ["x.npz", "at ~/runs/r1.", "/home/meadow", "/home/me.d"], "n": 3}


@pytest.mark.one_backend
def test_private_strings_keep_registered_names_and_urls_without_secrets(tmp_path):
    class Run:
        exported, path = False, tmp_path / "run"
        config = {"dataset": "mnist", "data": {"source": "https://me:secret@host.example/x.npz?token=1"}}

    private = private_strings(Run())
    assert scrub({"dataset": "mnist", "source": Run.config["data"]["source"], "run": str(tmp_path / "run")},
                 private) == {"dataset": "mnist", "source": "https://host.example/x.npz", "run": "run"}


# === The sample count ===


@pytest.mark.one_backend
def test_the_sample_count_is_the_one_eval_used():
    result = {"dataset": "mnist", "options": {"num": 5000},
              "metrics": {"fd": {"value": 5.0, "real_floor": 2.0, "generated": 500}}}
    assert eval_summary(result)["samples"] == 500
    only_reconstruction = {"options": {"num": 5000}, "metrics": {"reconstruction": {"mse": 0.1, "images": 8}}}
    assert eval_summary(only_reconstruction)["samples"] == 8
    assert eval_summary({"options": {"num": 5000}, "metrics": {}})["samples"] is None  # unknown, not --num


@pytest.mark.one_backend
def test_model_card_and_zoo_info_state_the_count_eval_used(cli, tiny_npz, tmp_path):
    run = tmp_path / "run"
    assert train(cli, tiny_npz, run).exit_code == 0
    assert cli("eval", run, "--metrics", "reconstruction", "--num", 5000).exit_code == 0  # 8 test images
    assert cli("export", run, tmp_path / "m.zip").exit_code == 0
    assert hub.archive_metadata(tmp_path / "m.zip")["eval"]["samples"] == 8
    with zipfile.ZipFile(tmp_path / "m.zip") as z:
        card = z.read(hub.CARD_FILE).decode()
    assert "(8 samples" in card and "5,000" not in card
    # cgan-mnist was published with 5,000 in its metadata; its eval.json says 500 were compared.
    result = cli("info", "cgan-mnist")
    assert result.exit_code == 0, result.output
    eval_line = next(line for line in result.output.splitlines() if line.strip().startswith("Eval:"))
    assert "500 samples" in eval_line and "5,000" not in eval_line, eval_line
