"""Opening run folders and loading saved models, safely.

A ``.keras`` file names the module of its model class. zoo imports that
module only when it belongs to an installed zoo plugin, then loads the file
with Keras' safe mode on (no arbitrary code from the file runs).
"""

from __future__ import annotations

import importlib
import json
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from .errors import ZooError

CONFIG_FILE = "config.toml"
MODEL_FILE = "model.keras"


@dataclass
class Run:
    """A run folder (or a bare ``.keras`` file, with no config)."""

    path: Path
    model_path: Path
    config: dict

    @property
    def name(self) -> str:
        return self.path.name if self.path.is_dir() else self.path.stem

    @property
    def dataset(self) -> Optional[str]:
        return self.config.get("dataset")


def open_run(path: str | Path) -> Run:
    """A run folder or a ``.keras`` file; fails clearly when it is neither."""
    path = Path(path).expanduser()
    if path.is_dir():
        model_path = path / MODEL_FILE
        config_path = path / CONFIG_FILE
        if not config_path.is_file():
            raise ZooError(f"{path} is not a zoo run folder: it has no {CONFIG_FILE}")
        try:
            config = tomllib.loads(config_path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ZooError(f"{config_path} is damaged: {exc}") from None
        if not model_path.is_file():
            raise ZooError(f"{path} has no {MODEL_FILE}: the run did not finish")
        return Run(path, model_path, config)
    if path.is_file():
        if path.suffix != ".keras":
            raise ZooError(f"{path} is not a run folder or a .keras file")
        return Run(path, path, {})
    raise ZooError(f"{path} does not exist; give a run folder (runs/NAME-...) or a .keras file")


def keras_file_config(path: Path) -> dict:
    """The model config stored inside a ``.keras`` file, without Keras."""
    if not zipfile.is_zipfile(path):
        raise ZooError(f"{path} is not a .keras file (corrupt, truncated or another format)")
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except (KeyError, zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ZooError(f"{path} is not a valid .keras file: {exc}") from None


def plugin_for_module(module: str, registry) -> Optional[Any]:
    """The installed plugin whose package holds ``module``, if any."""
    top = module.split(".")[0]
    for info in registry.plugins.values():
        if info.module and info.module.split(".")[0] == top and not info.error:
            return info
    return None


def check_model_file(path: Path, registry, config: Optional[dict] = None) -> str:
    """Check, without Keras, that ``path`` is a ``.keras`` file whose model
    class an installed plugin provides; returns the class's module.

    Raises ZooError for a damaged or foreign file, or naming the distribution
    to install (from the run's ``config``) when the plugin is missing.
    """
    stored = keras_file_config(path)
    module = stored.get("module") or ""
    class_name = stored.get("class_name", "?")
    if not module.startswith("keras") and plugin_for_module(module, registry) is None:
        needed = (config or {}).get("zoo", {}).get("plugins", {}).get("model")
        hint = f"install {needed.split()[0]} (the run used {needed})" if needed else "install the plugin that provides it"
        raise ZooError(
            f"{path} holds a {class_name} from '{module}', which no installed "
            f"zoo plugin provides; {hint}"
        )
    return module


def load_model(run: Run, registry=None):
    """Load a run's model with Keras' safe mode on.

    Raises ZooError for a damaged file, or for a model whose plugin is not
    installed (naming the distribution the run was trained with).
    """
    if registry is None:
        from .registry import load_registry

        registry = load_registry()
    from .backend import import_keras, keras_without_tensorflow

    module = check_model_file(run.model_path, registry, run.config)
    keras = import_keras()
    if not module.startswith("keras"):
        importlib.import_module(module)

    try:
        with keras_without_tensorflow():
            return keras.saving.load_model(run.model_path, safe_mode=True)
    except ValueError as exc:
        if "safe_mode" in str(exc) or "unsafe" in str(exc).lower():
            raise ZooError(
                f"{run.model_path} would run code stored in the file (a Lambda layer or similar) "
                f"when loaded; zoo loads models only in Keras' safe mode"
            ) from None
        raise ZooError(f"cannot load {run.model_path}: {exc}") from None
    except (OSError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise ZooError(f"cannot load {run.model_path}: {type(exc).__name__}: {exc}") from None
