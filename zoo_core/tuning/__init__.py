"""Tuning: ``zoo sweep``, Optuna studies whose trials are zoo runs.

- :mod:`.space`: ``--space KEY=DIST``, checked against the configs;
- :mod:`.objectives`: the ``zoo eval`` metric a sweep optimises, and the
  cheap per-epoch estimate its pruner watches;
- :mod:`.study`: the study (storage, sampler, pruner), a worker's trial loop,
  recovery of trials whose worker died;
- :mod:`.report`: ``zoo sweep show``: table, best preset, importances, plot.

This module sets a sweep up: from the command line, a preset's
``[presets.NAME.sweep]`` table, or the sweep folder's ``sweep.toml``. Optuna
is imported only once a study is opened.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..errors import ConfigError, ZooError
from .space import parse_space, train_fields
from .study import PRUNERS, STUDY_FILE, SWEEP_FILE, SweepPlan, _safe, open_study, storage_url


@dataclass
class SweepSetup:
    plan: SweepPlan
    folder: Path
    url: str
    trials: int
    registry: object = None
    echo: Callable[[str], None] = print
    registry_files: tuple = ()
    #: the first trial of a new study: the target's own setting (None: none, or a grid)
    baseline: Optional[dict] = None
    baseline_label: str = ""
    #: the ``key=value`` items of the target's own setting that the space does not hold
    outside: tuple = ()

    @property
    def safe_url(self) -> str:
        return _safe(self.url)

    def check_objective(self, backend: str) -> None:
        """Build the base model once: refuse an objective it cannot give before anything trains."""
        from ..backend import import_keras
        from ..data.loading import dataset_info
        from ..evaluation.evaluate import applicable
        from ..plugins.resolve import build_model, resolve_run
        from .objectives import SHOWN, objective

        plan = self.plan
        resolved = resolve_run(self.registry, plan.target, dataset=plan.dataset, loss=plan.loss, overrides=plan.fixed)
        goal = objective(plan.objective)
        import_keras()
        model = build_model(resolved, dataset_info(resolved))
        if goal.group not in applicable(model):
            can = [name for name in SHOWN if objective(name).group in applicable(model)]
            raise ZooError(f"--objective {goal.name} does not apply to '{resolved.config.model}' (a "
                           f"{type(model).__name__}); it can give: {', '.join(can) or 'none'}")
        del model
        import keras

        keras.backend.clear_session()

    def check_folder(self) -> Optional[dict]:
        """Refuse, before any work, a folder that is not this sweep's; returns its sweep.toml, if any."""
        folder = self.folder
        if folder.exists() and not folder.is_dir():
            raise ZooError(f"{folder} is a file; --out names the sweep's folder")
        stored = _read_definition(folder)
        if stored is None and folder.is_dir() and any(not p.name.startswith(".") for p in folder.iterdir()):
            raise ZooError(f"{folder} holds files but no {SWEEP_FILE}: it is not a zoo sweep, so zoo leaves it "
                           f"alone; choose another --out")
        if stored is not None and stored.get("sweep") != self.plan.definition():
            from .study import differences

            raise ConfigError(f"{folder} is a sweep of something else ({differences(stored.get('sweep', {}), self.plan.definition())}); "
                              f"give the same options to continue it (or just: zoo sweep {folder}), or another --out")
        return stored

    def check_storage(self) -> None:
        """A --storage URL that cannot be opened is refused before any model is built."""
        if not self.url.startswith("sqlite:///") or not self.url.endswith(f"/{STUDY_FILE}"):
            from .study import open_storage

            open_storage(self.url).remove_session()

    def create(self):
        """Make the folder and its sweep.toml (first worker), then open (or join) the study."""
        folder = self.folder
        stored = self.check_folder()
        made = not folder.exists()
        if stored is None:
            # sweep.toml first: a second worker started at the same moment sees a sweep, not a stranger's folder.
            from ..storage.files import write_error
            from ..training import write_toml

            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise write_error(folder, exc, "the sweep folder") from None
            write_toml({"study_name": self.plan.study_name, "storage": self.safe_url, "trials": self.trials,
                        "registry_files": list(self.registry_files), "sweep": self.plan.definition()},
                       folder / SWEEP_FILE)
        if stored is None and self.outside:
            self.echo(f"No trial of {self.baseline_label}: the space does not hold its {', '.join(self.outside)}")
        try:
            return open_study(self.plan, self.url, self.trials, folder=folder, baseline=self.baseline,
                              baseline_label=self.baseline_label)
        except BaseException:
            if made:  # nothing of this sweep is left behind
                import shutil

                shutil.rmtree(folder, ignore_errors=True)
            raise

    def load(self):
        return open_study(self.plan, self.url, create=False)


