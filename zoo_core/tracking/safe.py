"""``--track`` values into trackers, each in a wrapper that keeps it from
costing anyone their training.

A tracker that raises (a bug, a missing permission, a server that is down or
goes away mid-run) warns once, in one line naming it and the error, and is
switched off for the rest of the command; the run goes on and its folder is
the same as without it. Bad ``--track`` values are refused before anything
runs: an unknown tracker (the known ones are listed), a missing library (its
pip command is shown).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from ..errors import ZooError
from ..training.listeners import StopTraining
from .base import Tracker, _stderr, mask_secrets

#: How long a tracker's error may be in its one-line warning.
MAX_ERROR_CHARS = 240


def one_line(exc: BaseException) -> str:
    """``exc`` as one short line: its type and message, whitespace folded; a
    long message that holds an OS error ("[Errno 111] Connection refused")
    is cut to the part before the first "(" with that error after it. A
    URL's password in it is masked (``http://u:***@host``)."""
    text = mask_secrets(" ".join(str(exc).split())) or "(no message)"
    if len(text) > MAX_ERROR_CHARS:
        errno = re.search(r"\[Errno -?\d+\] [^'\")\]]+", text)
        head = text.split(" (", 1)[0][:MAX_ERROR_CHARS - 60].rstrip()
        text = f"{head}: {errno.group(0).strip()}" if errno else text[:MAX_ERROR_CHARS - 3] + "..."
    return f"{type(exc).__name__}: {text}"


class SafeTracker(Tracker):
    """Runs a tracker's methods; the first exception warns and switches it off."""

    def __init__(self, tracker: Any, name: str, warn: Callable[[str], None] = _stderr):
        self.tracker, self.name, self.warn = tracker, name, warn
        self.failed: Optional[BaseException] = None

    @property
    def active(self) -> bool:
        return self.failed is None

    def _call(self, method: str, *args, **kwargs) -> None:
        if self.failed is not None:
            return
        try:
            getattr(self.tracker, method)(*args, **kwargs)
        except StopTraining:
            raise  # a tracker may end a run on purpose, as any listener may
        except Exception as exc:
            self.failed = exc
            self.warn(f"Warning: tracker '{self.name}' failed and is off for the rest of this command "
                      f"({one_line(exc)}); the run goes on without it")

    def run_started(self, run_dir: Path, config: dict, *, resumed: bool) -> None:
        self._call("run_started", run_dir, config, resumed=resumed)

    def epoch_ended(self, epoch: int, logs: dict, model: Any, run_dir: Path) -> None:
        self._call("epoch_ended", epoch, logs, model, run_dir)

    def run_ended(self, result: Optional[Any], error: Optional[BaseException]) -> None:
        self._call("run_ended", result, error)

    def open_group(self, name: str, params: dict) -> None:
        self._call("open_group", name, params)

    def close_group(self, summary: dict) -> None:
        self._call("close_group", summary)

    def log_eval(self, run_dir: Optional[Path], report: dict) -> None:
        self._call("log_eval", run_dir, report)

    def close(self) -> None:
        self._call("close")


def parse_track(value: str) -> tuple[str, Optional[str]]:
    """``NAME`` or ``NAME=URI`` -> ``(NAME, URI or None)``."""
    name, sep, uri = value.partition("=")
    value = mask_secrets(value)  # what the messages below show
    name, uri = name.strip(), uri.strip()
    if not name:
        raise ZooError(f"--track {value!r}: give a tracker's name first, as in --track mlflow or "
                       f"--track mlflow=http://HOST:5000 (zoo list trackers)")
    if sep and not uri:
        raise ZooError(f"--track {value}: nothing follows '='; give a URI (--track {name}=http://HOST:5000) "
                       f"or none for the tracker's default (--track {name})")
    return name, uri or None


def open_trackers(values: Iterable[str], registry, echo: Optional[Callable[[str], None]] = None) -> list[SafeTracker]:
    """Turn ``--track`` values into trackers, each wrapped in a :class:`SafeTracker`.

    Args:
        values: ``NAME`` or ``NAME=URI`` strings, as ``--track`` takes them.
        registry: the plugin registry that knows the trackers.
        echo: where the trackers' notices and warnings go (default: stderr).

    Raises:
        ZooError: a value names no installed tracker, names one twice, or the
            tracker's library is not installed (the message shows the pip command).
    """
    echo = echo or _stderr
    parsed = [(value, *parse_track(value)) for value in values]
    seen: dict[tuple, str] = {}
    for value, name, uri in parsed:
        value = mask_secrets(value)  # the messages show it: never a URI's password
        if (name, uri) in seen:
            raise ZooError(f"--track {value} is given twice ({seen[(name, uri)]} and {value}); give it once")
        seen[(name, uri)] = value
        _spec(registry, name, value)  # every name is checked before any tracker opens
    opened = []
    for value, name, uri in parsed:
        value = mask_secrets(value)
        spec = _spec(registry, name, value)
        try:
            tracker = spec.open(uri)
        except ImportError as exc:
            missing = f"the '{exc.name}' package" if getattr(exc, "name", None) else "a library"
            fix = f"install it with: {spec.install}" if spec.install else "install the package that provides it"
            raise ZooError(f"--track {value}: the {name} tracker needs {missing}, which is not installed; {fix}") from None
        except ZooError:
            raise
        except Exception as exc:  # a plugin's bug or an unreachable service: the run goes on without it
            echo(f"Warning: tracker '{name}' could not start and is off for this command ({one_line(exc)}); "
                 f"the run goes on without it")
            continue
        if not isinstance(tracker, Tracker):
            echo(f"Warning: tracker '{name}' is not a zoo_core.tracking.Tracker (its plugin's open() returned "
                 f"a {type(tracker).__name__}); it is off for this command")
            continue
        tracker.name, tracker.registry, tracker.echo = name, registry, echo
        opened.append(SafeTracker(tracker, name, echo))
    return opened


def _spec(registry, name: str, value: str):
    known = registry.names("tracker")
    if name in known:
        return registry.tracker(name)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]}? " if close else ""
    listed = ", ".join(known) if known else "none"
    raise ZooError(f"unknown tracker '{name}' in --track {value}; {hint}known trackers: {listed}"
                   f"{registry.hidden_note()}")
