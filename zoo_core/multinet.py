"""Helpers for plugin models that train several networks, each with its own
optimizer, through one train step per backend (zoo-gan's GANs, zoo-vaegan's
VAE-GAN, or a third party's model of that kind).

Keras' own ``train_step`` serves one optimizer; such a model writes a step
per backend and wraps its optimizers as one ``model.optimizer``. What those
models share, whatever their networks are, lives here. Keras and the
backends are imported inside the functions only.
"""

from __future__ import annotations

import importlib
from typing import Callable, Optional


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
    (default: the backend Keras runs on); ``owner`` names the plugin in the error."""
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
    """
    import keras

    mapping = list(zip(model.trainable_variables, trainable))
    mapping += list(zip(model.non_trainable_variables, non_trainable))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        out = fn()
    return out, [scope.get_current_value(v) for v in model.non_trainable_variables]
