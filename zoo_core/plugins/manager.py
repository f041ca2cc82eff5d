"""Finding plugins and asking them for their specs.

Plugins are modules registered in the entry-point group ``zoo`` (the bundled
ones too). A plugin that fails to import, raises in a hook or returns junk is
reported as a problem naming it; everything else keeps working. A plugin whose
distribution needs another zoo-core than this one (its ``Requires-Dist:
zoo-core...``) is skipped before it is imported. ``ZOO_PLUGINS`` limits which
plugins load; ``ZOO_TRACE_PLUGINS=1`` traces loading and hook calls to stderr.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Iterable, Iterator, Optional

import pluggy

from ..version import __version__
from .. import hookspecs
from ..specs import DatasetSpec, LossSpec, ModelSpec, PresetSpec, TrackerSpec

ENTRY_POINT_GROUP = "zoo"
#: The distribution a plugin names in its dependencies to say which core it needs.
CORE_DISTRIBUTION = "zoo-core"
SELECT_ENV = "ZOO_PLUGINS"
TRACE_ENV = "ZOO_TRACE_PLUGINS"

#: hook name -> (kind, spec type)
HOOKS = {
    "zoo_models": ("model", ModelSpec),
    "zoo_losses": ("loss", LossSpec),
    "zoo_datasets": ("dataset", DatasetSpec),
    "zoo_presets": ("preset", PresetSpec),
    "zoo_trackers": ("tracker", TrackerSpec),
}

#: PluginInfo.status values
LOADED, FAILED, INCOMPATIBLE, NOT_SELECTED = "loaded", "failed", "incompatible", "not selected"


@dataclass
class PluginInfo:
    """One plugin as zoo found it.

    Attributes:
        name: the entry-point name (or the registered object's name).
        distribution: the installed distribution that provides it.
        version: that distribution's version.
        source: ``"entry point"``, or ``"registered"`` for objects handed to
            :func:`make_plugin_manager` (tests, embedding applications).
        hooks: the hooks it implements.
        error: why it could not be used (failed to load, incompatible).
        module: the plugin's module (``zoo_vae.plugin``); its top package owns
            the plugin's Keras classes.
        requires: the zoo-core versions it declares it works with
            (``">=0.1"``; ``""`` for any), or None when it declares nothing.
        status: ``loaded``, ``failed``, ``incompatible`` or ``not selected``
            (left out by ``ZOO_PLUGINS``).
        results: hook name -> what the hook returned (the spec names) or
            ``"raised ..."``; filled when the hooks are called with ``infos``.
    """

    name: str
    distribution: Optional[str] = None
    version: Optional[str] = None
    source: str = "entry point"
    hooks: list = field(default_factory=list)
    error: Optional[str] = None
    module: Optional[str] = None
    requires: Optional[str] = None
    status: str = LOADED
    results: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        dist = self.distribution or self.name
        return f"{dist} {self.version}" if self.version else dist

    @property
    def state(self) -> str:
        """One line: the hooks it implements, or why it is not in use."""
        if self.status == FAILED:
            return f"FAILED: {self.error}"
        if self.status == INCOMPATIBLE:
            return f"SKIPPED: {self.error}"
        if self.status == NOT_SELECTED:
            return f"not loaded: not in {SELECT_ENV}"
        return ", ".join(self.hooks) or "(no hooks)"


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
    value = os.environ.get(SELECT_ENV)
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


# === Tracing ===

_tracer: Optional[Callable[[str], None]] = None


def _trace_writer() -> Optional[Callable[[str], None]]:
    if _tracer is not None:
        return _tracer
    if os.environ.get(TRACE_ENV, "").strip().lower() not in ("", "0", "false", "no"):
        return lambda line: print(line, file=sys.stderr, flush=True)
    return None


@contextlib.contextmanager
def tracing(writer: Callable[[str], None]) -> Iterator[None]:
    """Send trace lines to ``writer`` inside the block (as ``ZOO_TRACE_PLUGINS=1``
    sends them to stderr)."""
    global _tracer
    previous, _tracer = _tracer, writer
    try:
        yield
    finally:
        _tracer = previous


def _trace(message: str) -> None:
    writer = _trace_writer()
    if writer is not None:
        writer(f"zoo-trace: {message}")


def _ms(start: float) -> str:
    return f"{(time.perf_counter() - start) * 1000:.1f} ms"


# === Core-version compatibility ===


def core_requirement(dist: Any) -> Optional[str]:
    """The zoo-core versions a distribution declares it needs, from its
    ``Requires-Dist`` metadata: ``">=0.1,<0.3"``, ``""`` for any version,
    or None when it does not name zoo-core (or has no metadata)."""
    requires = getattr(dist, "requires", None) or []
    if not requires:
        return None
    # packaging comes with Keras (a zoo-core dependency); imported here since
    # only plugin loading needs it.
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    for line in requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(req.name) != CORE_DISTRIBUTION:
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # an optional extra's requirement, not the plugin's own
        return str(req.specifier)
    return None


def incompatibility(requires: Optional[str], core_version: str = __version__) -> Optional[str]:
    """Why a plugin that needs zoo-core ``requires`` cannot run on
    ``core_version``, or None when it can (or declares nothing)."""
    if not requires:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        wanted = SpecifierSet(requires)
    except InvalidSpecifier:
        return None  # pip would not have installed it; nothing to judge
    if wanted.contains(core_version, prereleases=True):
        return None
    return f"needs {CORE_DISTRIBUTION}{requires}, but {CORE_DISTRIBUTION} {core_version} is installed"


# === The plugin manager ===


def make_plugin_manager(
    plugins: Iterable[Any] = (), entrypoints: bool = True
) -> tuple[pluggy.PluginManager, dict[str, PluginInfo], list[Problem]]:
    """Build the plugin manager: hook specs, entry-point plugins, extra plugins.

    Args:
        plugins: extra plugin objects to register (tests use in-test plugins).
        entrypoints: load plugins from the ``zoo`` entry-point group.

    Returns:
        The manager, the plugins found by name (those not loaded too, with
        their ``status``), and the problems met.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    infos: dict[str, PluginInfo] = {}
    problems: list[Problem] = []

    def register(obj: Any, info: PluginInfo) -> None:
        try:
            pm.register(obj, name=info.name)
        except Exception as exc:  # pluggy.PluginValidationError, duplicate names
            info.error, info.status = _describe(exc), FAILED
            problems.append(Problem(info.name, f"could not be registered: {exc}"))
        infos[info.name] = info

    if entrypoints:
        _load_entry_points(register, infos, problems)

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


def _load_entry_points(register, infos: dict[str, PluginInfo], problems: list[Problem]) -> None:
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
            requires=core_requirement(dist),
        )
        if wanted is not None and not ({ep.name, info.distribution} & wanted):
            info.status = NOT_SELECTED
            infos[ep.name] = info
            _trace(f"skip {ep.name} ({info.label}): not in {SELECT_ENV}={os.environ.get(SELECT_ENV)}")
            continue
        # Checked before importing: an old plugin may not even import on a new core.
        reason = incompatibility(info.requires)
        if reason:
            info.error, info.status = reason, INCOMPATIBLE
            infos[ep.name] = info
            problems.append(Problem(
                ep.name,
                f"skipped: {info.label} {reason}; install a version of {info.distribution or ep.name} "
                f"made for {CORE_DISTRIBUTION} {__version__} (pip install -U {info.distribution or ep.name})",
            ))
            _trace(f"skip {ep.name} ({info.label}): {reason}")
            continue
        start = time.perf_counter()
        try:
            obj = ep.load()
        except Exception as exc:
            info.error, info.status = _describe(exc), FAILED
            problems.append(Problem(ep.name, f"failed to load: {info.error}"))
            infos[ep.name] = info
            _trace(f"load {ep.name} = {info.module} ({info.label}) failed: {info.error} ({_ms(start)})")
            continue
        _trace(f"load {ep.name} = {info.module} ({info.label}): {_ms(start)}")
        register(obj, info)
    if wanted is not None:
        known = sorted({n for i in infos.values() if i.source == "entry point" for n in (i.name, i.distribution) if n})
        for name in sorted(wanted - set(known)):
            close = difflib.get_close_matches(name, known, n=2, cutoff=0.5)
            hint = f"did you mean {' or '.join(close)}?" if close else f"installed: {', '.join(known) or '(none)'}"
            problems.append(Problem(name, f"{SELECT_ENV} names '{name}', which matches no installed plugin; {hint}"))


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


