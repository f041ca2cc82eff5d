"""Does ``zoo train`` hold more memory the longer it runs?

Runs ``zoo train vae-mnist --epochs 25 --set max_train_examples=2048`` (the
preset as it is otherwise: validation, sample grids and a checkpoint every
epoch) and samples the process's resident memory (VmRSS from
/proc/PID/status) every 0.1 s. An epoch ends when its row appears in the
run's metrics.csv. Reports the RSS at the end of epoch 2 and of the last
epoch, the peak of each epoch, and the least-squares slope over epochs
3..E, in MiB per epoch.

    python benchmarks/memory_growth.py
    python benchmarks/memory_growth.py --backend torch --epochs 30 --append benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADING = "## Memory over epochs"


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def data_rows(path: Path) -> int:
    try:
        return max(len(path.read_text().strip().splitlines()) - 1, 0)
    except OSError:
        return 0


def slope(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def measure(preset: str, backend: str, epochs: int, examples: int, run_dir: Path, log_path: Path) -> dict:
    zoo = Path(sys.executable).with_name("zoo")
    cmd = [str(zoo) if zoo.exists() else "zoo", "train", preset, "--backend", backend, "--epochs", str(epochs),
           "--out", str(run_dir)]
    if examples:
        cmd += ["--set", f"max_train_examples={examples}"]
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    metrics = run_dir / "metrics.csv"
    start = time.perf_counter()
    end_rss, epoch_peak, peak = [], [], 0.0
    current_peak = 0.0
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = rss_mib(proc.pid)
            if rss is not None:
                peak = max(peak, rss)
                current_peak = max(current_peak, rss)
            if data_rows(metrics) > len(end_rss) and rss is not None:
                end_rss.append(rss)
                epoch_peak.append(current_peak)
                current_peak = 0.0
            time.sleep(0.1)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"zoo train failed (exit {proc.returncode}); see {log_path}:\n"
                         + log_path.read_text()[-2000:])
    later = list(range(3, len(end_rss) + 1))
    return {
        "command": "zoo " + " ".join(a for a in cmd[1:] if a not in ("--out", str(run_dir))),
        "backend": backend,
        "epochs": len(end_rss),
        "wall_seconds": time.perf_counter() - start,
        "rss_end_of_epoch_mib": end_rss,
        "peak_per_epoch_mib": epoch_peak,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "sampled_peak_mib": peak,
        "slope_mib_per_epoch": slope(later, [end_rss[i - 1] for i in later]) if len(later) > 1 else None,
    }


def markdown(results: list[dict]) -> str:
    lines = [
        HEADING,
        "",
        "`python benchmarks/memory_growth.py`: resident memory of the `zoo train` process at the end of "
        "each epoch (sampled every 0.1 s from /proc/PID/status; an epoch ends when its row appears in "
        "metrics.csv). Peak: the process's maximum RSS (`wait4`).",
        "",
        "| backend | command | epochs | RSS after epoch 2 MiB | RSS after last epoch MiB | "
        "slope epochs 3.. MiB/epoch | peak RSS MiB |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        rss = r["rss_end_of_epoch_mib"]
        lines.append(
            f"| {r['backend']} | `{r['command']}` | {r['epochs']} | {rss[1]:,.0f} | {rss[-1]:,.0f} | "
            f"{r['slope_mib_per_epoch']:+.2f} | {r['peak_rss_mib']:,.0f} |"
        )
    lines.append("")
    for r in results:
        lines.append(f"- {r['backend']}, RSS (MiB) at the end of each epoch: "
                     + ", ".join(f"{v:.0f}" for v in r["rss_end_of_epoch_mib"]))
    return "\n".join(lines) + "\n"


def append_section(path: Path, section: str) -> None:
    """Add ``section`` to ``path``, replacing an earlier copy of it."""
    text = path.read_text() if path.exists() else ""
    if HEADING in text:
        before, _, after = text.partition(HEADING)
        rest = after.split("\n## ", 1)
        text = before + (("## " + rest[1]) if len(rest) > 1 else "")
    path.write_text(text.rstrip("\n") + "\n\n" + section)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="vae-mnist")
    parser.add_argument("--backend", default="tensorflow", help="a backend, or a comma-separated list")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--examples", type=int, default=2048, help="max_train_examples (0: all)")
    parser.add_argument("--append", help="append the Markdown section to this file (e.g. benchmarks/RESULTS.md)")
    parser.add_argument("--json", help="write the raw results here")
    args = parser.parse_args(argv)
    if args.epochs < 4:
        parser.error("--epochs must be at least 4 (the slope is fitted over epochs 3..E)")
    work = Path(tempfile.mkdtemp(prefix="zoo-memory-"))
    results = []
    for backend in [b.strip() for b in args.backend.split(",") if b.strip()]:
        print(f"{args.preset} on {backend}, {args.epochs} epochs ...", flush=True)
        r = measure(args.preset, backend, args.epochs, args.examples, work / f"run-{backend}", work / f"{backend}.log")
        rss = r["rss_end_of_epoch_mib"]
        print(f"  RSS after epoch 2: {rss[1]:.0f} MiB, after epoch {len(rss)}: {rss[-1]:.0f} MiB, "
              f"slope {r['slope_mib_per_epoch']:+.2f} MiB/epoch, peak {r['peak_rss_mib']:.0f} MiB", flush=True)
        results.append(r)
    section = markdown(results)
    print(section)
    if args.append:
        append_section(Path(args.append), section)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
