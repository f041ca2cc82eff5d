"""What a tracker is, and what every tracker needs from a run folder.

A :class:`Tracker` is a :class:`~zoo_core.training.RunListener` that also hears
a sweep's group and ``zoo eval``'s results. It only reads the run folder:
nothing zoo writes depends on it, and :mod:`.safe` switches off one that fails.
"""

from __future__ import annotations

import json
import math
import re
import sys
import tomllib
from pathlib import Path
from typing import Any, Callable, Optional

from ..training.listeners import RunListener

CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.csv"
#: The per-epoch PNG grids a run folder holds: ``FOLDER/epoch-NNN.png``.
GRID_FOLDERS = ("samples", "reconstructions")
#: Parameter values longer than this are cut (MLflow takes 6,000 characters).
MAX_PARAM_CHARS = 5000


#: ``scheme://user:password@`` in a URL: the password is what :func:`mask_secrets` hides.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@'\"]*):[^\s/'\"]*@")


def mask_secrets(text: str) -> str:
    """``text`` with the password of every URL in it masked: ``http://u:s3cret@host``
    -> ``http://u:***@host``. Trackers pass every URI and error text they print
    through it (their warnings and notices are one line on stderr, often in a
    CI log)."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:***@", str(text))


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Tracker(RunListener):
    """An experiment tracker: override what it logs; every method does nothing by default.

    The run methods (``run_started``, ``epoch_ended``, ``run_ended``) are
    :class:`~zoo_core.training.RunListener`'s; a sweep calls ``open_group``
    before its first trial and ``close_group`` after its last, so that each
    trial's run can be a child of one parent; ``zoo eval`` and
    ``zoo train --eval`` call ``log_eval``. The command that opened the tracker
    calls ``close`` at its end. Any exception a method raises warns once and
    switches the tracker off (:mod:`.safe`); :class:`~zoo_core.training.StopTraining`
    still ends a run on purpose.

    Attributes:
        name: the tracker's registry name (set by :func:`~zoo_core.tracking.open_trackers`).
        registry: the plugin registry, for :func:`export_model` (set likewise).
        echo: where to say what it does, one line at a time (stderr on the command line).
    """

    name: str = "tracker"
    registry: Any = None
    echo: Callable[[str], None] = staticmethod(_stderr)

    def open_group(self, name: str, params: dict) -> None:
        """A group of runs (a sweep) named ``name`` begins; ``params`` describe it
        (its search space, objective, trials)."""

    def close_group(self, summary: dict) -> None:
        """The group ended; ``summary`` holds its outcome (the best trial, its value, ...)."""

    def log_eval(self, run_dir: Optional[Path], report: dict) -> None:
        """``zoo eval`` measured the run in ``run_dir`` (None for an exported
        model, a URL or a preset); ``report`` is the dict ``eval.json`` holds."""

    def close(self) -> None:
        """The command is done with the tracker."""


# === What a run folder holds, for trackers ===


def read_config(run_dir: Optional[Path]) -> dict:
    """A run's config.toml as a dict (empty when there is none, or it is damaged)."""
    if run_dir is None:
        return {}
    try:
        return tomllib.loads((Path(run_dir) / CONFIG_FILE).read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def zoo_run_id(run_dir: Optional[Path]) -> Optional[str]:
    """The run's id (``[zoo] run_id`` in config.toml, matching the folder's
    mark), which stays with the folder when it is moved or resumed; None for
    a folder that is not a run zoo made (an exported model, say)."""
    from ..storage.runfolder import run_id_of

    return run_id_of(run_dir) if run_dir is not None else None


def flatten(doc: dict, prefix: str = "") -> dict[str, Any]:
    """``{"model": {"latent_dim": 2}}`` -> ``{"model.latent_dim": 2}``."""
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def param_text(value: Any) -> str:
    """A config value as a parameter's text: strings as they are, the rest as
    TOML/JSON writes them (``[4, 8]``, ``true``), cut to :data:`MAX_PARAM_CHARS`."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, tuple):
        text = json.dumps(list(value))
    else:
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            text = str(value)
    return text if len(text) <= MAX_PARAM_CHARS else text[:MAX_PARAM_CHARS - 3] + "..."


def numbers(values: dict) -> dict[str, float]:
    """The finite numbers of a flat dict (no booleans, no text), as floats."""
    out = {}
    for key, value in values.items():
        if isinstance(value, (bool, str)):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[key] = number
    return out


def epoch_metrics(logs: dict) -> dict[str, float]:
    """One metrics.csv row as metrics: every column but ``epoch``."""
    return numbers({k: v for k, v in logs.items() if k != "epoch"})


def epoch_grids(run_dir: Path, epoch: int) -> list[tuple[str, Path]]:
    """The grids epoch ``epoch`` wrote, as ``(folder, path)``."""
    found = []
    for folder in GRID_FOLDERS:
        path = Path(run_dir) / folder / f"epoch-{epoch:03d}.png"
        if path.is_file():
            found.append((folder, path))
    return found


def export_model(run_dir: Path, registry, parent: Path, name: str = "model") -> Path:
    """``zoo export`` of the run into ``parent/name`` (a folder): the model a
    tracker logs. Raises ZooError as ``zoo export`` does."""
    from ..sharing.export import export_run

    if registry is None:
        from ..plugins.registry import load_registry

        registry = load_registry()
    backend = read_config(run_dir).get("zoo", {}).get("backend")
    return export_run(str(run_dir), Path(parent) / name, registry=registry, backend=backend,
                      echo=lambda line: None)
