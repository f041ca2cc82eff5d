"""A sweep's search space: ``--space KEY=DIST`` in the ``--set`` key syntax.

``KEY`` is any key ``zoo train --set`` takes (``model.latent_dim``,
``train.learning_rate``, ``loss.beta``, or a bare ``epochs`` when one section
has it). ``DIST`` is one of:

- ``[a, b, c]``: one of these values (TOML values: numbers, strings, booleans,
  lists such as ``[[32, 64], [64, 128]]`` for ``filters``);
- ``uniform(low, high)`` / ``loguniform(low, high)``: a float;
- ``int(low, high)`` (both included), ``int(low, high, step)``,
  ``logint(low, high)``: an integer.

Every dimension is checked against the model, loss and train config before
anything trains: an unknown key, an empty range, a non-positive log bound or a
value the key's type refuses is one line naming the ``--space`` item.
Optuna is imported only by :meth:`Space.distributions`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from ..errors import ConfigError, ZooError
from ..plugins.config import TrainConfig, parse_overrides
from ..specs import config_fields

_CALL = re.compile(r"^\s*(uniform|loguniform|int|logint)\s*\((.*)\)\s*$", re.S)


@dataclass(frozen=True)
class Dimension:
    """One searched key: ``kind`` is ``choice``, ``float`` or ``int``."""

    key: str  # canonical: section.name
    text: str  # as the user wrote the distribution
    kind: str
    choices: tuple = ()  # for ``choice``: the values, as TOML text
    low: float = 0.0
    high: float = 0.0
    step: Optional[int] = None
    log: bool = False

    def override(self, value: Any) -> str:
        """The ``--set`` item that gives this key ``value`` (as Optuna suggested it)."""
        if self.kind == "choice":
            return f"{self.key}={value}"  # choices are kept as their TOML text
        if self.kind == "int":
            return f"{self.key}={int(value)}"
        return f"{self.key}={float(value)!r}"

    def holding(self, value: Any) -> Optional[Any]:
        """``value`` as Optuna's parameter for this dimension, or None if the space does not hold it."""
        if self.kind == "choice":
            text = _toml_text(value)
            return text if text in self.choices else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not self.low <= value <= self.high:
            return None
        if self.kind == "int":
            if not float(value).is_integer() or (self.step and (int(value) - int(self.low)) % self.step):
                return None
            return int(value)
        return float(value)

    def probes(self) -> list:
        """Values that must all be valid for the key: each choice, or both bounds
        (and, for a float range, a value between them that no integer is)."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return [int(self.low), int(self.high)]
        return [self.low, self.high, self.low + (self.high - self.low) * 0.37]


@dataclass(frozen=True)
class Space:
    dimensions: tuple[Dimension, ...]

    @property
    def is_grid(self) -> bool:
        """Every dimension lists its values: search them all (a grid)."""
        return bool(self.dimensions) and all(d.kind == "choice" for d in self.dimensions)

    def grid_size(self) -> int:
        size = 1
        for d in self.dimensions:
            size *= len(d.choices)
        return size

    def as_dict(self) -> dict:
        return {d.key: d.text for d in self.dimensions}

    def distributions(self) -> dict:
        """Optuna's distributions, by key."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        out = {}
        for d in self.dimensions:
            if d.kind == "choice":
                out[d.key] = CategoricalDistribution(list(d.choices))
            elif d.kind == "int":
                out[d.key] = IntDistribution(int(d.low), int(d.high), log=d.log, step=d.step or 1)
            else:
                out[d.key] = FloatDistribution(d.low, d.high, log=d.log)
        return out

    def grid(self) -> dict:
        """The values of every dimension, for Optuna's GridSampler."""
        return {d.key: list(d.choices) for d in self.dimensions}

    def baseline(self, values: dict) -> tuple[Optional[dict], list[str]]:
        """The trial that trains ``values`` (key -> the value a run takes without the space),
        or None and the ``key=value`` items the space does not hold."""
        params, outside = {}, []
        for d in self.dimensions:
            held = d.holding(values.get(d.key))
            if held is None:
                outside.append(f"{d.key}={_toml_text(values.get(d.key))}")
            params[d.key] = held
        return (None if outside else params), outside

    def overrides(self, params: dict) -> list[str]:
        return [d.override(params[d.key]) for d in self.dimensions]


