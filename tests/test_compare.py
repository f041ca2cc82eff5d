"""``zoo compare``: the table (text and JSON) against what the runs record,
the curves and samples figures, sweeps and exports as inputs, and every bad
input as a one-line error that writes nothing. Two tiny runs (a VAE and a
DCGAN) are trained once for the module."""

from __future__ import annotations

import csv
import json
import os
import shutil

import numpy as np
import pytest


from test_cli import assert_clean_error

pytestmark = pytest.mark.one_backend  # comparing reads files; the models only draw samples

VAE = ["--set", "filters=[4,8]", "--set", "dense_units=8", "--set", "latent_dim=2"]
DCGAN = ["--set", "latent_dim=4", "--set", "generator_filters=[8,4]", "--set", "discriminator_filters=[4,8]",
         "--set", "image_size=16"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder with the tiny data set and a private classifier cache, as the working directory."""
    from conftest import tiny_images

    root = tmp_path_factory.mktemp("compare")
    x = (tiny_images(48) * 255).astype(np.uint8)[..., 0]
    np.savez(root / "tiny.npz", x_train=x[:40], x_test=x[40:], y_train=np.arange(40) % 3, y_test=np.arange(8) % 3)
    from conftest import in_workspace

    with in_workspace(root):
        yield root


@pytest.fixture(scope="module")
def run(workspace):
    from conftest import zoo_invoker

    return zoo_invoker()


@pytest.fixture(scope="module")
def runs(workspace, run):
    """Runs ``vae`` (evaluated) and ``gan`` (not): 2 epochs each, batch 16. About 12 s on 2 cores
    (importing Keras, two trainings, one eval), once for the module."""
    for name, model, sets in (("vae", "vae", VAE), ("gan", "dcgan", DCGAN)):
        result = run("train", model, "--dataset", "npz:tiny.npz", "--epochs", 2, "--batch-size", 16,
                     "--set", "grid_size=2", *sets, "--out", name)
        assert result.exit_code == 0, result.output
    result = run("eval", "vae", "--num", 8, "--k", 4, "--nll-images", 4, "--classifier-epochs", 1)
    assert result.exit_code == 0, result.output
    return workspace / "vae", workspace / "gan"


def last_row(folder):
    with open(folder / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return rows, {k: float(v) for k, v in rows[-1].items()}


def written_folders(root):
    return sorted(p.name for p in root.iterdir() if p.name.startswith(("compare-", ".compare-")))


# === The table ===


def test_json_table_holds_every_recorded_number(runs, run):
    """Over 10 s when it runs first: it waits for the module's runs (see ``runs``)."""
    vae, gan = runs
    result = run("compare", vae, gan, "--json", "--table-only")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # nothing else on stdout
    a, b = document["runs"]
    assert (a["label"], b["label"]) == ("vae", "gan") and (a["model"], b["model"]) == ("vae", "dcgan")
    assert a["dataset"] == "npz:tiny.npz" and a["epochs"] == b["epochs"] == 2
    for record, folder in ((a, vae), (b, gan)):
        rows, last = last_row(folder)
        final = {k: v for k, v in record["final"].items() if v is not None}
        assert final == {k: v for k, v in last.items() if k not in ("epoch", "seconds", "images_per_second")}
        assert record["training_minutes"] == pytest.approx(sum(float(r["seconds"]) for r in rows) / 60)
        assert record["images_per_second"] == pytest.approx(last["images_per_second"])  # the epochs after the first
        assert record["samples"] == "not drawn (--table-only)"
    metrics = json.loads((vae / "eval.json").read_text())["metrics"]
    assert a["eval"]["fd"] == metrics["fd"]["value"] and a["eval"]["fd_real_floor"] == metrics["fd"]["real_floor"]
    assert a["eval"]["kid"] == metrics["kid"]["value"]
    assert a["eval"]["nll"] == metrics["likelihood"]["iwae"]["nll"]
    assert a["eval"]["classifier_score_real_floor"] == metrics["coverage"]["real"]["classifier_score"]
    assert a["eval"]["reconstruction_mse"] == metrics["reconstruction"]["mse"]
    assert set(b["eval"]) == set(a["eval"]) and all(v is None for v in b["eval"].values())  # blank, not missing
    assert set(a["final"]) == set(b["final"]) and a["final"]["g_loss"] is None
    columns = {c["name"]: c for c in document["columns"]}
    assert columns["eval.fd"]["better"] == "lower" and columns["eval.fd"]["best"] == []  # one run has it
    assert columns["images_per_second"]["best"] == [max((a, b), key=lambda r: r["images_per_second"])["label"]]
    assert columns["final.loss"]["better"] == "lower" and columns["final.g_loss"]["better"] is None
    assert document["files"] == {} and not written_folders(runs[0].parent)


def test_text_table(runs, run):
    vae, gan = runs
    result = run("compare", vae, gan, "--table-only")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["better", "vae", "gan"]
    metrics = json.loads((vae / "eval.json").read_text())["metrics"]
    fd = next(line for line in lines if line.startswith("FD "))
    assert fd.split() == ["FD", "lower", f"{metrics['fd']['value']:.4g}", f"({metrics['fd']['real_floor']:.4g})"]
    _, last = last_row(gan)
    g_loss = next(line for line in lines if line.startswith("final g_loss"))
    assert g_loss.split() == ["final", "g_loss", f"{last['g_loss']:.4g}"]  # the VAE's cell is blank
    assert next(line for line in lines if line.startswith("images/s")).count(" *") == 1  # the faster run


def test_unfinished_runs_stale_results_settings_and_one_data_set(runs, run, workspace, tmp_path):
    """Copies of the VAE run, changed by hand (the table only: well under a second): one stopped after
    epoch 1 of 2, one trained further after its eval (a newer model.keras, as after --resume), one with
    another beta on the same data file named by another path; and a sweep with a finished and a pruned
    trial."""
    vae, _ = runs

    def copy(name, epoch=None):
        shutil.copytree(vae, tmp_path / name, ignore=shutil.ignore_patterns("logs", "samples", "reconstructions"))
        if epoch is not None:
            state = json.loads((tmp_path / name / "checkpoint.json").read_text())
            (tmp_path / name / "checkpoint.json").write_text(json.dumps({**state, "epoch": epoch}))
            (tmp_path / name / "eval.json").unlink()
        return tmp_path / name

    short, resumed, beta = copy("short", epoch=1), copy("resumed"), copy("beta")
    later = (resumed / "eval.json").stat().st_mtime + 60
    os.utime(resumed / "model.keras", (later, later))
    other_path = f"npz:../{workspace.name}/tiny.npz"  # the same file as npz:tiny.npz, from the workspace
    config = (beta / "config.toml").read_text()
    (beta / "config.toml").write_text(config.replace("beta = 1.0", "beta = 0.5")
                                      .replace('dataset = "npz:tiny.npz"', f'dataset = "{other_path}"'))
    evaluation = json.loads((beta / "eval.json").read_text())
    evaluation["dataset"] = other_path
    evaluation["metrics"]["fd"]["value"] += 1
    (beta / "eval.json").write_text(json.dumps(evaluation))

    result = run("compare", vae, short, resumed, beta, "--json", "--table-only")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    records = {r["label"]: r for r in document["runs"]}
    assert [records[k]["finished"] for k in ("vae", "short", "resumed", "beta")] == [True, False, True, True]
    assert records["short"]["progress"] == "epoch 1 of 2"
    assert records["resumed"]["eval_stale"].startswith("its eval.json is older than its model.keras")
    assert records["vae"]["eval_stale"] is None and records["beta"]["eval_stale"] is None
    assert {k: r["config"] for k, r in records.items()} == {
        "vae": {"loss.beta": 1.0}, "short": {"loss.beta": 1.0}, "resumed": {"loss.beta": 1.0},
        "beta": {"loss.beta": 0.5}}  # only the setting that differs
    columns = {c["name"]: c for c in document["columns"]}
    assert columns["eval.fd"]["best"] == ["vae"]  # one data set, however named; the stale copy not counted
    assert any(n.startswith("short: its training did not finish (epoch 1 of 2)") for n in document["notes"])
    assert any(n.startswith("resumed: its eval.json is older") for n in document["notes"])

    lines = run("compare", vae, short, resumed, beta, "--table-only").stdout.splitlines()
    row = {line.split()[0]: line.split()[1:] for line in lines[2:] if line.strip()}
    assert row["finished"] == ["yes", "no", "(epoch", "1", "of", "2)", "yes", "yes"]
    assert row["loss.beta"] == ["1.0", "1.0", "1.0", "0.5"]
    fd = next(line for line in lines if line.startswith("FD "))
    assert fd.count("[stale]") == 1 and fd.count("*") == 1
    assert any(line.startswith("Note: resumed: its eval.json is older") for line in lines)

    sweep = tmp_path / "sweep"
    (sweep / "trials" / "0000").mkdir(parents=True)
    (sweep / "sweep.toml").write_text("[sweep]\n")
    shutil.copytree(vae, sweep / "trials" / "0000" / "seed-0")
    shutil.copytree(short, sweep / "trials" / "0001" / "seed-0")  # pruned after epoch 1 of 2
    result = run("compare", sweep, "--json", "--table-only")
    assert result.exit_code == 0, result.output
    assert [r["label"] for r in json.loads(result.stdout)["runs"]] == ["sweep/0000/seed-0"]
    assert "left out 1 unfinished trial run(s)" in result.stderr and "0001/seed-0 (epoch 1 of 2)" in result.stderr
    trial = sweep / "trials" / "0000" / "seed-0"
    assert_clean_error(run("compare", sweep, trial),
                       f"'{trial}' (a trial of the sweep '{sweep}') and '{trial}' (given on its own)")
    assert_clean_error(run("compare", sweep, sweep), "the sweep", "twice")


# === The figures ===


def test_figures_side_by_side_and_sweeps(runs, run, workspace):
    """Loads and samples four models (about 3 s)."""
    from PIL import Image

    vae, gan = runs
    sweep = workspace / "sweep-a"
    (sweep / "trials" / "0001" / "seed-0").mkdir(parents=True)  # unfinished: no model.keras
    shutil.copy(vae / "config.toml", sweep / "trials" / "0001" / "seed-0")
    (sweep / "sweep.toml").write_text("[sweep]\n")
    shutil.copytree(vae, sweep / "trials" / "0000" / "seed-0")
    (sweep / "trials" / "0002").mkdir()
    (sweep / "trials" / "0002" / "seed-1").symlink_to(gan, target_is_directory=True)

    result = run("compare", vae, sweep, "--out", "figs", "--num", 4, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert "left out 1 unfinished" in result.stderr
    assert result.stdout.splitlines()[0].split() == ["better", "vae", "sweep-a/0000/seed-0", "sweep-a/0002/seed-1"]
    assert sorted(p.name for p in (workspace / "figs").iterdir()) == ["compare.json", "curves.png", "samples.png"]
    # 2x2 grids of 28x28 and 16x16 images, 2 px apart, enlarged twice; each under a 16 px label, 8 px apart.
    big, small = 2 * (2 * 30 + 2), 2 * (2 * 18 + 2)
    with Image.open(workspace / "figs" / "samples.png") as picture:
        assert picture.size == (3 * (big + 8) + 8, big + 16 + 16)
    with Image.open(workspace / "figs" / "curves.png") as picture:
        assert 1000 < picture.width < 1800 and 700 < picture.height < 1400  # 3x3 panels of 4.2 x 3 inches

    result = run("compare", gan, "--out", "one", "--num", 4)
    assert result.exit_code == 0, result.output
    with Image.open(workspace / "one" / "samples.png") as picture:
        assert picture.size == (max(small, 96) + 16, max(small, 96) + 16 + 16)
    document = json.loads((workspace / "one" / "compare.json").read_text())
    assert document["runs"][0]["samples"] == "drawn" and document["files"]["samples"].endswith("samples.png")

    assert_clean_error(run("compare", sweep, gan, "--table-only"), "sweep-a/trials/0002/seed-1", "the same run")


def test_default_folder_and_a_model_that_cannot_generate(runs, run, tmp_path, monkeypatch):
    """A bare .keras file of a plain Keras model: a placeholder, not a crash (about 1 s)."""
    import keras
    from PIL import Image

    plain = tmp_path / "plain.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(plain)
    monkeypatch.chdir(tmp_path)
    result = run("compare", plain, runs[1], "--num", 4, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["runs"][0]["model"] == "Sequential"
    assert document["runs"][0]["samples"].startswith("no samples: this Sequential cannot generate")
    folder = tmp_path / written_folders(tmp_path)[0]
    assert folder.name.startswith("compare-") and document["files"]["samples"] == str(folder / "samples.png")
    with Image.open(folder / "samples.png") as picture:
        assert picture.size == (2 * (96 + 8) + 8, 96 + 32)


def test_an_export_and_clashing_names(runs, run, workspace):
    vae, _ = runs
    assert run("export", vae, "exported").exit_code == 0
    (workspace / "other").mkdir()
    shutil.copytree(vae, workspace / "other" / "vae")
    result = run("compare", "exported", vae, "other/vae", "--json", "--no-samples", "--out", "exp")
    assert result.exit_code == 0, result.output
    exported, *twins = json.loads(result.stdout)["runs"]
    assert exported["kind"] == "export" and exported["epochs"] == 2 and exported["eval"] == twins[0]["eval"]
    assert exported["final"] == twins[0]["final"]
    assert [t["label"] for t in twins] == [f"{workspace.name}/vae", "other/vae"]
    assert sorted(p.name for p in (workspace / "exp").iterdir()) == ["compare.json", "curves.png"]


# === Bad input ===


def test_bad_input_is_one_line_and_writes_nothing(runs, run, workspace, tmp_path):
    vae, gan = runs
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    unfinished = tmp_path / "sweep"
    (unfinished / "trials" / "0000" / "seed-0").mkdir(parents=True)
    (unfinished / "sweep.toml").write_text("")
    shutil.copy(vae / "config.toml", unfinished / "trials" / "0000" / "seed-0")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep")
    for name, damage in (("csv", "metrics.csv"), ("json", "eval.json")):
        shutil.copytree(vae, tmp_path / name, ignore=shutil.ignore_patterns("checkpoints", "logs", "samples"))
        (tmp_path / name / damage).write_bytes(b"\x89PNG\x00\xff garbage")
    cases = [
        ((), "at least one RUN"),
        ((tmp_path / "missing",), "missing does not exist", ".keras file", ".zip", "hf://", "sweep folder"),
        ((tmp_path / "empty",), "not a run folder, an exported model or a sweep"),
        ((tmp_path / "notes.txt",), "notes.txt is a file zoo cannot compare", "exported model", "sweep folder"),
        ((unfinished,), "no finished trials"),
        ((vae, gan, vae), "twice"),
        ((vae, f"../{workspace.name}/vae"), "the same run"),
        ((vae, "--out", tmp_path / "full"), "already holds files"),
        ((vae, "--out", tmp_path / "notes.txt"), "is a file"),
        ((vae, "--out", "x", "--table-only"), "--table-only"),
        ((tmp_path / "csv",), "csv/metrics.csv"),
        ((tmp_path / "json",), "json/eval.json"),
    ]
    before = sorted(p.name for p in workspace.iterdir())
    for args, *words in cases:
        result = run("compare", *args)
        assert result.exit_code == 1, (args, result.output)
        assert_clean_error(result, *words)
    assert sorted(p.name for p in workspace.iterdir()) == before
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["mine.txt"]


def test_help_imports_neither_keras_nor_matplotlib():
    import subprocess
    import sys

    code = ("import sys\nfrom zoo_core.cli import cli\ntry:\n    cli(['compare', '--help'], prog_name='zoo')\n"
            "except SystemExit as e:\n    assert not e.code\n"
            "assert not {'keras', 'matplotlib', 'numpy', 'PIL'} & set(sys.modules), sys.modules.keys()\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
