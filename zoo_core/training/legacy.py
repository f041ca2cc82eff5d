"""The helpers of zoo 0.1 for plugins that still write a train step per
backend: deprecated (a :class:`~zoo_core.multinet.MultiNetworkModel` needs
none), kept until zoo 1.0 and reached through :mod:`zoo_core.multinet`."""

from __future__ import annotations

import importlib
import warnings
from typing import Callable, Optional


def _deprecated(name: str) -> None:
    warnings.warn(f"zoo_core.multinet.{name} is deprecated: declare the model's phases on "
                  "zoo_core.multinet.MultiNetworkModel and zoo runs them on every backend",
                  DeprecationWarning, stacklevel=3)


def step_module(package: str, owner: str, name: Optional[str] = None):
    """The module ``package.<backend>`` holding the train step for ``name``
    (default: the backend Keras runs on); ``owner`` names the plugin in the error.

    Deprecated: a :class:`MultiNetworkModel` needs no step module of its own."""
    _deprecated("step_module")
    if name is None:
        import keras

        name = keras.backend.backend()
    if name not in ("tensorflow", "jax", "torch"):
        raise RuntimeError(f"{owner} has no train step for the '{name}' backend")
    return importlib.import_module(f"{package}.{name}")


def run_stateless(model, trainable, non_trainable, fn: Callable):
    """JAX: ``fn()`` with the model's variables set to the given values.

    Returns ``fn``'s result and the non-trainable values it leaves behind
    (batch-norm statistics, seed-generator state): the new non-trainable
    state Keras' JAX trainer wants back from a step.

    Deprecated: a :class:`MultiNetworkModel`'s JAX step does this in the core.
    """
    _deprecated("run_stateless")
    import keras

    mapping = list(zip(model.trainable_variables, trainable))
    mapping += list(zip(model.non_trainable_variables, non_trainable))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        out = fn()
    return out, [scope.get_current_value(v) for v in model.non_trainable_variables]
