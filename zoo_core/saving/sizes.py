"""Refusing a model far larger than its weights before it takes the machine.

A config that came with a weights file (an export, an archive, a ``.keras``
file) can ask for any size of model; built as asked, a tampered one takes the
machine's memory before it fails. Its parameters are counted first, without
allocating them, and compared with what the weights file can hold.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Callable, Optional

from ..errors import ZooError

#: A saved parameter takes at least one byte (float32 four, int8 one); a config
#: that asks for more parameters than its weights file has bytes, plus this
#: slack (variables a file may leave out), did not come with that file.
SLACK_PARAMETERS = 2**20
#: DEFLATE expands a member at most about this much (a stored member not at all).
_MAX_DEFLATE_RATIO = 1032


def count_parameters(build: Callable[[], Any]) -> Optional[int]:
    """The number of weights (trainable or not) of the model ``build()`` makes,
    counted without allocating them.

    ``build`` runs inside Keras' own shape inference (a scratch graph on
    TensorFlow, abstract arrays on JAX, the meta device on PyTorch) with its
    variables left uninitialized, and the model is then dropped. Returns None
    where it cannot be built so; the real build then says what is wrong.
    """
    import math

    import keras

    try:  # Keras keeps variables created without a value in a private list
        from keras.src.backend.common import global_state
    except ImportError:
        return None
    pending = global_state.get_global_attribute("uninitialized_variables", [], set_to_default=True)
    mark, counted = len(pending), {}

    class Probe(keras.layers.Layer):
        def call(self, x):
            # Once only: where its symbolic pass fails, PyTorch's Keras retries with real tensors.
            if counted.setdefault("tries", 0):
                raise RuntimeError("a second, real pass")
            counted["tries"] = 1
            model = build()
            counted["n"] = sum(math.prod(int(d) for d in v.shape) for v in model.weights)
            return x

    try:
        # initialize_variables=False: leaving the scope must not give the variables their values.
        with keras.StatelessScope(initialize_variables=False):
            Probe().compute_output_spec(keras.KerasTensor((1,)))
    except ZooError:
        raise
    except Exception:  # a model that cannot be built symbolically is left to the real build
        return None
    finally:
        # Otherwise the next scope Keras leaves would allocate them after all.
        if global_state.get_global_attribute("uninitialized_variables") is pending:
            del pending[mark:]
    return counted.get("n")


def check_size(parameters: Optional[int], weights_bytes: int, label: str) -> None:
    """Refuse a model of ``parameters`` weights said to come with a weights
    file of ``weights_bytes`` bytes, when that file cannot hold them."""
    if parameters is None or parameters <= weights_bytes + SLACK_PARAMETERS:
        return
    raise ZooError(
        f"{label} asks for a model of {_amount(parameters)} parameters ({_amount(4 * parameters, 'B')} as "
        f"float32), but its weights file holds {_amount(weights_bytes, 'B')}: its config does not describe "
        f"its weights (damaged or altered); zoo refuses to build it"
    )


def keras_weights_bytes(path: Path) -> int:
    """How many bytes of weights a ``.keras`` file can hold, from its zip
    directory (bounded by the file's own size, whatever the directory says)."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("model.weights.h5")
    except KeyError:
        return 0
    except (zipfile.BadZipFile, OSError) as exc:
        raise ZooError(f"{path} is not a valid .keras file: {exc}") from None
    ratio = 1 if info.compress_type == zipfile.ZIP_STORED else _MAX_DEFLATE_RATIO
    return min(info.file_size, path.stat().st_size * ratio)


def _amount(number: float, unit: str = "") -> str:
    """``116.0 billion``, or with a unit ``464.1 GB``."""
    for scale, prefix, word in ((1e12, "T", "trillion"), (1e9, "G", "billion"), (1e6, "M", "million"),
                                (1e3, "k", "")):
        if number >= scale and (unit or word):
            return f"{number / scale:.1f} {prefix}{unit}" if unit else f"{number / scale:.1f} {word}"
    return f"{int(number):,} {unit}".rstrip()


def sharing_scope():
    """Keras' scope that rebuilds an object shared in a saved config once, as
    its loader does (private; without it shared objects count twice)."""
    import contextlib

    try:
        from keras.src.saving.serialization_lib import ObjectSharingScope
    except ImportError:
        return contextlib.nullcontext()
    return ObjectSharingScope()
