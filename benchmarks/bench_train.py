"""Training speed and memory of ``zoo train`` against plain Keras, per model and backend.

For each bundled model (one preset each) and each backend, in fresh processes:

1. ``zoo train PRESET --epochs E --set max_train_examples=N``: images/s per
   epoch from the run's ``metrics.csv``;
2. the plain-Keras script of the same architecture, loss, batch size and data
   (``benchmarks/plain/``): images/s per epoch from a callback.

Images/s is the median over epochs 2..E (epoch 1 traces and compiles). Peak
memory is each process's maximum resident set size (``wait4``'s ``ru_maxrss``).
It also times ``zoo --help`` and ``zoo list`` (median of 5), and how long
``zoo train`` takes from process start to its training loop and to its first
step, and asserts that every plain model has zoo's parameter count (from
``zoo build PRESET``) and its preset's batch size.

    python benchmarks/bench_train.py                          # everything, default sizes
    python benchmarks/bench_train.py --models vae,dcgan --backends tensorflow --epochs 4
    python benchmarks/bench_train.py --scale 0.25 --out /tmp/RESULTS.md   # a quicker run

See benchmarks/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLAIN = HERE / "plain"
BACKENDS = ("tensorflow", "torch", "jax")


@dataclass(frozen=True)
class Case:
    """One bundled model: its preset, its plain script, and how many images
    to train on per backend by default (sized for a few seconds an epoch on 2 cores)."""

    model: str
    preset: str
    script: str
    args: tuple = ()
    examples: dict = field(default_factory=dict)


CASES = [
    Case("vae", "vae-mnist", "vae.py", ("--arch", "conv"), {"tensorflow": 4480, "torch": 2560, "jax": 512}),
    Case("beta-vae", "beta-vae-mnist", "vae.py", ("--arch", "beta"), {"tensorflow": 4480, "torch": 2560, "jax": 512}),
    Case("mlp-vae", "mlp-vae-mnist", "vae.py", ("--arch", "mlp"), {"tensorflow": 4500, "torch": 4500, "jax": 4500}),
    Case("gan", "gan-mnist", "gan.py", ("--arch", "mlp"), {"tensorflow": 4480, "torch": 4480, "jax": 4480}),
    Case("dcgan", "dcgan-mnist", "gan.py", ("--arch", "dcgan"), {"tensorflow": 2560, "torch": 1280, "jax": 512}),
    Case("cgan", "cgan-mnist", "gan.py", ("--arch", "cgan"), {"tensorflow": 2560, "torch": 1280, "jax": 512}),
    Case("wgan-gp", "wgan-gp-fashion-mnist", "wgan_gp.py", (), {"tensorflow": 1920, "torch": 960, "jax": 640}),
    Case("vae-gan", "vaegan-mnist", "vaegan.py", (), {"tensorflow": 1024, "torch": 512, "jax": 256}),
]


# === Processes ===


@dataclass
class Measured:
    returncode: int
    wall: float
    peak_rss_mib: float
    #: seconds from start until ``watch`` existed, and until it held a data row
    ready: float | None = None
    first_row: float | None = None


def run_measured(cmd, env, log_path, watch: Path | None = None, timeout: float = 1800.0) -> Measured:
    """Run ``cmd``; its own peak RSS comes from ``wait4``, which reports on
    exactly this child (RUSAGE_CHILDREN would mix all children so far)."""
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        ready = first_row = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter() - start
            if watch is not None and first_row is None and watch.exists():
                ready = now if ready is None else ready
                try:
                    if len(watch.read_text().strip().splitlines()) > 1:
                        first_row = now
                except OSError:  # replaced while we read it
                    pass
            if now > timeout:
                proc.kill()
            time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(proc.returncode, time.perf_counter() - start, usage.ru_maxrss / 1024, ready, first_row)


def zoo_command() -> list[str]:
    exe = Path(sys.executable).with_name("zoo")
    return [str(exe)] if exe.exists() else [shutil.which("zoo") or "zoo"]


def quiet_env(**extra) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def zoo_json(*args) -> dict:
    out = subprocess.run([*zoo_command(), *args], capture_output=True, text=True, env=quiet_env(), check=True)
    return json.loads(out.stdout)


def cli_times(repeats: int = 5) -> dict:
    """Median wall seconds of ``zoo --help`` and ``zoo list`` (fresh processes)."""
    result = {}
    for name, args in (("zoo --help", ["--help"]), ("zoo list", ["list"])):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([*zoo_command(), *args], capture_output=True, env=quiet_env(), check=True)
            times.append(time.perf_counter() - start)
        result[name] = {"median": statistics.median(times), "min": min(times), "max": max(times)}
    return result


def zoo_param_count(preset: str, workdir: Path) -> int:
    """What ``zoo build PRESET`` reports (on TensorFlow; counts are backend-independent)."""
    out = subprocess.run([*zoo_command(), "build", preset], capture_output=True, text=True,
                         env=quiet_env(KERAS_BACKEND="tensorflow"), cwd=workdir)
    if out.returncode:
        raise RuntimeError(f"zoo build {preset} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    line = [ln for ln in out.stdout.splitlines() if " parameters for " in ln][-1]
    return int(line.split(":", 1)[1].split("parameters")[0].replace(",", "").strip())


EXPORT = """
import sys, numpy as np
from zoo_core.plugins.registry import load_registry
name, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
base, _, arg = name.partition(":")
data = load_registry().dataset(base).load(arg or None, None)
arrays = {"x": data.x_train[:n]}
if data.y_train is not None:
    arrays["y"] = data.y_train[:n]