def parse_space(items: Iterable[str] | dict, section_fields: dict[str, list[str]]) -> Space:
    """Parse ``--space`` items (or a preset's ``[sweep.space]`` table: key -> text)."""
    pairs = list(items.items()) if isinstance(items, dict) else [_split(item) for item in items]
    dimensions: list[Dimension] = []
    for key, text in pairs:
        where = f"--space {key}={text}"
        if not isinstance(text, str):
            text = _toml_text(text)
        try:
            found = parse_overrides([f"{key}=0"], section_fields)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        section = next(s for s, values in found.items() if values)
        canonical = f"{section}.{next(iter(found[section]))}"
        if any(d.key == canonical for d in dimensions):
            raise ConfigError(f"{where}: {canonical} is searched twice; give each key one --space")
        dimensions.append(_dimension(canonical, text.strip(), where))
    if not dimensions:
        raise ZooError("a sweep needs a search space: --space KEY=DIST (e.g. --space train.learning_rate="
                       "'loguniform(1e-5,1e-3)'), or a [presets.NAME.sweep] table in a preset file")
    return Space(tuple(dimensions))


def _split(item: str) -> tuple[str, str]:
    key, sep, text = item.partition("=")
    if not sep or not key.strip() or not text.strip():
        raise ConfigError(f"--space expects KEY=DIST such as latent_dim=[16,32] or learning_rate="
                          f"loguniform(1e-5,1e-3), got '{item}'")
    return key.strip(), text


def _dimension(key: str, text: str, where: str) -> Dimension:
    if text.startswith("["):
        values = _toml_value(text, where)
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: a list of values needs at least one value, e.g. [16, 32, 64]")
        choices = tuple(dict.fromkeys(_toml_text(v) for v in values))
        if len(choices) < len(values):
            raise ConfigError(f"{where}: a value is listed twice; list each once")
        return Dimension(key, text, "choice", choices=choices)
    match = _CALL.match(text)
    if not match:
        raise ConfigError(f"{where}: unknown distribution; use [a, b, ...], uniform(low, high), "
                          f"loguniform(low, high), int(low, high[, step]) or logint(low, high)")
    name, args = match.group(1), [a.strip() for a in match.group(2).split(",")]
    numbers = []
    for arg in args:
        try:
            numbers.append(float(arg) if name in ("uniform", "loguniform") else _integer(arg))
        except ValueError:
            kind = "numbers" if name in ("uniform", "loguniform") else "integers"
            raise ConfigError(f"{where}: {name}() takes {kind}, got '{arg}'") from None
    wanted = (2, 3) if name == "int" else (2,)
    if len(numbers) not in wanted:
        form = f"{name}(low, high{', step' if name == 'int' else ''})"
        raise ConfigError(f"{where}: write {form}")
    low, high = numbers[0], numbers[1]
    if not low < high:
        raise ConfigError(f"{where}: the range is empty (low {args[0]} is not below high {args[1]})")
    log = name.startswith("log")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log scale needs a positive low bound, got {args[0]}")
    if name in ("uniform", "loguniform"):
        return Dimension(key, text, "float", low=low, high=high, log=log)
    step = numbers[2] if len(numbers) == 3 else None
    if step is not None and (step < 1 or (high - low) % step):
        raise ConfigError(f"{where}: the step must be a positive integer that divides high - low")
    return Dimension(key, text, "int", low=low, high=high, step=step, log=log)


def _integer(text: str) -> int:
    value = float(text)
    if not value.is_integer():
        raise ValueError(text)
    return int(value)


def _toml_value(text: str, where: str) -> Any:
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not a TOML list ({exc}); write strings in quotes: [\"adam\", \"sgd\"]") from None


def _toml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_text(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def train_fields() -> list[str]:
    return [f.name for f in config_fields(TrainConfig)]