# === Calling hooks ===


def call_hook(
    pm: pluggy.PluginManager,
    hook: str,
    problems: list[Problem],
    *,
    infos: Optional[dict[str, PluginInfo]] = None,
    **kwargs: Any,
):
    """Call each implementation of ``hook`` on its own, so one broken plugin
    cannot hide the others. Yields ``(plugin_name, spec)`` pairs.

    Each implementation gets only the keyword arguments it names, so a hook
    may gain optional arguments without breaking older plugins. With
    ``infos``, what each plugin returned is kept in its ``results``.
    """
    kind, spec_type = HOOKS[hook]
    caller = getattr(pm.hook, hook)
    # pluggy calls the last registered first; reverse to keep registration order.
    for impl in reversed(caller.get_hookimpls()):
        args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
        info = infos.get(impl.plugin_name) if infos else None
        call = f"{impl.plugin_name}.{hook}({', '.join(f'{k}={v!r}' for k, v in args.items())})"
        start = time.perf_counter()
        try:
            result = impl.function(**args)
        except Exception as exc:
            problems.append(Problem(impl.plugin_name, f"hook {hook} raised {_describe(exc)}"))
            _note(info, hook, f"raised {_describe(exc)}")
            _trace(f"call {call} raised {_describe(exc)} ({_ms(start)})")
            continue
        if result is None:
            _note(info, hook, [])
            _trace(f"call {call} -> None ({_ms(start)})")
            continue
        if not isinstance(result, (list, tuple)):
            problems.append(
                Problem(impl.plugin_name, f"hook {hook} must return a list, got {type(result).__name__}")
            )
            _note(info, hook, f"returned a {type(result).__name__}, not a list")
            _trace(f"call {call} -> {type(result).__name__}, not a list ({_ms(start)})")
            continue
        good = []
        for item in result:
            if not isinstance(item, spec_type):
                problems.append(
                    Problem(
                        impl.plugin_name,
                        f"hook {hook} returned a {type(item).__name__}, expected {spec_type.__name__}",
                    )
                )
                continue
            good.append(item)
        names = [getattr(item, "name", "?") for item in good]
        _note(info, hook, names)
        _trace(f"call {call} -> {len(good)} {spec_type.__name__}"
               f"{': ' + ', '.join(map(str, names)) if names else ''} ({_ms(start)})")
        for item in good:
            yield impl.plugin_name, item


def _note(info: Optional[PluginInfo], hook: str, result: Any) -> None:
    if info is not None:
        info.results[hook] = result
