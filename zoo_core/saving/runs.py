"""Opening run folders and loading saved models, safely.

A ``.keras`` file names the module of its model class. zoo imports that
module only when it belongs to an installed zoo plugin, then loads the file
with Keras' safe mode on (no arbitrary code from the file runs).

An exported model (:mod:`zoo_core.saving.hub`) holds weights only: zoo builds the
model from its ``config.toml`` with the installed plugin's spec, then reads
the arrays into it, after checking every file's checksum.
"""

from __future__ import annotations

import importlib
import json
import os
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..plugins.registry import plugin_for_module  # noqa: F401  (also imported from here)
from ..errors import ZooError
from .sizes import check_size, count_parameters, keras_weights_bytes, sharing_scope

CONFIG_FILE = "config.toml"
MODEL_FILE = "model.keras"


@dataclass
class Run:
    """A run folder (or a bare ``.keras`` file, with no config)."""

    path: Path
    model_path: Path
    config: dict
    #: An exported model's metadata.json (None for a run folder or .keras file).
    metadata: Optional[dict] = None
    #: What the user named (a URL, a preset), when the path is a copy in zoo's cache.
    source: Optional[str] = None

    @property
    def name(self) -> str:
        if self.metadata is not None:
            return str(self.metadata.get("name") or self.path.name)
        return self.path.name if self.path.is_dir() else self.path.stem

    @property
    def exported(self) -> bool:
        """An exported model: weights only, published as it is (zoo writes nothing into it)."""
        return self.metadata is not None

    @property
    def label(self) -> str:
        return self.source or str(self.path)

    @property
    def dataset(self) -> Optional[str]:
        return self.config.get("dataset")


def check_source(source: Any) -> None:
    """Refuse a source that is not a path or text, or is empty (which a path
    would quietly read as the current folder)."""
    if isinstance(source, bytes) or not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a str or a path (a run folder, export, URL or preset name), "
                        f"not {type(source).__name__}")
    if not str(source).strip():
        raise ZooError("source is empty: give a run folder, export, URL or preset name")


def open_run(path: str | Path) -> Run:
    """A run folder or a ``.keras`` file; fails clearly when it is neither."""
    check_source(path)
    path = Path(path).expanduser()
    from . import hub

    if hub.is_exported_folder(path):
        metadata = hub.verify_folder(path)
        return Run(path, path / hub.WEIGHTS_FILE, hub.config_of(path), metadata=metadata)
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


def open_source(source: str | Path, registry=None, *, pretrained: bool = False, echo=print) -> Run:
    """What every command that reads a model opens: a run folder, a ``.keras``
    file, an exported model (folder or ``.zip``), a URL, ``hf://owner/name``,
    ``package://MODULE/PATH``, or with ``pretrained`` a preset's published
    weights. Remote files are fetched once into zoo's cache and verified."""
    from . import hub

    check_source(source)
    text = str(source)
    if pretrained:
        if registry is None:
            from ..plugins.registry import load_registry

            registry = load_registry()
        from .presets import preset_source

        run = open_run(preset_source(registry, text, echo))
        run.source = f"{text} (pretrained)"
        return run
    local = Path(text).expanduser()
    if hub.is_remote(text) or (local.is_file() and local.suffix.lower() == ".zip"):
        run = open_run(hub.fetch(text, registry=registry, echo=echo))
        run.source = text
        return run
    path = Path(text).expanduser()
    if not path.exists() and registry is not None:
        try:
            entry = registry.find(text)
        except ZooError:
            entry = None
        if entry is not None and entry.kind == "preset":
            has = "add --pretrained to use its published weights" if entry.spec.weights else (
                f"it has no published weights: train it first with 'zoo train {text}'")
            raise ZooError(f"'{text}' is a preset, not a run folder; {has}")
    return open_run(path)


