"""Models without training: the bundled pretrained presets, ``zoo export``,
and loading from a URL (a real HTTP server on 127.0.0.1, real sockets),
``hf://`` and archives, with the checksum and safety checks."""

from __future__ import annotations

import functools
import hashlib
import http.server
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

import zoo_core
from zoo_core.saving import hub
from zoo_core.errors import ZooError
from zoo_core.plugins.registry import load_registry

from test_cli import assert_clean_error

REGISTRY = load_registry()
PRETRAINED = sorted(e.name for e in REGISTRY.entries("preset") if e.spec.weights)
#: Outputs of the bundled weights on fixed inputs, computed on TensorFlow where they were trained.
REFERENCE = Path(__file__).parent / "data" / "pretrained-reference.npz"
OTHER_BACKENDS = [b for b in ("tensorflow", "jax", "torch")
                  if b != os.environ.get("KERAS_BACKEND", "tensorflow") and importlib.util.find_spec(b)]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def bundled(preset: str) -> Path:
    return hub.package_file(REGISTRY.preset(preset).weights["uri"], REGISTRY)


class Server:
    """A static file server on 127.0.0.1 that counts its requests."""

    def __init__(self, root: Path):
        self.requests = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(bundled("vae-mnist"), root / "vae-mnist.zip")
    server = Server(root)
    yield server, root
    server.close()


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def repack(source: Path, target: Path, change=None, extra=None):
    """Copy an archive member by member, ``change(name, data) -> data`` on the way, plus ``extra`` members."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            new.writestr(info.filename, change(info.filename, data) if change else data)
        for name, data in (extra or {}).items():
            new.writestr(name, data)
    return target


# === The bundled weights ===


def test_the_issue_presets_ship_weights():
    wanted = {"vae-mnist", "vae-fashion-mnist", "dcgan-fashion-mnist", "cgan-mnist", "vaegan-fashion-mnist"}
    assert wanted <= set(PRETRAINED)
    for preset in PRETRAINED:
        path = bundled(preset)
        assert path.stat().st_size < 8e6, f"{preset}: {path.stat().st_size / 1e6:.1f} MB"
        assert sha(path) == REGISTRY.preset(preset).weights["sha256"], f"{preset}: the archive changed"
        meta = hub.archive_metadata(path)
        assert meta["preset"] == preset and meta["eval"]["fd"] > 0, preset
        config = REGISTRY.preset(preset)
        assert meta["model"] == config.model and meta["dataset"]["name"] == config.dataset


@pytest.mark.parametrize("preset", PRETRAINED)
def test_pretrained_preset_samples_without_training(preset, cli, tmp_path):
    result = cli("sample", preset, "--pretrained", "--num", 4, "--out", tmp_path / "grid.npz")
    assert result.exit_code == 0, result.output
    images = np.load(tmp_path / "grid.npz")["images"]
    assert images.shape[0] == 4 and images.dtype == np.float32 and 0 <= images.min() <= images.max() <= 1
    assert images.std() > 0.05  # trained weights draw something, not a flat field


def fixed_outputs(model) -> np.ndarray:
    """The model's images for fixed latents (no random numbers: those differ between backends)."""
    import keras

    if getattr(model, "conditional", False) and hasattr(model, "generator"):
        z = np.random.default_rng(0).normal(size=(4, model.latent_dim)).astype("float32")
        labels = np.arange(4, dtype="int32").reshape(-1, 1)
        return keras.ops.convert_to_numpy(model.generator([z, labels], training=False))
    if callable(getattr(model, "reconstruct", None)):
        x = np.random.default_rng(0).uniform(size=(4, *model.image_shape)).astype("float32")
        return np.asarray(model.reconstruct(x))
    z = np.random.default_rng(0).normal(size=(4, model.latent_dim)).astype("float32")
    return np.asarray(model.decode(z)) if callable(getattr(model, "decode", None)) else (
        keras.ops.convert_to_numpy(model.generator(z, training=False)))