np.savez(path, **arrays)
print(len(arrays["x"]))
"""


def whole_batches(wanted: int, available: int, batch: int) -> int:
    """``wanted`` images (at most ``available``) rounded down to whole batches, at least one
    batch: no epoch ends in a short batch that would be traced again."""
    return max(batch, min(wanted, available) // batch * batch)


def export_dataset(dataset: str, examples: int, path: Path) -> int:
    """The first ``examples`` training images of zoo's data set, for the plain scripts
    (the same images ``--set max_train_examples`` keeps). Returns how many there are."""
    out = subprocess.run([sys.executable, "-c", EXPORT, dataset, str(examples), str(path)],
                         capture_output=True, text=True, env=quiet_env(KERAS_BACKEND="tensorflow"))
    if out.returncode:
        last = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise SystemExit(f"bench_train.py: could not load the data set {dataset!r} for the plain scripts: {last}")
    return int(out.stdout.strip().splitlines()[-1])


# === One comparison ===


def steady(values: list[float]) -> float | None:
    """The median without the first epoch (compilation); None if too few."""
    rest = values[1:]
    return statistics.median(rest) if rest else None


def read_metrics(path: Path) -> list[dict]:
    with open(path) as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def run_zoo(case: Case, backend: str, examples: int, epochs: int, work: Path, validation: bool,
            precision: str | None = None, tag: str = "") -> dict:
    run_dir = work / f"zoo-{case.model}-{backend}{tag}"
    cmd = [*zoo_command(), "train", case.preset, "--backend", backend, "--epochs", str(epochs),
           "--set", f"max_train_examples={examples}", "--out", str(run_dir), "--overwrite"]
    if precision:
        cmd += ["--precision", precision]
    if not validation:
        cmd += ["--set", "validation=false"]
    log = work / f"zoo-{case.model}-{backend}{tag}.log"
    m = run_measured(cmd, quiet_env(KERAS_BACKEND=backend), log, watch=run_dir / "metrics.csv")
    if m.returncode:
        return {"error": f"exit {m.returncode}: " + log.read_text()[-1500:]}
    rows = read_metrics(run_dir / "metrics.csv")
    ips = [r["images_per_second"] for r in rows]
    seconds = [r["seconds"] for r in rows]
    result = {"images_per_second": ips, "epoch_seconds": seconds, "steady": steady(ips),
              "peak_rss_mib": m.peak_rss_mib, "wall": m.wall, "command": " ".join(cmd[1:])}
    # Process start -> training loop: metrics.csv is first written (header only)
    # just before the first fit(); without that header, the first row's time
    # less the first epoch's seconds bounds it from above.
    if m.ready is not None and m.first_row is not None and m.ready < m.first_row - 0.05:
        result["to_loop"], result["to_loop_how"] = m.ready, "metrics.csv header"
    elif m.first_row is not None:
        result["to_loop"], result["to_loop_how"] = m.first_row - seconds[0], "first row - epoch 1"
    if "to_loop" in result and len(seconds) > 1:
        # + epoch 1's extra time over a steady epoch (tracing/compiling) + one steady step.
        steps = -(-examples // case_batch(case))
        steady_s = statistics.median(seconds[1:])
        result["to_first_step"] = result["to_loop"] + max(seconds[0] - steady_s, 0.0) + steady_s / steps
    return result


_BATCH: dict = {}


def case_batch(case: Case) -> int:
    return _BATCH[case.preset]


def run_plain(case: Case, backend: str, examples: int, epochs: int, data: Path, work: Path,
              tag: str = "") -> dict:
    out = work / f"plain-{case.model}-{backend}{tag}.json"
    cmd = [sys.executable, str(PLAIN / case.script), *case.args, "--data", str(data),
           "--examples", str(examples), "--epochs", str(epochs), "--json", str(out)]
    log = work / f"plain-{case.model}-{backend}{tag}.log"
    m = run_measured(cmd, quiet_env(KERAS_BACKEND=backend), log)
    if m.returncode or not out.exists():
        return {"error": f"exit {m.returncode}: " + log.read_text()[-1500:]}
    result = json.loads(out.read_text())
    result.update(steady=steady(result["images_per_second"]), peak_rss_mib=m.peak_rss_mib, wall=m.wall)
    return result


def combine(runs: list[dict]) -> dict:
    """One side's repeats as one result: images/s is the median of every timed
    epoch (2..E) of every repeat, *best* the fastest of them, peak memory the
    highest, start-up times the median."""
    if not runs:
        return {"error": "not run: the other side failed first"}
    failed = [r for r in runs if "error" in r]
    if failed:
        return failed[0]
    timed = [v for r in runs for v in r["images_per_second"][1:]]
    # What every repeat shares (the command, the plain script's parameter count and
    # batch size); per-run details stay in "runs".
    result = {k: v for k, v in runs[0].items() if k in ("command", "script", "backend", "keras", "params",
                                                       "batch_size", "examples")}
    result.update(
        runs=runs,
        steady=statistics.median(timed) if timed else None,
        best=max(timed) if timed else None,
        peak_rss_mib=max(r["peak_rss_mib"] for r in runs),
    )
    for key in ("to_loop", "to_first_step"):
        values = [r[key] for r in runs if key in r]
        if values:
            result[key] = statistics.median(values)
    return result


def compare(case: Case, backend: str, n: int, args, work: Path, data: Path) -> tuple[dict, dict]:
    """zoo and plain, ``args.repeats`` times each, in the order zoo, plain, plain,
    zoo, zoo, plain, ...: a machine that slows down or speeds up over the minutes
    of one comparison then weighs on both sides alike."""
    zoo_runs, plain_runs = [], []
    for i in range(args.repeats):
        tag = f"-{i + 1}" if args.repeats > 1 else ""
        order = ("zoo", "plain") if i % 2 == 0 else ("plain", "zoo")
        for side in order:
            if side == "zoo":
                runs = zoo_runs
                runs.append(run_zoo(case, backend, n, args.epochs, work, args.validation, args.zoo_precision, tag))
            else:
                runs = plain_runs
                runs.append(run_plain(case, backend, n, args.epochs, data, work, tag))
            if "error" in runs[-1]:  # the other repeats would fail the same way
                return combine(zoo_runs), combine(plain_runs)
    return combine(zoo_runs), combine(plain_runs)


# === The machine ===


def cpu_times() -> list[int] | None:
    """The aggregate ``cpu`` line of /proc/stat (user, nice, system, idle, iowait, irq, softirq, steal, ...)."""
    try:
        return [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None


def steal_percent(before: list[int] | None, after: list[int] | None) -> float | None:
    """Share of CPU time the hypervisor gave to other machines between two readings."""
    if not before or not after or len(before) < 8 or len(after) < 8:
        return None
    total = sum(after[:8]) - sum(before[:8])
    return 100.0 * (after[7] - before[7]) / total if total > 0 else None


def machine() -> dict:
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    cpu = fields.get("model name", platform.processor() or "unknown")
    if "cpu family" in fields:
        cpu += f" (family {fields['cpu family']}, model {fields.get('model', '?')}"
        cpu += f", {float(fields['cpu MHz']):,.0f} MHz)" if "cpu MHz" in fields else ")"
    if "hypervisor" in fields.get("flags", "").split():
        cpu += ", virtual machine"
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) / 1024 ** 2
    except OSError:
        pass
    versions = {}
    for dist in ("keras", "tensorflow-cpu", "tensorflow", "jax", "jaxlib", "torch", "numpy", "zoo-core"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": mem, "python": platform.python_version(),
            "os": platform.platform(), "versions": versions}


# === The report ===


def fmt(value, spec=",.0f", missing="–"):
    return missing if value is None else format(value, spec)


def target_for(case: Case, backend: str) -> float:
    return 1.3 if backend == "tensorflow" and case.model in ("vae", "dcgan") else 1.0


def markdown(results: list[dict], cli: dict, info: dict, settings: dict) -> str:
    lines = [
        "# Training benchmark: zoo against plain Keras",
        "",
        f"Written by `python benchmarks/bench_train.py {settings['argv']}` on "
        f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(settings['started']))} "
        f"({settings['minutes']:.0f} minutes).",
        "",
        "## Machine",
        "",
        f"- CPU: {info['cpu']}, {info['cores']} cores; RAM {fmt(info['ram_gib'], '.1f')} GiB; no GPU used",
        f"- {info['os']}, Python {info['python']}",
        "- " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
        f"- Load average (1 min) before: {settings['load_before']:.2f}, after: {settings['load_after']:.2f}; "
        f"mean of the 1-minute load sampled before each comparison: {settings['load_mean']:.2f}. "
        f"A load above {info['cores']} means other processes shared the CPU with the benchmark."
        + (f" CPU time stolen by the hypervisor during the run: {settings['steal']:.1f}%."
           if settings.get("steal") is not None else ""),
        "",
        "## Images per second",
        "",
        f"Median images/s over epochs 2..{settings['epochs']} (epoch 1 compiles)"
        + (f" of {settings['repeats']} runs of each side, run in the order zoo, plain, plain, zoo, ..."
           if settings["repeats"] > 1 else "")
        + "; N = training images "
        "(the first N of the data set, the same for both). zoo: `zoo train PRESET --epochs E "
        "--set max_train_examples=N"
        + ("" if settings["validation"] else " --set validation=false")
        + (f" --precision {settings['precision']}" if settings.get("precision") else "")
        + "`, images/s from its metrics.csv (each epoch's whole `fit` call). plain: the hand-written "
        "Keras script in `benchmarks/plain/`, images/s from a callback (epoch begin to end). "
        "Peak RSS: the process's maximum resident memory (the highest of the repeats). "
        "*best / best*: the fastest epoch (after the first) of each, the ratio without stalls on "
        "either side; the target is judged on the medians, as issue 7 asks.",
        "",
        "| model | preset | backend | N | zoo img/s | plain img/s | zoo / plain | target | best / best | "
        "zoo peak MiB | plain peak MiB | zoo: start → loop s | zoo: start → first step s |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | :---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        z, p = r["zoo"], r["plain"]
        ratio = z["steady"] / p["steady"] if z.get("steady") and p.get("steady") else None
        target = r["target"]
        ok = "–" if ratio is None else (f"≥ {target:g} ✓" if ratio >= target else f"≥ {target:g} ✗")
        zb, pb = z.get("best"), p.get("best")
        best_ratio = zb / pb if zb and pb else None
        lines.append(
            f"| {r['model']} | {r['preset']} | {r['backend']} | {r['examples']:,} | {fmt(z.get('steady'))} | "
            f"{fmt(p.get('steady'))} | {fmt(ratio, '.2f')} | {ok} | {fmt(best_ratio, '.2f')} | "
            f"{fmt(z.get('peak_rss_mib'))} | "
            f"{fmt(p.get('peak_rss_mib'))} | {fmt(z.get('to_loop'), '.1f')} | {fmt(z.get('to_first_step'), '.1f')} |"
        )
    errors = [(r, side) for r in results for side in ("zoo", "plain") if "error" in r[side]]
    for r, side in errors:
        lines += ["", f"**{side} failed for {r['model']} on {r['backend']}:**", "", "```",
                  r[side]["error"].strip()[-1200:], "```"]
    skipped = settings.get("skipped") or []
    if skipped:
        lines += ["", "Not measured: " + "; ".join(skipped) + "."]
    lines += [
        "",
        "Per-epoch images/s (zoo | plain), epoch 1 first"
        + (f"; the {settings['repeats']} repeats of each side in the order they ran, separated by ';'"
           if settings["repeats"] > 1 else "") + ":",
        "",
    ]

    def epochs_text(side):
        return "; ".join(", ".join(f"{v:,.0f}" for v in run["images_per_second"]) for run in side.get("runs", []))

    for r in results:
        lines.append(f"- {r['model']}, {r['backend']}: {epochs_text(r['zoo'])} | {epochs_text(r['plain'])}")
    lines += [
        "",
        "## Start-up",
        "",
        "| command | median s (of 5) | min | max |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, t in cli.items():
        lines.append(f"| `{name}` | {t['median']:.2f} | {t['min']:.2f} | {t['max']:.2f} |")
    lines += [
        "",
        "`zoo train`: *start → loop* is the time from starting the process until zoo writes the "
        "header of metrics.csv, just before its first `fit` (Python start-up, imports, the data, "
        "building and compiling the model). *start → first step* adds the extra time of epoch 1 "
        "over a steady epoch (tracing and compiling the train step) and one steady step: "
        "an estimate, since zoo logs no time per step.",
        "",
        "Parameter counts (plain script = `zoo build PRESET`, asserted) and batch sizes (= the preset's, asserted):",
        "",
    ]
    seen = set()
    for r in results:
        if r["model"] not in seen and "params" in r["plain"]:
            seen.add(r["model"])
            lines.append(f"- {r['model']}: {r['plain']['params']:,} parameters, batch {r['plain']['batch_size']}")
    return "\n".join(lines) + "\n"


# === Main ===


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(c.model for c in CASES),
                        help="comma-separated models (default: all bundled ones)")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--examples", type=int, help="training images for every run (default: per model and backend)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the default image counts")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per run; the first is not counted")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of each side per comparison, in the order zoo, plain, plain, zoo, ... "
                             "(2 cancels a steady drift in the machine's speed)")
    parser.add_argument("--validation", action="store_true",
                        help="let zoo evaluate the test split after each epoch (not timed either way)")
    parser.add_argument("--zoo-precision", choices=["mixed_bfloat16", "mixed_float16"],
                        help="train zoo's runs with this --precision (the plain scripts stay float32), "
                             "to measure what a 16-bit policy buys on this machine")
    parser.add_argument("--out", help="write the results as Markdown here (e.g. benchmarks/RESULTS.md)")
    parser.add_argument("--json", help="write the raw results here")
    parser.add_argument("--workdir", help="keep run folders and logs here (default: a temporary folder)")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch is not counted")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    started = time.time()
    load_before = os.getloadavg()[0]
    stat_before = cpu_times()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="zoo-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    wanted = [m.strip() for m in args.models.split(",") if m.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(wanted) - {c.model for c in CASES}
    if unknown:
        parser.error(f"unknown model(s) {sorted(unknown)}; choose from {[c.model for c in CASES]}")

    print(f"work folder: {work}", flush=True)
    presets = {p["name"]: p for p in zoo_json("list", "presets", "--json")["presets"]}
    cases, skipped = [], []
    for case in CASES:
        if case.model not in wanted:
            continue
        if case.preset not in presets or not (PLAIN / case.script).exists():
            skipped.append(f"{case.model} (preset {case.preset} or plain/{case.script} not installed)")
            continue
        cases.append(case)

    print("timing zoo --help and zoo list ...", flush=True)
    cli = cli_times()
    for name, t in cli.items():
        print(f"  {name}: median {t['median']:.2f} s", flush=True)

    # Parameter counts, batch sizes and data, once per model / data set.
    datasets, params = {}, {}
    for case in cases:
        info = zoo_json("info", case.preset, "--json")
        _BATCH[case.preset] = int(info["train"]["batch_size"])
        params[case.model] = zoo_param_count(case.preset, work)
        print(f"  {case.model}: zoo build {case.preset} -> {params[case.model]:,} parameters, "
              f"batch {_BATCH[case.preset]}", flush=True)
        datasets.setdefault(info["dataset"], []).append(case)
    data_files, available = {}, {}
    for dataset, its_cases in datasets.items():
        wanted_n = max(args.examples or round(c.examples[b] * args.scale) for c in its_cases for b in backends)
        path = work / f"{dataset.replace(':', '_')}.npz"
        available[dataset] = export_dataset(dataset, wanted_n, path)
        data_files[dataset] = path

    results, loads = [], []
    for backend in backends:
        for case in cases:
            dataset = next(d for d, cs in datasets.items() if case in cs)
            batch = _BATCH[case.preset]
            n = whole_batches(args.examples or round(case.examples[backend] * args.scale), available[dataset], batch)
            loads.append(os.getloadavg()[0])
            print(f"{case.model} on {backend}: {n} images x {args.epochs} epochs"
                  + (f" x {args.repeats} runs each" if args.repeats > 1 else "") + " ...", flush=True)
            zoo, plain = compare(case, backend, n, args, work, data_files[dataset])
            if "params" in plain:
                assert plain["params"] == params[case.model], (
                    f"plain {case.script} {case.args} has {plain['params']:,} parameters, "
                    f"zoo build {case.preset} {params[case.model]:,}")
                assert plain["batch_size"] == batch, (
                    f"plain {case.script} uses batch {plain['batch_size']}, preset {case.preset} {batch}")
            row = {"model": case.model, "preset": case.preset, "backend": backend, "examples": n,
                   "target": target_for(case, backend), "zoo": zoo, "plain": plain}
            results.append(row)
            ratio = (zoo["steady"] / plain["steady"]) if zoo.get("steady") and plain.get("steady") else None
            print(f"  zoo {fmt(zoo.get('steady'))} img/s, plain {fmt(plain.get('steady'))} img/s, "
                  f"ratio {fmt(ratio, '.2f')}; peak {fmt(zoo.get('peak_rss_mib'))} / "
                  f"{fmt(plain.get('peak_rss_mib'))} MiB" + ("; ERROR" if "error" in zoo or "error" in plain else ""),
                  flush=True)

    settings = {
        "argv": " ".join(sys.argv[1:] if argv is None else argv),
        "started": started,
        "minutes": (time.time() - started) / 60,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "validation": args.validation,
        "precision": args.zoo_precision,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "steal": steal_percent(stat_before, cpu_times()),
        "load_mean": statistics.mean(loads) if loads else load_before,
        "skipped": skipped,
    }
    info = machine()
    text = markdown(results, cli, info, settings)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "settings": settings, "cli": cli,
                                               "results": results}, indent=2))
    return 1 if any("error" in r["zoo"] or "error" in r["plain"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
