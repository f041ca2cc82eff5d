"""Where Keras caches downloaded data sets, and a guarded Keras download.

Reading the cache ourselves lets an already-downloaded data set load without
importing Keras, which takes seconds with some backends.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

#: Seconds a single network operation may stall before the download gives up.
#: Keras sets no timeout, so a network that drops packets would hang for minutes.
DOWNLOAD_TIMEOUT = 30.0


def keras_cache_dir() -> Path:
    """The folder ``keras.utils.get_file`` stores data sets in.

    Mirrors Keras: ``$KERAS_HOME`` (when set) or ``~/.keras`` (``/tmp/.keras``
    when the home folder is not writable), then ``/tmp/.keras`` again when the
    chosen folder exists but is not writable; data sets go in ``datasets/``.
    """
    if "KERAS_HOME" in os.environ:
        base = os.environ["KERAS_HOME"]
    else:
        home = os.path.expanduser("~")
        base = os.path.join(home if os.access(home, os.W_OK) else "/tmp", ".keras")
    base = os.path.expanduser(base)
    # Keras creates its home at import; until then a missing folder that could
    # be created counts as writable, so we look where Keras will write.
    if os.path.isdir(base):
        writable = os.access(base, os.W_OK)
    else:
        writable = os.access(os.path.dirname(os.path.abspath(base)) or ".", os.W_OK)
    if not writable:
        base = os.path.join("/tmp", ".keras")
    return Path(base) / "datasets"


def download(name: str) -> tuple:
    """Runs ``keras.datasets.<name>.load_data()``, which downloads into the cache.

    Args:
        name: a module of ``keras.datasets``, e.g. ``"mnist"`` or ``"fashion_mnist"``.

    Returns:
        What ``load_data`` returns: ``((x_train, y_train), (x_test, y_test))``.

    Raises:
        Exception: whatever Keras raises when it cannot import or download
            (no network, DNS or HTTP error, checksum mismatch, time-out).
    """
    import importlib

    module = importlib.import_module(f"keras.datasets.{name}")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        return module.load_data()
    finally:
        socket.setdefaulttimeout(previous)


def short_reason(error: BaseException) -> str:
    """One short line saying why a download failed, for notices and errors."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    # Keras words URL errors as "URL fetch failure on <url>: <code> -- <reason>";
    # the reason is the part a user can act on.
    if "URL fetch failure" in text and " -- " in text:
        text = text.rsplit(" -- ", 1)[1]
    return text if len(text) <= 120 else text[:117] + "..."
