"""Bad inputs get a clear one-line error (or an honest warning), one test per
class: preset files, label ids, keras.json defaults, misspelt list kinds,
invalid presets, NaN messages, pickled files, garbage metrics.csv, quoting in
hints, plugin-name collisions, ZOO_PLUGINS, preset names as paths,
--checkpoint-every, and zoo build --dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zoo_core.errors import ZooError, without_pickle_advice
from zoo_core.specs import Dataset

from test_run_folders import TINY, one_line_error, train
from test_write_errors import trained  # noqa: F401  (a module-scoped fixture)

# === Preset files ===


def test_preset_file_that_is_not_utf8(cli, tmp_path):
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('[presets.caf\xe9]\nmodel = "vae"\n'.encode("latin-1"))
    one_line_error(cli("list", "--registry", bad), str(bad), "not UTF-8", "save it as UTF-8")


@pytest.mark.parametrize("content", [b"[presets.x\n", b"\xff\xfe\x00garbage", b'[presets."../up"]\nmodel = "vae"\n'])
def test_a_broken_local_zoo_toml_does_not_stop_other_commands(cli, tmp_path, content):
    (tmp_path / "zoo.toml").write_bytes(content)
    for command in (["list", "presets"], ["info", "vae"], ["list", "--json"]):
        result = cli(*command)
        assert result.exit_code == 0, result.output
        assert f"Warning: {tmp_path / 'zoo.toml'} was skipped" in result.stderr
    assert "vae-mnist" in cli("list", "presets").stdout


def test_preset_names_cannot_leave_the_runs_folder(cli, tmp_path):
    registry = tmp_path / "presets.toml"
    registry.write_text('[presets."../../outside"]\nmodel = "vae"\ndataset = "mnist"\n')
    one_line_error(cli("train", "../../outside", "--registry", registry), "no '/' or '..'")
    from zoo_core.training import default_run_dir

    assert default_run_dir("../../x").parent == Path("runs") and ".." not in str(default_run_dir("a/../b"))


def test_info_warns_about_a_preset_with_an_invalid_option(cli, tmp_path):
    (tmp_path / "zoo.toml").write_text('[presets.mine]\nmodel = { name = "vae", latent_dims = 3 }\n'
                                       'dataset = "mnist"\n')
    result = cli("info", "mine")
    assert result.exit_code == 0
    assert "Warning: zoo train would refuse this preset" in result.output and "latent_dims" in result.output
    assert "Train it:" not in result.output
    assert "latent_dims" in json.loads(cli("info", "mine", "--json").stdout)["invalid"]
    assert json.loads(cli("info", "vae-mnist", "--json").stdout)["invalid"] is None


# === zoo list ===


@pytest.mark.parametrize("word, hint", [("modles", "did you mean models?"), ("presset", "did you mean presets?"),
                                        ("xyzzy", "KIND is one of")])
def test_list_with_a_misspelt_kind(cli, word, hint):
    one_line_error(cli("list", word), f"nothing matches '{word}'", hint)


def test_list_patterns_still_work(cli):
    assert "vae-mnist" in cli("list", "vae*").output
    assert cli("list", "vae").exit_code == 0
    assert cli("list", "models", "nothing-like-this*").exit_code == 0


# === ZOO_PLUGINS ===


def test_zoo_plugins_naming_nothing_and_hiding_what_is_asked_for(cli, monkeypatch):
    monkeypatch.setenv("ZOO_PLUGINS", "vae,datasets,gna")
    result = cli("list", "presets")
    assert "ZOO_PLUGINS names 'gna', which matches no installed plugin; did you mean gan?" in result.stderr
    one_line_error(cli("train", "dcgan-mnist"), "no installed plugin provides",
                   "ZOO_PLUGINS=vae,datasets,gna leaves out the installed plugins", "gan")
    one_line_error(cli("info", "dcgan"), "leaves out")


# === Data ===


def labelled(y_train, y_test, num_classes=None):
    x = np.zeros((len(y_train), 4, 4, 1), np.float32)
    return Dataset("odd", x, x[: len(y_test)], np.asarray(y_train), np.asarray(y_test), num_classes=num_classes)


def test_sparse_label_ids_are_renumbered_with_a_notice():
    from zoo_core.data.loading import check_dataset

    data = check_dataset(labelled([0, 10**9, 5, 5], [10**9, 0], num_classes=10**9 + 1))
    assert data.num_classes == 3 and data.y_train.tolist() == [0, 2, 1, 1] and data.y_test.tolist() == [2, 0]
    assert "renumbered" in data.notice and "1000000000->2" in data.notice
    dense = check_dataset(labelled([0, 1, 2, 2], [1, 0], num_classes=3))
    assert dense.num_classes == 3 and dense.notice is None and dense.y_train.tolist() == [0, 1, 2, 2]


def test_too_many_classes_are_refused():
    from zoo_core.data.loading import check_dataset

    with pytest.raises(ZooError, match="2,000 distinct labels; zoo takes at most 1000"):
        check_dataset(labelled(np.arange(2000), [0, 1]))


def test_training_on_huge_label_ids(cli, tmp_path):
    from conftest import tiny_images

    x = (tiny_images(40) * 255).astype(np.uint8)[..., 0]
    y = np.array([0, 10**9, 7] * 14)[:40]
    np.savez(tmp_path / "odd.npz", x_train=x[:32], x_test=x[32:], y_train=y[:32], y_test=y[32:])
    result = cli("train", "vae", "--dataset", f"npz:{tmp_path / 'odd.npz'}", *TINY, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "renumbered" in result.output
    assert "num_classes = 3" in (tmp_path / "run" / "config.toml").read_text()


def test_a_pickled_or_random_npz_never_suggests_allow_pickle(cli, tmp_path):
    (tmp_path / "random.npz").write_bytes(os.urandom(300))
    np.savez(tmp_path / "objects.npz", x=np.array([{"a": 1}], dtype=object))
    for name in ("random.npz", "objects.npz"):
        result = cli("train", "vae", "--dataset", f"npz:{tmp_path / name}", "--out", tmp_path / "run")
        one_line_error(result, "zoo never loads pickled data")
        assert "allow_pickle" not in result.output and "pickle.load" not in result.output
    assert "allow_pickle" not in without_pickle_advice("x (Object arrays cannot be loaded when allow_pickle=False)")


KERAS_JSON_SCRIPT = """
import json, sys
from zoo_core.backend import choose_backend, import_keras
choose_backend()
keras = import_keras()
from zoo_core.plugins.registry import load_registry
from zoo_core.plugins.resolve import resolve_run
from zoo_core.specs import DataInfo
from zoo_core.training import build_model
resolved = resolve_run(load_registry(), "vae", overrides=["filters=[4,8]", "dense_units=8"], require_dataset=False)
model = build_model(resolved, DataInfo((28, 28, 1)))
out = model(keras.ops.zeros((2, 28, 28, 1)))
print(json.dumps([keras.config.image_data_format(), keras.config.floatx()]))
"""


def test_keras_json_defaults_do_not_change_zoo(tmp_path):
    home = tmp_path / "keras-home"
    home.mkdir()
    (home / "keras.json").write_text(json.dumps({"image_data_format": "channels_first", "floatx": "float16",
                                                 "epsilon": 1e-7}))
    result = subprocess.run([sys.executable, "-c", KERAS_JSON_SCRIPT], capture_output=True, text=True,
                            env={**os.environ, "KERAS_HOME": str(home)}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["channels_last", "float32"]


# === Messages ===


def test_nan_message_names_batches_within_the_epoch():
    from zoo_core.training.loop import _batch_words

    class Model:
        steps_per_execution = 8

    assert _batch_words(Model(), 0, 8, 4) == "in batches 1-4 (checked every 8 batches)"
    assert _batch_words(Model(), 0, 16, 12) == "in batches 9-12 (checked every 8 batches)"
    Model.steps_per_execution = 1
    assert _batch_words(Model(), 2, 1, 4) == "batch 3"


def test_resume_hints_are_quoted_for_a_shell(tmp_path):
    from zoo_core.training.checkpoints import resume_hint

    assert resume_hint(Path("/data/my runs/it's")) == """zoo train --resume '/data/my runs/it'"'"'s'"""
    assert resume_hint(Path("runs/plain")) == "zoo train --resume runs/plain"


def test_interrupted_hint_with_spaces(cli, tiny_npz, tmp_path, monkeypatch):
    from test_resilience import ctrl_c_at_batch

    ctrl_c_at_batch(monkeypatch, 2, times=1)
    out = tmp_path / "my runs" / "a"
    result = train(cli, tiny_npz, out, "--epochs", 2, "--set", "steps_per_execution=1")
    assert result.exit_code == 130, result.output
    assert f"resume with: zoo train --resume '{out}'" in result.output and ".zoo-new-" not in result.output
    assert cli("train", "--resume", out).exit_code == 0


def test_checkpoint_every_that_steps_per_execution_cannot_honour(cli, tiny_npz, tmp_path):
    import keras

    if keras.backend.backend() == "torch":
        pytest.skip("PyTorch runs one step per execution")
    result = train(cli, tiny_npz, tmp_path / "run", "--checkpoint-every", 3, "--set", "steps_per_execution=2")
    assert result.exit_code == 0, result.output
    assert "Notice: --checkpoint-every 3 checkpoints at the end of the first compiled call of 2 batches" in \
        result.output and "steps_per_execution=1" in result.output


def test_garbage_metrics_csv(cli, trained, tmp_path):  # noqa: F811
    run = tmp_path / "run"
    import shutil

    shutil.copytree(trained, run)
    (run / "metrics.csv").write_bytes(b"garbage\n\x01\x02,\xff\nmore,stuff,here\n")
    one_line_error(cli("plot", run), "not a zoo metrics file", "metrics.csv")
    assert not (run / "losses.png").exists()


def test_new_plugin_names_that_collide_with_installed_distributions(cli, tmp_path):
    one_line_error(cli("new-plugin", "datasets", "--dir", tmp_path), "zoo-datasets", "installed already",
                   "choose another name")
    assert list(tmp_path.iterdir()) == []


# === zoo build --dataset ===


def test_build_takes_shape_and_classes_from_the_dataset(cli, tmp_path):
    from PIL import Image

    for label in ("cat", "dog", "fox"):
        (tmp_path / "pics" / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((20, 20, 3), 40 * i, np.uint8)).save(tmp_path / "pics" / label / f"{i}.png")
    result = cli("build", "vae", "--set", "filters=[4,8]", "--dataset", f"folder:{tmp_path / 'pics'}")
    assert result.exit_code == 0, result.output
    assert "for 20x20x3 images" in result.output
    result = cli("build", "vae", "--set", "filters=[4,8]", "--dataset", f"folder:{tmp_path / 'pics'}",
                 "--set", "image_size=16")
    assert "for 16x16x3 images" in result.output
    from zoo_core.data.loading import dataset_info
    from zoo_core.plugins.registry import load_registry
    from zoo_core.plugins.resolve import resolve_run

    resolved = resolve_run(load_registry(), "cgan", dataset=f"folder:{tmp_path / 'pics'}")
    assert dataset_info(resolved).num_classes == 3


def test_build_with_an_npz_dataset(cli, tiny_npz):
    result = cli("build", "vae", "--set", "filters=[4,8]", "--dataset", f"npz:{tiny_npz}")
    assert result.exit_code == 0 and "for 28x28x1 images" in result.output
