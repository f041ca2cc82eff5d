"""The plugin system: hook specs in :mod:`zoo_core.hookspecs`, loading the
plugins (:mod:`.manager`), the registry of what they register
(:mod:`.registry`), configs built from specs and TOML (:mod:`.config`),
resolving a preset or model into a run's config and building its model
(:mod:`.resolve`), and ``zoo plugins``' report (:mod:`.report`).

Imports only :mod:`zoo_core.storage`, :mod:`zoo_core.backend` and the
top-level specs, hook specs and errors. ``zoo_core.plugins`` was one module
before zoo 0.2: its names are still found here (from :mod:`.manager`), with
a ``DeprecationWarning``.
"""


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    import importlib
    import warnings

    manager = importlib.import_module(f"{__name__}.manager")
    if not hasattr(manager, name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"zoo_core.plugins.{name} moved to zoo_core.plugins.manager.{name}", DeprecationWarning,
                  stacklevel=2)
    return getattr(manager, name)
