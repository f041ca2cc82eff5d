"""The registry: every model, loss, data set, preset and tracker that plugins
and preset files provide, by name."""

from __future__ import annotations

import fnmatch
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from ..errors import ConfigError, DuplicateNameError, UnknownNameError, ZooError
from .manager import HOOKS, PluginInfo, Problem, call_hook, make_plugin_manager
from ..specs import DatasetSpec, LossSpec, ModelSpec, PresetSpec, TrackerSpec

KINDS = ("model", "loss", "dataset", "preset", "tracker")
PLURALS = {"models": "model", "losses": "loss", "datasets": "dataset", "presets": "preset", "trackers": "tracker"}

#: The preset file a user keeps beside their work.
LOCAL_PRESET_FILE = "zoo.toml"
#: A preset name is also the default run folder's name: no path separators, no "..".
PRESET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


@dataclass
class FileProblem(Problem):
    """A preset file that was skipped (a broken ./zoo.toml must not stop every command)."""

    def __str__(self) -> str:
        message = self.message[len(self.plugin):].lstrip(": ") if self.message.startswith(self.plugin) else self.message
        return f"{self.plugin} was skipped: {message}"


@dataclass(frozen=True)
class Entry:
    """A registered spec and where it came from."""

    kind: str
    spec: Any
    plugin: str
    distribution: Optional[str] = None
    version: Optional[str] = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def provider(self) -> str:
        if self.distribution:
            return f"{self.distribution} {self.version}" if self.version else self.distribution
        return self.plugin


class Registry:
    """Specs by kind and name, with the plugins they came from."""

    def __init__(self, plugins: dict[str, PluginInfo], problems: list[Problem]):
        self.plugins = plugins
        self.problems = problems
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        #: preset name -> the entries it replaced, oldest first
        self.shadowed: dict[str, list[Entry]] = {}

    # --- filling ---

    def add(self, kind: str, spec: Any, plugin: str, *, override: bool = False) -> None:
        if not spec.name or not isinstance(spec.name, str):
            self.problems.append(Problem(plugin, f"registered a {kind} with no name"))
            return
        info = self.plugins.get(plugin)
        entry = Entry(kind, spec, plugin, info.distribution if info else None, info.version if info else None)
        old = self._entries[kind].get(spec.name)
        if old is not None:
            if not override:
                raise DuplicateNameError(
                    f"{kind} '{spec.name}' is registered twice: by plugin '{old.plugin}' "
                    f"({old.provider}) and by plugin '{plugin}' ({entry.provider}); "
                    f"uninstall one of them or set ZOO_PLUGINS to choose"
                )
            self.shadowed.setdefault(spec.name, []).append(old)
        self._entries[kind][spec.name] = entry

    def add_preset_file(self, path: os.PathLike | str) -> None:
        """Add presets from a TOML file. A preset that already exists is
        overridden key by key: the file only needs to name what changes.
        A file with any bad preset adds none of them."""
        specs = []
        for name, table in read_preset_tables(path).items():
            old = self._entries["preset"].get(name)
            specs.append(preset_from_table(name, table, str(path), base=old.spec if old else None))
        for spec in specs:
            self.add("preset", spec, spec.origin, override=True)

    # --- looking up ---

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def entries(self, kind: str, pattern: str = "*") -> list[Entry]:
        """Entries of one kind whose names match a shell-style wildcard."""
        return [
            self._entries[kind][n] for n in self.names(kind) if fnmatch.fnmatchcase(n, pattern)
        ]

    def get(self, kind: str, name: str) -> Entry:
        try:
            return self._entries[kind][name]
        except KeyError:
            hint = ""
            others = [k for k in KINDS if k != kind and name in self._entries[k]]
            if others:
                hint = f"('{name}' is a {others[0]}, not a {kind})"
            hint = (hint + self.hidden_note()).strip()
            raise UnknownNameError(kind, name, self._entries[kind], hint) from None

    def find(self, name: str) -> Entry:
        """Look a name up across kinds: presets first, then models, losses, data sets, trackers."""
        for kind in ("preset", "model", "loss", "dataset", "tracker"):
            if name in self._entries[kind]:
                return self._entries[kind][name]
        everything = {n for kind in KINDS for n in self._entries[kind]}
        raise UnknownNameError("name", name, everything, "(see 'zoo list')" + self.hidden_note())

    def model(self, name: str) -> ModelSpec:
        return self.get("model", name).spec

    def loss(self, name: str) -> LossSpec:
        return self.get("loss", name).spec

    def dataset(self, name: str) -> DatasetSpec:
        return self.get("dataset", name).spec

    def preset(self, name: str) -> PresetSpec:
        return self.get("preset", name).spec

    def tracker(self, name: str) -> TrackerSpec:
        return self.get("tracker", name).spec

    def preset_problem(self, preset: PresetSpec) -> Optional[str]:
        """Why a preset cannot run here (a missing model, loss or data set), or None."""
        needed = [("model", preset.model), ("dataset", preset.dataset.split(":", 1)[0])]
        if preset.loss:
            needed.append(("loss", preset.loss))
        missing = [f"{kind} '{name}'" for kind, name in needed if name not in self._entries[kind]]
        if missing:
            return f"needs {' and '.join(missing)}, which no installed plugin provides{self.hidden_note()}"
        return None

    def hidden_note(self) -> str:
        """" (ZOO_PLUGINS=... leaves out the installed plugins a, b)" when it does, else ""."""
        from .manager import NOT_SELECTED, SELECT_ENV

        left_out = sorted(name for name, info in self.plugins.items() if info.status == NOT_SELECTED)
        if not left_out:
            return ""
        return f" ({SELECT_ENV}={os.environ.get(SELECT_ENV, '')} leaves out the installed plugins {', '.join(left_out)})"


