"""Shared fixtures: registries with in-test plugins, tiny data, the CLI runner."""

from __future__ import annotations

import contextlib
import functools
import os
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _session_folder(variable: str, prefix: str) -> None:
    """Point ``variable`` at a temporary folder of this session's, removed at exit (unless already set)."""
    if variable not in os.environ:
        import atexit
        import shutil
        import tempfile

        os.environ[variable] = tempfile.mkdtemp(prefix=prefix)
        atexit.register(shutil.rmtree, os.environ[variable], True)


# pytest-xdist runs one worker a core. PyTorch's OpenMP pool, one thread a core in
# each worker and in each `zoo` process a test starts, then spins against the other
# workers' (tiny models gain nothing from it): one thread each took the PyTorch pass's
# test_keras_save_and_load from 44 s to 24 s. TensorFlow and JAX were unchanged by it.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

# Image folders are decoded into zoo's on-disk data cache: the suite's go to a
# folder of its own, never into the user's cache.
_session_folder("ZOO_DATA_CACHE_DIR", "zoo-test-data-")
# On JAX, the suite compiles the same tiny train steps again and again (a new
# jit per model): JAX's persistent compilation cache, in a folder of this session's.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
_session_folder("JAX_COMPILATION_CACHE_DIR", "zoo-test-jax-")
# The suite's models are tiny and train a step or two: XLA's CPU back end spends
# more time optimising their code than running it. Compiling with LLVM's cheap
# passes cuts the JAX pass by about a quarter (results stay within the tests'
# tolerances; the numbers that matter are compared on one backend or against
# references with a tolerance). XLA's older CPU emitters compile in about half the
# time of its fusion emitters (a tiny VAE-GAN: 6.9 s against 3.2 s in all), which cut the
# JAX pass's test_keras_save_and_load from 76 s to 58 s. Also reaches the `zoo`
# processes tests start. (.ci/run gives the example plugin's tests the same flags.)
if os.environ.get("KERAS_BACKEND") == "jax" and "XLA_FLAGS" not in os.environ:
    os.environ["XLA_FLAGS"] = ("--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true "
                               "--xla_cpu_use_fusion_emitters=false")

#: Files whose every test has an outcome that cannot depend on the Keras backend
#: (CLI parsing, configs, the plugin machinery, data loaders' numpy, file safety,
#: messages): marked one_backend, so CI runs them on TensorFlow only. Training,
#: resume, data parallelism, export/load, numerical and loss tests run on all three.
ONE_BACKEND_FILES = {
    "test_cli.py", "test_config.py", "test_hooks.py", "test_plugins.py", "test_machine_output.py",
    "test_no_backend_code.py", "test_data_command.py", "test_datasets.py", "test_clear_messages.py",
    "test_write_errors.py", "test_run_folders.py", "test_real_media.py", "test_scaffold.py",
}


#: Files whose tests are backend-independent except those marked every_backend
#: (their one_backend mark comes from here too).
MOSTLY_ONE_BACKEND_FILES = {"test_hub.py", "test_sample_eval_cli.py", "test_train_faults.py"}

