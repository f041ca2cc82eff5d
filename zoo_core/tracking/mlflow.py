"""The bundled MLflow tracker: ``--track mlflow`` or ``--track mlflow=URI``.

Through MLflow's own client (:class:`mlflow.MlflowClient`), each zoo run is one
MLflow run in the experiment ``$MLFLOW_EXPERIMENT_NAME`` (default ``zoo``):
the resolved config as flat parameters (``model.latent_dim``), every
metrics.csv column as a metric with ``step`` = epoch, each epoch's grids, then
metrics.csv, config.toml and the exported model (``zoo export``) as artifacts,
and ``zoo eval``'s metrics and eval.json. The MLflow run is tagged with the zoo
run's id and folder, so ``zoo eval RUN`` and ``zoo train --resume RUN`` find it
again. A sweep is one parent run, tagged ``zoo.group`` with the sweep's name,
that every worker and every restart of the sweep finds and shares; each trial's
run is a child of it, named ``NNNN/seed-K`` after its folder in the sweep.

Without a URI MLflow chooses, as ``mlflow ui`` does: ``$MLFLOW_TRACKING_URI``,
else MLflow 3's default, ``sqlite:///mlflow.db`` in the current folder with
artifacts in ``./mlruns``.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from ..errors import Interrupted, ZooError
from .base import (
    CONFIG_FILE, METRICS_FILE, Tracker, epoch_grids, epoch_metrics, export_model, flatten, mask_secrets,
    numbers, param_text, read_config, zoo_run_id,
)

DEFAULT_EXPERIMENT = "zoo"
RUN_ID_TAG, FOLDER_TAG, GROUP_TAG = "zoo.run_id", "zoo.run_dir", "zoo.group"
TRIAL_TAG, SEED_TAG = "zoo.trial", "zoo.seed"
PARENT_TAG = "mlflow.parentRunId"
#: A sweep's folder holds this file; its trials' runs are ``SWEEP/trials/NNNN/seed-K``.
SWEEP_FILE = "sweep.toml"
_SEED_FOLDER = re.compile(r"^seed-(\d+)$")
#: MLflow's loggers, quieted to WARNING (their INFO lines, such as "Creating
#: initial MLflow database tables...", are noise on zoo's stderr) unless the
#: user chose MLflow's level with $MLFLOW_LOGGING_LEVEL.
QUIET_LOGGERS = ("mlflow", "alembic")
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

        _quiet_mlflow_logs()  # after importing mlflow, which sets its loggers up

        self.uri = uri
        self._broken: Optional[Exception] = None
        try:
            self._client = MlflowClient(tracking_uri=uri)
        except MlflowException as exc:
            if exc.error_code == "INVALID_PARAMETER_VALUE":
                raise ZooError(mask_secrets(_bad_uri(uri, exc))) from None
            self._broken = exc  # e.g. a database that is down: warned at first use, the run goes on
        self._experiment: Optional[str] = None
        self.run_id: Optional[str] = None  # the MLflow run of the zoo run in progress
        self.run_dir: Optional[Path] = None
        self.parent_id: Optional[str] = None  # a sweep's parent run
        self._tagged = False
        self._params: dict[str, str] = {}
        #: a resumed run's steps MLflow has, per metric (None: not resumed, or caught up)
        self._have: Optional[dict[str, set[int]]] = None

    @property
    def client(self):
        if self._broken is not None:
            raise self._broken
        return self._client

    # === Runs ===

    def run_started(self, run_dir: Path, config: dict, *, resumed: bool) -> None:
        name, tags = run_label(run_dir)
        run = self._find(zoo_run_id(run_dir)) if resumed else None
        self._have = None
        if run is not None:
            self.run_id = run.info.run_id
            self._params = dict(run.data.params)
            # a trial resumed by a later worker (or restart) of its sweep: under the sweep's one parent
            if self.parent_id is not None and run.data.tags.get(PARENT_TAG) != self.parent_id:
                self.client.set_tag(self.run_id, PARENT_TAG, self.parent_id)
            for key, value in tags.items():
                if run.data.tags.get(key) != value:
                    self.client.set_tag(self.run_id, key, value)
            renamed = name if run.info.run_name != name else None
            self.client.update_run(self.run_id, status="RUNNING", name=renamed)
            self.echo(f"MLflow: continuing run {self._where(run.info.experiment_id, name)}")
            self._have = {}  # filled per metric from MLflow's history as metrics.csv names them
        else:
            self.run_id = self._create(name, {FOLDER_TAG: str(run_dir), **tags})
            if resumed:  # tracked from now on: its earlier epochs too
                self._have = {"": set()}  # a new run has nothing yet
        self.run_dir, self._tagged = Path(run_dir), False
        self._log_config(run_dir, config)
        if self._have is not None:
            self._catch_up(run_dir)

    def epoch_ended(self, epoch: int, logs: dict, model: Any, run_dir: Path) -> None:
        if self.run_id is None:
            return
        if not self._tagged:  # config.toml is in the run folder from the first epoch on
            self._log_config(run_dir)
            self._tagged = True
        metrics = epoch_metrics(logs)
        if self._have is not None:  # metrics.csv now holds every epoch the checkpoint had
            self._catch_up(run_dir, before=epoch)
            metrics = {k: v for k, v in metrics.items() if epoch not in self._have.get(k, ())}
            self._have = None
        self._log_metrics(metrics, step=epoch)
        for folder, path in epoch_grids(run_dir, epoch):
            self.client.log_artifact(self.run_id, str(path), folder)

    def run_ended(self, result: Optional[Any], error: Optional[BaseException]) -> None:
        run_id, self.run_id = self.run_id, None
        if run_id is None:
            return
        if result is None:
            self.client.set_tag(run_id, "zoo.error",
                                mask_secrets(" ".join(str(error).split()))[:500] or type(error).__name__)
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

    def _catch_up(self, run_dir: Path, before: Optional[int] = None) -> None:
        """Log the metrics.csv rows (epochs below ``before``) of a resumed run
        that MLflow does not have: an epoch checkpointed just before the
        process was killed, before it was logged. No step is logged twice."""
        from mlflow.entities import Metric

        try:
            with open(Path(run_dir) / METRICS_FILE, newline="") as f:
                rows = list(csv.DictReader(f))
        except (OSError, csv.Error, UnicodeDecodeError):
            return
        stamp, missing, epochs = int(time.time() * 1000), [], set()
        fresh = "" in self._have  # a run made just now has no history to ask for
        for row in rows:
            try:
                epoch = int(float(row.get("epoch") or ""))
            except ValueError:
                continue
            if before is not None and epoch >= before:
                continue
            for key, value in epoch_metrics({k: _number(v) for k, v in row.items()}).items():
                if key not in self._have:
                    self._have[key] = set() if fresh else {
                        m.step for m in self.client.get_metric_history(self.run_id, key)}
                if epoch not in self._have[key]:
                    missing.append(Metric(key, value, stamp, epoch))
                    self._have[key].add(epoch)
                    epochs.add(epoch)
        for start in range(0, len(missing), BATCH):
            self.client.log_batch(self.run_id, metrics=missing[start:start + BATCH])
        for epoch in sorted(epochs):
            for folder, path in epoch_grids(run_dir, epoch):
                self.client.log_artifact(self.run_id, str(path), folder)

    # === Sweeps ===

    def open_group(self, name: str, params: dict) -> None:
        """The sweep's one parent run: the one tagged ``zoo.group`` = ``name`` in
        this experiment, made by the first worker of the sweep to get here and
        found again by every other worker and every restart."""
        self.parent_id = None
        found = self._find_group(name)
        if found is None:
            run = self.client.create_run(self._experiment_id(), run_name=name, tags={GROUP_TAG: name})
            found = self._find_group(name) or run  # two workers starting at once: both keep the older one
            if found.info.run_id != run.info.run_id:
                self.client.delete_run(run.info.run_id)
        elif found.info.status != "RUNNING":
            self.client.update_run(found.info.run_id, status="RUNNING")
        self.parent_id = found.info.run_id
        self._params = dict(found.data.params)
        self.echo(f"MLflow: the sweep's parent run is {self._where(found.info.experiment_id, found.info.run_name)}")
        self._log_params(self.parent_id, {k: param_text(v) for k, v in flatten(params).items()})

    def close_group(self, summary: dict) -> None:
        """This worker is done: the summary (the study's best so far) goes to the
        parent run, which is marked FINISHED. Another worker still running may
        add children and its own summary later (MLflow takes them); the next
        worker or restart to open the group marks it RUNNING again."""
        parent_id, self.parent_id = self.parent_id, None
        if parent_id is None:
            return
        flat = flatten(summary)
        found = numbers(flat)
        self._log_metrics(found, run_id=parent_id)
        self.client.log_dict(parent_id, summary, "summary.json")
        self.client.set_terminated(parent_id, "FINISHED")

    def close(self) -> None:
        """A group this worker never closed (the sweep failed or was stopped) is
        marked KILLED, until a worker or restart opens it again."""
        parent_id, self.parent_id = self.parent_id, None
        if parent_id is not None:
            self.client.set_terminated(parent_id, "KILLED")

    def _find_group(self, name: str):
        """The oldest live run of this experiment tagged ``zoo.group`` = ``name``, or None."""
        quote = "'" if "'" not in name else '"' if '"' not in name else None
        if quote is not None and "\\" not in name:
            condition = f"tags.`{GROUP_TAG}` = {quote}{name}{quote}"
        else:  # a name MLflow's filter cannot quote: a pattern, then the exact name here
            pattern = re.sub(r"['\"\\\\]", "_", name)  # _ : any one character
            condition = f"tags.`{GROUP_TAG}` LIKE '{pattern}'"
        runs = self.client.search_runs([self._experiment_id()], filter_string=condition, max_results=50,
                                       order_by=["attributes.start_time ASC"])
        runs = sorted((r for r in runs if r.data.tags.get(GROUP_TAG) == name),
                      key=lambda r: (r.info.start_time or 0, r.info.run_id))
        return runs[0] if runs else None

    # === zoo eval ===

    def log_eval(self, run_dir: Optional[Path], report: dict) -> None:
        run = self._find(zoo_run_id(run_dir))
        if run is not None:
            run_id, created = run.info.run_id, False
        else:  # not tracked when it trained (or not a run folder): a run of its own
            label, tags = run_label(run_dir) if run_dir else (str(report.get("run") or "eval"), {})
            run_id, created = self._create(label, {FOLDER_TAG: str(run_dir), **tags} if run_dir else {}), True
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
            tags = {**tags, PARENT_TAG: self.parent_id}
        run = self.client.create_run(self._experiment_id(), run_name=name, tags=tags)
        self._params = {}
        self.echo(f"MLflow: logging to run {self._where(run.info.experiment_id, run.info.run_name)}")
        return run.info.run_id

    def _where(self, experiment_id: str, run_name: str) -> str:
        uri = mask_secrets(self.client.tracking_uri)
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


def run_label(run_dir: Path) -> tuple[str, dict[str, str]]:
    """The MLflow run's name and extra tags for the run folder ``run_dir``: its
    folder's name, or ``NNNN/seed-K`` (tagged ``zoo.trial`` = N, ``zoo.seed``
    = K) for a trial of a sweep, ``SWEEP/trials/NNNN/seed-K`` with SWEEP's
    sweep.toml, whose folders are all named ``seed-0``."""
    run_dir = Path(run_dir)
    seed, trial = _SEED_FOLDER.match(run_dir.name), run_dir.parent
    if seed and trial.name.isdigit() and trial.parent.name == "trials" and (trial.parent.parent / SWEEP_FILE).is_file():
        return f"{trial.name}/{run_dir.name}", {TRIAL_TAG: str(int(trial.name)), SEED_TAG: seed.group(1)}
    return run_dir.name, {}


def _number(text: Any) -> Any:
    """A metrics.csv cell as a float (None when it is empty or no number)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _quiet_mlflow_logs() -> None:
    """MLflow's and alembic's loggers to WARNING, unless $MLFLOW_LOGGING_LEVEL
    chose MLflow's level or the logger is already at WARNING or above."""
    if os.environ.get("MLFLOW_LOGGING_LEVEL"):
        return
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


def _bad_uri(uri: Optional[str], exc: Exception) -> str:
    where = f"--track mlflow={uri}" if uri else "--track mlflow (MLFLOW_TRACKING_URI)"
    message = " ".join(str(exc).split())
    if "filesystem tracking backend" in message:
        return (f"{where}: MLflow 3 keeps runs in a database or on a server, not in a folder; give "
                f"sqlite:///PATH/mlflow.db or http://HOST:PORT (or set MLFLOW_ALLOW_FILE_STORE=true)")
    scheme = (uri or os.environ.get("MLFLOW_TRACKING_URI", "")).split("://", 1)[0] if "://" in (uri or "") else ""
    what = f"MLflow does not know the scheme '{scheme}'" if scheme else f"MLflow cannot use it ({message[:160]})"
    return f"{where}: {what}; give http(s)://HOST:PORT, sqlite:///PATH/mlflow.db or another URI MLflow takes"