# === Preset files ===

_PRESET_KEYS = {"description", "model", "dataset", "loss", "train", "weights", "sweep"}
_SWEEP_KEYS = {"space", "trials", "seeds", "objective", "pruner", "eval_num"}


def _named_table(value: Any, key: str, where: str) -> tuple[Optional[str], dict]:
    """``model = "vae"`` or ``[..model] name = "vae" latent_dim = 2``."""
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict):
        options = dict(value)
        name = options.pop("name", None)
        if name is not None and not isinstance(name, str):
            raise ConfigError(f"{where}: '{key}.name' must be a string")
        return name, options
    raise ConfigError(f"{where}: '{key}' must be a name or a table, got {type(value).__name__}")


def preset_from_table(name: str, table: dict, origin: str, base: Optional[PresetSpec] = None) -> PresetSpec:
    """Make a preset from a TOML table; with ``base``, the table overrides it."""
    where = f"{origin}: preset '{name}'"
    if not PRESET_NAME.match(name) or ".." in name:
        raise ConfigError(
            f"{where}: a preset name may hold only letters, digits and . _ + - (no '/' or '..'), "
            f"as it names the run folder; rename it"
        )
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(table) - _PRESET_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown key '{sorted(unknown)[0]}'; allowed keys: {', '.join(sorted(_PRESET_KEYS))}"
        )
    model, model_config = _named_table(table.get("model", {}), "model", where)
    dataset, dataset_options = _named_table(table.get("dataset", {}), "dataset", where)
    if dataset_options:
        raise ConfigError(f"{where}: 'dataset' takes only 'name'; put data options under 'train'")
    loss, loss_config = _named_table(table.get("loss", {}), "loss", where)
    train = table.get("train", {})
    if not isinstance(train, dict):
        raise ConfigError(f"{where}: 'train' must be a table")
    description = table.get("description", base.description if base else "")
    if not isinstance(description, str):
        raise ConfigError(f"{where}: 'description' must be a string")
    weights = check_weights(table["weights"], where, origin) if "weights" in table else None
    sweep = _sweep_table(table.get("sweep", base.sweep if base else {}), where)
    if base is not None:
        if "weights" not in table and set(table) <= {"description", "sweep"}:
            weights = base.weights  # the same recipe: its weights still apply
        model_config = {**base.model_config, **model_config} if model in (None, base.model) else model_config
        loss_config = {**base.loss_config, **loss_config} if loss in (None, base.loss) else loss_config
        train = {**base.train, **train}
        model = model or base.model
        dataset = dataset or base.dataset
        loss = loss or base.loss
    if not model:
        raise ConfigError(f"{where}: no model; add  model = \"MODEL-NAME\"")
    if not dataset:
        raise ConfigError(f"{where}: no dataset; add  dataset = \"DATASET-NAME\"")
    return PresetSpec(
        name=name,
        description=description,
        model=model,
        dataset=dataset,
        loss=loss,
        model_config=model_config,
        loss_config=loss_config,
        train=train,
        origin=origin,
        weights=weights,
        sweep=sweep,
    )


