"""The bundled MLflow tracker: ``--track mlflow`` or ``--track mlflow=URI``.

Through MLflow's own client (:class:`mlflow.MlflowClient`), each zoo run is one
MLflow run in the experiment ``$MLFLOW_EXPERIMENT_NAME`` (default ``zoo``):
the resolved config as flat parameters (``model.latent_dim``), every
metrics.csv column as a metric with ``step`` = epoch, each epoch's grids, then
metrics.csv, config.toml and the exported model (``zoo export``) as artifacts,
and ``zoo eval``'s metrics and eval.json. The MLflow run is tagged with the zoo
run's id and folder, so ``zoo eval RUN`` and ``zoo train --resume RUN`` find it
again. A sweep is a parent run with one child run per trial.

Without a URI MLflow chooses, as ``mlflow ui`` does: ``$MLFLOW_TRACKING_URI``,
else MLflow 3's default, ``sqlite:///mlflow.db`` in the current folder with
artifacts in ``./mlruns``.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from ..errors import Interrupted, ZooError
from .base import (
    CONFIG_FILE, METRICS_FILE, Tracker, epoch_grids, epoch_metrics, export_model, flatten, numbers,
    param_text, read_config, zoo_run_id,
)

DEFAULT_EXPERIMENT = "zoo"
RUN_ID_TAG, FOLDER_TAG, GROUP_TAG = "zoo.run_id", "zoo.run_dir", "zoo.group"
#: MLflow's own settings, set for zoo's process unless the user set them: a
#: server that is down fails in seconds (one immediate retry, 15 s to answer)
#: rather than after MLflow's ~4 minutes of backing off; zoo says where the
#: run is itself, on stderr, rather than MLflow on stdout.
FAST_FAILURE = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}
#: MLflow takes at most this many parameters (and metrics) in one call.
BATCH = 100
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def open_tracker(uri: Optional[str]) -> "MlflowTracker":
    """The ``open`` of the ``mlflow`` :class:`~zoo_core.specs.TrackerSpec`."""
    return MlflowTracker(uri)


class MlflowTracker(Tracker):
    """Logs zoo runs to MLflow.

    Attributes:
        log_model: also log the finished run's export (``zoo export``) under
            ``model/``; a sweep may turn it off for its trials.
    """

    log_model = True

    def __init__(self, uri: Optional[str] = None):
        for key, value in FAST_FAILURE.items():
            os.environ.setdefault(key, value)
        from mlflow import MlflowClient  # an ImportError names the extra to install
        from mlflow.exceptions import MlflowException

        self.uri = uri
        self._broken: Optional[Exception] = None
        try:
            self._client = MlflowClient(tracking_uri=uri)
        except MlflowException as exc:
            if exc.error_code == "INVALID_PARAMETER_VALUE":
                raise ZooError(_bad_uri(uri, exc)) from None
            self._broken = exc  # e.g. a database that is down: warned at first use, the run goes on
        self._experiment: Optional[str] = None
        self.run_id: Optional[str] = None  # the MLflow run of the zoo run in progress
        self.run_dir: Optional[Path] = None
        self.parent_id: Optional[str] = None  # a sweep's parent run
        self._tagged = False
        self._params: dict[str, str] = {}

    @property
    def client(self):
        if self._broken is not None:
            raise self._broken
        return self._client

    # === Runs ===

    def run_started(self, run_dir: Path, config: dict, *, resumed: bool) -> None:
        run = self._find(zoo_run_id(run_dir)) if resumed else None
        if run is not None:
            self.run_id = run.info.run_id
            self._params = dict(run.data.params)
            self.client.update_run(self.run_id, status="RUNNING")
            self.echo(f"MLflow: continuing run {self._where(run.info.experiment_id, run.info.run_name)}")
        else:
            self.run_id = self._create(Path(run_dir).name, {FOLDER_TAG: str(run_dir)})
        self.run_dir, self._tagged = Path(run_dir), False
        self._log_config(run_dir, config)

    def epoch_ended(self, epoch: int, logs: dict, model: Any, run_dir: Path) -> None:
        if self.run_id is None:
            return
        if not self._tagged:  # config.toml is in the run folder from the first epoch on
            self._log_config(run_dir)
            self._tagged = True
        self._log_metrics(epoch_metrics(logs), step=epoch)
        for folder, path in epoch_grids(run_dir, epoch):
            self.client.log_artifact(self.run_id, str(path), folder)

    def run_ended(self, result: Optional[Any], error: Optional[BaseException]) -> None:
        run_id, self.run_id = self.run_id, None
        if run_id is None:
            return
        if result is None:
            self.client.set_tag(run_id, "zoo.error", " ".join(str(error).split())[:500] or type(error).__name__)
            killed = isinstance(error, (KeyboardInterrupt, Interrupted))
            self.client.set_terminated(run_id, "KILLED" if killed else "FAILED")
            return
        try:
            run_dir = Path(result.run_dir)
            for name in (METRICS_FILE, CONFIG_FILE):
                if (run_dir / name).is_file():
                    self.client.log_artifact(run_id, str(run_dir / name))
            if result.stopped_early:
                self.client.set_tag(run_id, "zoo.stopped_early", str(result.stopped_early)[:500])
            if self.log_model:
                with tempfile.TemporaryDirectory(prefix="zoo-mlflow-") as tmp:
                    folder = export_model(run_dir, self.registry, Path(tmp))
                    self.client.log_artifacts(run_id, str(folder), "model")
        finally:
            self.client.set_terminated(run_id, "FINISHED")

    # === Sweeps ===

    def open_group(self, name: str, params: dict) -> None:
        self.parent_id = None
        self.parent_id = self._create(name, {GROUP_TAG: name})
        self._log_params(self.parent_id, {k: param_text(v) for k, v in flatten(params).items()})

    def close_group(self, summary: dict) -> None:
        parent_id, self.parent_id = self.parent_id, None
        if parent_id is None:
            return
        flat = flatten(summary)
        found = numbers(flat)
        self._log_metrics(found, run_id=parent_id)
        self.client.log_dict(parent_id, summary, "summary.json")
        self.client.set_terminated(parent_id, "FINISHED")

    # === zoo eval ===

    def log_eval(self, run_dir: Optional[Path], report: dict) -> None:
        run = self._find(zoo_run_id(run_dir))
        if run is not None:
            run_id, created = run.info.run_id, False
        else:  # not tracked when it trained (or not a run folder): a run of its own
            label = Path(run_dir).name if run_dir else str(report.get("run") or "eval")
            run_id, created = self._create(label, {FOLDER_TAG: str(run_dir)} if run_dir else {}), True
            if run_dir:
                self._log_config(run_dir, run_id=run_id)
        found = numbers(flatten(report.get("metrics", {}), "eval."))
        self._log_metrics(found, run_id=run_id, step=0)
        saved = report.get("file")
        if saved and Path(saved).is_file():
            self.client.log_artifact(run_id, str(saved), "eval")
        else:
            self.client.log_dict(run_id, report, "eval/eval.json")
        if created:
            self.client.set_terminated(run_id, "FINISHED")
        else:
            self.echo(f"MLflow: logged the eval results to run {self._where(run.info.experiment_id, run.info.run_name)}")

    # === MLflow ===

    def _experiment_id(self) -> str:
        if self._experiment is None:
            from mlflow.exceptions import MlflowException

            name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
            found = self.client.get_experiment_by_name(name)
            if found is None:
                try:
                    self._experiment = self.client.create_experiment(name)
                except MlflowException:  # another process (a sweep's worker) made it meanwhile
                    found = self.client.get_experiment_by_name(name)
                    if found is None:
                        raise
            if found is not None:
                if found.lifecycle_stage != "active":
                    raise ZooError(f"the MLflow experiment '{name}' is deleted; restore it "
                                   f"(mlflow experiments restore) or set MLFLOW_EXPERIMENT_NAME")
                self._experiment = found.experiment_id
        return self._experiment

    def _create(self, name: str, tags: dict) -> str:
        if self.parent_id is not None:
            tags = {**tags, "mlflow.parentRunId": self.parent_id}
        run = self.client.create_run(self._experiment_id(), run_name=name, tags=tags)
        self._params = {}
        self.echo(f"MLflow: logging to run {self._where(run.info.experiment_id, run.info.run_name)}")
        return run.info.run_id

    def _where(self, experiment_id: str, run_name: str) -> str:
        uri = self.client.tracking_uri
        if uri.startswith(("http://", "https://")):
            return f"'{run_name}' at {uri.rstrip('/')}/#/experiments/{experiment_id}"
        return f"'{run_name}' in {uri} (see it with: mlflow ui --backend-store-uri {uri})"

    def _find(self, zoo_id: Optional[str]):
        """The MLflow run tagged with zoo run id ``zoo_id`` (newest first), or None."""
        if not zoo_id or not _SAFE_ID.match(zoo_id):
            return None
        experiments = [e.experiment_id for e in self.client.search_experiments()]
        if not experiments:
            return None
        runs = self.client.search_runs(experiments, filter_string=f"tags.`{RUN_ID_TAG}` = '{zoo_id}'",
                                       max_results=1, order_by=["attributes.start_time DESC"])
        return runs[0] if runs else None

    def _log_config(self, run_dir: Path, fallback: Optional[dict] = None, run_id: Optional[str] = None) -> None:
        """config.toml as parameters (``fallback``, the resolved config, until
        the run folder holds it), and the zoo run's id as a tag."""
        run_id = run_id or self.run_id
        config = read_config(run_dir) or fallback or {}
        # None is what config.toml leaves out (TOML has no null): so do the parameters
        self._log_params(run_id, {k: param_text(v) for k, v in flatten(config).items() if v is not None})
        zoo_id = config.get("zoo", {}).get("run_id")
        if zoo_id:
            self.client.set_tag(run_id, RUN_ID_TAG, zoo_id)

    def _log_params(self, run_id: str, params: dict[str, str]) -> None:
        """Parameters MLflow has not seen; one it has keeps its first value
        (MLflow's parameters never change: ``--resume --epochs`` does not)."""
        from mlflow.entities import Param

        new = [Param(k, v) for k, v in params.items() if k not in self._params]
        for start in range(0, len(new), BATCH):
            self.client.log_batch(run_id, params=new[start:start + BATCH])
        self._params.update({p.key: p.value for p in new})

    def _log_metrics(self, values: dict[str, float], *, run_id: Optional[str] = None, step: int = 0) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        metrics = [Metric(k, v, stamp, step) for k, v in values.items()]
        for start in range(0, len(metrics), BATCH):
            self.client.log_batch(run_id or self.run_id, metrics=metrics[start:start + BATCH])


def _bad_uri(uri: Optional[str], exc: Exception) -> str:
    where = f"--track mlflow={uri}" if uri else "--track mlflow (MLFLOW_TRACKING_URI)"
    message = " ".join(str(exc).split())
    if "filesystem tracking backend" in message:
        return (f"{where}: MLflow 3 keeps runs in a database or on a server, not in a folder; give "
                f"sqlite:///PATH/mlflow.db or http://HOST:PORT (or set MLFLOW_ALLOW_FILE_STORE=true)")
    scheme = (uri or os.environ.get("MLFLOW_TRACKING_URI", "")).split("://", 1)[0] if "://" in (uri or "") else ""
    what = f"MLflow does not know the scheme '{scheme}'" if scheme else f"MLflow cannot use it ({message[:160]})"
    return f"{where}: {what}; give http(s)://HOST:PORT, sqlite:///PATH/mlflow.db or another URI MLflow takes"
