"""Faults around fetching models: a cached download damaged later, URL schemes
zoo does not read, a server that trickles bytes (a real one on 127.0.0.1), a
preset whose weights hold another model, a bundled file whose sha256 no
longer matches, and messages that name what the user gave rather than zoo's
cache folders."""

from __future__ import annotations

import http.server
import json
import threading
import time
import zipfile
from pathlib import Path

import pytest

from zoo_core.saving import hub

from zoo_core.cli import listing

from zoo_core.saving import runs
from zoo_core.saving.download import DEADLINE_ENV, cached_file, discard
from zoo_core.errors import ZooError
from zoo_core.hookspecs import hookimpl
from zoo_core.plugins.registry import load_registry
from zoo_core.specs import PresetSpec

from test_cli import assert_clean_error
from test_hub import Server, bundled, repack, sha

VAE_URI = "package://zoo_vae/pretrained/vae-mnist.zip"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    repack(bundled("vae-mnist"), root / "good.zip")
    repack(bundled("vae-mnist"), root / "tampered.zip", flip_weights)
    server = Server(root)
    server.root = root
    yield server
    server.close()


def flip_weights(name, data):
    """One byte of the weights changed: the archive is a valid zip whose
    metadata.json no longer matches its weights."""
    if name != hub.WEIGHTS_FILE:
        return data
    data = bytearray(data)
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


