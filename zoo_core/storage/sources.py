"""Where zoo keeps its cache, and how it reads checksums and tells a remote
source from a path: small rules that the plugin registry (a preset's
weights), the data cache and the fetching code in :mod:`zoo_core.saving`
share, so they sit here, below all of them. No Keras, no network.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from ..errors import ZooError

SHA256 = re.compile(r"^[0-9a-f]{64}$")
URL_SCHEMES = ("http", "https")


def cache_dir() -> Path:
    """zoo's cache: ``$ZOO_CACHE_DIR``, else ``$XDG_CACHE_HOME/zoo``, else ``~/.cache/zoo``."""
    if os.environ.get("ZOO_CACHE_DIR"):
        return Path(os.environ["ZOO_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "zoo"


def check_sha256(value, where: str) -> Optional[str]:
    """A lower-case hex SHA-256, or None; anything else is an error naming ``where``."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if not SHA256.match(text):
        raise ZooError(f"{where}: sha256 must be 64 hexadecimal digits, got {str(value)[:80]!r}")
    return text


def split_checksum(uri: str) -> tuple[str, Optional[str]]:
    """``URL#sha256=HEX`` -> ``(URL, HEX)``; a local path keeps any ``#`` it has."""
    if not is_remote(uri):
        return uri, None
    base, sep, fragment = uri.partition("#")
    if not sep:
        return uri, None
    key, _, value = fragment.partition("=")
    if key != "sha256":
        raise ZooError(f"{uri}: the only URL fragment zoo reads is #sha256=HEX, got #{fragment}")
    return base, check_sha256(value, uri)


def is_remote(text: str) -> bool:
    """``text`` is a URI for :func:`fetch` (which refuses the schemes it does
    not read), not a plain path; ``C:\\...`` is a path."""
    text = str(text)
    return (urlsplit(text).scheme in (*URL_SCHEMES, "hf", "package")
            or re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", text) is not None)