def _read_definition(folder: Path) -> Optional[dict]:
    path = folder / SWEEP_FILE
    if not path.is_file():
        return None
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ZooError(f"{path} cannot be read ({exc}); it is not a sweep zoo can continue") from None


def sweep_setup(registry, folder: Path, *, target: Optional[str], space_items=(), options: dict,
                dataset: Optional[str] = None, loss: Optional[str] = None, fixed: list = (),
                storage: Optional[str] = None, study_name: Optional[str] = None,
                echo: Callable[[str], None] = print, registry_files=(), baseline: bool = True) -> SweepSetup:
    """Check everything a sweep needs, before anything is written or trained.

    With ``baseline`` (and a space that is not a grid, which tries every listed value
    anyway), a new study's first trial trains the target as it is: the preset's own
    setting, or the model's defaults, with ``fixed``. Its row in the table is then
    measured exactly as every other trial is, so a sweep shows whether it beat the preset.
    """
    stored = _read_definition(folder)
    if target is None:  # continue the sweep in ``folder``
        if stored is None:
            raise ZooError(f"{folder} has no {SWEEP_FILE}; start a sweep with: zoo sweep PRESET|MODEL --space ... "
                           f"--trials N --out {folder}")
        definition = stored.get("sweep", {})
        target, dataset, loss = definition.get("target"), definition.get("dataset") or None, \
            definition.get("loss") or None
        fixed, space_items = definition.get("fixed", []), definition.get("space", {})
        options = {**{k: definition.get(k) for k in ("seeds", "objective", "pruner", "eval_num")},
                   "trials": options.get("trials") or stored.get("trials")}
        study_name = study_name or stored.get("study_name")
        storage = _stored_storage(stored, storage)
    from ..plugins.resolve import resolve_run

    dataset = _absolute_data_path(dataset)
    resolved = resolve_run(registry, target, dataset=dataset, loss=loss, overrides=fixed)
    preset = registry.find(target).spec if registry.find(target).kind == "preset" else None
    from_preset = dict(getattr(preset, "sweep", None) or {})
    if not space_items and from_preset.get("space"):
        space_items = from_preset["space"]
    for key in ("trials", "seeds", "objective", "pruner", "eval_num"):
        if options.get(key) is None and from_preset.get(key) is not None:
            options[key] = from_preset[key]
    from ..specs import config_fields

    fields = {"model": [f.name for f in config_fields(resolved.model.config)],
              "loss": [f.name for f in config_fields(resolved.loss.config)], "train": train_fields()}
    space = parse_space(space_items, fields)
    _check_values(registry, target, dataset, loss, list(fixed), space)
    trials = options.get("trials")
    if trials is None:
        raise ZooError("say how many trials: --trials N" + (f" (a grid of {space.grid_size()} settings)"
                                                             if space.is_grid else ""))
    plan = SweepPlan(target=target, space=space, dataset=dataset, loss=loss, fixed=list(fixed),
                     objective=_checked_objective(options.get("objective") or "fd"),
                     seeds=_positive(options.get("seeds") or 1, "seeds"),
                     pruner=_checked_pruner(options.get("pruner") or "median"),
                     eval_num=_positive(options.get("eval_num") or 1000, "eval_num", 2),
                     study_name=study_name or folder.resolve().name)
    own, outside, label = None, [], ""
    if baseline and not space.is_grid:
        sections = {"model": resolved.config.model_config, "loss": resolved.config.loss_config,
                    "train": resolved.config.train}
        values = {}
        for d in space.dimensions:
            section, _, name = d.key.partition(".")
            values[d.key] = getattr(sections[section], name, None)
        own, outside = space.baseline(values)
        label = f"{target}'s own setting" if preset is not None else f"{target}'s defaults"
    if storage is None and not folder.parent.exists() and not folder.exists():
        raise ZooError(f"the folder {folder.parent} does not exist; create it or choose another --out")
    return SweepSetup(plan, folder, storage_url(folder, storage), _positive(trials, "trials"), registry, echo,
                      tuple(registry_files), baseline=own, baseline_label=label, outside=tuple(outside))


