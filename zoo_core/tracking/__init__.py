"""Experiment tracking: ``--track NAME[=URI]`` sends runs to MLflow or any
tracker a plugin provides (the ``zoo_trackers`` hook).

- :mod:`.base`: :class:`Tracker`, what a tracker hears (a run's start, each
  epoch, its end; a sweep's group; ``zoo eval`` results), and the helpers a
  tracker shares (flat parameters, the run's files, its export).
- :mod:`.safe`: :func:`open_trackers` (``--track`` values into trackers) and
  the wrapper every tracker runs in: one that fails warns once and is switched
  off, and the run goes on.
- :mod:`.mlflow`: the bundled MLflow tracker (``pip install 'zoo-core[mlflow]'``);
  :mod:`.plugin` registers it.

Importing this package imports nothing heavy; ``Tracker`` and
``open_trackers`` are found here on first use.
"""

from __future__ import annotations

_PUBLIC = {"Tracker": "base", "open_trackers": "safe", "SafeTracker": "safe"}


def __getattr__(name: str):
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
