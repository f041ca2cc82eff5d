"""Choosing the Keras backend before Keras is imported.

Keras reads ``KERAS_BACKEND`` once, at import; so ``--backend`` must be
applied before anything imports Keras, and cannot change afterwards.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Iterator, Optional

from .errors import ZooError

BACKENDS = ("tensorflow", "jax", "torch")
#: Default order when the user names none: fastest on a CPU first, measured
#: with the conv VAE on 2 cores (see benchmarks/).
PREFERENCE = ("tensorflow", "torch", "jax")
INSTALL = {
    "tensorflow": "pip install tensorflow-cpu  (or tensorflow[and-cuda] for NVIDIA GPUs)",
    "jax": "pip install jax  (or jax[cuda12] for NVIDIA GPUs)",
    "torch": "pip install torch",
}


def installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _keras_json_backend() -> Optional[str]:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        return json.loads(Path(home, "keras.json").read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        return None


def choose_backend(requested: Optional[str] = None) -> str:
    """Pick the backend: ``requested``, else ``$KERAS_BACKEND``, else
    ``keras.json``, else the first installed of :data:`PREFERENCE`; set
    ``KERAS_BACKEND`` so Keras uses it. Fails clearly when it is unknown,
    not installed, or Keras already runs on another one."""
    name = requested or os.environ.get("KERAS_BACKEND")
    if name is None:
        configured = _keras_json_backend()
        if configured in BACKENDS and installed(configured):
            name = configured
        else:
            name = next((b for b in PREFERENCE if installed(b)), None)
            if name is None:
                raise ZooError(
                    "no Keras backend is installed; install one, e.g. "
                    "pip install 'zoo-core[tensorflow]' (or [jax], [torch])"
                )
    if name not in BACKENDS:
        raise ZooError(f"unknown backend '{name}'; choose one of {', '.join(BACKENDS)}")
    if not installed(name):
        raise ZooError(f"backend '{name}' is not installed; {INSTALL[name]}")
    if "keras" in sys.modules:
        import keras

        current = keras.backend.backend()
        if current != name:
            raise ZooError(
                f"Keras is already running on '{current}' in this process; "
                f"start a new process to use '{name}'"
            )
    os.environ["KERAS_BACKEND"] = name
    # TensorFlow's C++ start-up chatter is not for our users.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return name


def import_keras():
    """Import Keras on the chosen backend, hiding TensorFlow's native start-up
    log lines (written to fd 2 before any log setting applies). If the import
    fails, what was hidden is shown with the error.

    zoo's models and data are channels-last float32: whatever ``keras.json``
    says (``channels_first``, ``floatx = float16``), Keras is set to that here
    (mixed precision is ``--precision``'s job)."""
    if "keras" in sys.modules or os.environ.get("KERAS_BACKEND") != "tensorflow":
        import keras

        return _zoo_defaults(keras)
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as hidden:
        os.dup2(hidden.fileno(), 2)
        try:
            import keras
        except BaseException:
            os.dup2(saved, 2)
            hidden.seek(0)
            sys.stderr.write(hidden.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return _zoo_defaults(keras)


def _zoo_defaults(keras):
    if keras.config.image_data_format() != "channels_last":
        keras.config.set_image_data_format("channels_last")
    if keras.config.floatx() != "float32":
        keras.config.set_floatx("float32")
    return keras



@contextlib.contextmanager
def keras_without_tensorflow() -> Iterator[None]:
    """Inside, Keras on JAX or PyTorch acts as if TensorFlow were not installed.

    Keras imports TensorFlow whenever it is installed, whatever the backend:
    ``keras.utils.set_random_seed`` seeds it (for ``tf.data``), and saving a
    model checks for its types. zoo feeds those backends numpy arrays and never
    needs it there. The import alone adds about 270 MB; a PyTorch run of
    ``gan-mnist`` peaked at 1,142 MiB with it and 716 MiB without. Nothing
    changes on the TensorFlow backend, or
    once TensorFlow is loaded. Keras keeps the flag on a private lazy-module
    object: should a later Keras keep it elsewhere, this does nothing.
    """
    import keras

    lazy = None
    if keras.backend.backend() != "tensorflow" and "tensorflow" not in sys.modules:
        try:
            from keras.src.utils.module_utils import tensorflow as lazy
        except ImportError:
            lazy = None
    if lazy is None or lazy.__dict__.get("_available", "unknown") is not None:
        yield  # not ours to change: TensorFlow is the backend, loaded, absent, or Keras differs
        return
    lazy._available = False
    try:
        yield
    finally:
        lazy._available = None
