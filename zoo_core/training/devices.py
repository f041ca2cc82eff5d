"""Where and how training runs: devices, compile settings per backend,
mixed precision, and data parallelism through Keras' distribution API.

Keras is imported inside functions only.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
from typing import Any, Iterator

from ..errors import ZooError

BACKEND_DISTRIBUTIONS = {
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "jax": ("jax",),
    "torch": ("torch",),
}

# Compile settings zoo uses when the run's config leaves them unset, by
# (backend, device kind). Measured on a 2-core CPU (benchmarks/RESULTS.md):
# - TensorFlow on CPU: XLA makes these conv nets slower than TensorFlow's own
#   oneDNN kernels, and several steps per tf.function call cut the per-step
#   overhead of small models.
# - JAX always compiles; several steps per call save the Python round trip.
# - PyTorch: Keras allows only one step per call; torch.compile is not worth
#   its compile time for models this small.
# On GPUs Keras' own defaults ("auto" XLA) stand.
EXECUTION_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("tensorflow", "cpu"): {"jit_compile": False, "steps_per_execution": 8},
    ("jax", "cpu"): {"steps_per_execution": 8},
    ("jax", "gpu"): {"steps_per_execution": 8},
}


def installed_backends() -> dict[str, str]:
    """Backend name -> installed version, read from package metadata (no import)."""
    found = {}
    for name, distributions in BACKEND_DISTRIBUTIONS.items():
        for dist in distributions:
            try:
                found[name] = importlib.metadata.version(dist)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return found


def accelerators(backend: str) -> list[str]:
    """The GPUs/TPUs the backend sees (empty on a CPU-only machine, or when
    that backend is not installed)."""
    try:
        return _accelerators(backend)
    except ImportError:
        return []


def _accelerators(backend: str) -> list[str]:
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices() if d.device_type != "CPU"]
    if backend == "jax":
        import jax

        return [f"{d.platform}:{d.id} {getattr(d, 'device_kind', '')}".strip()
                for d in jax.devices() if d.platform != "cpu"]
    if backend == "torch":
        import torch

        return [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    return []


def all_devices(backend: str) -> list[str]:
    import keras

    try:
        return [str(d) for d in keras.distribution.list_devices()]
    except (NotImplementedError, RuntimeError, ValueError, AttributeError):
        return accelerators(backend) or ["cpu"]


def compile_options(train, backend: str) -> dict[str, Any]:
    """``compile()`` keyword arguments: the run's settings, else zoo's
    measured defaults for this backend and device."""
    kind = "gpu" if accelerators(backend) else "cpu"
    options = dict(EXECUTION_DEFAULTS.get((backend, kind), {}))
    if train.steps_per_execution is not None:
        options["steps_per_execution"] = train.steps_per_execution
    if train.jit_compile is not None:
        options["jit_compile"] = train.jit_compile
    if backend == "torch" and options.get("steps_per_execution", 1) != 1:
        raise ZooError("the PyTorch backend runs one step per execution: set train.steps_per_execution=1")
    if backend == "tensorflow" and train.distribute == "data-parallel":
        # Keras' TensorFlow trainer fails on several steps per call under a
        # tf.distribute strategy (keras-team/keras#19246).
        if train.steps_per_execution not in (None, 1):
            raise ZooError("--distribute data-parallel on TensorFlow runs one step per execution: "
                           "set train.steps_per_execution=1 (or leave it unset)")
        options["steps_per_execution"] = 1
    return options


@contextlib.contextmanager
def execution(train, backend: str) -> Iterator[None]:
    """Set the dtype policy and the distribution for one run, and restore
    Keras' global state afterwards (tests train several runs per process)."""
    import keras

    global _runs_inside
    policy = keras.config.dtype_policy()
    distribution = keras.distribution.distribution()
    remapper = _remapper_option() if backend == "tensorflow" else None
    _runs_inside += 1
    try:
        if train.precision != "float32":
            keras.config.set_dtype_policy(train.precision)
        if train.distribute == "none" and backend == "torch":
            from .replicas import torch_started

            if torch_started() and int(os.environ["WORLD_SIZE"]) > 1:
                raise ZooError("this process is one of several torchrun started; add --distribute data-parallel "
                               "so that they split each batch (else each would train the same run on its own)")
        if train.distribute == "data-parallel":
            with data_parallel(train, backend):
                yield
        else:
            yield
    finally:
        _runs_inside -= 1
        keras.config.set_dtype_policy(policy)
        keras.distribution.set_distribution(distribution)
        if remapper is not None:
            import tensorflow as tf

            tf.config.optimizer.set_experimental_options({"remapping": remapper})


#: How many execution() contexts are open: quiet_remapper changes TensorFlow's global
#: options only inside one, which restores them when the run ends.
_runs_inside = 0


def _remapper_option() -> bool:
    import tensorflow as tf

    return bool(tf.config.optimizer.get_experimental_options().get("remapping", True))


