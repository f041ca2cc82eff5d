"""What ``zoo plugins`` prints: every plugin found, where, which hooks it
implements and what each returned, and the plugins that could not be used.

It calls the hooks itself rather than building the registry, so it works
(and shows the culprits) even when two plugins register the same name.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..version import __version__
from .manager import HOOKS, LOADED, PluginInfo, Problem, call_hook, make_plugin_manager


@dataclasses.dataclass
class PluginReport:
    """The installed plugins and the problems met while asking them."""

    plugins: list[PluginInfo]
    problems: list[Problem]
    core_version: str = __version__


def collect() -> PluginReport:
    """Load the plugins and call every hook once, keeping what each returned."""
    pm, infos, problems = make_plugin_manager()
    for hook in HOOKS:
        for _ in call_hook(pm, hook, problems, infos=infos):
            pass
    return PluginReport(list(infos.values()), problems)


def _returned(result: Any, hook: str) -> str:
    if isinstance(result, str):
        return result  # "raised ...", "returned a dict, not a list"
    kind = HOOKS[hook][0]
    plural = "losses" if kind == "loss" else f"{kind}s"
    if not result:
        return f"no {plural}"
    return f"{len(result)} {kind if len(result) == 1 else plural}: {', '.join(result)}"


def as_text(report: PluginReport) -> str:
    loaded = [p for p in report.plugins if p.status == LOADED]
    lines = [f"zoo-core {report.core_version}: {len(loaded)} plugin{'s' * (len(loaded) != 1)} loaded"
             + (f", {len(report.plugins) - len(loaded)} not" if len(loaded) < len(report.plugins) else "")]
    if not report.plugins:
        lines.append("No plugins are installed: pip install a package that registers the 'zoo' entry point.")
    for p in report.plugins:
        where = f"{p.source} {p.module}" if p.module else p.source
        needs = "" if p.requires is None else f", needs zoo-core{p.requires or ' (any version)'}"
        lines.append("")
        lines.append(f"{p.name}  ({p.label}; {where}{needs})")
        if p.status != LOADED:
            lines.append(f"  {p.state}")
            continue
        if not p.hooks:
            lines.append("  (implements no hooks)")
        width = max((len(h) for h in p.hooks), default=0)
        for hook in p.hooks:
            shown = _returned(p.results[hook], hook) if hook in p.results else "(not a zoo hook)"
            lines.append(f"  {hook:<{width}}  {shown}")
    if report.problems:
        lines.append("")
        lines.append("Problems:")
        lines.extend(f"  {problem}" for problem in report.problems)
    return "\n".join(lines)


def as_json(report: PluginReport) -> dict:
    return {
        "core_version": report.core_version,
        "plugins": [dataclasses.asdict(p) for p in report.plugins],
        "problems": [{"plugin": p.plugin, "message": p.message} for p in report.problems],
    }
