"""Streamed data against data held in memory (issue 18).

memory: peak resident memory of ``zoo train`` on generated folders of 64x64x3
PNGs (10,000 and 100,000 by default), streamed (the default for folders) and
held in memory (``--set stream=false``). Each run is its own process; its peak
comes from ``wait4``. The streamed path is run twice per folder: the first run
decodes the folder into zoo's 8-bit cache, the second reuses it.

speed: images/s of a Fashion-MNIST preset, streamed (``--set stream=true``, the
images in zoo's on-disk cache) against in memory, in separate processes run
A B A B ...; each pair's ratio is of the steady epochs' images/s (the first is
left out: it builds the step).

    python benchmarks/streaming.py memory --sizes 10000,100000 --workdir /tmp/zoo-stream
    python benchmarks/streaming.py speed --preset dcgan-fashion-mnist --pairs 3
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: A small conv VAE at 64x64: the model is not what is measured, the data is.
TINY_64 = ["vae", "--set", "image_size=64", "--set", "filters=[8,16,32]", "--set", "dense_units=32",
           "--set", "latent_dim=8", "--batch-size", "128", "--epochs", "1", "--set", "validation=false",
           "--set", "grid_size=2"]


def make_folder(root: Path, n: int) -> Path:
    """n 64x64 RGB PNGs (smooth colour blobs over noise), made once."""
    from PIL import Image

    done = root / ".complete"
    if done.exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64]
    for i in range(n):
        cy, cx, r = rng.uniform(16, 48), rng.uniform(16, 48), rng.uniform(6, 16)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))[..., None] * rng.uniform(0.3, 1, 3)
        image = np.clip(blob + rng.normal(0, 0.05, (64, 64, 3)), 0, 1)
        Image.fromarray((image * 255).astype(np.uint8)).save(root / f"{i:06d}.png")
        if (i + 1) % 10000 == 0:
            print(f"  wrote {i + 1:,} of {n:,} images into {root}", file=sys.stderr)
    done.touch()
    return root


def run_measured(args: list[str], env: dict) -> tuple[float, float]:
    """Run a command; its peak resident memory in MiB and wall seconds."""
    began = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{process.stderr.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024, seconds


def memory(options) -> None:
    work = Path(options.workdir or tempfile.mkdtemp(prefix="zoo-stream-"))
    env = {**os.environ, "ZOO_DATA_CACHE_DIR": str(work / "cache"), "KERAS_BACKEND": options.backend,
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    rows = []
    for n in (int(s) for s in options.sizes.split(",")):
        folder = make_folder(work / f"folder-{n}", n)
        shutil.rmtree(work / "cache", ignore_errors=True)
        for label, extra in (("streamed, builds the cache", []), ("streamed, cache reused", []),
                             ("in memory (stream=false)", ["--set", "stream=false"])):
            out = work / "run"
            shutil.rmtree(out, ignore_errors=True)
            peak, seconds = run_measured(["zoo", "train", *TINY_64, "--dataset", f"folder:{folder}", *extra,
                                          "--out", str(out)], env)
            ips = float(list(csv.DictReader(open(out / "metrics.csv")))[-1]["images_per_second"])
            rows.append((n, label, peak, seconds, ips))
            print(f"{n:>8,}  {label:<28} peak {peak:8,.0f} MiB  {seconds:6.1f} s  {ips:7,.0f} images/s",
                  flush=True)
    print(f"\n| images | path | peak memory (MiB) | wall (s) | images/s |\n| --- | --- | --- | --- | --- |")
    for n, label, peak, seconds, ips in rows:
        print(f"| {n:,} | {label} | {peak:,.0f} | {seconds:.1f} | {ips:,.0f} |")


def speed(options) -> None:
    work = Path(options.workdir or tempfile.mkdtemp(prefix="zoo-stream-speed-"))
    env = {**os.environ, "ZOO_DATA_CACHE_DIR": str(work / "cache"), "KERAS_BACKEND": options.backend,
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    base = ["zoo", "train", options.preset, "--epochs", str(options.epochs), "--set", "validation=false"]
    if options.examples:
        base += ["--set", f"max_train_examples={options.examples}"]
    # Build the cache before timing anything.
    run_measured(base[:3] + ["--epochs", "1", "--set", "stream=true", "--set", "max_train_examples=128",
                             "--out", str(work / "warm")], env)
    ratios, sides = [], {"memory": [], "stream": []}
    for pair in range(options.pairs):
        got = {}
        for side in ("memory", "stream") if pair % 2 == 0 else ("stream", "memory"):
            out = work / f"{side}-{pair}"
            shutil.rmtree(out, ignore_errors=True)
            run_measured(base + ["--set", f"stream={'true' if side == 'stream' else 'false'}", "--out", str(out)], env)
            epochs = list(csv.DictReader(open(out / "metrics.csv")))[1:]
            got[side] = statistics.median(float(r["images_per_second"]) for r in epochs)
            sides[side].append(got[side])
        ratios.append(got["stream"] / got["memory"])
        print(f"pair {pair + 1}: in memory {got['memory']:,.0f}, streamed {got['stream']:,.0f} images/s, "
              f"ratio {ratios[-1]:.3f}", flush=True)
    print(f"\n{options.preset} on {options.backend}: streamed / in memory, median of {len(ratios)} pairs: "
          f"{statistics.median(ratios):.3f} (pairs {', '.join(f'{r:.3f}' for r in ratios)}); "
          f"in memory {statistics.median(sides['memory']):,.0f}, streamed {statistics.median(sides['stream']):,.0f} images/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    m = sub.add_parser("memory")
    m.add_argument("--sizes", default="10000,100000")
    m.add_argument("--backend", default="tensorflow")
    m.add_argument("--workdir")
    s = sub.add_parser("speed")
    s.add_argument("--preset", default="dcgan-fashion-mnist")
    s.add_argument("--backend", default="tensorflow")
    s.add_argument("--epochs", type=int, default=3)
    s.add_argument("--examples", type=int, default=20000)
    s.add_argument("--pairs", type=int, default=3)
    s.add_argument("--workdir")
    options = parser.parse_args()
    memory(options) if options.what == "memory" else speed(options)


if __name__ == "__main__":
    main()