def stored_registry_files(folder: Path) -> list[str]:
    """The preset files a sweep was started with (those that still exist)."""
    stored = _read_definition(folder) or {}
    return [f for f in stored.get("registry_files", []) if Path(f).is_file()]


def open_sweep(folder: Path, storage: Optional[str] = None) -> SweepSetup:
    """The sweep in ``folder``, for ``zoo sweep show`` (no registry needed)."""
    from .space import Space

    stored = _read_definition(folder)
    if stored is None:
        raise ZooError(f"{folder} is not a sweep folder (no {SWEEP_FILE}); give the --out of a zoo sweep")
    definition = stored.get("sweep", {})
    storage = _stored_storage(stored, storage)
    plan = SweepPlan(target=definition.get("target", ""), space=Space(()), objective=definition.get("objective", "fd"),
                     study_name=stored.get("study_name", folder.name), stored=definition)
    return SweepSetup(plan, folder, storage_url(folder, storage), int(stored.get("trials", 0) or 0))


def _stored_storage(stored: dict, given: Optional[str]) -> Optional[str]:
    """The storage to open: ``--storage`` if given, else the one sweep.toml names (None: the
    folder's own study.db); a URL stored without its password needs ``--storage`` again."""
    saved = stored.get("storage", "")
    if given is not None or not saved or saved.startswith("sqlite"):
        return given
    if "***" in saved:
        raise ZooError(f"the sweep's storage {saved} needs its password: give --storage URL")
    return saved


def _absolute_data_path(dataset: Optional[str]) -> Optional[str]:
    """``npz:data.npz`` -> ``npz:/abs/data.npz`` when the argument is an existing path: every trial,
    the best preset and a worker in another folder then read the same file."""
    if not dataset or ":" not in dataset:
        return dataset
    base, _, arg = dataset.partition(":")
    path = Path(arg).expanduser()
    if arg and not path.is_absolute() and path.exists():
        return f"{base}:{path.resolve()}"
    return dataset


def _check_values(registry, target, dataset, loss, fixed: list, space) -> None:
    """Every value a dimension can take must be one its key accepts (a float for an integer is refused)."""
    from ..plugins.resolve import resolve_run

    for d in space.dimensions:
        for value in d.probes():
            item = d.override(value) if d.kind != "float" else f"{d.key}={float(value)!r}"
            try:
                resolve_run(registry, target, dataset=dataset, loss=loss, overrides=[*fixed, item])
            except ConfigError as exc:
                hint = ""
                if d.kind == "float" and "must be int" in str(exc):
                    hint = f"; {d.key} takes integers: use int({int(d.low)}, {int(d.high)}) or a list"
                elif d.kind == "choice" and "must be list" in str(exc):
                    hint = f"; {d.key} takes a list, so list lists: [[4, 8], [8, 16]]"
                raise ConfigError(f"--space {d.key}={d.text}: {exc}{hint}") from None


def _checked_objective(name: str) -> str:
    from .objectives import objective

    return objective(str(name)).name


def _checked_pruner(name: str) -> str:
    if name not in PRUNERS:
        raise ZooError(f"unknown pruner '{name}'; choose from {', '.join(PRUNERS)}")
    return name


def _positive(value, key: str, least: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ZooError(f"'{key}' must be an integer of at least {least}, got {value!r}")
    return value