def keras_file_config(path: Path) -> dict:
    """The model config stored inside a ``.keras`` file, without Keras."""
    if not zipfile.is_zipfile(path):
        raise ZooError(f"{path} is not a .keras file (corrupt, truncated or another format)")
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except RecursionError:
        raise ZooError(f"{path} is not a valid .keras file: its config.json is nested too deeply") from None
    except (KeyError, zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ZooError(f"{path} is not a valid .keras file: {exc}") from None


def _lambda_functions(config: Any):
    """For each Lambda layer in a saved config: the name of the function it
    calls, or None for code stored in the file (or anything else). A walk
    with a stack: a file's nesting must not exhaust Python's recursion."""
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            inner = item.get("config")
            if item.get("class_name") == "Lambda" and isinstance(inner, dict):
                function = inner.get("function")
                named = isinstance(function, dict) and function.get("class_name") == "function"
                yield str(function.get("config")) if named else None
            stack.extend(item.values())


def check_model_file(path: Path, registry, config: Optional[dict] = None) -> str:
    """Check, without Keras, that ``path`` is a ``.keras`` file whose model
    class an installed plugin provides; returns the class's module.

    Raises ZooError for a damaged or foreign file, or naming the distribution
    to install (from the run's ``config``) when the plugin is missing.
    """
    stored = keras_file_config(path)
    for function in _lambda_functions(stored):
        if function is None:  # Keras refuses these in safe mode; say it before importing anything
            raise ZooError(f"{path} would run code stored in the file (a Lambda layer or similar) "
                           f"when loaded; zoo loads models only in Keras' safe mode")
        raise ZooError(f"{path} would run code the file names (a Lambda layer calling '{function}') when loaded; "
                       f"zoo loads models only in Keras' safe mode, which runs no Lambda layers")
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

    Raises ZooError for a damaged file, for a model whose plugin is not
    installed (naming the distribution the run was trained with), for a Lambda
    layer, or for a config that asks for far more weights than the file holds.
    """
    if registry is None:
        from ..plugins.registry import load_registry

        registry = load_registry()
    from ..backend import import_keras, keras_without_tensorflow

    if run.exported:
        return load_exported(run, registry)
    module = check_model_file(run.model_path, registry, run.config)
    keras = import_keras()
    if not module.startswith("keras"):
        importlib.import_module(module)

    with keras_without_tensorflow():
        stored = keras_file_config(run.model_path)
        stored["compile_config"] = None  # the optimizer holds no weights of the model

        def deserialize():
            with sharing_scope():
                return keras.saving.deserialize_keras_object(stored, safe_mode=True)

        check_size(count_parameters(deserialize), keras_weights_bytes(run.model_path),
                   run.source or str(run.model_path))
        try:
            return keras.saving.load_model(run.model_path, safe_mode=True)
        except ValueError as exc:
            if "safe_mode" in str(exc) or "unsafe" in str(exc).lower():
                raise ZooError(
                    f"{run.model_path} would run code stored in the file (a Lambda layer or similar) "
                    f"when loaded; zoo loads models only in Keras' safe mode"
                ) from None
            raise ZooError(f"cannot load {run.model_path}: {root_cause(exc)}") from None
        except (OSError, KeyError, TypeError, RecursionError, zipfile.BadZipFile) as exc:
            raise ZooError(f"cannot load {run.model_path}: {type(exc).__name__}: {root_cause(exc)}") from None


def build_from_config(config: dict, registry, label: str, weights_bytes: Optional[int] = None):
    """A fresh, untrained model for a run's ``config.toml`` (its model, loss and
    [data] shape), built by the installed plugin's spec: no optimizer, no weights read.

    With ``weights_bytes`` (the size of the weights file the config came with),
    the model is first counted without allocating it, and refused when it has
    far more parameters than that file can hold (a damaged or hostile config
    would otherwise take the machine's memory before failing).
    """
    from ..backend import import_keras
    from ..plugins.resolve import resolve_stored
    from ..specs import DataInfo
    from ..plugins.resolve import build_model

    try:
        resolved = resolve_stored(registry, config, need_dataset=False)
    except (AttributeError, TypeError, ValueError) as exc:
        raise ZooError(f"{label} is damaged: its {CONFIG_FILE} does not read as a zoo config ({exc})") from None
    data = config.get("data") or {}
    if not isinstance(data, dict):
        data = {}
    try:
        shape = tuple(int(d) for d in data["image_shape"])
        classes = int(data["num_classes"]) if data.get("num_classes") else None
        if len(shape) != 3 or not all(1 <= d <= 8192 for d in shape) or shape[2] not in (1, 3):
            raise ValueError(shape)
    except (KeyError, TypeError, ValueError):
        raise ZooError(f"{label} is damaged: its {CONFIG_FILE} records no [data] image_shape") from None
    import_keras()
    info = DataInfo(shape, classes)
    if weights_bytes is not None:
        check_size(count_parameters(lambda: build_model(resolved, info)), weights_bytes, label)
    return build_model(resolved, info)


def load_exported(run: Run, registry):
    """Build an exported model from its config with the installed plugin's
    spec and read its weights (arrays only) into it."""
    import warnings

    model = build_from_config(run.config, registry, run.label, weights_bytes=run.model_path.stat().st_size)
    built = f"{type(model).__module__}.{type(model).__name__}"
    expected = run.metadata.get("model_class")
    if expected and built != expected:
        raise ZooError(f"{run.label} was exported from a {expected}, but the installed plugin builds a {built} "
                       f"for its config; install the plugin versions it names "
                       f"({run.metadata.get('trained', {}).get('plugins') or 'see its metadata.json'})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(run.model_path)
        except Exception as exc:  # h5py and Keras raise many types for a damaged or foreign file
            raise ZooError(f"cannot load the weights of {run.label}: {type(exc).__name__}: {exc}") from None
    skipped = [str(w.message) for w in caught if "skipping" in str(w.message).lower()
               or "mismatch" in str(w.message).lower()]
    if skipped:
        raise ZooError(f"cannot load the weights of {run.label}: they do not fit the model its config builds "
                       f"({skipped[0].strip().splitlines()[0]})")
    return model


def root_cause(exc: BaseException) -> str:
    """The first line of the innermost reason in a Keras message (which nests
    each enclosing object's advice around it), at most about 300 characters."""
    text = str(exc)
    marker = "Exception encountered: "
    if marker in text:
        text = text.rsplit(marker, 1)[1]
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[0] if lines else type(exc).__name__
    # Keras quotes the offending values, which a file can make as long as it likes.
    return line if len(line) <= 300 else line[:300] + " ..."
