"""Precision and placement checks that train steps share (no Keras on import)."""

from __future__ import annotations


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
