"""zoo: a plugin-based zoo of generative models on Keras 3.

Importing ``zoo_core`` never imports Keras or a backend; training does.
docs/architecture.md says what each subpackage is for and what it may import.

Modules that moved in zoo 0.2 (``zoo_core.registry`` is now
``zoo_core.plugins.registry``, ...) are still found under their old names:
the old name is the same module object, and importing it by that name warns
with a ``DeprecationWarning`` naming the new one.
"""

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

from .version import __version__  # noqa: F401

#: old module -> where it is now (zoo 0.2's layout)
MOVED = {
    "zoo_core.files": "zoo_core.storage.files",
    "zoo_core.locks": "zoo_core.storage.locks",
    "zoo_core.runfolder": "zoo_core.storage.runfolder",
    "zoo_core.eventlog": "zoo_core.storage.eventlog",
    "zoo_core.images": "zoo_core.storage.images",
    "zoo_core.registry": "zoo_core.plugins.registry",
    "zoo_core.config": "zoo_core.plugins.config",
    "zoo_core.resolve": "zoo_core.plugins.resolve",
    "zoo_core.plugin_report": "zoo_core.plugins.report",
    "zoo_core.stream": "zoo_core.data.stream",
    "zoo_core.datashow": "zoo_core.data.show",
    "zoo_core.hub": "zoo_core.saving.hub",
    "zoo_core.download": "zoo_core.saving.download",
    "zoo_core.runs": "zoo_core.saving.runs",
    "zoo_core.sizes": "zoo_core.saving.sizes",
    "zoo_core.export": "zoo_core.sharing.export",
    "zoo_core.listing": "zoo_core.cli.listing",
    "zoo_core.scaffold": "zoo_core.cli.scaffold",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old module name and hands back the module at its new place."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; import it from there (the old name goes in zoo 1.0)",
                      DeprecationWarning, stacklevel=3)
        module = importlib.import_module(new)
        self._own_spec = module.__spec__  # the import system sets the alias's spec on it next
        return module

    def exec_module(self, module):
        # The module at its new place is already executed: give it back its own spec
        # (and loader), so that importlib.reload and tools see where it really lives.
        module.__spec__, module.__loader__ = self._own_spec, self._own_spec.loader


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())


def load_model(source, *, pretrained: bool = False, backend=None, registry=None):
    """A ready Keras model, its loss attached, from wherever it is.

    Args:
        source: a run folder, a ``.keras`` file, an exported model (folder or
            ``.zip``), an ``http(s)://`` URL of one (``#sha256=HEX`` verifies it),
            ``hf://OWNER/NAME``, or with ``pretrained=True`` a preset name.
        pretrained: ``source`` names a preset: load its published weights.
        backend: the Keras backend to choose if Keras is not imported yet.
        registry: the plugin registry (default: every installed plugin).

    Example::

        model = zoo_core.load_model("dcgan-fashion-mnist", pretrained=True)
        images = model.generate(16, seed=0)   # float32 (16, 28, 28, 1) in [0, 1]

    Raises:
        zoo_core.errors.ZooError: with a one-line reason, for a source that is
            empty, missing, damaged or unsafe, or an unknown backend.
        TypeError: for an argument of the wrong type (each message says what it takes).
    """
    from .errors import ZooError
    from .evaluation.loading import load_run
    from .plugins.registry import Registry, load_registry
    from .saving.runs import check_source

    # Checked here, before anything is opened or imported: a wrong argument
    # would otherwise fail deep inside with an unrelated message.
    check_source(source)
    if not isinstance(pretrained, bool):
        raise TypeError(f"pretrained must be True or False, not {pretrained!r}")
    if backend is not None:
        from .backend import BACKENDS

        if backend not in BACKENDS:
            raise ZooError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)} (or None)")
    if registry is not None and not isinstance(registry, Registry):
        raise TypeError(f"registry must be a zoo_core.plugins.registry.Registry (from load_registry()) or None, "
                        f"not {type(registry).__name__}")
    registry = registry if registry is not None else load_registry()
    return load_run(source, registry, backend, pretrained=pretrained).model
