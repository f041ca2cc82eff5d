"""Configs: dataclasses filled from presets, TOML and ``--set key=value``,
with every key and type checked."""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping, Optional

from ..errors import ConfigError
from ..specs import config_fields

# === Types ===


def type_name(tp: Any) -> str:
    """How a type reads in an error message."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" or none" if type(None) in args else "")
    if origin in (tuple, list):
        inner = args[0] if args else Any
        return f"list of {type_name(inner)}"
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against ``tp``; return it converted (int -> float,
    list -> tuple). Raise ConfigError naming ``key`` and the expected type."""

    def bad() -> ConfigError:
        return ConfigError(f"'{key}' must be {type_name(tp)}, got {value!r}")

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
            raise bad()
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, key)
            except ConfigError:
                pass
        raise bad()
    if origin is Literal:
        if value in args and not isinstance(value, bool):
            return value
        raise bad()
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [_parse_scalar(v.strip()) for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise bad()
        inner = args[0] if args else Any
        try:
            items = tuple(coerce(v, inner, key) for v in value)
        except ConfigError:
            raise bad() from None
        return items if origin is tuple else list(items)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad()
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad()
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:  # an integer past float's range
                number = math.inf
            # No option takes inf or nan (none means "no limit"), and one would only
            # surface later as a NaN loss, blamed on the learning rate.
            if not math.isfinite(number):
                raise ConfigError(f"'{key}' must be a finite number, got {value!r}")
            return number
        raise bad()
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad()
    if isinstance(tp, type) and not isinstance(value, tp):
        raise bad()
    return value


def _parse_scalar(text: str) -> Any:
    """Read a command-line value as TOML (``3``, ``1e-3``, ``true``, ``[1, 2]``),
    falling back to the plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def make_config(config_type: type, values: Mapping[str, Any], section: str = "") -> Any:
    """Build a config dataclass from ``values``, checking keys and types."""
    hints = typing.get_type_hints(config_type) if dataclasses.is_dataclass(config_type) else {}
    names = [f.name for f in config_fields(config_type)]
    prefix = f"{section}." if section else ""
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            raise unknown_key(prefix + key, [prefix + n for n in names])
        kwargs[key] = coerce(value, hints[key], prefix + key)
    try:
        return config_type(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad {section or 'config'} value: {exc}") from None


def unknown_key(key: str, known: Iterable[str]) -> ConfigError:
    known = sorted(known)
    close = difflib.get_close_matches(key, known, n=2, cutoff=0.6)
    if close:
        return ConfigError(f"unknown key '{key}'; did you mean {' or '.join(close)}?")
    return ConfigError(f"unknown key '{key}'; valid keys: {', '.join(known) or '(none)'}")


def config_dict(config: Any) -> dict:
    """A config dataclass as a plain dict (tuples as lists, for TOML)."""

    def plain(v: Any) -> Any:
        return list(v) if isinstance(v, tuple) else v

    return {f.name: plain(getattr(config, f.name)) for f in config_fields(type(config))}


# === Training settings ===

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    """Training settings shared by every model.

    Attributes:
        epochs: passes over the training data.
        batch_size: images per step.
        optimizer: one of ``adam``, ``adamw``, ``rmsprop``, ``sgd``.
        learning_rate: the optimizer's step size.
        beta_1: Adam's first-moment decay (0.5 is usual for GANs).
        beta_2: Adam's second-moment decay.
        seed: fixes initialisation, data order and sampling.
        image_size: resize images to this height and width (None keeps the data's size).
        max_train_examples: use only the first N training images (quick trials).
        crop: cut each image to its centred largest square before resizing it to
            ``image_size`` (data sets whose loader takes ``crop``, e.g. ``folder:``);
            without it, non-square images are stretched.
        flip: flip each training image left-right with probability 1/2, drawn anew
            every epoch from the seed and the epoch (so a resumed run sees the same
            flips); the test split and the grids are never flipped.
        stream: read the images from disk a batch at a time, through zoo's 8-bit
            on-disk cache (``$ZOO_CACHE_DIR/data``), so memory stays flat however
            large the data set. None (the default): as the data set's loader
            chooses (``folder:`` streams, the built-in sets are held in memory);
            true: stream any 8-bit data set; false: hold it in memory as float32.
        validation: evaluate the loss on the test split after each epoch.
        grid_size: the sample grids are ``grid_size`` x ``grid_size`` images.
        checkpoint_every_steps: also checkpoint every N batches, not only at the end of
            each epoch (None: epochs only).
        steps_per_execution: batches per compiled call (None: zoo's measured default
            for the backend and device; PyTorch takes only 1).
        jit_compile: compile the train step with XLA (None: zoo's default per backend
            and device; JAX always compiles).
        precision: ``float32``, or a mixed-precision policy (``mixed_float16``,
            ``mixed_bfloat16``) for GPUs/TPUs; on a CPU only bfloat16 with native support (AMX, AVX512-BF16) pays.
        distribute: ``none``, or ``data-parallel`` to split each batch over every
            device, with each backend's own engine (JAX: Keras' distribution API;
            TensorFlow: ``tf.distribute``; PyTorch: ``torch.distributed`` under torchrun).
    """

    epochs: int = 10
    batch_size: int = 128
    optimizer: Literal["adam", "adamw", "rmsprop", "sgd"] = "adam"
    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.999
    seed: int = 0
    image_size: Optional[int] = None
    max_train_examples: Optional[int] = None
    crop: bool = False
    flip: bool = False
    stream: Optional[bool] = None
    validation: bool = True
    grid_size: int = 8
    checkpoint_every_steps: Optional[int] = None
    steps_per_execution: Optional[int] = None
    jit_compile: Optional[bool] = None
    precision: Literal["float32", "mixed_float16", "mixed_bfloat16"] = "float32"
    distribute: Literal["none", "data-parallel"] = "none"

    def __post_init__(self) -> None:
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "grid_size": self.grid_size}
        for key, value in positive.items():
            if value < 1:
                raise ConfigError(f"'train.{key}' must be at least 1, got {value}")
        if not 0 < self.learning_rate < float("inf"):
            raise ConfigError(f"'train.learning_rate' must be positive and finite, got {self.learning_rate}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"'train.seed' must be from 0 to 2**32-1 (4294967295), got {self.seed}")
        for key in ("beta_1", "beta_2"):
            if not 0 <= getattr(self, key) < 1:
                raise ConfigError(f"'train.{key}' must be in [0, 1), got {getattr(self, key)}")
        if self.image_size is not None and self.image_size < 1:
            raise ConfigError(f"'train.image_size' must be at least 1, got {self.image_size}")
        if self.steps_per_execution is not None and self.steps_per_execution < 1:
            raise ConfigError(f"'train.steps_per_execution' must be at least 1, got {self.steps_per_execution}")
        if self.checkpoint_every_steps is not None and self.checkpoint_every_steps < 1:
            raise ConfigError(
                f"'train.checkpoint_every_steps' must be at least 1, got {self.checkpoint_every_steps}"
            )
        if self.max_train_examples is not None and self.max_train_examples < 1:
            raise ConfigError(
                f"'train.max_train_examples' must be at least 1, got {self.max_train_examples}"
            )


# === A whole run ===

SECTIONS = ("model", "loss", "train")


@dataclass
class RunConfig:
    """Everything that defines a training run, resolved and checked."""

    model: str
    model_config: Any
    loss: str
    loss_config: Any
    dataset: str
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: Optional[str] = None

    def to_dict(self) -> dict:
        doc: dict = {}
        if self.preset:
            doc["preset"] = self.preset
        doc["dataset"] = self.dataset
        doc["model"] = {"name": self.model, **config_dict(self.model_config)}
        doc["loss"] = {"name": self.loss, **config_dict(self.loss_config)}
        doc["train"] = config_dict(self.train)
        return doc


def parse_overrides(
    items: Iterable[str], section_fields: Mapping[str, Iterable[str]]
) -> dict[str, dict[str, Any]]:
    """Turn ``["latent_dim=16", "loss.beta=4"]`` into ``{"model": {...}, "loss": {...}}``.

    A bare key goes to the one section that has it; a key in several sections
    must be qualified (``model.x``/``loss.x``/``train.x``).
    """
    out: dict[str, dict[str, Any]] = {s: {} for s in section_fields}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got '{item}'")
        section, dot, name = key.partition(".")
        if dot:
            if section not in section_fields:
                raise ConfigError(
                    f"unknown section '{section}' in '{key}'; use one of {', '.join(section_fields)}"
                )
            if name not in section_fields[section]:
                raise unknown_key(key, [f"{section}.{f}" for f in section_fields[section]])
        else:
            name = key
            owners = [s for s, fields in section_fields.items() if key in fields]
            if not owners:
                every = [f for fields in section_fields.values() for f in fields]
                raise unknown_key(key, every)
            if len(owners) > 1:
                raise ConfigError(
                    f"'{key}' is ambiguous; write {' or '.join(f'{s}.{key}' for s in owners)}"
                )
            section = owners[0]
        out[section][name] = _parse_scalar(text.strip())
    return out
