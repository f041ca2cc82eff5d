"""The prepared GPU check: training speed and peak GPU memory of the GPU-sized presets.

On a machine with a GPU, for each installed backend and each precision
(float32 and mixed_bfloat16: the GAN plugin refuses mixed_float16), trains
``dcgan-64``, ``vae-64``, ``vaegan-64`` (on a generated folder of 64x64 colour
images) and ``dcgan-fashion-mnist`` for a few hundred steps with ``zoo train``
in a fresh process each, and prints one Markdown table for RESULTS.md:
images/s (the median over epochs 2..E of the run's metrics.csv: epoch 1
compiles) and peak GPU memory (``nvidia-smi``'s largest ``memory.used`` while
the process ran, with TensorFlow's memory growth on and JAX's preallocation off,
so the figure is what the run took rather than what the allocator grabbed).

    python benchmarks/gpu_check.py                 # on the GPU machine: everything, ~300 steps each
    python benchmarks/gpu_check.py --steps 100 --backends jax,torch
    python benchmarks/gpu_check.py --cpu-smoke     # the same path, a handful of steps on CPU (CI)

``--cpu-smoke`` hides any GPU, trains each case for one epoch of one small
step on generated data (every preset in float32, ``dcgan-fashion-mnist`` in
mixed_bfloat16 too: bfloat16 is emulated on CPUs and slow) and reports peak
resident memory instead of GPU memory: it proves the script works before a
GPU is lent, not anything about speed. The exit status is 1
when any case failed (its row says so and its log's last line is printed).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

BACKENDS = ("tensorflow", "jax", "torch")
PRECISIONS = ("float32", "mixed_bfloat16")
FASHION = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class Case:
    preset: str
    image_shape: tuple  # of the generated data, when the preset's own is not at hand
    batch_size: int


CASES = (
    Case("dcgan-64", (64, 64, 3), 128),
    Case("vae-64", (64, 64, 3), 128),
    Case("vaegan-64", (64, 64, 3), 64),
    Case("dcgan-fashion-mnist", (28, 28, 1), 64),
)


def installed_backends() -> list[str]:
    names = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
    return [b for b in BACKENDS if importlib.util.find_spec(names[b]) is not None]


FOLDER_LOCK = threading.Lock()


def make_folder(root: Path, shape: tuple, count: int) -> Path:
    """``count`` random colour images of ``shape``: the speed does not depend on what they show."""
    import numpy as np
    from PIL import Image

    folder = root / f"images-{shape[0]}x{shape[1]}x{shape[2]}"
    if folder.is_dir():
        return folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
        Image.fromarray(pixels if shape[2] == 3 else pixels[..., 0]).save(folder / f"{i:05d}.png")
    return folder


class GpuMemory(threading.Thread):
    """The largest ``memory.used`` (MiB) nvidia-smi reports while running."""

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        self.interval, self.peak, self._stop_flag = interval, None, threading.Event()

    def run(self) -> None:
        while not self._stop_flag.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=10).stdout
                used = max(float(v) for v in out.split())
                self.peak = used if self.peak is None else max(self.peak, used)
            except (OSError, ValueError, subprocess.SubprocessError):
                pass
            self._stop_flag.wait(self.interval)

    def stop(self) -> None:
        self._stop_flag.set()
        self.join()


def read_images_per_second(metrics: Path) -> list[float]:
    if not metrics.is_file():
        return []
    with open(metrics, newline="") as f:
        return [float(row["images_per_second"]) for row in csv.DictReader(f) if row.get("images_per_second")]


def run_case(case: Case, backend: str, precision: str, args, work: Path) -> dict:
    """One ``zoo train`` in a fresh process; its images/s and peak memory."""
    epochs = args.epochs
    batch = 4 if args.cpu_smoke else case.batch_size  # the smoke run proves the path, a small batch will do
    examples = batch * max(1, -(-args.steps // epochs))
    dataset = []
    if case.preset != "dcgan-fashion-mnist" or not FASHION.is_dir() or args.cpu_smoke:
        with FOLDER_LOCK:  # --jobs: cases of one image shape share a folder, made once
            folder = make_folder(work, case.image_shape, max(examples + examples // 8, 64))
        dataset = ["--dataset", f"folder:{folder}"]
    run_dir = work / f"{case.preset}-{backend}-{precision}"
    cmd = [str(Path(sys.executable).with_name("zoo")), "train", case.preset, *dataset, "--epochs", str(epochs),
           "--batch-size", str(batch), "--precision", precision,
           "--set", f"max_train_examples={examples}", "--set", "grid_size=2", "--out", str(run_dir)]
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", TF_FORCE_GPU_ALLOW_GROWTH="true",
               XLA_PYTHON_CLIENT_PREALLOCATE="false")
    if args.cpu_smoke:
        env.update(CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu")
    log = work / f"{run_dir.name}.log"
    watch = None if args.cpu_smoke else GpuMemory()
    if watch:
        watch.start()
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if watch:
        watch.stop()
    code = os.waitstatus_to_exitcode(status)
    ips = read_images_per_second(run_dir / "metrics.csv")
    steady = statistics.median(ips[1:] or ips) if ips else None
    lines = log.read_text(errors="replace").strip().splitlines()
    return {"preset": case.preset, "backend": backend, "precision": precision, "ok": code == 0,
            "images_per_second": steady, "epochs": len(ips), "wall": wall,
            "peak_gpu_mib": watch.peak if watch else None, "peak_rss_mib": usage.ru_maxrss / 1024,
            "error": "" if code == 0 else (lines[-1] if lines else f"exit {code}")}


def table(rows: list[dict], cpu_smoke: bool) -> str:
    memory = "peak RSS MiB (CPU)" if cpu_smoke else "peak GPU MiB"
    out = [f"| preset | backend | precision | images/s | {memory} | epochs | wall s | result |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        ips = f"{r['images_per_second']:,.0f}" if r["images_per_second"] else "-"
        mem = r["peak_rss_mib"] if cpu_smoke else r["peak_gpu_mib"]
        mem = f"{mem:,.0f}" if mem is not None else "-"
        result = "ok" if r["ok"] else f"failed: {r['error'][:120]}"
        out.append(f"| `{r['preset']}` | {r['backend']} | {r['precision']} | {ips} | {mem} | {r['epochs']} | "
                   f"{r['wall']:.0f} | {result} |")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default=None, help="comma-separated (default: every installed one)")
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--presets", default=",".join(c.preset for c in CASES))
    parser.add_argument("--steps", type=int, default=300, help="training steps per case (about)")
    parser.add_argument("--epochs", type=int, default=4, help="the steps are split into this many epochs")
    parser.add_argument("--cpu-smoke", action="store_true", help="a handful of steps on CPU, to prove the path")
    parser.add_argument("--work", default=None, help="folder for data and runs (default: a temporary one)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="cases run at once (with --cpu-smoke only: on a GPU they would share it and its memory)")
    args = parser.parse_args(argv)
    if args.jobs < 1 or (args.jobs > 1 and not args.cpu_smoke):
        parser.error("--jobs: a whole number from 1, and above 1 only with --cpu-smoke")
    if args.cpu_smoke:
        args.steps, args.epochs = 1, 1
    backends = args.backends.split(",") if args.backends else installed_backends()
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends:
        parser.error(f"--backends: {', '.join(unknown) or 'none installed'}; choose from {', '.join(BACKENDS)}")
    cases = [c for c in CASES if c.preset in args.presets.split(",")]
    if not cases:
        parser.error(f"--presets: none of {args.presets}; choose from {', '.join(c.preset for c in CASES)}")
    if not args.cpu_smoke and shutil.which("nvidia-smi") is None:
        print("gpu_check: no nvidia-smi here, so no GPU to measure; use --cpu-smoke on a CPU machine",
              file=sys.stderr)
        return 2
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="zoo-gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    todo = [(case, backend, precision) for backend in backends for precision in args.precisions.split(",")
            for case in cases
            if not (args.cpu_smoke and precision != "float32" and case.preset != "dcgan-fashion-mnist")]

    def one(item):
        case, backend, precision = item
        row = run_case(case, backend, precision, args, work)
        print(f"{case.preset} {backend} {precision}: "
              f"{'ok' if row['ok'] else 'FAILED ' + row['error']}", file=sys.stderr, flush=True)
        return row

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(one, todo))  # in the table's order, whichever finishes first
    print(table(rows, args.cpu_smoke))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
