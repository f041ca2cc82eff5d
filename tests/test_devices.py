"""Devices, precision and data parallelism: `zoo doctor`, `--precision`,
`--distribute data-parallel` (on several virtual CPU devices, as CI has no GPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from zoo_core.config import TrainConfig
from zoo_core.training.devices import compile_options
from zoo_core.errors import ZooError

TINY_VAE = ["--set", "filters=[4,8]", "--set", "dense_units=8", "--set", "grid_size=2"]


def backend():
    import keras

    return keras.backend.backend()


def run_python(code: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python -c code args`` from the repository root, with these environment variables."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run([sys.executable, "-c", code, *args], env={**os.environ, **env}, cwd=root,
                          capture_output=True, text=True, timeout=600)


def test_doctor(cli):
    result = cli("doctor", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["backend"] == backend() and report["devices"]
    assert backend() in report["installed_backends"]
    text = cli("doctor").output
    assert "devices:" in text and "backend_version:" in text


def test_cpu_bfloat16_flags():
    from zoo_core.training.devices import cpu_bfloat16_flags

    info = "processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx_tile amx_bf16\n\nprocessor\t: 1\n"
    assert cpu_bfloat16_flags(info) == ["amx_bf16", "avx512_bf16"]
    assert cpu_bfloat16_flags("flags\t: fpu sse avx2\n") == []
    assert cpu_bfloat16_flags("") == []
    assert isinstance(cpu_bfloat16_flags(), list)  # this machine's, whatever it has


def test_compile_defaults_and_overrides():
    assert compile_options(TrainConfig(steps_per_execution=3), "jax")["steps_per_execution"] == 3
    assert compile_options(TrainConfig(jit_compile=True), "tensorflow")["jit_compile"] is True
    assert compile_options(TrainConfig(), "torch") == {}
    with pytest.raises(ZooError, match="one step per execution"):
        compile_options(TrainConfig(steps_per_execution=4), "torch")


@pytest.mark.parametrize("missing", ["jax", "torch", "tensorflow"])
def test_a_backend_that_is_not_installed_has_no_accelerators(monkeypatch, missing):
    # CI's first pass has TensorFlow only; asking about the others must not raise.
    from zoo_core.training.devices import accelerators

    monkeypatch.setitem(sys.modules, missing, None)  # makes `import missing` raise ImportError
    assert accelerators(missing) == []
    assert compile_options(TrainConfig(jit_compile=True), missing)["jit_compile"] is True


def test_mixed_bfloat16_trains(cli, tiny_npz, tmp_path):
    out = tmp_path / "run"
    result = cli("train", "vae", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, "--batch-size", 8,
                 *TINY_VAE, "--precision", "mixed_bfloat16", "--out", out)
    assert result.exit_code == 0, result.output
    assert "precision mixed_bfloat16" in result.output
    assert 'precision = "mixed_bfloat16"' in (out / "config.toml").read_text()
    import keras

    assert keras.config.dtype_policy().name == "float32"  # restored after the run


def test_distribute_needs_jax_and_a_fitting_batch(cli, tiny_npz, tmp_path):
    args = ["train", "vae", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, *TINY_VAE,
            "--distribute", "data-parallel", "--out", tmp_path / "run"]
    result = cli(*args, "--batch-size", 8)
    if backend() != "jax":
        assert result.exit_code == 1 and "--backend jax" in result.output
        assert not (tmp_path / "run").exists()
    else:
        assert result.exit_code == 0, result.output


DATA_PARALLEL = textwrap.dedent("""
    import json, pathlib, sys, tempfile
    from tests.conftest import TinyDataPlugin
    from zoo_core.registry import load_registry
    from zoo_core.resolve import resolve_run
    from zoo_core.training import train_run

    registry = load_registry(plugins=[TinyDataPlugin()])
    model, overrides = sys.argv[1], sys.argv[2:]
    lines, results = [], {}
    for distribute in ("none", "data-parallel"):
        resolved = resolve_run(registry, model, dataset="tiny", overrides=overrides,
                               train={"epochs": 2, "batch_size": 8, "grid_size": 2, "distribute": distribute})
        run = pathlib.Path(tempfile.mkdtemp()) / "run"
        results[distribute] = train_run(resolved, run, backend="jax", echo=lines.append, verbose=0).metrics
    print(json.dumps({"lines": lines, "results": results}))
""")


@pytest.mark.parametrize("model, overrides", [
    ("vae", ["filters=[4, 8]", "dense_units=8", "latent_dim=2"]),
    ("dcgan", ["latent_dim=4", "generator_filters=[8, 4]", "discriminator_filters=[4, 8]"]),
])
def test_data_parallel_matches_one_device(model, overrides):
    # A JAX subprocess whatever the suite's backend: run it once, in CI's JAX pass.
    if backend() != "jax":
        pytest.skip("runs in the JAX pass of the suite")
    done = run_python(DATA_PARALLEL, model, *overrides, KERAS_BACKEND="jax",
                      XLA_FLAGS="--xla_force_host_platform_device_count=2")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "With data-parallel over 2 devices" in report["lines"]
    single, parallel = report["results"]["none"], report["results"]["data-parallel"]
    for key in single:
        if key not in ("seconds", "images_per_second"):
            np.testing.assert_allclose(parallel[key], single[key], rtol=1e-4, atol=1e-5, err_msg=key)


@pytest.mark.parametrize("model", ["dcgan", "vae-gan"])
def test_multi_optimizer_models_refuse_mixed_float16(cli, tiny_npz, tmp_path, model):
    result = cli("train", model, "--dataset", f"npz:{tiny_npz}", "--epochs", 1, "--set", "image_size=16",
                 "--precision", "mixed_float16", "--out", tmp_path / "run")
    assert result.exit_code == 1 and "mixed_bfloat16" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


NO_TENSORFLOW = textwrap.dedent("""
    import sys, pathlib
    from zoo_core.cli import cli
    out = pathlib.Path(sys.argv[2])
    try:
        cli(["train", "dcgan", "--dataset", "npz:" + sys.argv[1], "--epochs", "2", "--batch-size", "8",
             "--set", "latent_dim=4", "--set", "generator_filters=[8, 4]", "--set", "discriminator_filters=[4, 8]",
             "--set", "grid_size=2", "--out", str(out)], standalone_mode=False)
    finally:
        print("TENSORFLOW", "tensorflow" in sys.modules)
""")


def test_a_jax_or_torch_run_never_imports_tensorflow(tiny_npz, tmp_path):
    # Keras would (seeding, saving), and so would tensorboard's event writer:
    # hundreds of MB in a run that never uses it.
    if backend() == "tensorflow":
        pytest.skip("TensorFlow is this pass's backend")
    done = run_python(NO_TENSORFLOW, str(tiny_npz), str(tmp_path / "run"), KERAS_BACKEND=backend())
    assert done.returncode == 0, done.stderr[-3000:]
    assert "TENSORFLOW False" in done.stdout, done.stdout[-2000:]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "run" / "logs"))
    events.Reload()
    assert [e.step for e in events.Scalars("train/d_loss")] == [1, 2]
    assert (tmp_path / "run" / "model.keras").exists()