def prior_outputs(model):
    """A learnt prior's log-probabilities for fixed code grids (VQ-VAE's
    PixelCNN, which fixed_outputs' reconstructions never run), or None."""
    network = getattr(model, "prior_network", None)
    if network is None:
        return None
    import keras

    grids = np.random.default_rng(0).integers(0, model.num_codes, size=(4, *model.grid)).astype("int32")
    logits = network(keras.ops.convert_to_tensor(grids), training=False)
    return keras.ops.convert_to_numpy(keras.ops.log_softmax(logits, axis=-1))


@pytest.mark.every_backend
@pytest.mark.parametrize("preset", PRETRAINED)
def test_weights_trained_on_tensorflow_give_the_same_images_here(preset):
    """Run on every backend in CI: the bundled weights (trained on TensorFlow)
    compute the same images, to float precision."""
    model = zoo_core.load_model(preset, pretrained=True)
    with np.load(REFERENCE) as reference:
        np.testing.assert_allclose(fixed_outputs(model), reference[preset], atol=2e-4)
        prior = prior_outputs(model)
        assert (prior is None) == (f"{preset}:prior" not in reference.files), preset
        if prior is not None:
            np.testing.assert_allclose(prior, reference[f"{preset}:prior"], atol=1e-3)


def test_pretrained_conditional_class(cli, tmp_path):
    result = cli("sample", "cgan-mnist", "--pretrained", "--class", 3, "--num", 5, "--out", tmp_path / "c.npz")
    assert result.exit_code == 0, result.output
    assert list(np.load(tmp_path / "c.npz")["labels"]) == [3] * 5


