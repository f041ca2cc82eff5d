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

    Raises :class:`zoo_core.errors.ZooError` with a one-line reason.
    """
    from .evaluation.loading import load_run
    from .registry import load_registry

    registry = registry if registry is not None else load_registry()
    return load_run(source, registry, backend, pretrained=pretrained).model
