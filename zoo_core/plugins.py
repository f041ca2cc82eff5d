"""Finding plugins and asking them for their specs.

Plugins are modules registered in the entry-point group ``zoo`` (the bundled
ones too). A plugin that fails to import, raises in a hook or returns junk is
reported as a problem naming it; everything else keeps working.
"""

from __future__ import annotations

import difflib
import os
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Iterable, Optional

import pluggy

from . import hookspecs
from .specs import DatasetSpec, LossSpec, ModelSpec, PresetSpec

ENTRY_POINT_GROUP = "zoo"

#: hook name -> (kind, spec type)
HOOKS = {
    "zoo_models": ("model", ModelSpec),
    "zoo_losses": ("loss", LossSpec),
    "zoo_datasets": ("dataset", DatasetSpec),
    "zoo_presets": ("preset", PresetSpec),
}


@dataclass
class PluginInfo:
    """One plugin as zoo found it."""

    name: str
    distribution: Optional[str] = None
    version: Optional[str] = None
    source: str = "entry point"
    hooks: list = field(default_factory=list)
    error: Optional[str] = None
    #: the plugin's module (``zoo_vae.plugin``); its top package owns the plugin's Keras classes
    module: Optional[str] = None

    @property
    def label(self) -> str:
        dist = self.distribution or self.name
        return f"{dist} {self.version}" if self.version else dist


@dataclass
class Problem:
    """Something wrong with a plugin that did not stop zoo."""

    plugin: str
    message: str

    def __str__(self) -> str:
        return f"plugin '{self.plugin}': {self.message}"


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({os.path.basename(last[0].filename)}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _selected() -> Optional[set]:
    """Plugin names from ``ZOO_PLUGINS`` (comma-separated), or None for all."""
    value = os.environ.get("ZOO_PLUGINS")
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


def make_plugin_manager(
    plugins: Iterable[Any] = (), entrypoints: bool = True
) -> tuple[pluggy.PluginManager, dict[str, PluginInfo], list[Problem]]:
    """Build the plugin manager: hook specs, entry-point plugins, extra plugins.

    Args:
        plugins: extra plugin objects to register (tests use in-test plugins).
        entrypoints: load plugins from the ``zoo`` entry-point group.

    Returns:
        The manager, the plugins found by name, and the problems met.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    infos: dict[str, PluginInfo] = {}
    problems: list[Problem] = []

    def register(obj: Any, info: PluginInfo) -> None:
        try:
            pm.register(obj, name=info.name)
        except Exception as exc:  # pluggy.PluginValidationError, duplicate names
            info.error = _describe(exc)
            problems.append(Problem(info.name, f"could not be registered: {exc}"))
        infos[info.name] = info

    if entrypoints:
        wanted = _selected()
        seen = set()
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in seen:
                continue
            seen.add(ep.name)
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
                module=getattr(ep, "value", "").split(":")[0] or None,
            )
            if wanted is not None and not ({ep.name, info.distribution} & wanted):
                continue
            try:
                obj = ep.load()
            except Exception as exc:
                info.error = _describe(exc)
                problems.append(Problem(ep.name, f"failed to load: {info.error}"))
                infos[ep.name] = info
                continue
            register(obj, info)

    for obj in plugins:
        name = getattr(obj, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__
        module = getattr(obj, "__module__", None) if not isinstance(obj, type(pluggy)) else obj.__name__
        register(obj, PluginInfo(name=name, source="registered", module=module))

    problems.extend(_unknown_hooks(pm))
    for name, info in infos.items():
        plugin = pm.get_plugin(name)
        if plugin is not None:
            info.hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
    return pm, infos, problems


def _unknown_hooks(pm: pluggy.PluginManager) -> list[Problem]:
    """What ``pm.check_pending()`` would raise on, as problems (one per impl)."""
    problems = []
    for name in dir(pm.hook):
        if not name.startswith("zoo") and not name.startswith("_zoo"):
            continue
        caller = getattr(pm.hook, name)
        if not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            close = difflib.get_close_matches(name, list(HOOKS), n=1)
            hint = f"; did you mean {close[0]}?" if close else f"; known hooks: {', '.join(HOOKS)}"
            problems.append(Problem(impl.plugin_name, f"implements unknown hook '{name}'{hint}"))
    return problems


def call_hook(pm: pluggy.PluginManager, hook: str, problems: list[Problem], **kwargs: Any):
    """Call each implementation of ``hook`` on its own, so one broken plugin
    cannot hide the others. Yields ``(plugin_name, spec)`` pairs."""
    kind, spec_type = HOOKS[hook]
    caller = getattr(pm.hook, hook)
    # pluggy calls the last registered first; reverse to keep registration order.
    for impl in reversed(caller.get_hookimpls()):
        args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
        try:
            result = impl.function(**args)
        except Exception as exc:
            problems.append(Problem(impl.plugin_name, f"hook {hook} raised {_describe(exc)}"))
            continue
        if result is None:
            continue
        if not isinstance(result, (list, tuple)):
            problems.append(
                Problem(impl.plugin_name, f"hook {hook} must return a list, got {type(result).__name__}")
            )
            continue
        for item in result:
            if not isinstance(item, spec_type):
                problems.append(
                    Problem(
                        impl.plugin_name,
                        f"hook {hook} returned a {type(item).__name__}, expected {spec_type.__name__}",
                    )
                )
                continue
            yield impl.plugin_name, item
