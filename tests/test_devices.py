"""Devices, precision and data parallelism: `zoo doctor`, `--precision`,
`--distribute data-parallel` (on several virtual CPU devices, as CI has no GPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from zoo_core.plugins.config import TrainConfig
from zoo_core.training.devices import compile_options
from zoo_core.errors import ZooError

TINY_VAE = ["--set", "filters=[4,8]", "--set", "dense_units=8", "--set", "grid_size=2"]


def backend():
    import keras

    return keras.backend.backend()


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python -c code args`` from the repository root, with these environment variables."""
    return run_group([sys.executable, "-c", code, *args], **env)


def run_group(command: list, timeout: int = 600, **env: str) -> subprocess.CompletedProcess:
    """Run ``command`` from the repository root in a process group of its own,
    all of which is killed if it outlives ``timeout`` (torchrun's workers too)."""
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{command[:4]} ran past {timeout} s and was stopped: {stderr[-3000:]}")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


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


def test_distribute_needs_a_fitting_batch_and_torchrun_on_pytorch(cli, tiny_npz, tmp_path):
    args = ["train", "vae", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, *TINY_VAE,
            "--distribute", "data-parallel", "--out", tmp_path / "run"]
    result = cli(*args, "--batch-size", 8)
    if backend() == "torch":
        # One process per device: a plain `zoo train` is not one of several.
        assert result.exit_code == 1 and "torchrun --nproc-per-node" in result.output
        assert "Traceback" not in result.output and not (tmp_path / "run").exists()
    else:
        # One device here: JAX's DataParallel and TensorFlow's MirroredStrategy over it.
        assert result.exit_code == 0, result.output
        assert "With data-parallel over 1 devices" in result.output


def test_torchrun_without_distribute_is_refused(cli, tiny_npz, tmp_path, monkeypatch):
    if backend() != "torch":
        pytest.skip("torchrun starts PyTorch processes")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = cli("train", "vae", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, *TINY_VAE, "--out", tmp_path / "run")
    assert result.exit_code == 1 and "add --distribute data-parallel" in result.output
    assert not (tmp_path / "run").exists()


def test_several_tensorflow_hosts_are_refused_with_the_reason(cli, tiny_npz, tmp_path, monkeypatch):
    if backend() != "tensorflow":
        pytest.skip("TF_CONFIG is TensorFlow's")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}')
    result = cli("train", "vae", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, *TINY_VAE,
                 "--distribute", "data-parallel", "--out", tmp_path / "run")
    assert result.exit_code == 1 and "MultiWorkerMirroredStrategy" in result.output
    assert "--backend jax" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_tensorflow_data_parallel_runs_one_step_per_execution():
    options = compile_options(TrainConfig(distribute="data-parallel"), "tensorflow")
    assert options["steps_per_execution"] == 1
    with pytest.raises(ZooError, match="one step per execution"):
        compile_options(TrainConfig(distribute="data-parallel", steps_per_execution=8), "tensorflow")


def test_each_process_feeds_its_share_of_every_batch():
    from zoo_core.training.replicas import shard

    order = np.arange(21)  # batches of 8: two full, then 5 left
    parts = [shard(order, 8, i, 2) for i in range(2)]
    assert parts[0].tolist() == [0, 1, 2, 3, 8, 9, 10, 11, 16, 17]
    assert parts[1].tolist() == [4, 5, 6, 7, 12, 13, 14, 15, 18, 19]  # 20 waits for the next epoch
    assert shard(order, 8, 0, 1) is order
    assert shard(np.arange(17), 8, 1, 2).tolist() == [4, 5, 6, 7, 12, 13, 14, 15]  # 16 alone is left out


DATA_PARALLEL = textwrap.dedent("""
    import json, pathlib, sys, tempfile
    from tests.conftest import TinyDataPlugin
    from zoo_core.plugins.registry import load_registry
    from zoo_core.plugins.resolve import resolve_run
    from zoo_core.training import train_run

    registry = load_registry(plugins=[TinyDataPlugin()])
    backend, model, overrides = sys.argv[1], sys.argv[2], sys.argv[3:]
    lines, results = [], {}
    for distribute in ("none", "data-parallel"):
        resolved = resolve_run(registry, model, dataset="tiny", overrides=overrides,
                               train={"epochs": 2, "batch_size": 8, "grid_size": 2, "distribute": distribute})
        run = pathlib.Path(tempfile.mkdtemp()) / "run"
        results[distribute] = train_run(resolved, run, backend=backend, echo=lines.append, verbose=0).metrics
    print(json.dumps({"lines": lines, "results": results}))
""")


