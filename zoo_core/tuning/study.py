"""``zoo sweep``: an Optuna study whose trials are zoo runs.

A sweep folder holds ``sweep.toml`` (what is searched, written once),
``study.db`` (Optuna's SQLite storage, unless ``--storage`` names another
database) and ``trials/NNNN/seed-K/``: one ordinary run folder per trial and
training seed (resumable, ``zoo eval``-able, exportable).

Workers: every ``zoo sweep`` process pointed at the same study (the same
folder, or the same ``--storage`` and study name from another machine) asks
Optuna for the next trial, so none runs a trial another runs; each stops when
the study holds ``--trials`` trials. A trial whose worker died (``kill -9``,
a lost machine) is failed and queued again with the same parameters by
Optuna's :class:`~optuna.storages.RetryHeartbeatStaleTrialCallback`: at once
when the worker ran on this machine (its process is gone), else once its
heartbeat is stale. The queued trial keeps the original's number, so its runs
resume from their checkpoints and the setting is counted once. A worker
stopped by Ctrl-C or SIGTERM queues its trial the same way before it exits.
"""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

from ..errors import ConfigError, Interrupted, ZooError
from ..storage.locks import process_alive
from .objectives import PruningSignal, objective as find_objective, read_metrics
from .space import Space

SWEEP_FILE = "sweep.toml"
STUDY_FILE = "study.db"
TRIALS_DIR = "trials"
PRUNERS = ("median", "halving", "hyperband", "none")
#: Seconds between a worker's heartbeats, and after which a silent worker's trial is stale.
HEARTBEAT, GRACE = 20, 90
MAX_RETRY = 3
OPTUNA_PIP = "pip install 'zoo-core[sweep]'"


@dataclass
class SweepPlan:
    """What a sweep searches: the same for every worker of the study."""

    target: str
    space: Space
    objective: str = "fd"
    dataset: Optional[str] = None
    loss: Optional[str] = None
    fixed: list = field(default_factory=list)  # --set items every trial takes
    seeds: int = 1
    pruner: str = "median"
    eval_num: int = 1000
    study_name: str = "sweep"
    #: the definition as sweep.toml holds it (``zoo sweep show``, which rebuilds no space)
    stored: Optional[dict] = None

    def definition(self) -> dict:
        """What must be equal for two workers to share a study."""
        if self.stored is not None:
            return self.stored
        return {"target": self.target, "dataset": self.dataset or "", "loss": self.loss or "",
                "fixed": list(self.fixed), "space": self.space.as_dict(), "objective": self.objective,
                "seeds": self.seeds, "pruner": self.pruner, "eval_num": self.eval_num}


def import_optuna():
    try:
        import optuna
    except ImportError:
        raise ZooError(f"zoo sweep needs Optuna, which is not installed; {OPTUNA_PIP}") from None
    import warnings

    # zoo reports trials itself; Optuna's own warnings (a failed trial's traceback) would repeat them.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # Heartbeats, their retry callback and the matplotlib plots are marked experimental since Optuna 2.8.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def storage_url(sweep_dir: Path, storage: Optional[str]) -> str:
    return storage or f"sqlite:///{(sweep_dir / STUDY_FILE).resolve()}"


def open_storage(url: str):
    """Optuna's RDB storage (SQLite, PostgreSQL, MySQL: any URL SQLAlchemy takes), with heartbeats."""
    optuna = import_optuna()
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        for attempt in range(6):
            try:
                return RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT, grace_period=GRACE,
                                  heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(MAX_RETRY))
            except Exception as exc:
                # Workers on two machines that start at once both create Optuna's tables: one of them
                # loses (a unique-key violation) and finds the tables made a moment later.
                if attempt == 5 or not _creation_race(exc):
                    raise
                time.sleep(0.5 + attempt)
    except ImportError as exc:
        missing = getattr(exc.__cause__, "name", None) or exc.name or "its driver"
        raise ZooError(f"the storage {_safe(url)} needs a database driver that is not installed ({missing}); "
                       f"for PostgreSQL: pip install 'zoo-core[postgres]'") from None
    except (optuna.exceptions.StorageInternalError, Exception) as exc:  # SQLAlchemy's errors, a bad URL
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ZooError(f"cannot open the sweep's storage {_safe(url)}: {first}") from None


def _creation_race(exc: BaseException) -> bool:
    text = f"{exc} {exc.__cause__ or ''}".lower()
    return any(mark in text for mark in ("unique constraint", "duplicate key", "already exists"))