#: Files whose tests share module-scoped trained runs: with pytest-xdist
#: (``--dist loadgroup``) each file runs in one worker, so its runs are trained once.
ONE_WORKER_FILES = {"test_sample_eval_cli.py", "test_evaluation.py", "test_presets_64.py", "test_scaffold.py",
                    "test_write_errors.py", "test_load_checks.py", "test_runs.py", "test_multinet.py",
                    "test_compare.py", "test_tracking.py"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        name = item.path.name
        if name in ONE_BACKEND_FILES or (name in MOSTLY_ONE_BACKEND_FILES
                                         and item.get_closest_marker("every_backend") is None):
            item.add_marker(pytest.mark.one_backend)
        if name in ONE_WORKER_FILES:
            item.add_marker(pytest.mark.xdist_group(name))
    # The PostgreSQL tests start a real server; they run when -m names them (pytest -m postgres).
    if "postgres" not in (config.getoption("markexpr", "") or ""):
        left_out = [item for item in items if item.get_closest_marker("postgres") is not None]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [item for item in items if item.get_closest_marker("postgres") is None]


@functools.cache  # asked before every test: the answer cannot change within a session
def _tensorflow_pass() -> bool:
    import importlib.util

    return os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow" and \
        importlib.util.find_spec("tensorflow") is not None


def _run_eagerly(on: bool) -> None:
    import tensorflow as tf

    tf.config.run_functions_eagerly(on)


@pytest.fixture(autouse=True, scope="module")
def _backend_independent_modules_run_eagerly(request):
    """On TensorFlow, a module with tests marked one_backend (their outcome cannot depend on
    the backend) builds its shared runs with tf.functions run eagerly. Tracing a tiny model's
    train, test and predict functions into graphs costs seconds; running its few steps
    eagerly costs milliseconds (tests/test_sample_eval_cli.py alone, all eager: 134 s -> 72 s;
    the 643 one_backend tests on two workers: 397 s -> 361 s). The graphs users train with
    are what every other test runs: every model, resume, data parallelism, export/load,
    numerics (the function-scoped fixture below switches back for those). The `zoo`
    processes tests start are not touched."""
    if not _tensorflow_pass() or not any(item.get_closest_marker("one_backend") is not None
                                         for item in request.session.items if item.module is request.module):
        yield
        return
    _run_eagerly(True)
    yield
    _run_eagerly(False)


@pytest.fixture(autouse=True)
def _backend_independent_tests_run_eagerly(request, _backend_independent_modules_run_eagerly):
    """A one_backend test runs tf.functions eagerly; any other runs TensorFlow's graphs."""
    if not _tensorflow_pass() or "tensorflow" not in sys.modules:
        yield
        return
    import tensorflow as tf

    was = tf.config.functions_run_eagerly()
    _run_eagerly(request.node.get_closest_marker("one_backend") is not None)
    yield
    _run_eagerly(was)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook; the suite also runs without it
def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker a core, at most four (each holds a Keras backend, ~1 GB)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, 4))


from zoo_core.hookspecs import hookimpl  # noqa: E402
from zoo_core.plugins.registry import load_registry  # noqa: E402
from zoo_core.specs import Dataset, DatasetSpec  # noqa: E402


def tiny_images(n=32, shape=(28, 28, 1), seed=0):
    """Blobs on a dark background: enough structure for a loss to fall (zoo_core.testing's own)."""
    from zoo_core.testing import blob_images

    return blob_images(n, shape, seed)


def tiny_dataset(arg=None, image_size=None, shape=(28, 28, 1)):
    if arg:
        h, w, c = (int(v) for v in arg.split("x"))
        shape = (h, w, c)
    x = tiny_images(40, shape)
    y = np.arange(40) % 4
    return Dataset("tiny", x[:32], x[32:], y[:32], y[32:], num_classes=4, source="generated")


class TinyDataPlugin:
    """An in-test plugin with a 40-image synthetic data set, ``tiny[:HxWxC]``."""

    name = "tiny-data"

    @hookimpl
    def zoo_datasets(self):
        return [DatasetSpec("tiny", "40 synthetic blobs", load=tiny_dataset,
                            image_shape=(28, 28, 1), num_classes=4, arg_help="HxWxC")]


@pytest.fixture
def registry():
    """The installed plugins plus the tiny data set."""
    return load_registry(plugins=[TinyDataPlugin()])


@pytest.fixture
def make_registry():
    """A registry of only the given in-test plugins (no entry points, no preset files)."""

    def make(*plugins, **kwargs):
        kwargs.setdefault("entrypoints", False)
        kwargs.setdefault("bundled", False)
        return load_registry(plugins=plugins, **kwargs)

    return make


@pytest.fixture
def tiny_npz(tmp_path):
    path = tmp_path / "tiny.npz"
    x = (tiny_images(48) * 255).astype(np.uint8)[..., 0]
    np.savez(path, x_train=x[:40], x_test=x[40:], y_train=np.arange(40) % 3, y_test=np.arange(8) % 3)
    return path


@contextlib.contextmanager
def in_workspace(root):
    """A module's working folder: the current directory, with a private classifier cache
    (for module-scoped fixtures, which cannot take ``monkeypatch``)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZOO_CACHE_DIR", str(root / "cache"))
        mp.chdir(root)
        yield root


def zoo_invoker():
    """``zoo ARGS...`` through Click's runner, for module-scoped fixtures; unexpected exceptions propagate."""
    from click.testing import CliRunner

    from zoo_core.cli import cli as zoo

    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(zoo, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def cli(monkeypatch, tmp_path):
    """Run ``zoo ARGS...`` through Click's runner in a clean working directory.

    Unexpected exceptions propagate (``catch_exceptions=False``), so a user
    error that escapes as a traceback fails the test.
    """
    monkeypatch.chdir(tmp_path)
    return zoo_invoker()
