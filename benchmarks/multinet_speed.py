"""zoo's multi-network trainer against the per-backend train steps it replaced,
in one process, one epoch each in turn.

    KERAS_BACKEND=jax python benchmarks/multinet_speed.py [--models gan,dcgan,wgan-gp,vae-gan]
        [--before 513e2e6] [--rounds 7] [--examples N]

Before zoo's core owned the train steps, zoo-gan and zoo-vaegan each shipped
one step per backend (``steps/{tensorflow,jax,torch}.py``) and a wrapper
optimizer. This script takes those two plugin packages from git revision
``--before`` (the last one with them), renames them ``legacy_zoo_gan`` and
``legacy_zoo_vaegan`` so both versions load side by side, and builds the same
preset's model with each: same config, loss, optimizer, compile settings
(zoo's ``compile_model``), data and feeding (zoo's ``Feeder``). The two train
one epoch each, alternately (the side that goes first alternates too), for
``--rounds`` rounds; the first round (tracing, compiling) is not counted.
A drift of the machine's speed slows both alike.

Prints images/s per side and the ratio new / old (median of the per-round
ratios, and best / best). Needs a git checkout with that revision.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_train import CASES, whole_batches  # noqa: E402

BEFORE = "513e2e6"  # the last revision whose plugins had their own train steps
PACKAGES = {"zoo_gan": "plugins/zoo-gan/zoo_gan", "zoo_vaegan": "plugins/zoo-vaegan/zoo_vaegan"}


def legacy_packages(revision: str, folder: Path) -> None:
    """Write zoo_gan and zoo_vaegan as they were at ``revision`` into ``folder``,
    as ``legacy_zoo_gan`` and ``legacy_zoo_vaegan`` (their Keras names too)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, *PACKAGES.values()],
                             capture_output=True, check=False)
    if archive.returncode:
        raise SystemExit(f"git archive {revision} failed: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.endswith(".py"):
                continue
            for package, path in PACKAGES.items():
                if member.name.startswith(path + "/"):
                    target = folder / f"legacy_{package}" / member.name[len(path) + 1:]
                    text = tar.extractfile(member).read().decode()
                    # Keras registers classes as "zoo_gan>DCGAN": give the old ones their own names.
                    text = text.replace(f'PACKAGE = "{package}"', f'PACKAGE = "legacy_{package}"')
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(text)


def build_pair(case, registry, wanted: int, backend: str):
    """The preset's model now and before, built and compiled as ``zoo train`` does."""
    import importlib
    import warnings

    from zoo_core.plugins.config import make_config
    from zoo_core.plugins.resolve import resolve_run
    from zoo_core.training import build_model, compile_model

    resolved = resolve_run(registry, case.preset)
    name, _, arg = resolved.config.dataset.partition(":")
    data = registry.dataset(name).load(arg or None, None)
    train = resolved.config.train
    examples = whole_batches(wanted, len(data.x_train), train.batch_size)

    new = compile_model(build_model(resolved, data.info), train, backend)
    package = "legacy_zoo_vaegan" if case.model == "vae-gan" else "legacy_zoo_gan"
    plugin = importlib.import_module(f"{package}.plugin")
    spec = {s.name: s for s in plugin.zoo_models()}[case.model]
    config = make_config(spec.config, dataclasses.asdict(resolved.config.model_config))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the old steps use zoo 0.1's helpers
        loss = resolved.loss.build(resolved.config.loss_config)
        old = compile_model(spec.build(config, data.info, loss), train, backend)
    assert type(old).__module__.startswith("legacy_"), type(old).__module__
    x = data.x_train[:examples]
    arrays = (x, data.y_train[:examples]) if resolved.model.needs_labels else (x,)
    return new, old, arrays, train


def compare(case, registry, wanted: int, backend: str, rounds: int) -> dict:
    from zoo_core.training import epoch_order
    from zoo_core.training.feeding import Feeder

    new, old, arrays, train = build_pair(case, registry, wanted, backend)
    n = len(arrays[0])
    feeder = Feeder(arrays, train.batch_size, backend)
    speeds = {"new": [], "old": []}

    def epoch(side, model, i):
        inputs = feeder.fit_inputs(epoch_order(train.seed, i, n))
        began = time.perf_counter()
        history = model.fit(**inputs, epochs=1, verbose=0)
        {k: float(v[-1]) for k, v in history.history.items()}  # wait for the last step (JAX is asynchronous)
        speeds[side].append(n / (time.perf_counter() - began))

    for i in range(rounds):
        order = [("new", new), ("old", old)] if i % 2 == 0 else [("old", old), ("new", new)]
        for side, model in order:
            epoch(side, model, i)
    ratios = [a / b for a, b in zip(speeds["new"][1:], speeds["old"][1:])]
    return {"images": n, "speeds": speeds, "median": statistics.median(ratios),
            "best": max(speeds["new"][1:]) / max(speeds["old"][1:])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="gan,dcgan,wgan-gp,vae-gan")
    parser.add_argument("--before", default=BEFORE, help="git revision with the old per-backend steps")
    parser.add_argument("--rounds", type=int, default=7, help="epochs of each side; the first is not counted")
    parser.add_argument("--examples", type=int, help="training images (default: bench_train.py's per backend)")
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error("--rounds must be at least 2: the first is not counted")
    wanted = args.models.split(",")
    cases = [c for c in CASES if c.model in wanted]
    if len(cases) != len(wanted):
        parser.error(f"--models: choose from gan, dcgan, cgan, wgan-gp, vae-gan; got {args.models}")

    with tempfile.TemporaryDirectory() as tmp:
        legacy_packages(args.before, Path(tmp))
        sys.path.insert(0, tmp)
        import keras

        from zoo_core.plugins.registry import load_registry

        backend = keras.backend.backend()
        registry = load_registry()
        print(f"new (zoo_core.multinet) / old (per-backend steps at {args.before}) on {backend}, "
              f"{args.rounds} rounds, images/s per epoch (first round not counted):")
        for case in cases:
            result = compare(case, registry, args.examples or case.examples[backend], backend, args.rounds)
            s = result["speeds"]
            print(f"{case.model:8s} ({case.preset}, {result['images']} images): new / old median "
                  f"{result['median']:.3f}, best/best {result['best']:.3f}; new median "
                  f"{statistics.median(s['new'][1:]):,.0f}, old median {statistics.median(s['old'][1:]):,.0f}")
            for side in ("new", "old"):
                print(f"    {side}: " + ", ".join(f"{v:,.0f}" for v in s[side]))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
