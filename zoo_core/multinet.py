"""Models that train several networks, each with its own optimizer: the
public way in (cheap to import: Keras loads on first use of the API).

Write such a model once, with ``keras.ops`` and no backend code::

    from zoo_core.multinet import MultiNetworkModel, Phase, input_gradient

and zoo trains it on TensorFlow, JAX and PyTorch (see docs/plugins.md,
"Models with several networks"). The API lives in
:mod:`zoo_core.training.multinet`, the per-backend steps in
:mod:`zoo_core.training.steps`:

- :class:`MultiNetworkModel`: the base class (``networks()``, ``train_phases()``);
- :class:`Phase`: one kind of update: networks, loss, repeats, sub-batches;
- :class:`NetworkOptimizers`: one optimizer per network, as Keras' one optimizer;
- :func:`input_gradient`: a differentiable input gradient (WGAN-GP, R1);
- :func:`phase_gradients`: one update's gradients, nothing applied (for tests);
- :func:`split_batch`, :func:`batch_size`: helpers for phases;
- :func:`replica_share`: for a model with a ``compute_loss`` of its own, the
  loss its gradients come from in a data-parallel run (``--distribute``).

The other functions here are the helpers of zoo 0.1, for plugins that still
write a train step per backend. ``clone_optimizer``, ``tensorflow_on_cpu``
and ``refuse_mixed_float16`` stay; ``step_module`` and ``run_stateless`` are
deprecated (the core's steps replace them) and will go in zoo 1.0.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Callable, Optional

_API = ("MultiNetworkModel", "Phase", "NetworkOptimizers", "input_gradient", "split_batch", "batch_size")


def __getattr__(name):
    if name == "replica_share":
        from .training.replicas import replica_share

        return replica_share
    if name in _API:
        from .training import multinet

        return getattr(multinet, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])


def phase_gradients(model, phase, batch) -> dict:
    """``{network: gradients}`` of one update of ``phase`` on ``batch`` (its
    first sub-batch, after ``prepare``), computed by the running backend's
    train-step code, aligned with the variables the phase updates for each
    network (a variable shared with an earlier network of the phase is that
    one's); nothing is applied. For tests of which loss reaches which network.

    A weight the phase's loss never reaches gets a zero gradient, on every
    backend: the steps themselves see None on TensorFlow and PyTorch (the
    optimizer skips it) and zeros on JAX, where a zero gradient still moves a
    weight through Adam's momentum.
    """
    import keras

    from .training.multinet import phase_gradients as computed
    from .training.steps import owned_variables

    grads = computed(model, phase, batch)
    owned = owned_variables(model, phase)
    return {name: [keras.ops.zeros(v.shape, v.dtype) if g is None else g for g, v in zip(values, owned[name])]
            for name, values in grads.items()}


def _deprecated(name: str) -> None:
    warnings.warn(f"zoo_core.multinet.{name} is deprecated: declare the model's phases on "
                  "zoo_core.multinet.MultiNetworkModel and zoo runs them on every backend",
                  DeprecationWarning, stacklevel=3)


def clone_optimizer(optimizer, learning_rate: Optional[float] = None):
    """A fresh optimizer like ``optimizer`` (no state), optionally with another learning rate."""
    config = optimizer.get_config()
    if learning_rate is not None:
        config["learning_rate"] = float(learning_rate)
    return optimizer.__class__.from_config(config)


def tensorflow_on_cpu() -> bool:
    """True on the TensorFlow backend with no GPU (where XLA made these steps slower)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU")


def refuse_mixed_float16(steps: str) -> None:
    """Raise if the dtype policy is ``mixed_float16``: it needs loss scaling,
    which Keras only does for a single optimizer. ``steps`` names the train
    steps in the message (e.g. "zoo-gan's two-optimizer train steps")."""
    import keras

    if keras.config.dtype_policy().name == "mixed_float16":
        raise ValueError(
            f"mixed_float16 needs loss scaling, which {steps} do not do; "
            "use --precision mixed_bfloat16 (no loss scaling needed) or float32"
        )


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
