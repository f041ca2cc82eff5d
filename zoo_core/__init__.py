"""zoo: a plugin-based zoo of generative models on Keras 3.

Importing ``zoo_core`` never imports Keras or a backend; training does.
"""

__version__ = "0.1.0"


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
    from .registry import Registry, load_registry
    from .runs import check_source

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
        raise TypeError(f"registry must be a zoo_core.registry.Registry (from load_registry()) or None, "
                        f"not {type(registry).__name__}")
    registry = registry if registry is not None else load_registry()
    return load_run(source, registry, backend, pretrained=pretrained).model
