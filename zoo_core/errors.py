"""Errors a user can cause, each with a message that says how to fix it."""

from __future__ import annotations

import difflib
import re
from typing import Iterable


def without_pickle_advice(text: str) -> str:
    """``text`` without numpy's advice to load a file with ``allow_pickle``: a
    file that holds pickled data can run code when loaded, and zoo never does."""
    if "pickle" not in text:
        return text
    replacement = "it is not a numpy array file (zoo never loads pickled data)"
    cleaned = re.sub(r"This file contains pickled \(object\) data\.[^()]*?(\(\))?[^()]*?(`pickle\.load\(\)`)?\.", replacement, text)
    if "allow_pickle" in cleaned:
        cleaned = re.sub(r"[^;()]*allow_pickle[^;()]*", replacement, cleaned)
    return cleaned


class ZooError(Exception):
    """An error caused by user input; the CLI prints it as one line, no traceback."""

    exit_code = 1


class Interrupted(ZooError):
    """The user stopped training (Ctrl-C or SIGTERM); exits 128 + the signal number."""

    exit_code = 130

    def __init__(self, message: str, exit_code: int = 130):
        super().__init__(message)
        self.exit_code = exit_code


class UnknownNameError(ZooError, KeyError):
    """A name that no plugin registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str], hint: str = ""):
        self.kind, self.name = kind, name
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        if close:
            msg = f"unknown {kind} '{name}'; did you mean {' or '.join(close)}?"
        elif known:
            msg = f"unknown {kind} '{name}'; known: {', '.join(known)}"
        else:
            msg = f"unknown {kind} '{name}'; no {kind}s are installed"
        if hint:
            msg += f" {hint}"
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would add quotes
        return self.args[0]


class DuplicateNameError(ZooError):
    """Two plugins registered the same name."""


class ConfigError(ZooError):
    """A config key that does not exist or a value of the wrong type."""