def damage_in_place(path: Path) -> None:
    """Flip bytes inside the stored weights of a zip, as a failing disk would."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(hub.WEIGHTS_FILE)
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    data[start:start + 16] = bytes(b ^ 0xFF for b in data[start:start + 16])
    path.write_bytes(bytes(data))


def user_files(cache: Path) -> list[Path]:
    return [p for p in (cache / "downloads").rglob("*") if p.is_file()] if (cache / "downloads").exists() else []


# === A download damaged in the cache after it was fetched ===


@pytest.mark.one_backend
def test_a_cached_download_damaged_later_is_fetched_again(served, private_cache):
    url = served.url("good.zip")
    notices = []
    first = hub.fetch(url, echo=notices.append)
    assert hub.is_exported_folder(first) and served.requests == ["/good.zip"]
    cached = cached_file(private_cache, url)
    damage_in_place(cached)
    # zoo info does not call the damaged copy usable: it will be downloaded on first use.
    spec = PresetSpec("by-url", "weights by URL", model="vae", dataset="mnist", weights={"uri": url})
    doc = listing.describe_weights(load_registry(plugins=[plugin_with(spec)]), spec)
    assert not doc["available"] and doc["problem"] is None
    # The unpacked copy is keyed by the archive's sha256, so only a fresh download gives it back.
    again = hub.fetch(url, echo=notices.append)
    assert served.requests == ["/good.zip", "/good.zip"]
    assert any("damaged or out of date; downloading it again" in n for n in notices)
    assert again == first and sha(cached) == sha(served.root / "good.zip")
    # A download from before zoo recorded sha256s: the zip's own CRCs catch the damage.
    damage_in_place(cached)
    cached.with_name(f".{cached.name}.sha256").unlink()
    assert hub.fetch(url, echo=notices.append) == first and len(served.requests) == 3
    # An intact one is reused, not downloaded again.
    hub.fetch(url, echo=notices.append)
    assert len(served.requests) == 3


@pytest.mark.one_backend
def test_a_damaged_archive_from_the_server_is_not_kept_and_is_named_by_its_url(served, cli, private_cache):
    url = served.url("tampered.zip")
    result = cli("sample", url)
    assert_clean_error(result, f"{hub.WEIGHTS_FILE} in {url} does not match the checksum", "was not kept")
    assert str(private_cache) not in result.output and "zoo-new" not in result.output
    assert "pin it with" not in result.output  # no advice to pin a file that was refused
    assert user_files(private_cache) == []
    cli("sample", url)
    assert served.requests == ["/tampered.zip", "/tampered.zip"]  # fetched again, not reused


@pytest.mark.one_backend
def test_a_damaged_download_that_cannot_be_deleted_names_the_file(tmp_path, monkeypatch):
    target = tmp_path / "downloads" / "x" / "model.zip"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"damaged")

    def refuse(self, missing_ok=False):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.raises(ZooError, match=f"delete {target} and try again"):
        discard(target, "http://example.org/model.zip")


# === URL schemes ===


@pytest.mark.one_backend
@pytest.mark.parametrize("uri, words", [
    ("ftp://example.org/model.zip", ["zoo cannot fetch ftp:// URLs", "http(s)://", "hf://", "file:///PATH"]),
    ("gopher://example.org/model.zip", ["zoo cannot fetch gopher:// URLs"]),
    ("file://otherhost/model.zip", ["file:///ABSOLUTE/PATH"]),
    ("file:///nowhere/model.zip", ["file:///nowhere/model.zip does not exist"]),
])
def test_schemes_zoo_does_not_read_are_refused_in_one_line(uri, words, cli):
    result = cli("sample", uri)
    assert_clean_error(result, *words)
    assert "ftp:/example" not in result.output  # the old mangled path


def test_a_file_url_is_a_local_path(cli, tmp_path):
    archive = repack(bundled("vae-mnist"), tmp_path / "my model.zip")
    result = cli("sample", "file://" + str(archive).replace(" ", "%20"), "--num", 2, "--out", tmp_path / "a.npz")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a.npz").is_file()


# === A server that trickles ===


class TrickleServer:
    """Sends one byte every ``interval`` seconds, at most ``limit`` bytes, in
    the headers or in the body, and stops when closed or when the client leaves."""

    def __init__(self, where: str, interval: float = 0.2, limit: int = 100, tls=None):
        stop = self.stop = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                head = b"HTTP/1.0 200 OK\r\nContent-Length: 100000\r\n\r\n"
                try:
                    if where == "body":
                        self.wfile.write(head)
                        self.wfile.flush()
                    for byte in (head if where == "headers" else b"x" * limit)[:limit]:
                        if stop.wait(interval):
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                except OSError:
                    return  # the client gave up

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http{'s' if tls else ''}://127.0.0.1:{self.httpd.server_address[1]}/model.zip"

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.one_backend
@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_trickling_server_meets_the_download_deadline(where, cli, monkeypatch, private_cache):
    monkeypatch.setenv(DEADLINE_ENV, "1.5")
    server = TrickleServer(where)
    try:
        start = time.monotonic()
        result = cli("sample", server.url)
        elapsed = time.monotonic() - start
    finally:
        server.close()
    assert_clean_error(result, f"cannot download {server.url}: it took over 1.5 s", DEADLINE_ENV, "nothing was kept")
    assert elapsed < 6, elapsed  # the deadline holds: it does not wait for the trickle to end (20 s)
    assert user_files(private_cache) == []  # no partial file, no record
    assert not (private_cache / "downloads").exists() or not any((private_cache / "downloads").iterdir())


@pytest.mark.one_backend
def test_https_downloads_meet_the_deadline_too(tmp_path, monkeypatch, private_cache):
    """The same trickle over TLS, with a certificate made here for 127.0.0.1."""
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("no openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                           "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                          capture_output=True, timeout=60)
    if made.returncode:
        pytest.skip("openssl could not make a test certificate")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = TrickleServer("body", tls=context)
    url = server.url
    monkeypatch.setenv(DEADLINE_ENV, "1")
    try:
        start = time.monotonic()
        with pytest.raises(ZooError, match=f"cannot download {url}: it took over 1 s"):
            hub.fetch(url)
        elapsed = time.monotonic() - start
    finally:
        server.close()
    assert elapsed < 5, elapsed
    assert user_files(private_cache) == []


@pytest.mark.one_backend
@pytest.mark.parametrize("value", ["soon", "0", "-5", "inf", "nan"])
def test_a_bad_download_deadline_is_named(value, cli, monkeypatch):
    monkeypatch.setenv(DEADLINE_ENV, value)
    assert_clean_error(cli("sample", "http://127.0.0.1:9/model.zip"), DEADLINE_ENV, "above 0")


# === Presets whose weights hold something else ===


def plugin_with(*presets):
    class Plugin:
        name = "mismatched-presets"

        @hookimpl
        def zoo_presets(self):
            return list(presets)

    return Plugin()


def weights_of(path) -> dict:
    return {"uri": str(path), "sha256": sha(path)}


@pytest.fixture
def vae_archive(tmp_path):
    return repack(bundled("vae-mnist"), tmp_path / "vae-export.zip")


@pytest.mark.one_backend
@pytest.mark.parametrize("preset, words", [
    (dict(model="gan"), ["'vae' model, not the preset's 'gan'"]),
    (dict(model="vae", dataset="fashion-mnist"), ["trained on 'mnist', not on the preset's 'fashion-mnist'"]),
    (dict(model="vae", model_config={"latent_dim": 16}), ["model.latent_dim = 2, not the preset's 16"]),
    (dict(model="vae", train={"epochs": 3}), ["train.epochs = 30, not the preset's 3"]),
])
def test_a_preset_whose_weights_hold_another_recipe_is_refused(preset, words, vae_archive, cli, monkeypatch):
    spec = PresetSpec("odd-one", "weights of another recipe", **{"dataset": "mnist", **preset},
                      weights=weights_of(vae_archive))
    registry = load_registry(plugins=[plugin_with(spec)])
    with pytest.raises(ZooError, match="does not match its weights") as caught:
        runs.open_source("odd-one", registry, pretrained=True)
    for word in words:
        assert word in str(caught.value)
    # zoo info says the same, and does not call the weights usable.
    text = listing.info_text(registry, registry.find("odd-one"))
    line = next(line for line in text.splitlines() if line.startswith("Pretrained weights:"))
    assert "NOT usable" in line and words[0] in text
    # And the CLI refuses in one line.
    import zoo_core.plugins.registry

    monkeypatch.setattr(zoo_core.plugins.registry, "load_registry",
                        lambda *a, **k: load_registry(*a, plugins=[plugin_with(spec)], **k))
    assert_clean_error(cli("sample", "odd-one", "--pretrained"), "does not match its weights", *words)


@pytest.mark.one_backend
def test_a_preset_of_the_same_recipe_loads(vae_archive):
    spec = PresetSpec("my-vae", "the same recipe", model="vae", dataset="mnist",
                      model_config={"latent_dim": 2}, weights=weights_of(vae_archive))
    registry = load_registry(plugins=[plugin_with(spec)])
    run = runs.open_source("my-vae", registry, pretrained=True)
    assert run.config["model"]["name"] == "vae"
    assert listing.describe_weights(registry, spec)["available"]


# === zoo info and a file whose sha256 does not match ===


@pytest.mark.one_backend
def test_info_says_when_bundled_weights_do_not_match_their_sha256():
    real = sha(hub.package_file(VAE_URI))
    spec = PresetSpec("stale-vae", "a plugin whose file changed", model="vae", dataset="mnist",
                      weights={"uri": VAE_URI, "sha256": "0" * 64})
    registry = load_registry(plugins=[plugin_with(spec)])
    doc = listing.describe_weights(registry, spec)
    assert not doc["available"]
    assert doc["problem"] == f"sha256 MISMATCH: expected {'0' * 64}, file has {real}; re-install the plugin"
    text = listing.info_text(registry, registry.find("stale-vae"))
    assert "NOT usable" in text and "on this machine" not in text and "re-install the plugin" in text


@pytest.mark.one_backend
def test_info_of_a_preset_file_whose_weights_changed(cli, tmp_path, vae_archive):
    (tmp_path / "zoo.toml").write_text(
        f'[presets.mine]\nmodel = "vae"\ndataset = "mnist"\n'
        f'weights = {{ uri = "{vae_archive.name}", sha256 = "{"1" * 64}" }}\n')
    result = cli("info", "mine")
    assert result.exit_code == 0, result.output
    assert f"sha256 MISMATCH: expected {'1' * 64}, file has {sha(vae_archive)}" in result.output
    assert "fix the preset's sha256 in" in result.output and "NOT usable" in result.output
    assert json.loads(cli("info", "mine", "--json").stdout)["weights"]["available"] is False
    assert_clean_error(cli("sample", "mine", "--pretrained"), "not the expected", "refusing it")


# === Messages name what the user gave ===


@pytest.mark.one_backend
def test_a_tampered_archive_is_named_not_the_cache(cli, tmp_path, private_cache):
    tampered = repack(bundled("vae-mnist"), tmp_path / "tampered.zip", flip_weights)
    result = cli("sample", tampered)
    assert_clean_error(result, f"{hub.WEIGHTS_FILE} in {tampered} does not match the checksum")
    assert str(private_cache) not in result.output and "zoo-new" not in result.output


# === A full disk under zoo's cache (a real tmpfs) ===


@pytest.mark.one_backend
def test_a_full_cache_disk_keeps_no_partial_download_and_a_good_one_is_kept(served, tmp_path, monkeypatch):
    """The cache on a real tmpfs: too small for the download, then big enough
    for the download but not for unpacking it, then grown (needs root to mount)."""
    import subprocess

    from zoo_core.storage.files import WriteError

    from test_real_media import tmpfs

    url = served.url("good.zip")
    with tmpfs(tmp_path / "small", "256k") as disk:
        monkeypatch.setenv("ZOO_CACHE_DIR", str(disk / "cache"))
        with pytest.raises(WriteError, match="cannot write the download to .*the disk is full") as caught:
            hub.fetch(url, echo=lambda _: None)
        assert "\n" not in str(caught.value)
        assert [p for p in disk.rglob("*") if p.is_file()] == []
    with tmpfs(tmp_path / "medium", "900k") as disk:
        monkeypatch.setenv("ZOO_CACHE_DIR", str(disk / "cache"))
        with pytest.raises(WriteError, match=f"cannot unpack {url} into"):
            hub.fetch(url, echo=lambda _: None)
        # The download itself is whole and kept; no half-unpacked folder is.
        assert sorted(p.name for p in disk.rglob("*") if p.is_file()) == [".good.zip.sha256", "good.zip"]
        assert not (disk / "cache" / "models").exists() or not any((disk / "cache" / "models").iterdir())
        subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True, capture_output=True)
        assert hub.is_exported_folder(hub.fetch(url, echo=lambda _: None))
        assert served.requests == ["/good.zip", "/good.zip"]  # the second tmpfs downloaded once