def _sweep_table(value: Any, where: str) -> dict:
    """A preset's ``[presets.NAME.sweep]`` table (checked in full by ``zoo sweep``)."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: 'sweep' must be a table with a 'space' table of KEY = \"DIST\"")
    unknown = set(value) - _SWEEP_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key 'sweep.{sorted(unknown)[0]}'; allowed: {', '.join(sorted(_SWEEP_KEYS))}")
    if "space" in value and not isinstance(value["space"], dict):
        raise ConfigError(f"{where}: 'sweep.space' must be a table of KEY = \"DIST\" "
                          f"(e.g. learning_rate = \"loguniform(1e-5, 1e-3)\")")
    return dict(value)


def check_weights(value: Any, where: str, origin: str = "") -> Optional[dict]:
    """A preset's ``weights = { uri = "...", sha256 = "..." }`` (or ``false``: none).
    A relative path is relative to the preset file that names it."""
    from ..storage.sources import check_sha256, is_remote

    if value is False:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("uri"), str) or not value["uri"]:
        raise ConfigError(f'{where}: \'weights\' must be a table like {{ uri = "https://.../model.zip", '
                          f'sha256 = "..." }}')
    unknown = set(value) - {"uri", "sha256"}
    if unknown:
        raise ConfigError(f"{where}: unknown key 'weights.{sorted(unknown)[0]}'; allowed: uri, sha256")
    uri = value["uri"]
    if not is_remote(uri) and not Path(uri).expanduser().is_absolute() and origin.endswith(".toml"):
        uri = str(Path(origin).resolve().parent / uri)
    return {"uri": uri, "sha256": check_sha256(value.get("sha256"), f"{where}: weights")}


def read_preset_tables(path: os.PathLike | str) -> dict[str, dict]:
    """Read the raw ``[presets.NAME]`` tables from a TOML file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise ZooError(f"preset file {path} does not exist") from None
    except IsADirectoryError:
        raise ZooError(f"preset file {path} is a folder; give a .toml file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start} is 0x{exc.object[exc.start]:02x}); "
                          f"save it as UTF-8") from None
    except OSError as exc:
        raise ZooError(f"cannot read preset file {path}: {exc.strerror or exc}") from None
    presets = doc.get("presets", {})
    unknown = set(doc) - {"presets"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown top-level key '{sorted(unknown)[0]}'; presets go in [presets.NAME] tables"
        )
    if not isinstance(presets, dict):
        raise ConfigError(f"{path}: 'presets' must be a table of [presets.NAME] tables")
    return presets


def bundled_preset_file() -> Optional[Path]:
    """The project's ``registry.toml`` (inside the wheel, or at the source root)."""
    package = Path(__file__).resolve().parent.parent  # zoo_core/
    for candidate in (package / "registry.toml", package.parent / "registry.toml"):
        if candidate.is_file():
            return candidate
    return None


def load_registry(
    preset_files: Iterable[os.PathLike | str] = (),
    *,
    plugins: Iterable[Any] = (),
    entrypoints: bool = True,
    bundled: bool = True,
    cwd: Optional[os.PathLike | str] = None,
) -> Registry:
    """Collect everything: plugin hooks, then preset files in rising precedence
    (bundled ``registry.toml``, ``./zoo.toml``, then ``preset_files``)."""
    pm, infos, problems = make_plugin_manager(plugins, entrypoints=entrypoints)
    registry = Registry(infos, problems)
    for hook, (kind, _) in HOOKS.items():
        for plugin_name, spec in call_hook(pm, hook, problems):
            if kind == "preset" and not spec.origin:
                spec = PresetSpec(**{**spec.__dict__, "origin": f"plugin {plugin_name}"})
            registry.add(kind, spec, plugin_name)
    files: list[Path] = []
    if bundled and (b := bundled_preset_file()):
        files.append(b)
    local = Path(cwd or os.getcwd()) / LOCAL_PRESET_FILE
    for f in files:
        registry.add_preset_file(f)
    if local.is_file():
        # Read, not asked for: a broken one is reported and skipped, so that
        # every other command still works in this folder.
        try:
            registry.add_preset_file(local)
        except ZooError as exc:
            problems.append(FileProblem(str(local), f"{exc}"))
    for f in preset_files:
        registry.add_preset_file(Path(f))
    return registry


def plugin_for_module(module: str, registry) -> Optional[PluginInfo]:
    """The installed plugin whose package holds ``module``, if any."""
    top = module.split(".")[0]
    for info in registry.plugins.values():
        if info.module and info.module.split(".")[0] == top and not info.error:
            return info
    return None
