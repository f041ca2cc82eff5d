"""The GAN family for zoo. Importing this package stays cheap (no Keras):
the Keras code lives in :mod:`zoo_gan.base`, :mod:`zoo_gan.models` and
:mod:`zoo_gan.losses`, with no backend code: zoo's multi-network trainer
runs the two networks' updates on every backend."""

__version__ = "0.1.0"

#: The public helpers of the ``"gan"`` loss interface (see :mod:`zoo_gan.losses`),
#: imported on first use so that importing zoo_gan stays cheap.
_HELPERS = ("gradient_penalty", "penalty_weight", "with_gradient_penalty")


def __getattr__(name):
    if name in _HELPERS:
        from . import losses

        return getattr(losses, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
