"""zoo-core's own plugin: the bundled MLflow tracker, registered through the
``zoo`` entry point (``mlflow = "zoo_core.tracking.plugin"`` in zoo-core's
pyproject.toml) exactly as a third party's tracker is. Importing it imports
no MLflow: that waits until ``--track mlflow`` opens the tracker."""

from __future__ import annotations

from typing import Optional

from ..hookspecs import hookimpl
from ..specs import TrackerSpec

INSTALL_MLFLOW = "pip install 'zoo-core[mlflow]'"


def _open_mlflow(uri: Optional[str]):
    from .mlflow import open_tracker

    return open_tracker(uri)


@hookimpl
def zoo_trackers() -> list[TrackerSpec]:
    return [
        TrackerSpec(
            name="mlflow",
            description="MLflow: config, per-epoch metrics and grids, eval results, the exported model",
            open=_open_mlflow,
            install=INSTALL_MLFLOW,
        )
    ]
