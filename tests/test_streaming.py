"""Streamed data (zoo_core.data.stream): image folders decoded once into zoo's 8-bit
on-disk cache and read a batch at a time. Training on them is the same run,
batch for batch, as training on the same images held in memory, resume
included; the cache is reused while the folder is unchanged and rebuilt when
it changes or is damaged; bad inputs leave nothing behind."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from PIL import Image

from conftest import tiny_images
from test_cli import assert_clean_error
from test_resilience import QUIET, TINY_MODELS, assert_same_weights, backend, ctrl_c_at_batch, weights
from zoo_core.data import stream
from zoo_core.errors import Interrupted, ZooError
from zoo_core.plugins.registry import load_registry
from zoo_core.plugins.resolve import resolve_run
from zoo_core.training import callbacks as zoo_callbacks
from zoo_core.training import resume_run, train_run
from zoo_core.training.checkpoints import read_checkpoint
from zoo_core.training.feeding import Feeder


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_CACHE_DIR", str(tmp_path / "data-cache"))
    return tmp_path / "data-cache"


def write_folder(root, n=40, labelled=True, size=(28, 28), channels=1):
    images = (tiny_images(n, (*size, channels)) * 255).astype(np.uint8)
    for i, image in enumerate(images):
        folder = root / (f"class{i % 2}" if labelled else "")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[..., 0] if channels == 1 else image).save(folder / f"{i:03d}.png")
    return root


@pytest.fixture
def folder(tmp_path):
    return write_folder(tmp_path / "pics")


def cache_entries(cache):
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


# === DiskImages: an array on disk ===


@pytest.fixture
def disk(own_cache):
    raw = np.arange(6 * 2 * 3 * 1, dtype=np.uint8).reshape(6, 2, 3, 1) * 7
    folder = stream.build("k", 6, (2, 3, 1), iter(raw), None, {}, "test images")
    return raw, stream.DiskImages(folder / stream.IMAGES)


def test_disk_images_index_like_a_float_array(disk):
    raw, x = disk
    want = raw.astype(np.float32) / np.float32(255)
    assert x.shape == (6, 2, 3, 1) and len(x) == 6 and x.ndim == 4 and x.dtype == np.float32
    np.testing.assert_array_equal(x[2], want[2])
    np.testing.assert_array_equal(x[-1], want[-1])
    np.testing.assert_array_equal(x[1:4], want[1:4])
    np.testing.assert_array_equal(x[[5, 0, 3, 3]], want[[5, 0, 3, 3]])
    np.testing.assert_array_equal(np.asarray(x), want)
    part = x.subset([4, 1, 2])
    np.testing.assert_array_equal(part[:], want[[4, 1, 2]])
    np.testing.assert_array_equal(part.subset([2, 0])[:], want[[2, 4]])
    flipped = x.read([0, 1], np.array([True, False]))
    np.testing.assert_array_equal(flipped, np.stack([want[0][:, ::-1], want[1]]))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(part))[:], want[[4, 1, 2]])
    with pytest.raises(IndexError):
        x[[6]]
    assert x.nbytes == raw.nbytes


def test_a_cut_short_cache_is_refused_in_one_line(disk):
    _, x = disk
    with open(x.path, "r+b") as f:
        f.truncate(os.path.getsize(x.path) - 1)
    with pytest.raises(ZooError, match="cut short.*delete it and retry"):
        stream.DiskImages(x.path)


# === The folder cache ===


def load(folder, **options):
    from zoo_datasets.folder import load_folder

    return load_folder(str(folder), options.pop("image_size", None), **options)


def test_folder_streams_the_same_images_as_in_memory(folder):
    streamed, held = load(folder), load(folder, stream=False)
    assert stream.is_streamed(streamed.x_train) and isinstance(held.x_train, np.ndarray)
    for split in ("x_train", "x_test"):
        np.testing.assert_array_equal(np.asarray(getattr(streamed, split)), getattr(held, split))
    np.testing.assert_array_equal(streamed.y_train, held.y_train)
    np.testing.assert_array_equal(streamed.y_test, held.y_test)
    assert streamed.num_classes == held.num_classes == 2


def test_the_cache_is_built_once_and_rebuilt_when_the_folder_changes(folder, own_cache, monkeypatch):
    import zoo_datasets.folder as module

    decoded = []
    real = module._read
    monkeypatch.setattr(module, "_read", lambda *a, **k: decoded.append(a[0]) or real(*a, **k))
    load(folder)
    assert len(decoded) == 40 and len(cache_entries(own_cache)) == 1
    load(folder)
    assert len(decoded) == 40  # reused: nothing decoded again
    load(folder, image_size=16)
    assert len(decoded) == 80 and len(cache_entries(own_cache)) == 2  # another size, another cache
    changed = folder / "class0" / "000.png"
    Image.fromarray(np.full((28, 28), 200, np.uint8)).save(changed)
    os.utime(changed, ns=(1, 1))
    data = load(folder)
    assert len(decoded) == 120  # the changed folder is decoded anew
    held = load(folder, stream=False)
    np.testing.assert_array_equal(np.asarray(data.x_train), held.x_train)
    np.testing.assert_array_equal(np.asarray(data.x_test), held.x_test)


def test_a_damaged_cache_is_rebuilt(folder, own_cache):
    load(folder)
    (entry,) = own_cache.iterdir()
    with open(entry / stream.IMAGES, "r+b") as f:
        f.truncate(1000)
    data = load(folder)
    np.testing.assert_array_equal(np.asarray(data.x_train), load(folder, stream=False).x_train)


def test_a_bad_image_leaves_no_cache_behind(folder, own_cache, cli):
    (folder / "class1" / "broken.png").write_bytes(b"not a png")
    assert_clean_error(cli("data", f"folder:{folder}"), "cannot read image", "broken.png")
    assert cache_entries(own_cache) == []  # no half-written cache, no staging folder


def test_zoo_data_says_where_it_streams_from(folder, cli):
    result = cli("data", f"folder:{folder}", "--out", "grid.png")
    assert result.exit_code == 0, result.output
    assert "Streamed from:" in result.output and "8-bit" in result.output


def test_eight_bit_arrays_stream_on_request_and_others_are_refused(tiny_npz, tmp_path, cli):
    from zoo_core.data.loading import load_spec

    spec = load_registry().dataset("npz")
    data = load_spec(spec, str(tiny_npz), None, "npz", stream=True)
    assert stream.is_streamed(data.x_train) and stream.is_streamed(data.x_test)
    held = load_spec(spec, str(tiny_npz), None, "npz")
    np.testing.assert_array_equal(np.asarray(data.x_train), held.x_train)

    floats = tmp_path / "floats.npz"
    x = np.random.default_rng(0).uniform(size=(12, 8, 8)).astype(np.float32)
    np.savez(floats, x_train=x[:10], x_test=x[10:])
    result = cli("train", "vae", "--dataset", f"npz:{floats}", "--set", "stream=true", "--set", "filters=[4]")
    assert_clean_error(result, "not 8-bit", "train.stream off")


# === Training on a stream ===


def resolved_on(folder, model, epochs=2, **train):
    registry = load_registry()
    train = {"epochs": epochs, "batch_size": 8, "seed": 0, "grid_size": 2, "flip": True, **train}
    return registry, resolve_run(registry, model, dataset=f"folder:{folder}", overrides=TINY_MODELS[model],
                                 train=train)


def rows(run_dir):
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_second")}
            for row in read_checkpoint(run_dir).history]


@pytest.mark.parametrize("model", ["vae", "dcgan"])
def test_a_streamed_run_is_the_in_memory_run(folder, tmp_path, model):
    _, run = resolved_on(folder, model)
    train_run(run, tmp_path / "streamed", backend=backend(), **QUIET)
    _, held = resolved_on(folder, model, stream=False)
    train_run(held, tmp_path / "held", backend=backend(), **QUIET)
    assert rows(tmp_path / "streamed") == rows(tmp_path / "held")
    assert_same_weights(weights(tmp_path / "streamed"), weights(tmp_path / "held"))


def test_a_streamed_run_stopped_mid_epoch_resumes_exactly(folder, tmp_path, monkeypatch):
    registry, run = resolved_on(folder, "vae", steps_per_execution=1)
    whole, split = tmp_path / "whole", tmp_path / "split"
    train_run(run, whole, backend=backend(), **QUIET)
    real = ctrl_c_at_batch(monkeypatch, 6, times=1)  # epoch 2 of 5 batches each
    with pytest.raises(Interrupted):
        train_run(resolved_on(folder, "vae", steps_per_execution=1)[1], split, backend=backend(), **QUIET)
    assert (read_checkpoint(split).epoch, read_checkpoint(split).step) == (1, 2)  # after the batch that saw it
    monkeypatch.setattr(zoo_callbacks, "make_callbacks", real)
    resume_run(split, registry, backend=backend(), **QUIET)
    assert_same_weights(weights(whole), weights(split))
    for got, want in zip(rows(split), rows(whole), strict=True):
        assert got == pytest.approx(want, rel=1e-4, abs=1e-5)


def test_labelled_batches_keep_their_labels(folder):
    data = load(folder)
    feeder = Feeder((data.x_train, data.y_train), 4, backend())
    order = np.random.default_rng(1).permutation(len(data.x_train))[5:]
    batches = feeder.fit_inputs(order)["x"]
    got_x = np.concatenate([batches[i][0] for i in range(len(batches))])
    got_y = np.concatenate([batches[i][1] for i in range(len(batches))])
    held = load(folder, stream=False)
    np.testing.assert_array_equal(got_x, held.x_train[order])
    np.testing.assert_array_equal(got_y, held.y_train[order])