#: A single-optimizer model and a GAN, tiny.
EQUIVALENCE_MODELS = [
    ("vae", ["filters=[4, 8]", "dense_units=8", "latent_dim=2"]),
    ("dcgan", ["latent_dim=4", "generator_filters=[8, 4]", "discriminator_filters=[4, 8]"]),
]


def assert_same_training(parallel: dict, single: dict, **tolerance) -> None:
    assert set(parallel) == set(single)
    for key in single:
        if key not in ("seconds", "images_per_second"):
            np.testing.assert_allclose(parallel[key], single[key], err_msg=key, **tolerance)


@pytest.mark.parametrize("model, overrides", EQUIVALENCE_MODELS)
def test_data_parallel_matches_one_device(model, overrides):
    # A JAX subprocess whatever the suite's backend: run it once, in CI's JAX pass.
    if backend() != "jax":
        pytest.skip("runs in the JAX pass of the suite")
    # Two host devices, and the suite's cheap XLA passes (tests/conftest.py) kept.
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2".strip()
    done = run_python(DATA_PARALLEL, "jax", model, *overrides, KERAS_BACKEND="jax", XLA_FLAGS=flags)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "With data-parallel over 2 devices" in report["lines"]
    # One program over the global batch: the same numbers.
    assert_same_training(report["results"]["data-parallel"], report["results"]["none"], rtol=1e-4, atol=1e-5)


#: Two logical CPU devices for TensorFlow, made before TensorFlow starts.
TWO_TENSORFLOW_CPUS = textwrap.dedent("""
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
""")

#: Each replica normalises over its own half of the batch and draws noise of
#: its own, so a run over two replicas matches one device's closely, not exactly.
REPLICA_TOLERANCE = {"rtol": 0.01, "atol": 0.02}