def test_pretrained_eval_and_default_output_in_the_current_folder(cli, tmp_path, private_cache):
    result = cli("eval", "vae-mnist", "--pretrained", "--metrics", "reconstruction", "--num", 50, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["run"] == "vae-mnist (pretrained)" and report["file"] is None
    assert 0 < report["metrics"]["reconstruction"]["mse"] < report["metrics"]["reconstruction"]["mean_image_mse"]
    assert cli("sample", "vae-mnist", "--pretrained", "--num", 4).exit_code == 0
    assert (tmp_path / "vae-mnist-sample-seed0.png").is_file()  # not inside zoo's cache
    unpacked = private_cache / "models" / sha(bundled("vae-mnist"))
    hub.verify_folder(unpacked)  # nothing was written into it
    assert not (unpacked / "vae-mnist-sample-seed0.png").exists()


@pytest.mark.every_backend
def test_python_api():
    model = zoo_core.load_model("dcgan-fashion-mnist", pretrained=True)
    assert model.generate(3, seed=0).shape == (3, 28, 28, 1)
    with pytest.raises(ZooError, match="no published weights"):
        zoo_core.load_model("gan-mnist", pretrained=True)


def test_info_and_list_show_the_weights(cli):
    result = cli("info", "dcgan-fashion-mnist")
    assert result.exit_code == 0
    line = next(l for l in result.output.splitlines() if l.startswith("Pretrained weights:"))
    assert "MB" in line and "sha256" in line and "on this machine" in line
    assert "Eval: FD" in result.output and "10/10 classes" in result.output
    assert "Pretrained weights: none" in cli("info", "gan-mnist").output
    doc = json.loads(cli("info", "vae-mnist", "--json").output)
    assert doc["weights"]["available"] and doc["weights"]["size"] > 0 and doc["weights"]["eval"]["fd"] > 0
    rows = {line.split()[0]: line.split()[4] for line in cli("list", "presets").output.splitlines()[2:]}
    assert rows["dcgan-fashion-mnist"] == "yes" and rows["gan-mnist"] == "-"


def test_pretrained_bad_inputs(cli):
    assert_clean_error(cli("sample", "gan-mnist", "--pretrained"), "no published weights", "zoo train gan-mnist")
    assert_clean_error(cli("sample", "dcgan", "--pretrained"), "takes a preset name", "a model")
    assert_clean_error(cli("sample", "nope", "--pretrained"), "takes a preset name")
    assert_clean_error(cli("sample", "dcgan-fashion-mnist"), "is a preset", "--pretrained")
    assert_clean_error(cli("eval", "vae-mnist"), "is a preset", "--pretrained")


def test_preset_file_weights_are_checked(cli, tmp_path):
    (tmp_path / "zoo.toml").write_text('[presets.mine]\nmodel = "vae"\ndataset = "mnist"\nweights = "x.zip"\n')
    result = cli("sample", "mine", "--pretrained", "--registry", tmp_path / "zoo.toml")
    assert_clean_error(result, "'weights' must be a table")
    (tmp_path / "zoo.toml").write_text(
        '[presets.mine]\nmodel = "vae"\ndataset = "mnist"\nweights = { uri = "x.zip", sha256 = "abc" }\n')
    assert_clean_error(cli("sample", "mine", "--pretrained", "--registry", tmp_path / "zoo.toml"), "64 hexadecimal")


def test_a_tampered_bundled_file_is_refused(cli, tmp_path):
    """A preset whose archive no longer matches its sha256 (here: a copy with one
    weight changed, named by a zoo.toml with the original's checksum)."""
    original = bundled("vae-mnist")

    def flip(name, data):
        if name != hub.WEIGHTS_FILE:
            return data
        data = bytearray(data)
        data[len(data) // 2] ^= 0xFF
        return bytes(data)

    repack(original, tmp_path / "tampered.zip", flip)
    (tmp_path / "zoo.toml").write_text(
        f'[presets.vae-mnist]\nweights = {{ uri = "tampered.zip", sha256 = "{sha(original)}" }}\n')
    assert_clean_error(cli("sample", "vae-mnist", "--pretrained"), "not the expected", "refusing it")
    # Without the archive's checksum, the per-file checksums inside still catch it.
    assert_clean_error(cli("sample", tmp_path / "tampered.zip"), "does not match the checksum", hub.WEIGHTS_FILE)
    models = tmp_path / "cache" / "models"
    assert not models.exists() or not any(models.iterdir())  # nothing unpacked, no staging left


# === Archives that are not what they claim ===


@pytest.mark.parametrize("extra, words", [
    ({"evil.py": "import os"}, ["evil.py", "expected only"]),
    ({"../escape.txt": "x"}, ["../escape.txt"]),
    ({"sub/dir/metadata.json": "{}"}, ["sub/dir/metadata.json"]),
])
def test_archives_with_foreign_members_are_refused(extra, words, cli, tmp_path):
    bad = repack(bundled("vae-mnist"), tmp_path / "bad.zip", extra=extra)
    assert_clean_error(cli("sample", bad), *words)
    assert not (tmp_path / "escape.txt").exists()


def test_archive_with_a_symlink_is_refused(cli, tmp_path):
    bad = tmp_path / "link.zip"
    with zipfile.ZipFile(bundled("vae-mnist")) as old, zipfile.ZipFile(bad, "w") as z:
        for info in old.infolist():
            if info.filename != "eval.json":
                z.writestr(info.filename, old.read(info))
        info = zipfile.ZipInfo("eval.json")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    assert_clean_error(cli("sample", bad), "symbolic link")


def test_not_a_zoo_model(cli, tmp_path):
    (tmp_path / "junk.zip").write_bytes(b"not a zip at all")
    assert_clean_error(cli("sample", tmp_path / "junk.zip"), "not a zoo model archive")
    wrong = repack(bundled("vae-mnist"), tmp_path / "wrong.zip",
                   lambda n, d: json.dumps({"format": "other"}).encode() if n == hub.METADATA_FILE else d)
    assert_clean_error(cli("sample", wrong), "not a zoo model")
    newer = repack(bundled("vae-mnist"), tmp_path / "newer.zip",
                   lambda n, d: json.dumps({**json.loads(d), "format_version": 99}).encode()
                   if n == hub.METADATA_FILE else d)
    assert_clean_error(cli("sample", newer), "format version 99", "upgrade zoo-core")


def test_a_missing_plugin_is_named(cli, tmp_path):
    folder = tmp_path / "export"
    with zipfile.ZipFile(bundled("vae-mnist")) as z:
        z.extractall(folder)
    config = (folder / hub.CONFIG_FILE).read_bytes()
    assert b'name = "vae"' in config
    (folder / hub.CONFIG_FILE).write_bytes(config.replace(b'name = "vae"', b'name = "someone-elses-vae"'))
    meta = json.loads((folder / hub.METADATA_FILE).read_text())
    meta["files"][hub.CONFIG_FILE] = sha(folder / hub.CONFIG_FILE)
    (folder / hub.METADATA_FILE).write_text(json.dumps(meta))
    assert_clean_error(cli("sample", folder), "someone-elses-vae", "pip install zoo-vae")


# === Downloads ===


def test_download_by_url_once_with_checksum(served, cli, tmp_path, private_cache):
    server, root = served
    url = f"{server.url('vae-mnist.zip')}#sha256={sha(root / 'vae-mnist.zip')}"
    result = cli("sample", url, "--num", 4, "--out", tmp_path / "a.npz")
    assert result.exit_code == 0, result.output
    assert cli("eval", url, "--metrics", "reconstruction", "--num", 20).exit_code == 0
    assert server.requests == ["/vae-mnist.zip"]  # downloaded once, then from the cache
    assert not [p for p in private_cache.rglob("*") if ".zoo-part" in p.name]


def test_download_without_checksum_says_how_to_pin_it(served, cli, tmp_path):
    server, root = served
    result = cli("sample", server.url("vae-mnist.zip"), "--num", 2, "--out", tmp_path / "a.npz")
    assert result.exit_code == 0, result.output
    assert f"#sha256={sha(root / 'vae-mnist.zip')}" in result.output


def test_download_with_a_wrong_checksum_keeps_nothing(served, cli, private_cache):
    server, _ = served
    result = cli("sample", f"{server.url('vae-mnist.zip')}#sha256={'0' * 64}")
    assert_clean_error(result, "not the expected", "not kept")
    assert not [p for p in private_cache.rglob("*") if p.is_file()]
    assert not (private_cache / "downloads").exists() or not any((private_cache / "downloads").iterdir())


def test_download_errors(served, cli):
    server, _ = served
    assert_clean_error(cli("sample", server.url("missing.zip")), "HTTP 404")
    assert_clean_error(cli("sample", f"{server.url('x.zip')}#md5=abc"), "#sha256=HEX")
    port = server.httpd.server_address[1]
    server.close()
    assert_clean_error(cli("sample", f"http://127.0.0.1:{port}/vae-mnist.zip"), "cannot download", "network")


def _next_backend(backend):
    """Each pass exports to the next backend round tensorflow → jax → torch → tensorflow;
    the other direction is marked one_backend (it runs where the first pass has it)."""
    cycle = ["tensorflow", "jax", "torch"]
    this = os.environ.get("KERAS_BACKEND", "tensorflow")
    return cycle[(cycle.index(this) + 1) % 3] == backend if this in cycle else True


@pytest.mark.every_backend
@pytest.mark.skipif(not OTHER_BACKENDS, reason="only one Keras backend is installed")
@pytest.mark.parametrize("backend", [pytest.param(b, marks=() if _next_backend(b) else pytest.mark.one_backend)
                                     for b in OTHER_BACKENDS])
def test_an_export_served_by_url_samples_and_evaluates_on_another_backend(backend, served, tmp_path, private_cache):
    """zoo export of a run made on this backend, served over HTTP, sampled and
    evaluated by URL in a fresh process on another backend."""
    server, root = served
    from click.testing import CliRunner

    from zoo_core.cli import cli as zoo

    runner = CliRunner()
    data = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    x = (rng.uniform(size=(60, 16, 16)) * 255).astype(np.uint8)
    np.savez(data, x_train=x[:50], x_test=x[50:], y_train=np.arange(50) % 2, y_test=np.arange(10) % 2)
    run = tmp_path / "run"
    result = runner.invoke(zoo, ["train", "vae", "--dataset", f"npz:{data}", "--epochs", "1", "--set",
                                 "filters=[4, 8]", "--set", "dense_units=8", "--set", "latent_dim=2",
                                 "--set", "grid_size=2", "--out", str(run)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert runner.invoke(zoo, ["export", str(run), str(root / "tiny.zip")]).exit_code == 0
    url = f"{server.url('tiny.zip')}#sha256={sha(root / 'tiny.zip')}"
    env = {**os.environ, "KERAS_BACKEND": backend, "ZOO_CACHE_DIR": str(private_cache)}
    zoo_cmd = [sys.executable, "-m", "zoo_core.cli"]
    done = subprocess.run([*zoo_cmd, "sample", url, "--num", "3", "--out", str(tmp_path / "s.npz")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"backend {backend}" in done.stdout
    # The export names its data as d.npz (never the exporter's path): found beside where eval runs.
    done = subprocess.run([*zoo_cmd, "eval", url, "--metrics", "reconstruction", "--num", "10", "--json"],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["backend"] == backend


class RawServer:
    """Serves one body with the headers given, then closes (no Content-Length, a short body...)."""

    def __init__(self, body: bytes, length=None):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                if length is not None:
                    self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/model"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_without_content_length_or_file_name(cli, tmp_path):
    body = bundled("vae-mnist").read_bytes()
    server = RawServer(body)
    try:
        result = cli("sample", f"{server.url}#sha256={sha(bundled('vae-mnist'))}", "--num", 2,
                     "--out", tmp_path / "a.npz")
        assert result.exit_code == 0, result.output
    finally:
        server.close()


def test_a_download_cut_short_is_not_kept(cli, private_cache):
    body = bundled("vae-mnist").read_bytes()
    server = RawServer(body[: len(body) // 2], length=len(body))
    try:
        assert_clean_error(cli("sample", server.url), "closed after", "nothing was kept")
    finally:
        server.close()
    assert not [p for p in private_cache.rglob("*") if p.is_file()]


def test_metadata_name_cannot_choose_where_files_go(cli, tmp_path):
    bad = repack(bundled("vae-mnist"), tmp_path / "bad.zip",
                 lambda n, d: json.dumps({**json.loads(d), "name": "../../escape"}).encode()
                 if n == hub.METADATA_FILE else d)
    assert_clean_error(cli("sample", bad), "not a plain name")
    assert not list(tmp_path.parent.glob("escape*"))


def test_files_added_to_an_export_after_it_was_made_are_refused(cli, tmp_path):
    folder = tmp_path / "export"
    with zipfile.ZipFile(bundled("cgan-mnist")) as z:
        z.extractall(folder)
    meta = json.loads((folder / hub.METADATA_FILE).read_text())
    if "eval.json" in meta["files"]:
        del meta["files"]["eval.json"]
        (folder / hub.METADATA_FILE).write_text(json.dumps(meta))
    assert_clean_error(cli("sample", folder), "eval.json", "not listed")


def test_a_damaged_member_is_one_line(cli, tmp_path):
    damaged = tmp_path / "damaged.zip"
    data = bytearray(bundled("vae-mnist").read_bytes())
    with zipfile.ZipFile(bundled("vae-mnist")) as z:
        info = z.getinfo(hub.WEIGHTS_FILE)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 100
    data[start:start + 64] = bytes(64)  # garbage inside the compressed weights
    damaged.write_bytes(bytes(data))
    assert_clean_error(cli("sample", damaged), "damaged")


def test_an_overridden_preset_does_not_keep_weights_trained_for_another_recipe(cli, tmp_path):
    (tmp_path / "zoo.toml").write_text("[presets.vae-mnist.train]\nepochs = 5\n")
    assert_clean_error(cli("sample", "vae-mnist", "--pretrained"), "no published weights")
    (tmp_path / "zoo.toml").write_text('[presets.vae-mnist]\ndescription = "mine"\n')
    assert cli("sample", "vae-mnist", "--pretrained", "--num", 1, "--out", tmp_path / "x.npz").exit_code == 0


# === hf:// ===


def test_hf_without_the_library_says_what_to_install(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    assert_clean_error(cli("sample", "hf://someone/vae-mnist"), "huggingface_hub", "pip install")
    assert_clean_error(cli("sample", "hf://no-owner"), "hf://OWNER/NAME")
    assert_clean_error(cli("sample", f"hf://someone/vae-mnist#sha256={'0' * 64}"), "pin a revision")


def test_hf_loads_the_snapshot_folder(cli, monkeypatch, tmp_path):
    """The Hub itself cannot be reached here: a stand-in ``snapshot_download``
    returns an exported folder, as the real one does after downloading it."""
    import types

    folder = tmp_path / "snapshot"
    with zipfile.ZipFile(bundled("vae-mnist")) as z:
        z.extractall(folder)
    calls = []

    def snapshot_download(repo_id, revision=None, allow_patterns=None, cache_dir=None):
        calls.append((repo_id, revision))
        if repo_id != "someone/vae-mnist":
            raise RuntimeError("404 Client Error: Repository Not Found")
        return str(folder)

    monkeypatch.setitem(sys.modules, "huggingface_hub", types.SimpleNamespace(snapshot_download=snapshot_download))
    result = cli("sample", "hf://someone/vae-mnist@v1", "--num", 2, "--out", tmp_path / "h.npz")
    assert result.exit_code == 0, result.output
    assert calls == [("someone/vae-mnist", "v1")]
    assert_clean_error(cli("sample", "hf://someone/other"), "Repository Not Found")


# === zoo export bad inputs ===


def test_export_bad_inputs(cli, tmp_path):
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(bundled("vae-mnist")) as z:
        z.extractall(folder)
    (tmp_path / "taken.zip").write_bytes(b"mine")
    assert_clean_error(cli("export", folder, tmp_path / "taken.zip"), "already exists")
    assert (tmp_path / "taken.zip").read_bytes() == b"mine"
    (tmp_path / "taken").mkdir()
    assert_clean_error(cli("export", folder, tmp_path / "taken"), "already exists")
    assert_clean_error(cli("export", folder, tmp_path / "x.tar.gz"), "ending in .zip")
    assert_clean_error(cli("export", tmp_path / "nope", tmp_path / "y.zip"), "does not exist")
    assert not (tmp_path / "y.zip").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == ["taken", "taken.zip", "unpacked"]
    assert_clean_error(cli("export", "cgan-mnist", tmp_path / "c.zip"), "is a preset", "--pretrained")
    assert_clean_error(cli("train", "--resume", folder), "exported model", "weights only")
    result = cli("export", "cgan-mnist", "--pretrained", tmp_path / "new" / "folder" / "cgan.zip")
    assert result.exit_code == 0, result.output
    meta = hub.archive_metadata(tmp_path / "new" / "folder" / "cgan.zip")
    assert meta["epochs"] == hub.archive_metadata(bundled("cgan-mnist"))["epochs"] == 30
    # An export of an export is an export.
    result = cli("export", folder, tmp_path / "again.zip")
    assert result.exit_code == 0, result.output
    # The same numbers, with the sample count eval used (vae-mnist's metadata says --num, 5,000).
    assert hub.archive_metadata(tmp_path / "again.zip")["eval"] == hub.archive_eval(bundled("vae-mnist"))


def test_export_counts_epochs_from_metrics_when_the_checkpoint_state_is_gone(tmp_path):
    from zoo_core.sharing.export import _epochs

    assert _epochs(tmp_path) is None
    (tmp_path / "metrics.csv").write_text("epoch,loss\n1,0.5\n2,0.4\n")
    assert _epochs(tmp_path) == 2
    (tmp_path / "checkpoint.json").write_text('{"epoch": 3}')
    assert _epochs(tmp_path) == 3
    (tmp_path / "checkpoint.json").write_text("damaged")
    (tmp_path / "metrics.csv").write_text("epoch,loss\n")
    assert _epochs(tmp_path) is None


if __name__ == "__main__":
    # Rewrites the reference after the bundled weights change: on TensorFlow, where they were trained.
    #   KERAS_BACKEND=tensorflow python tests/test_hub.py
    outputs = {}
    for p in PRETRAINED:
        model = zoo_core.load_model(p, pretrained=True)
        outputs[p] = fixed_outputs(model)
        prior = prior_outputs(model)
        if prior is not None:
            outputs[f"{p}:prior"] = prior
    np.savez_compressed(REFERENCE, **outputs)
    print(f"Wrote {REFERENCE}: {', '.join(outputs)}")

