"""zoo against plain Keras in one process, one epoch each in turn.

    KERAS_BACKEND=tensorflow python benchmarks/interleaved.py dcgan [--examples 2560] [--rounds 7]

``bench_train.py`` runs zoo and the plain script in separate processes, one
after the other. On the 2-core VMs this was developed on, the machine's speed
drifts over minutes (whole runs up to a third slower), so two processes a
minute apart can differ by more than the effect measured. Here both models
live in one process and train one epoch each, alternately, for ``--rounds``
rounds: a drift slows both sides alike. The first round (tracing, compiling)
is not counted.

- **zoo**: the preset's model, loss, optimizer and compile settings, fed
  through zoo's own feeding (``zoo_core.training.feeding``) with zoo's callbacks, one
  ``fit`` per epoch, as ``zoo train`` does.
- **plain**: the script in ``benchmarks/plain/`` runs as written until its
  ``fit`` call, which is captured, then made with the script's own arguments
  for ``--rounds`` epochs: one ``fit`` call, as the script makes it. Its epochs
  are timed from epoch begin to epoch end, as the script's own timer does.
- zoo's epochs run from a callback of that ``fit``: before the plain epoch in
  odd rounds, after it in even ones.

Both train on the first N images of the preset's data set.
"""

from __future__ import annotations

import argparse
import os
import runpy
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "plain"))

import numpy as np  # noqa: E402

from bench_train import CASES, whole_batches  # noqa: E402


class _Captured(Exception):
    pass


def plain_fit(case, data_path: Path, examples: int):
    """Run the plain script up to its ``fit``; return ``run(epochs, callbacks)``, which makes
    that ``fit`` call with the script's own arguments."""
    import keras

    captured = {}
    real_fit = keras.Model.fit

    def capture(self, *args, **kwargs):
        captured.update(model=self, args=args, kwargs=kwargs)
        raise _Captured

    argv = sys.argv
    sys.argv = [case.script, *case.args, "--data", str(data_path), "--examples", str(examples)]
    keras.Model.fit = capture
    try:
        runpy.run_path(str(HERE / "plain" / case.script), run_name="plain")
    except _Captured:
        pass
    finally:
        keras.Model.fit, sys.argv = real_fit, argv
    if not captured:
        raise SystemExit(f"interleaved.py: plain/{case.script} never called fit")
    kwargs = {k: v for k, v in captured["kwargs"].items() if k not in ("callbacks", "epochs", "verbose")}

    def run(epochs: int, callbacks: list) -> None:
        captured["model"].fit(*captured["args"], epochs=epochs, callbacks=callbacks, verbose=0, **kwargs)

    return run


def alternate(plain_run, zoo, examples: int, rounds: int) -> dict:
    """One plain ``fit`` of ``rounds`` epochs, with a zoo epoch before (odd
    rounds) or after (even rounds) each of its epochs; images/s per epoch."""
    import keras

    speeds = {"zoo": [], "plain": []}

    def zoo_epoch(i: int) -> None:
        began = time.perf_counter()
        zoo(i)
        speeds["zoo"].append(examples / (time.perf_counter() - began))

    class Alternate(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch % 2:
                zoo_epoch(epoch)
            self.began = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            # Reading the results waits for any step still running (JAX dispatches asynchronously).
            {k: float(v) for k, v in (logs or {}).items()}
            speeds["plain"].append(examples / (time.perf_counter() - self.began))
            if not epoch % 2:
                zoo_epoch(epoch)

    plain_run(rounds, [Alternate()])
    return speeds


def zoo_preset(case, registry, wanted: int, backend: str):
    """The preset built and compiled as ``zoo train`` does: ``(train one epoch, data, N)``,
    N being ``wanted`` rounded down to whole batches, as in bench_train.py."""
    from zoo_core.training.callbacks import SignalStop, make_callbacks
    from zoo_core.training.feeding import Feeder
    from zoo_core.plugins.resolve import resolve_run
    from zoo_core.training import build_model, compile_model, epoch_order

    resolved = resolve_run(registry, case.preset)
    name, _, arg = resolved.config.dataset.partition(":")
    data = registry.dataset(name).load(arg or None, None)
    train = resolved.config.train
    examples = whole_batches(wanted, len(data.x_train), train.batch_size)
    model = compile_model(build_model(resolved, data.info), train, backend)
    x = data.x_train[:examples]
    arrays = (x, data.y_train[:examples]) if resolved.model.needs_labels else (x,)
    feeder = Feeder(arrays, train.batch_size, backend)
    callbacks, _ = make_callbacks(model, 1, SignalStop(print))

    def epoch(i: int) -> None:
        order = epoch_order(train.seed, i, len(x))
        model.fit(**feeder.fit_inputs(order), epochs=1, callbacks=callbacks, verbose=0)

    return epoch, data, examples


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=[c.model for c in CASES])
    parser.add_argument("--examples", type=int, help="training images (default: bench_train.py's for this backend)")
    parser.add_argument("--rounds", type=int, default=7, help="epochs of each side; the first is not counted")
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error("--rounds must be at least 2: the first is not counted")

    import keras

    from zoo_core.plugins.registry import load_registry

    backend = keras.backend.backend()
    case = next(c for c in CASES if c.model == args.model)
    registry = load_registry()
    wanted = args.examples or case.examples[backend]
    zoo, data, n = zoo_preset(case, registry, wanted, backend)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.npz"
        arrays = {"x": data.x_train[:n]}
        if data.y_train is not None:
            arrays["y"] = data.y_train[:n]
        np.savez(path, **arrays)
        speeds = alternate(plain_fit(case, path, n), zoo, n, args.rounds)

    z, p = speeds["zoo"][1:], speeds["plain"][1:]
    print(f"{case.model} ({case.preset}) on {backend}, {n} images, {args.rounds} rounds, images/s per epoch:")
    for side, values in (("zoo", speeds["zoo"]), ("plain", speeds["plain"])):
        print(f"  {side:5s} median {statistics.median(values[1:]):8,.0f}  best {max(values[1:]):8,.0f}   "
              + ", ".join(f"{v:,.0f}" for v in values))
    print(f"  zoo / plain: median {statistics.median(z) / statistics.median(p):.2f}, best {max(z) / max(p):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