def quiet_remapper(model, backend: str) -> None:
    """TensorFlow: turn grappler's remapper pass (its ``remapping`` option) off
    for a model of several networks, until :func:`execution` ends.

    With oneDNN (TensorFlow's default on most x86 CPUs), the remapper tries to
    fuse a discriminator's Conv2D + BiasAdd + LeakyRelu in a train step whose
    gradient also reads the BiasAdd, fails, and logs ``E0000 ...
    meta_optimizer.cc: remapper failed: INVALID_ARGUMENT: Mutation::Apply
    error`` when the step is compiled: an ERROR line the user can do nothing
    about (shown unless TF_CPP_MIN_LOG_LEVEL is 3). A failed pass leaves the
    graph as it was, so turning it off changes nothing but the line (measured
    on a tiny DCGAN: the same images/s within noise); the other grappler passes,
    and their errors, stay. One-network models keep it: there it succeeds."""
    if backend != "tensorflow" or not _runs_inside:
        return  # outside a run (a test or a script compiling a model) nothing would restore it
    from .multinet import MultiNetworkModel

    if isinstance(model, MultiNetworkModel):
        import tensorflow as tf

        tf.config.optimizer.set_experimental_options({"remapping": False})


@contextlib.contextmanager
def data_parallel(train, backend: str) -> Iterator[None]:
    """Split each batch over every device, each backend through its own engine:

    - JAX: Keras' ``DataParallel`` distribution over every device (all hosts,
      after ``keras.distribution.initialize``); one program over the global batch.
    - TensorFlow: ``tf.distribute.MirroredStrategy`` over every GPU (else every
      logical CPU device), one host; the model is built and trained in its scope.
    - PyTorch: ``torch.distributed`` over the processes ``torchrun`` started
      (one per device; gloo on CPUs, NCCL on GPUs): see :mod:`.replicas`.
    """
    import keras

    if backend == "jax":
        devices = keras.distribution.list_devices()
        check_batch(train, len(devices))
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        yield
    elif backend == "tensorflow":
        strategy = tensorflow_strategy()
        check_batch(train, strategy.num_replicas_in_sync)
        with strategy.scope():
            yield
    elif backend == "torch":
        from .replicas import torch_process_group

        with torch_process_group() as world:
            check_batch(train, world)
            yield
    else:
        raise ZooError(f"--distribute data-parallel is not available on the {backend} backend")


def check_batch(train, replicas: int) -> None:
    if train.batch_size % replicas:
        raise ZooError(
            f"--distribute data-parallel splits each batch over {replicas} devices, so the batch "
            f"size must be a multiple of {replicas} (got {train.batch_size}); change --batch-size"
        )


def tensorflow_strategy():
    """MirroredStrategy over the GPUs, else over the logical CPU devices.

    Not MultiWorkerMirroredStrategy (several hosts): Keras 3's TensorFlow
    trainer fails under it in every ``fit``, reducing each step's scalar logs
    along an axis they do not have (tensorflow/tensorflow#72388)."""
    import tensorflow as tf

    if os.environ.get("TF_CONFIG"):
        raise ZooError(
            "TF_CONFIG is set, but Keras 3 cannot train under TensorFlow's MultiWorkerMirroredStrategy "
            "(tensorflow/tensorflow#72388); for several hosts use --backend jax or --backend torch (under "
            "torchrun), or unset TF_CONFIG to use this host's GPUs"
        )
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy(devices=[d.name for d in devices])


def replica_count(backend: str) -> int:
    """How many devices a data-parallel run splits each batch over (inside
    :func:`execution`)."""
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.distribute.get_strategy().num_replicas_in_sync
    if backend == "torch":
        from .replicas import world_size

        return world_size()
    import keras

    return len(keras.distribution.list_devices())


def describe(backend: str) -> dict[str, Any]:
    """What ``zoo doctor`` reports about the chosen backend."""
    from ..backend import import_keras

    keras = import_keras()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "keras": keras.__version__,
        "backend": backend,
        "backend_version": installed_backends().get(backend, "?"),
        "devices": all_devices(backend),
        "accelerators": accelerators(backend),
        "compile_defaults": compile_defaults_text(backend),
        "cpu_bfloat16": cpu_bfloat16_flags(),
    }


#: CPU flags (as Linux names them) for native bfloat16 arithmetic, which
#: oneDNN (TensorFlow, PyTorch) uses under a mixed_bfloat16 policy.
BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_bfloat16_flags(cpuinfo: str | None = None) -> list[str]:
    """The bfloat16 instruction sets this CPU reports (empty if none, or not on Linux)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read()
        except OSError:
            return []
    for line in cpuinfo.splitlines():
        if line.startswith("flags") and ":" in line:
            flags = set(line.split(":", 1)[1].split())
            return [flag for flag in BFLOAT16_FLAGS if flag in flags]
    return []


def compile_defaults_text(backend: str) -> str:
    kind = "gpu" if accelerators(backend) else "cpu"
    options = EXECUTION_DEFAULTS.get((backend, kind), {})
    return ", ".join(f"{k}={v}" for k, v in options.items()) or "Keras' defaults"
