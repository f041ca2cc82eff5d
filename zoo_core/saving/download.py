"""Downloading one URL into zoo's cache: once, verified, within a deadline.

A download is written to a hidden partial file and renamed into place only
when it is complete (and matches its sha256, when one was given). Beside it
zoo records the file's own sha256, so a cached copy that is damaged later is
noticed and fetched again instead of being reused forever.

The whole download, connection and headers included, has a deadline:
``$ZOO_DOWNLOAD_TIMEOUT`` seconds (default 1800). A per-read timeout alone
lets a server that trickles a byte every few seconds keep a download going
forever. No Keras here.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import urlsplit

from ..errors import ZooError

CHUNK = 1 << 20
#: A download larger than this is refused.
MAX_DOWNLOAD_BYTES = 2 << 30
DEADLINE_ENV = "ZOO_DOWNLOAD_TIMEOUT"
DEFAULT_DEADLINE_S = 1800.0
#: The longest zoo waits for any one read (or the deadline, when that is shorter).
READ_TIMEOUT_S = 30.0
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, OSError, ValueError)


def sha256_file(path: os.PathLike | str) -> str:
    """The SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def deadline_seconds() -> float:
    """The most seconds one download may take: ``$ZOO_DOWNLOAD_TIMEOUT``, else 1800."""
    text = os.environ.get(DEADLINE_ENV, "").strip()
    if not text:
        return DEFAULT_DEADLINE_S
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ZooError(f"{DEADLINE_ENV}={text!r}: give the most seconds a download may take, a number above 0 "
                       f"(unset, it is {DEFAULT_DEADLINE_S:.0f})")
    return value


def cache_folder(root: Path, url: str) -> Path:
    """Where ``url``'s download is kept under zoo's cache ``root``."""
    return root / "downloads" / hashlib.sha256(url.encode()).hexdigest()[:32]


def cached_file(root: Path, url: str) -> Optional[Path]:
    """``url``'s downloaded file in the cache, if there is one (not checked)."""
    folder = cache_folder(root, url)
    return next(iter(sorted(folder.glob("[!.]*"))), None) if folder.is_dir() else None


def _record_of(target: Path) -> Path:
    return target.with_name(f".{target.name}.sha256")


def discard(target: Path, url: str) -> None:
    """Delete zoo's cached download ``target`` of ``url`` and its record."""
    try:
        target.unlink(missing_ok=True)
        _record_of(target).unlink(missing_ok=True)
    except OSError as exc:
        raise ZooError(f"zoo's cached copy of {url} is damaged and could not be deleted "
                       f"({exc.strerror or exc}); delete {target} and try again") from None


def _write_record(target: Path, digest: str) -> None:
    record = _record_of(target)
    temporary = record.with_name(record.name + f".zoo-new-{os.getpid()}")
    try:
        temporary.write_text(digest + "\n")
        os.replace(temporary, record)
    except OSError:
        # Without a record the next use checks the archive's CRCs instead: slower, still safe.
        temporary.unlink(missing_ok=True)


def reusable(target: Path, expected: Optional[str]) -> bool:
    """The cached ``target`` is what was downloaded: its sha256 is the one
    expected, or the one recorded when it was downloaded."""
    try:
        digest = sha256_file(target)
    except OSError:
        return False
    if expected:
        return digest == expected
    try:
        recorded = _record_of(target).read_text().strip()
    except (OSError, UnicodeDecodeError):
        recorded = ""
    if recorded:
        return digest == recorded
    # Downloaded before zoo kept records: trusted only when every member's CRC checks.
    try:
        with zipfile.ZipFile(target) as archive:
            good = archive.testzip() is None
    except ZIP_ERRORS:
        good = False
    if good:
        _write_record(target, digest)
    return good


