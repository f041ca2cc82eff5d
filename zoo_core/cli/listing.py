"""What ``zoo list`` and ``zoo info`` print: tables for people, JSON for machines."""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import typing
from typing import Any

from ..evaluation.report import table  # noqa: F401  (zoo list's tables, also imported from here)
from ..plugins.config import TrainConfig, type_name
from ..plugins.manager import LOADED, NOT_SELECTED, SELECT_ENV
from ..plugins.registry import Entry, Registry
from ..specs import config_fields

KIND_OF = {"models": "model", "losses": "loss", "datasets": "dataset", "presets": "preset", "trackers": "tracker"}

NO_PLUGINS = (
    "No zoo plugins are installed, so there are no models, losses or data sets yet.\n"
    "Install the bundled plugins from the zoo source tree with 'pip install -r requirements.txt',\n"
    "or any package that registers the 'zoo' entry point (pip install some-zoo-plugin)."
)


# === Text ===


def _rows(registry: Registry, kind: str, pattern: str) -> tuple[list[str], list[list[str]]]:
    if kind == "plugins":
        plugins = [p for p in registry.plugins.values() if _match(p.name, pattern)]
        rows = [
            [p.name, p.distribution or "-", p.version or "-", p.source,
             p.state]
            for p in plugins
        ]
        return ["NAME", "DISTRIBUTION", "VERSION", "FOUND BY", "HOOKS"], rows
    entries = registry.entries(KIND_OF[kind], pattern)
    if kind == "presets":
        rows = []
        for e in entries:
            p = e.spec
            problem = registry.preset_problem(p)
            desc = f"(unavailable: {problem}) {p.description}" if problem else p.description
            rows.append([p.name, p.model, p.dataset, p.loss or "(default)", "yes" if p.weights else "-", desc])
        return ["NAME", "MODEL", "DATASET", "LOSS", "PRETRAINED", "DESCRIPTION"], rows
    rows = [[e.name, e.provider, e.spec.description] for e in entries]
    return ["NAME", "PLUGIN", "DESCRIPTION"], rows


