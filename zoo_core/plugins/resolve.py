"""From ``zoo train NAME --set ...`` to a checked :class:`RunConfig`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from .config import RunConfig, TrainConfig, make_config, parse_overrides
from ..errors import ConfigError, ZooError
from .registry import Registry
from ..specs import DatasetSpec, LossSpec, ModelSpec, config_fields


@dataclass
class ResolvedRun:
    """A run's config with the specs it names."""

    config: RunConfig
    model: ModelSpec
    loss: LossSpec
    dataset: DatasetSpec
    dataset_arg: Optional[str]
    #: "model"/"loss"/"dataset" -> the distribution (and version) that provides it
    providers: dict = field(default_factory=dict)


def split_dataset(name: str) -> tuple[str, Optional[str]]:
    """``"npz:data/x.npz"`` -> ``("npz", "data/x.npz")``."""
    base, sep, arg = name.partition(":")
    return base, (arg if sep else None)


def resolve_run(
    registry: Registry,
    target: str,
    *,
    dataset: Optional[str] = None,
    loss: Optional[str] = None,
    overrides: Iterable[str] = (),
    train: Optional[Mapping[str, Any]] = None,
    require_dataset: bool = True,
    require_dataset_arg: bool = True,
) -> ResolvedRun:
    """Resolve a preset or model name plus command-line changes.

    Precedence, lowest first: config defaults, the model's default loss
    options, the preset, command-line options (``--epochs``...), ``--set``.
    """
    entry = registry.find(target) if target else None
    if entry is None or entry.kind not in ("preset", "model"):
        kind = entry.kind if entry else "name"
        raise ZooError(f"'{target}' is a {kind}; give a preset or a model (see 'zoo list presets')")

    preset = entry.spec if entry.kind == "preset" else None
    model_name = preset.model if preset else target
    if preset and (problem := registry.preset_problem(preset)):
        raise ZooError(f"preset '{preset.name}' {problem}; see 'zoo list plugins'")
    model_spec = registry.model(model_name)

    loss_name = loss or (preset.loss if preset else None) or model_spec.default_loss
    loss_spec = registry.loss(loss_name)
    if loss_spec.interface != model_spec.loss_interface:
        fitting = [e.name for e in registry.entries("loss") if e.spec.interface == model_spec.loss_interface]
        raise ConfigError(
            f"loss '{loss_name}' is for {loss_spec.interface} models and cannot train "
            f"'{model_name}'; losses that fit: {', '.join(fitting) or '(none installed)'}"
        )

    dataset_name = dataset or (preset.dataset if preset else None)
    if dataset_name is None:
        if require_dataset:
            raise ZooError(
                f"'{model_name}' is a model, so name its data: --dataset NAME (see 'zoo list datasets')"
            )
        dataset_spec, dataset_arg = None, None
    else:
        base, dataset_arg = split_dataset(dataset_name)
        dataset_spec = registry.dataset(base)
        if dataset_spec.needs_arg and not dataset_arg and require_dataset_arg:
            raise ZooError(f"dataset '{base}' needs {dataset_spec.arg_help or 'an argument'}: --dataset {base}:ARG")

    changes = parse_overrides(
        overrides,
        {
            "model": [f.name for f in config_fields(model_spec.config)],
            "loss": [f.name for f in config_fields(loss_spec.config)],
            "train": [f.name for f in config_fields(TrainConfig)],
        },
    )

    model_values = dict(preset.model_config) if preset else {}
    model_values.update(changes["model"])

    loss_values: dict = {}
    if loss_name == model_spec.default_loss:
        loss_values.update(model_spec.default_loss_config)
    if preset and loss_name == (preset.loss or model_spec.default_loss):
        loss_values.update(preset.loss_config)
    loss_values.update(changes["loss"])

    train_values = dict(preset.train) if preset else {}
    train_values.update({k: v for k, v in (train or {}).items() if v is not None})
    train_values.update(changes["train"])

    config = RunConfig(
        model=model_name,
        model_config=make_config(model_spec.config, model_values, "model"),
        loss=loss_name,
        loss_config=make_config(loss_spec.config, loss_values, "loss"),
        dataset=dataset_name or "",
        train=make_config(TrainConfig, train_values, "train"),
        preset=preset.name if preset else None,
    )
    providers = {"model": registry.get("model", model_name).provider,
                 "loss": registry.get("loss", loss_name).provider}
    if dataset_spec is not None:
        providers["dataset"] = registry.get("dataset", dataset_spec.name).provider
    return ResolvedRun(config, model_spec, loss_spec, dataset_spec, dataset_arg, providers)


def resolve_stored(registry: Registry, doc: Mapping[str, Any], epochs: Optional[int] = None,
                   need_dataset: bool = True) -> ResolvedRun:
    """Rebuild a run's :class:`ResolvedRun` from its ``config.toml``.

    ``epochs`` replaces the stored number of epochs (to train a finished run further).
    Fails with the distribution to install when a plugin the run used is missing
    (with ``need_dataset=False``, a missing data set plugin leaves ``dataset`` None:
    a model is built and sampled without its data).
    """
    used = doc.get("zoo", {}).get("plugins", {})

    def entry(kind: str, name: Any):
        if not isinstance(name, str) or not name:
            raise ZooError(f"the run's config.toml names no {kind}; it is damaged")
        try:
            return registry.get(kind, name)
        except ZooError:
            dist = str(used.get(kind, "")).split(" ")[0]
            fix = f"pip install {dist}" if dist else "install the plugin that provides it"
            raise ZooError(
                f"the run used {kind} '{name}'{f' from {used[kind]}' if kind in used else ''}, which no "
                f"installed plugin provides; {fix}"
            ) from None

    try:
        model_values = dict(doc["model"])
        loss_values = dict(doc["loss"])
        train_values = dict(doc["train"])
        dataset_name = doc["dataset"]
    except (KeyError, TypeError, ValueError):
        raise ZooError("the run's config.toml lacks its model, loss, dataset or train section; it is damaged") from None
    model_entry = entry("model", model_values.pop("name", None))
    loss_entry = entry("loss", loss_values.pop("name", None))
    base, dataset_arg = split_dataset(dataset_name)
    if need_dataset or base in registry.names("dataset"):
        dataset_entry = entry("dataset", base)
    else:
        dataset_entry = None
    if epochs is not None:
        train_values["epochs"] = epochs
    config = RunConfig(
        model=model_entry.name,
        model_config=make_config(model_entry.spec.config, model_values, "model"),
        loss=loss_entry.name,
        loss_config=make_config(loss_entry.spec.config, loss_values, "loss"),
        dataset=dataset_name,
        train=make_config(TrainConfig, train_values, "train"),
        preset=doc.get("preset"),
    )
    providers = {"model": model_entry.provider, "loss": loss_entry.provider}
    if dataset_entry is not None:
        providers["dataset"] = dataset_entry.provider
    return ResolvedRun(config, model_entry.spec, loss_entry.spec, dataset_entry.spec if dataset_entry else None,
                       dataset_arg, providers)


def build_model(resolved: ResolvedRun, data_info):
    """Build the loss and the model from the registry's specs."""
    config = resolved.config
    try:
        loss = resolved.loss.build(config.loss_config)
        model = resolved.model.build(config.model_config, data_info, loss)
    except ValueError as exc:
        raise ZooError(f"cannot build model '{config.model}' for {data_info.image_shape} images: {exc}") from None
    return model