@pytest.mark.parametrize("model, overrides", EQUIVALENCE_MODELS)
def test_tensorflow_mirrored_strategy_matches_one_device(model, overrides):
    if backend() != "tensorflow":
        pytest.skip("runs in the TensorFlow pass of the suite")
    done = run_python(TWO_TENSORFLOW_CPUS + DATA_PARALLEL, "tensorflow", model, *overrides,
                      KERAS_BACKEND="tensorflow")
    # torchrun's own report and rank 0's "connection closed" come last: show the other process's error first.
    assert done.returncode == 0, "\n".join(line for line in done.stderr.splitlines()
                                           if "[rank0]" not in line)[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "With data-parallel over 2 devices" in report["lines"]
    assert_same_training(report["results"]["data-parallel"], report["results"]["none"], **REPLICA_TOLERANCE)


TORCH_RUN = textwrap.dedent("""
    import json, os, pathlib, sys, tempfile
    sys.path.insert(0, os.getcwd())
    from tests.conftest import TinyDataPlugin
    from zoo_core.plugins.registry import load_registry
    from zoo_core.plugins.resolve import resolve_run
    from zoo_core.training import resume_run, train_run

    import zoo_core.training.loop as loop

    trained, fit_epochs = [], loop._fit_epochs
    loop._fit_epochs = lambda model, *args: trained.append(model) or fit_epochs(model, *args)
    if os.environ.get("RANK") == "0":
        # Rank 0 puts its run folder in place late: the other process must not go on to resume it before then.
        import time
        from zoo_core.storage.runfolder import StagedRunFolder

        place = StagedRunFolder.place
        StagedRunFolder.place = lambda folder: (time.sleep(2), place(folder))[1]

    registry = load_registry(plugins=[TinyDataPlugin()])
    distribute, out, model, overrides = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4:]
    lines, results = [], {}
    train = {"epochs": 2, "batch_size": 8, "grid_size": 2, "distribute": distribute}
    resolved = resolve_run(registry, model, dataset="tiny", overrides=overrides, train=train)
    results["whole"] = train_run(resolved, out / "whole", backend="torch", echo=lines.append, verbose=0).metrics
    if distribute != "none":
        # Every process ends with the same weights (batch norm's moving statistics
        # too: rank 0's, shared at the end of each epoch), and draws noise of its own.
        import keras, torch, torch.distributed as dist

        weights = torch.cat([v.value.detach().reshape(-1).float() for v in trained[0].weights])
        noise = keras.random.normal((4,), seed=trained[0].seed_generator)
        gathered = [[torch.zeros_like(t) for _ in range(2)] for t in (weights, noise)]
        dist.all_gather(gathered[0], weights)
        dist.all_gather(gathered[1], noise)
        results["weights_differ"] = float((gathered[0][0] - gathered[0][1]).abs().max())
        results["noise_differs"] = float((gathered[1][0] - gathered[1][1]).abs().max())
    # One epoch, then a resume to the second (every process reads the checkpoint).
    resolved = resolve_run(registry, model, dataset="tiny", overrides=overrides, train={**train, "epochs": 1})
    train_run(resolved, out / "resumed", backend="torch", echo=lines.append, verbose=0)
    results["resumed"] = resume_run(out / "resumed", registry, backend="torch", epochs=2, echo=lines.append,
                                    verbose=0).metrics
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps({"lines": lines, "results": results}))
""")


@pytest.mark.parametrize("model, overrides", EQUIVALENCE_MODELS)
def test_torchrun_data_parallel_matches_one_device(model, overrides, tmp_path):
    # Two processes on the gloo backend, as torchrun starts them on a GPU host (NCCL there).
    if backend() != "torch":
        pytest.skip("runs in the PyTorch pass of the suite")
    script = tmp_path / "train.py"
    script.write_text(TORCH_RUN)
    single = run_python(TORCH_RUN, "none", str(tmp_path / "single"), model, *overrides, KERAS_BACKEND="torch")
    assert single.returncode == 0, single.stderr[-3000:]
    done = run_group([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                      str(script), "data-parallel", str(tmp_path / "dp"), model, *overrides], KERAS_BACKEND="torch")
    # torchrun's own report and rank 0's "connection closed" come last: show the other process's error first.
    assert done.returncode == 0, "\n".join(line for line in done.stderr.splitlines()
                                           if "[rank0]" not in line)[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    one = json.loads(single.stdout.strip().splitlines()[-1])["results"]
    assert "With data-parallel over 2 devices" in report["lines"]
    assert report["results"].pop("weights_differ") == 0.0
    assert report["results"].pop("noise_differs") > 0.1
    assert_same_training(report["results"]["whole"], one["whole"], **REPLICA_TOLERANCE)
    # A resume under torchrun ends where the uninterrupted torchrun run did.
    assert_same_training(report["results"]["resumed"], report["results"]["whole"], rtol=1e-5, atol=1e-6)
    # Rank 0 wrote the runs; the other process left nothing behind.
    assert (tmp_path / "dp" / "whole" / "model.keras").is_file()
    assert sorted(p.name for p in (tmp_path / "dp").iterdir()) == ["resumed", "whole"]


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


def test_processes_agree_to_stop_after_the_same_batch():
    # Under torchrun every batch ends with `agree`: a signal or a NaN on any
    # process stops this one too, at the same batch.
    import types

    from zoo_core.training.callbacks import SignalStop, make_callbacks

    model = types.SimpleNamespace(stop_training=False)
    stopper = SignalStop()
    asked = []
    (watch, _), _ = make_callbacks(model, 1, stopper, agree=lambda flags: asked.append(flags) or [False, True])
    watch.on_train_batch_end(4, {"loss": 1.0})
    assert asked == [[False, False]]
    assert model.stop_training and stopper.requested and watch.batches == 5 and watch.bad is None

    model.stop_training, stopper = False, SignalStop()
    (watch, _), _ = make_callbacks(model, 1, stopper, agree=lambda flags: [True, False])
    watch.on_train_batch_end(0, {"loss": 1.0})
    assert model.stop_training and watch.bad[0] == "a metric on another process"