def _match(name: str, pattern: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(name, pattern)


def as_text(registry: Registry, kinds: list[str], pattern: str, single: bool = False) -> str:
    parts = []
    loaded = any(p.status == LOADED for p in registry.plugins.values())
    if not loaded:
        parts.append(NO_PLUGINS)
        left_out = [p.name for p in registry.plugins.values() if p.status == NOT_SELECTED]
        if left_out:
            parts[-1] += (f"\n(ZOO_PLUGINS={os.environ.get(SELECT_ENV, '')!r} leaves out the installed "
                          f"plugins {', '.join(left_out)}; unset it to load them.)")
    for kind in kinds:
        headers, rows = _rows(registry, kind, pattern)
        if single:
            parts.append(table(headers, rows) if rows else f"No {kind} match '{pattern}'.")
        elif rows:
            parts.append(f"{kind.capitalize()}:\n" + table(headers, rows))
        elif pattern == "*" and kind != "plugins" and loaded:
            parts.append(f"{kind.capitalize()}: none installed")
    if not single and pattern != "*" and len(parts) == (0 if loaded else 1):
        parts.append(f"Nothing matches '{pattern}'.")
    return "\n\n".join(parts)


def as_json(registry: Registry, kinds: list[str], pattern: str) -> dict:
    out: dict[str, Any] = {}
    for kind in kinds:
        if kind == "plugins":
            out[kind] = [dataclasses.asdict(p) for p in registry.plugins.values() if _match(p.name, pattern)]
        else:
            out[kind] = [entry_json(registry, e) for e in registry.entries(KIND_OF[kind], pattern)]
    return out


# === Info ===


def field_docs(config_type: type) -> dict[str, str]:
    """Field descriptions from a Google-style ``Attributes:`` docstring section."""
    docs: dict[str, str] = {}
    for klass in reversed(getattr(config_type, "__mro__", [config_type])):
        text = inspect.getdoc(klass) or ""
        if "Attributes:" not in text:
            continue
        section = text.split("Attributes:", 1)[1]
        current = None
        for line in section.splitlines():
            m = re.match(r"^\s{2,8}(\w+):\s*(.*)$", line)
            if m:
                current = m.group(1)
                docs[current] = m.group(2).strip()
            elif current and line.strip() and line.startswith(" " * 6):
                docs[current] += " " + line.strip()
            elif line.strip() and not line.startswith(" "):
                break
    return docs


def fields_json(config_type: type) -> list[dict]:
    hints = typing.get_type_hints(config_type) if dataclasses.is_dataclass(config_type) else {}
    docs = field_docs(config_type)
    out = []
    for f in config_fields(config_type):
        default = f.default if f.default is not dataclasses.MISSING else None
        if isinstance(default, tuple):
            default = list(default)
        out.append({"name": f.name, "type": type_name(hints.get(f.name)), "default": default,
                    "help": docs.get(f.name, "")})
    return out


def entry_json(registry: Registry, entry: Entry) -> dict:
    spec = entry.spec
    doc: dict[str, Any] = {
        "kind": entry.kind, "name": entry.name, "description": spec.description,
        "plugin": entry.plugin, "distribution": entry.distribution, "version": entry.version,
    }
    if entry.kind == "model":
        doc.update(
            loss_interface=spec.loss_interface, default_loss=spec.default_loss,
            default_loss_config=dict(spec.default_loss_config), needs_labels=spec.needs_labels,
            compatible_losses=[e.name for e in registry.entries("loss") if e.spec.interface == spec.loss_interface],
        )
    elif entry.kind == "loss":
        doc["interface"] = spec.interface
    elif entry.kind == "dataset":
        doc.update(image_shape=list(spec.image_shape) if spec.image_shape else None,
                   num_classes=spec.num_classes, needs_arg=spec.needs_arg, arg_help=spec.arg_help)
    elif entry.kind == "tracker":
        doc.update(install=spec.install, usage=f"--track {spec.name}[=URI]")
    elif entry.kind == "preset":
        doc.update(model=spec.model, dataset=spec.dataset, loss=spec.loss,
                   model_config=dict(spec.model_config), loss_config=dict(spec.loss_config),
                   train=dict(spec.train), origin=spec.origin,
                   unavailable=registry.preset_problem(spec), weights=describe_weights(registry, spec))
        doc["invalid"] = None if doc["unavailable"] else preset_config_problem(registry, spec)
    if entry.kind != "preset":
        doc["config"] = fields_json(spec.config)
    return doc


def preset_config_problem(registry: Registry, spec) -> str | None:
    """Why a preset's options would be refused by ``zoo train`` (an unknown key,
    a value of the wrong type), or None. Configs are dataclasses: no Keras."""
    from ..errors import ZooError
    from ..plugins.resolve import resolve_run

    try:
        resolve_run(registry, spec.name, require_dataset=False, require_dataset_arg=False)
    except ZooError as exc:
        return str(exc)
    return None


def info_json(registry: Registry, entry: Entry) -> dict:
    return entry_json(registry, entry)


def _fields_table(config_type: type) -> str:
    rows = [[f["name"], f["type"], repr(f["default"]), f["help"]] for f in fields_json(config_type)]
    return table(["OPTION", "TYPE", "DEFAULT", "MEANING"], rows) if rows else "  (no options)"


def info_text(registry: Registry, entry: Entry) -> str:
    d = entry_json(registry, entry)
    lines = [f"{d['name']} ({d['kind']}): {d['description']}"]
    if entry.kind == "preset":
        lines.append(f"Defined in: {d['origin']}")
        if d["unavailable"]:
            lines.append(f"Unavailable: {d['unavailable']}")
        if d["invalid"]:
            lines.append(f"Warning: zoo train would refuse this preset: {d['invalid']}; "
                         f"fix it in {d['origin']} or override it with --set")
        lines.append(f"Model:   {d['model']} {_kv(d['model_config'])}")
        lines.append(f"Dataset: {d['dataset']}")
        lines.append(f"Loss:    {d['loss'] or '(the model default)'} {_kv(d['loss_config'])}")
        lines.append(f"Train:   {_kv(d['train'])}")
        if not d["invalid"] and not d["unavailable"]:
            needs = ":" not in d["dataset"] and registry.dataset(d["dataset"]).needs_arg
            data = f" --dataset {d['dataset']}:PATH" if needs else ""
            lines.append(f"Train it: zoo train {d['name']}{data}   (change anything with --set KEY=VALUE)")
        lines += weights_lines(d["name"], d["weights"])
        lines.append("\nTraining options (train.*):\n" + _fields_table(TrainConfig))
        return "\n".join(lines)
    lines.append(f"Provided by: plugin '{d['plugin']}'" + (f" ({entry.provider})" if entry.distribution else ""))
    if entry.kind == "model":
        lines.append(f"Default loss: {d['default_loss']} {_kv(d['default_loss_config'])}")
        lines.append(f"Compatible losses: {', '.join(d['compatible_losses']) or '(none installed)'}")
        if d["needs_labels"]:
            lines.append("Needs labelled data (class-conditional).")
    elif entry.kind == "loss":
        lines.append(f"For models that take '{d['interface']}' losses.")
    elif entry.kind == "tracker":
        lines.append(f"Use it: zoo train ... {d['usage']}  (also zoo eval; see docs/tracking.md)")
        if d["install"]:
            lines.append(f"Its library: {d['install']}")
    elif entry.kind == "dataset":
        if d["image_shape"]:
            lines.append(f"Images: {'x'.join(map(str, d['image_shape']))}, classes: {d['num_classes']}")
        if d["arg_help"]:
            lines.append(f"Use as --dataset {d['name']}:ARG, ARG = {d['arg_help']}"
                         + (" (required)" if d["needs_arg"] else " (optional)"))
    if entry.kind != "tracker":  # a tracker's options are its URI
        lines.append("\nOptions:\n" + _fields_table(entry.spec.config))
    return "\n".join(lines)


def describe_weights(registry: Registry, spec) -> dict | None:
    from ..saving.presets import describe_weights as describe

    return describe(registry, spec)


def weights_lines(name: str, weights: dict | None) -> list[str]:
    """What ``zoo info PRESET`` says of its published weights."""
    if not weights:
        return ["Pretrained weights: none (only 'zoo train' makes a model of it)"]
    from ..sharing.export import summary_line

    size = f"{weights['size'] / 1e6:.1f} MB, " if weights.get("size") else ""
    sha = f"sha256 {weights['sha256'][:16]}..., " if weights.get("sha256") else "no sha256, "
    state = ("on this machine" if weights["available"] else
             "NOT usable" if weights.get("problem") else "downloaded on first use")
    lines = [f"Pretrained weights: {weights['uri']} ({size}{sha}{state})"]
    if weights.get("problem"):
        lines.append(f"  Problem: {weights['problem']}")
    elif weights["available"]:
        lines.append(f"  Eval: {summary_line(weights.get('eval'))}")
    lines.append(f"  Use them: zoo sample {name} --pretrained --out grid.png;  zoo eval {name} --pretrained")
    return lines


def _kv(mapping: dict) -> str:
    return "(" + ", ".join(f"{k}={v!r}" for k, v in mapping.items()) + ")" if mapping else ""
