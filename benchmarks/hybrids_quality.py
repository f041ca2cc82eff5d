"""The hybrids' quality table: each preset trained with its defaults on real
Fashion-MNIST, then ``zoo eval`` with 5,000 samples (FD and KID beside their
real-data floors, class coverage, test-set reconstruction error, NLL where a
model has a likelihood), one markdown row per preset.

Runs that already hold an ``eval.json`` are read, not retrained. Usage::

    python benchmarks/hybrids_quality.py --runs /tmp/quality            # train what is missing, then the table
    python benchmarks/hybrids_quality.py --runs /tmp/quality --no-train # the table of what is there

Each preset takes 10 to 30 minutes on a 2-core CPU; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

PRESETS = ["vae-fashion-mnist", "dcgan-fashion-mnist", "vaegan-fashion-mnist", "aae-fashion-mnist",
           "labelled-aae-fashion-mnist", "bigan-fashion-mnist", "alpha-gan-fashion-mnist",
           "soft-introvae-fashion-mnist", "vq-vae-fashion-mnist"]
NUM = 5000


def zoo(*args):
    return subprocess.run([sys.executable, "-m", "zoo_core.cli", *map(str, args)], check=True)


def train_minutes(run: Path):
    with open(run / "metrics.csv") as f:
        return sum(float(row["seconds"]) for row in csv.DictReader(f)) / 60


def row(preset: str, run: Path, dcgan_fd) -> list:
    result = json.loads((run / "eval.json").read_text())
    m = result["metrics"]
    fd, kid, cov = m["fd"], m["kid"], m["coverage"]
    hist = cov["histogram"]
    rec = m.get("reconstruction")
    lik = m.get("likelihood")
    label = cov.get("label_accuracy")
    return [
        f"`{preset}`",
        f"{fd['value']:.2f} ({fd['real_floor']:.2f})",
        f"{fd['value'] / dcgan_fd:.2f}" if dcgan_fd else "-",
        f"{kid['value'] * 1e3:.1f} ({kid['real_floor'] * 1e3:.1f})",
        f"{cov['classes_present']}/{cov['classes']}",
        f"{100 * min(hist) / sum(hist):.1f}%",
        f"{rec['mse']:.4f}" if rec else "-",
        f"{lik['iwae']['nll']:.0f}" if lik and "iwae" in lik else "-",
        f"{label:.1%}" if label is not None else "-",
        f"{train_minutes(run):.0f}",
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, required=True, help="folder of run folders, one per preset")
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--no-train", action="store_true", help="only tabulate runs that are there")
    args = parser.parse_args(argv)
    presets = [p for p in args.presets.split(",") if p]
    for preset in presets:
        run = args.runs / preset
        if args.no_train or (run / "eval.json").is_file():
            continue
        if not (run / "model.keras").is_file():
            zoo("train", preset, "--out", run, "--overwrite")
        zoo("eval", run, "--num", NUM)
    have = [(p, args.runs / p) for p in presets if (args.runs / p / "eval.json").is_file()]
    dcgan = args.runs / "dcgan-fashion-mnist" / "eval.json"
    dcgan_fd = json.loads(dcgan.read_text())["metrics"]["fd"]["value"] if dcgan.is_file() else None
    headers = ["preset", "FD (real floor)", "FD / DCGAN's", "KID x 1e3 (floor)", "classes", "rarest class",
               "test recon MSE", "NLL (nats)", "label accuracy", "train min"]
    print("| " + " | ".join(headers) + " |")
    print("| " + " | ".join("---" for _ in headers) + " |")
    for preset, run in have:
        print("| " + " | ".join(row(preset, run, dcgan_fd)) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
