"""Data: loading a data set through its plugin and checking its layout
(:mod:`.loading`), streaming images from zoo's 8-bit on-disk cache
(:mod:`.stream`), and ``zoo data``'s summary and examples grid (:mod:`.show`).

Imports only the plugin system and the parts below it. ``zoo_core.data`` was
one module before zoo 0.2: its names are still found here (from
:mod:`.loading`), with a ``DeprecationWarning``.
"""


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    import importlib
    import warnings

    loading = importlib.import_module(f"{__name__}.loading")
    if not hasattr(loading, name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"zoo_core.data.{name} moved to zoo_core.data.loading.{name}", DeprecationWarning, stacklevel=2)
    return getattr(loading, name)