class _Watchdog:
    """Shuts the download's sockets when the deadline passes, which ends any
    read in progress at once (even one inside the response's headers)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._sockets = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def watch(self, sock) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def opener(self):
        """A urllib opener whose connections report their sockets to this watchdog."""
        import urllib.request

        watchdog = self

        def watched(connection_class):
            class Watched(connection_class):
                def connect(self):
                    super().connect()
                    watchdog.watch(self.sock)

            return Watched

        class HTTPHandler(urllib.request.HTTPHandler):
            def do_open(self, http_class, req, **kwargs):
                return super().do_open(watched(http_class), req, **kwargs)

        class HTTPSHandler(urllib.request.HTTPSHandler):
            def do_open(self, http_class, req, **kwargs):
                return super().do_open(watched(http_class), req, **kwargs)

        return urllib.request.build_opener(HTTPHandler, HTTPSHandler)


def _shut(sock) -> None:
    import socket

    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def download(url: str, expected_sha256: Optional[str], root: Path,
             echo: Callable[[str], None] = print) -> tuple[Path, Optional[str]]:
    """Download ``url`` once into the cache ``root`` (progress on stderr),
    verified against ``expected_sha256`` when given. A cached copy is reused
    only while its sha256 is the expected or recorded one; otherwise it is
    fetched again. Returns the file, and its sha256 when it was just
    downloaded without one to check (for the caller's notice on how to pin it)."""
    import http.client
    import urllib.error

    from ..storage.files import WriteError, reason

    name = Path(urlsplit(url).path).name
    if not re.match(r"^[\w+-][\w.+-]*$", name) or name in (".", ".."):
        name = "download.zip"
    folder = cache_folder(root, url)
    target = folder / name
    if target.is_file():
        if reusable(target, expected_sha256):
            return target, None
        echo(f"Notice: zoo's cached copy of {url} is damaged or out of date; downloading it again")
        discard(target, url)
    deadline = deadline_seconds()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot create zoo's cache {folder}: {reason(exc, folder)}; "
                         f"set ZOO_CACHE_DIR to a folder you can write to") from None
    partial = folder / f".{name}.zoo-part-{os.getpid()}"
    digest = hashlib.sha256()
    watchdog = _Watchdog(deadline)
    received = 0
    try:
        out = open(partial, "wb")
    except OSError as exc:
        try:
            folder.rmdir()
        except OSError:
            pass
        raise WriteError(f"cannot write the download to {folder}: {reason(exc, folder)}; "
                         f"set ZOO_CACHE_DIR to a folder you can write to") from None
    try:
        watchdog.start()
        with out, watchdog.opener().open(_request(url), timeout=min(READ_TIMEOUT_S, deadline)) as response:
            try:
                length = int(response.headers.get("Content-Length") or 0) or None
            except ValueError:
                length = None  # a malformed header: the size is unknown
            import click

            with click.progressbar(length=length or 0, label=f"Downloading {name}", file=_stderr(),
                                   show_eta=False, show_percent=bool(length)) as bar:
                for block in iter(lambda: response.read1(CHUNK), b""):
                    _write(out, block, folder)
                    digest.update(block)
                    received += len(block)
                    if received > MAX_DOWNLOAD_BYTES:
                        raise ZooError(f"{url} is over {MAX_DOWNLOAD_BYTES >> 30} GiB; zoo refuses it")
                    if length:
                        bar.update(len(block))
        if watchdog.expired:  # the watchdog's shutdown reads as an ordinary end of the data
            raise TimeoutError
        if length and received != length:
            raise ZooError(f"cannot download {url}: the connection closed after {received:,} of {length:,} "
                           f"bytes; nothing was kept, try again")
        got = digest.hexdigest()
        if expected_sha256 and got != expected_sha256:
            raise ZooError(f"{url} downloaded with sha256 {got}, not the expected {expected_sha256}: the file "
                           f"was changed or damaged on the way; it was not kept")
        os.replace(partial, target)
        _write_record(target, got)
    except (OSError, http.client.HTTPException) as exc:
        if isinstance(exc, WriteError):
            raise
        if watchdog.expired:
            raise ZooError(f"cannot download {url}: it took over {deadline:g} s ({received:,} bytes arrived), "
                           f"the most {DEADLINE_ENV} allows; nothing was kept; raise {DEADLINE_ENV} for a slow "
                           f"connection, or download the file yourself and give its path") from None
        if isinstance(exc, urllib.error.HTTPError):
            raise ZooError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
        why = getattr(exc, "reason", None) or exc
        raise ZooError(f"cannot download {url}: {why}; check the network, or download the file yourself "
                       f"and give its path") from None
    finally:
        watchdog.cancel()
        partial.unlink(missing_ok=True)
        if not target.exists():
            try:
                folder.rmdir()  # nothing was kept: leave no empty folder either
            except OSError:
                pass
    return target, None if expected_sha256 else got


def _request(url: str):
    import urllib.request

    return urllib.request.Request(url, headers={"User-Agent": "zoo"})


def _write(out, block: bytes, folder: Path) -> None:
    """Write a block; a failure here is the disk's, not the network's."""
    from ..storage.files import WriteError, reason

    try:
        out.write(block)
    except OSError as exc:
        raise WriteError(f"cannot write the download to {folder}: {reason(exc, folder)}") from None


def _stderr():
    import sys

    return sys.stderr