def _safe(url: str) -> str:
    """The URL without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1] if "@" in url else url


def make_sampler(plan: SweepPlan, trials: int):
    import optuna

    if plan.space.is_grid:
        return optuna.samplers.GridSampler(plan.space.grid())
    # Random trials first (at least 2, a third of the budget, at most Optuna's 10), then TPE;
    # unseeded, so that workers started at once do not draw the same settings.
    return optuna.samplers.TPESampler(n_startup_trials=max(2, min(10, trials // 3)))


#: The median pruner judges a trial from its third epoch on. A GAN's FD after one epoch
#: says little about where it ends: in a sweep of aae-fashion-mnist, pruning from epoch 1
#: stopped four of eight trials there, among them learning rates (generator 1e-3,
#: discriminator 3e-4) near the best of an earlier two-trial sweep.
MEDIAN_WARMUP_EPOCHS = 3


def make_pruner(name: str):
    import optuna

    return {
        # Epochs are reported as steps 1, 2, ...: Optuna prunes once step >= n_warmup_steps.
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=MEDIAN_WARMUP_EPOCHS),
        "halving": lambda: optuna.pruners.SuccessiveHalvingPruner(),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1),
        "none": lambda: optuna.pruners.NopPruner(),
    }[name]()


@contextlib.contextmanager
def creation_lock(folder: Optional[Path]) -> Iterator[None]:
    """Workers started at the same moment on one machine create the study's tables one
    at a time (SQLite, and Optuna's schema setup, would otherwise collide)."""
    if folder is None or not folder.is_dir():
        yield
        return
    import fcntl

    with open(folder / ".zoo-study-lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_study(plan: SweepPlan, url: str, trials: int = 1, *, create: bool = True, folder: Optional[Path] = None,
               baseline: Optional[dict] = None, baseline_label: str = ""):
    """The shared study; a worker whose sweep differs from the study's is refused. The worker
    that creates the study queues ``baseline`` (parameters) as its first trial."""
    if not create and url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if not path.is_file():
            raise ZooError(f"the storage {_safe(url)} does not exist (no file {path}); give the --storage the "
                           f"sweep ran with")
    with creation_lock(folder):
        return _open_study(plan, url, trials, create, baseline, baseline_label)


def _open_study(plan: SweepPlan, url: str, trials: int, create: bool, baseline: Optional[dict] = None,
                baseline_label: str = ""):
    optuna = import_optuna()
    storage = open_storage(url)
    goal = find_objective(plan.objective)
    for attempt in range(5):
        try:
            if create:
                study = optuna.create_study(storage=storage, study_name=plan.study_name, direction=goal.direction,
                                            sampler=make_sampler(plan, trials), pruner=make_pruner(plan.pruner),
                                            load_if_exists=True)
            else:
                study = optuna.load_study(storage=storage, study_name=plan.study_name,
                                          sampler=make_sampler(plan, trials))
            break
        except KeyError:
            raise ZooError(f"the storage {_safe(url)} has no study '{plan.study_name}'") from None
        except Exception as exc:
            if create and attempt < 4:  # two workers created the study at once: the other's is there now
                time.sleep(0.5 + attempt)
                continue
            raise ZooError(f"cannot open study '{plan.study_name}' in {_safe(url)}: "
                           f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}") from None
    stored = study.user_attrs.get("zoo_sweep")
    if stored is None and create:
        study.set_user_attr("zoo_sweep", plan.definition())
        if baseline:
            # skip_if_exists: a worker on another machine that created the study at the same moment queued it
            study.enqueue_trial(baseline, user_attrs={"baseline": baseline_label}, skip_if_exists=True)
    elif create and stored != plan.definition():
        raise ConfigError(
            f"study '{plan.study_name}' in {_safe(url)} searches something else ({differences(stored, plan.definition())}); "
            f"give the same options to join it, or another --out (or --study-name) for a new sweep"
        )
    return study


def setting_number(trial) -> int:
    """The trial's folder number: a retried trial keeps the original's."""
    return int(trial.user_attrs.get("zoo_number", trial.number))


def counted_trials(study, before: Optional[int] = None) -> int:
    """Trials the sweep has started, each setting once (a retry is its original); with
    ``before``, those Optuna numbered below it. A surplus trial (see Worker.trial) is not one."""
    return len({setting_number(t) for t in study.get_trials(deepcopy=False)
                if not t.user_attrs.get("surplus") and (before is None or t.number < before)})


def recover_dead_workers(study, echo: Callable[[str], None]) -> list[int]:
    """Queue again, at once, the running trials of this machine's workers that are gone."""
    from optuna.storages import RetryHeartbeatStaleTrialCallback
    from optuna.trial import TrialState

    host = socket.gethostname()
    requeued = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker_host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
        if worker_host != host or not pid.isdigit() or process_alive(int(pid)):
            continue
        try:
            if not study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except Exception:  # another worker failed it first
            continue
        RetryHeartbeatStaleTrialCallback(MAX_RETRY)(study, study._storage.get_trial(trial._trial_id))
        requeued.append(setting_number(trial))
        echo(f"Trial {setting_number(trial)}'s worker (process {pid}) is gone: queued again, to resume "
             f"from its checkpoint")
    return requeued


def differences(stored: dict, wanted: dict) -> str:
    """What differs between a stored sweep definition and this command's, for a message."""
    parts = []
    for key, value in wanted.items():
        if stored.get(key) != value:
            parts.append(f"{key}: {_short(stored.get(key))} there, {_short(value)} here")
    return "; ".join(parts) or "nothing"


def _short(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return repr(value) if value not in (None, "") else "none"


@dataclass
class Worker:
    """One ``zoo sweep`` process: trains trials until the study has enough."""

    plan: SweepPlan
    sweep_dir: Path
    registry: object
    backend: str
    echo: Callable[[str], None]
    trackers: list = field(default_factory=list)
    verbose: Optional[int] = 0
    wanted: int = 0

    def run(self, study, trials: int, budget_minutes: Optional[float] = None) -> int:
        """Run trials until the study holds ``trials`` (or the budget is spent); returns how many ran here."""
        from ..training.loop import TrainingDiverged

        began, ran = time.monotonic(), 0
        self.wanted = trials
        recover_dead_workers(study, self.echo)
        if "tensorflow" in sys.modules:
            # Every trial builds a new model, so TensorFlow warns that its train step retraces: expected here.
            import logging

            logging.getLogger("tensorflow").setLevel(logging.ERROR)
        while True:
            if counted_trials(study) >= trials and not self._waiting(study):
                break
            if budget_minutes is not None and time.monotonic() - began >= budget_minutes * 60:
                self.echo(f"The budget of {budget_minutes:g} minutes is spent: this worker starts no more trials")
                break
            if self.plan.space.is_grid and counted_trials(study) >= self.plan.space.grid_size() \
                    and not self._waiting(study):
                break
            current: dict = {}
            try:
                study.optimize(lambda trial: self.trial(trial, current), n_trials=1, catch=(TrainingDiverged,),
                               gc_after_trial=True)
            except BaseException as exc:
                if isinstance(exc, (Interrupted, KeyboardInterrupt)) and "id" in current and "surplus" not in current:
                    self._queue_again(study, current["id"])
                    code = exc.exit_code if isinstance(exc, Interrupted) else 130
                    raise Interrupted(
                        f"stopped trial {current.get('number', '?')}; its run keeps its last checkpoint and the trial "
                        f"is queued again: continue the sweep with: zoo sweep {self.sweep_dir}", exit_code=code
                    ) from None
                raise
            if current.get("surplus"):
                break
            ran += 1
        return ran

    def _waiting(self, study) -> bool:
        from optuna.trial import TrialState

        return bool(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))

    def _queue_again(self, study, trial_id: int) -> None:
        from optuna.storages import RetryHeartbeatStaleTrialCallback
        from optuna.trial import TrialState

        frozen = study._storage.get_trial(trial_id)
        if frozen.state == TrialState.FAIL:
            RetryHeartbeatStaleTrialCallback(MAX_RETRY)(study, frozen)

    # === One trial ===

    def trial(self, trial, current: dict) -> float:
        import optuna

        from ..training.loop import TrainingDiverged

        current["id"] = trial._trial_id
        number = current["number"] = setting_number(trial)
        if number == trial.number and counted_trials(trial.study, before=trial.number) >= self.wanted:
            # Another worker took the last trial between this one's count and its ask: run nothing.
            trial.set_user_attr("surplus", True)
            current["surplus"] = True
            raise optuna.TrialPruned("the study already has its trials")
        trial.set_user_attr("zoo_number", number)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        params = {}
        for d in self.plan.space.dimensions:
            if d.kind == "choice":
                params[d.key] = trial.suggest_categorical(d.key, list(d.choices))
            elif d.kind == "int":
                params[d.key] = trial.suggest_int(d.key, int(d.low), int(d.high), step=d.step or 1, log=d.log)
            else:
                params[d.key] = trial.suggest_float(d.key, d.low, d.high, log=d.log)
        folder = self.sweep_dir / TRIALS_DIR / f"{number:04d}"
        trial.set_user_attr("folder", str(folder.resolve()))
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        label = trial.user_attrs.get("baseline")
        self.echo(f"Trial {number}{f' ({label})' if label else ''}: {shown}")
        goal = find_objective(self.plan.objective)
        values, metrics, began = [], [], time.perf_counter()
        for k in range(self.plan.seeds):
            resolved = self.resolve(params, k)
            if k == 0:
                trial.set_user_attr("config", resolved.config.to_dict())
            signal = PruningSignal(trial, goal, resolved, self.echo) if k == 0 else None
            try:
                result = self.train(resolved, folder / f"seed-{k}", [signal] if signal else [])
            except TrainingDiverged as exc:
                trial.set_user_attr("error", str(exc))
                self.echo(f"Trial {number} failed: {exc}")
                raise
            finally:
                if signal is not None and signal.seconds:
                    trial.set_user_attr("signal_seconds", sum(signal.seconds) / len(signal.seconds))
            if result is not None and result.metrics.get("seconds"):
                trial.set_user_attr("epoch_seconds", float(result.metrics["seconds"]))
            if result is not None and result.stopped_early:
                trial.set_user_attr("minutes", (time.perf_counter() - began) / 60)
                trial.set_user_attr("pruned", result.stopped_early)
                self.echo(f"Trial {number} {result.stopped_early}")
                raise optuna.TrialPruned(result.stopped_early)
            report = self.evaluate(folder / f"seed-{k}")
            found = read_metrics(report)
            metrics.append(found)
            value = goal.read(report.get("metrics", {}))
            if value is None:
                raise ZooError(f"zoo eval gave no '{goal.name}' for trial {number} "
                               f"({'; '.join(report.get('notes', [])) or 'no note'})")
            values.append(value)
            trial.set_user_attr("values", values)
            trial.set_user_attr("metrics", metrics)
        import numpy as np

        mean = float(np.mean(values))
        trial.set_user_attr("std", float(np.std(values)) if len(values) > 1 else 0.0)
        trial.set_user_attr("minutes", (time.perf_counter() - began) / 60)
        self.echo(f"Trial {number}: {goal.name} {mean:.4g}" +
                  (f" ± {np.std(values):.2g} over {len(values)} seeds" if len(values) > 1 else ""))
        return mean

    def resolve(self, params: dict, seed_index: int):
        from ..plugins.resolve import resolve_run

        resolved = resolve_run(self.registry, self.plan.target, dataset=self.plan.dataset, loss=self.plan.loss,
                               overrides=[*self.plan.fixed, *self.plan.space.overrides(params)])
        if seed_index:
            from dataclasses import replace

            base = resolved.config.train.seed
            resolved.config.train = replace(resolved.config.train, seed=(base + 1000 * seed_index) % 2**32)
        return resolved

    def train(self, resolved, run_dir: Path, listeners: list):
        """Train the run, resume it from its checkpoint, or (trained already) leave it."""
        from ..training import resume_run, train_run
        from ..training.checkpoints import read_checkpoint

        listeners = [*listeners, *self.trackers]
        saved = read_checkpoint(run_dir, missing_ok=True) if (run_dir / "config.toml").is_file() else None
        try:
            if saved is not None and saved.epoch >= resolved.config.train.epochs and not saved.step:
                return None  # trained before this worker was stopped
            if saved is not None:
                self.echo(f"Resuming {run_dir} from its checkpoint")
                return resume_run(run_dir, self.registry, backend=self.backend, echo=self.echo,
                                  verbose=self.verbose, listeners=listeners)
            return train_run(resolved, run_dir, backend=self.backend, overwrite=run_dir.exists(), echo=self.echo,
                             verbose=self.verbose, listeners=listeners)
        finally:
            _free_memory()

    def evaluate(self, run_dir: Path) -> dict:
        """``zoo eval`` of the objective's metric group, fixed sample count and seed (kept in eval.json)."""
        import json

        from ..evaluation import EvalOptions, evaluate_run

        goal = find_objective(self.plan.objective)
        try:
            old = json.loads((run_dir / "eval.json").read_text())
            if (old.get("options", {}).get("num") == self.plan.eval_num and old.get("options", {}).get("seed") == 0
                    and goal.read(old.get("metrics", {})) is not None):
                return old
        except (OSError, ValueError):
            pass
        report = evaluate_run(run_dir, [goal.group], registry=self.registry, backend=self.backend,
                              options=EvalOptions(num=self.plan.eval_num, seed=0), echo=self.echo)
        for tracker in self.trackers:
            log = getattr(tracker, "log_eval", None)
            if callable(log):
                log(run_dir, report)
        _free_memory()
        return report


def _free_memory() -> None:
    """Each trial builds new models: drop the last one's graphs (Keras's clear_session
    collects garbage itself; a second gc.collect() cost about a second a trial)."""
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
    else:
        gc.collect()
