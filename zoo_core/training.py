"""Training a resolved run and writing its run folder.

Only this module (and what it calls) imports Keras, and only inside
functions, after :func:`zoo_core.backend.choose_backend` has run.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from . import __version__
from .errors import Interrupted, ZooError
from .resolve import ResolvedRun
from .specs import Dataset

CONFIG_FILE = "config.toml"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.csv"


# === Run folders ===


def default_run_dir(name: str, root: str = "runs") -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{name}-{stamp}"


def check_run_dir(path: Path, overwrite: bool = False) -> None:
    """Fail early, before any work, if the run folder cannot be used."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ZooError(f"--out {path} is a file, not a folder; choose another --out")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise ZooError(
            f"run folder {path} already exists and is not empty; "
            f"choose another --out or pass --overwrite to replace it"
        )


def prepare_run_dir(path: Path, overwrite: bool = False) -> Path:
    """Create the run folder; a non-empty one is replaced only with ``overwrite``."""
    path = Path(path)
    check_run_dir(path, overwrite)
    if path.is_dir() and any(path.iterdir()):
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_toml(doc: dict, path: Path) -> None:
    import tomli_w

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v is not None}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(tomli_w.dumps(clean(doc)))
    os.replace(tmp, path)


# === Data ===


def check_dataset(data: Dataset, needs_labels: bool = False) -> Dataset:
    """Fail clearly on data zoo's models cannot take."""
    for split in ("x_train", "x_test"):
        x = getattr(data, split)
        if not isinstance(x, np.ndarray) or x.ndim != 4:
            shape = getattr(x, "shape", None)
            raise ZooError(
                f"dataset '{data.name}': {split} must be an (N, H, W, C) array, got shape {shape}"
            )
        if x.shape[-1] not in (1, 3):
            raise ZooError(
                f"dataset '{data.name}': images need 1 or 3 channels, got {x.shape[-1]}"
            )
    if len(data.x_train) == 0:
        raise ZooError(f"dataset '{data.name}' has no training images")
    if data.x_train.shape[1:] != data.x_test.shape[1:] and len(data.x_test):
        raise ZooError(
            f"dataset '{data.name}': train images are {data.x_train.shape[1:]} "
            f"but test images are {data.x_test.shape[1:]}"
        )
    lo, hi = float(data.x_train.min()), float(data.x_train.max())
    if lo < 0.0 or hi > 1.0 or not np.isfinite(lo + hi):
        raise ZooError(
            f"dataset '{data.name}': pixel values must be in [0, 1], found [{lo:g}, {hi:g}]; "
            f"divide 8-bit images by 255"
        )
    if needs_labels and data.y_train is None:
        raise ZooError(f"dataset '{data.name}' has no labels, but this model is class-conditional")
    return data


def load_data(resolved: ResolvedRun) -> Dataset:
    spec, train = resolved.dataset, resolved.config.train
    try:
        data = spec.load(resolved.dataset_arg, train.image_size)
    except ZooError:
        raise
    except (OSError, ValueError) as exc:
        raise ZooError(f"could not load dataset '{resolved.config.dataset}': {exc}") from None
    if not isinstance(data, Dataset):
        raise ZooError(f"dataset '{spec.name}' loader returned {type(data).__name__}, not a Dataset")
    data = check_dataset(data, resolved.model.needs_labels)
    if train.max_train_examples:
        data.x_train = data.x_train[: train.max_train_examples]
        if data.y_train is not None:
            data.y_train = data.y_train[: train.max_train_examples]
    return data


# === Keras pieces ===


def make_optimizer(train):
    import keras

    kinds = {
        "adam": lambda: keras.optimizers.Adam(train.learning_rate, beta_1=train.beta_1, beta_2=train.beta_2),
        "adamw": lambda: keras.optimizers.AdamW(train.learning_rate, beta_1=train.beta_1, beta_2=train.beta_2),
        "rmsprop": lambda: keras.optimizers.RMSprop(train.learning_rate),
        "sgd": lambda: keras.optimizers.SGD(train.learning_rate),
    }
    return kinds[train.optimizer]()


def build_model(resolved: ResolvedRun, data_info):
    """Build the loss and the model from the registry's specs."""
    config = resolved.config
    try:
        loss = resolved.loss.build(config.loss_config)
        model = resolved.model.build(config.model_config, data_info, loss)
    except ValueError as exc:
        raise ZooError(f"cannot build model '{config.model}' for {data_info.image_shape} images: {exc}") from None
    return model


def _callbacks(run_dir: Path, data: Dataset, train, echo):
    import keras

    class Throughput(keras.callbacks.Callback):
        """Adds seconds and images/s to each epoch's logs (so the CSV has them)."""

        def __init__(self, images_per_epoch: int):
            super().__init__()
            self.images = images_per_epoch
            self.epoch_seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()
            self._testing = 0.0

        # Validation runs inside the epoch; keep its time out of images/s.
        def on_test_begin(self, logs=None):
            self._test_start = time.perf_counter()

        def on_test_end(self, logs=None):
            self._testing += time.perf_counter() - self._test_start

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self._start - self._testing
            self.epoch_seconds.append(seconds)
            if logs is not None:
                logs["seconds"] = seconds
                logs["images_per_second"] = self.images / seconds

    class Grids(keras.callbacks.Callback):
        """Per-epoch PNG grids: samples from one fixed noise batch, and
        test images above their reconstructions."""

        def __init__(self):
            super().__init__()
            self.written: dict[str, Path] = {}
            n = train.grid_size
            pairs = max(1, n // 2) * n
            self.originals = data.x_test[:pairs] if len(data.x_test) else data.x_train[:pairs]

        def on_epoch_end(self, epoch, logs=None):
            from .images import interleave_rows, save_grid

            n, model, tag = train.grid_size, self.model, f"epoch-{epoch + 1:03d}.png"
            if hasattr(model, "sample_grid"):  # e.g. one row per class
                samples, columns = model.sample_grid(n, seed=train.seed)
                self.written["samples"] = save_grid(samples, run_dir / "samples" / tag, columns)
            elif hasattr(model, "generate"):
                samples = model.generate(n * n, seed=train.seed)
                self.written["samples"] = save_grid(samples, run_dir / "samples" / tag, n)
            if hasattr(model, "reconstruct"):
                recon = model.reconstruct(self.originals)
                both = interleave_rows(self.originals, recon, n)
                self.written["reconstructions"] = save_grid(both, run_dir / "reconstructions" / tag, n)

    throughput = Throughput(len(data.x_train))
    grids = Grids()
    csv = keras.callbacks.CSVLogger(str(run_dir / METRICS_FILE))
    return [throughput, grids, csv], throughput, grids


# === Training ===


def save_model(model, path: Path) -> Path:
    """Save atomically: a crash mid-write leaves the old file (or none), never half a file."""
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


@dataclass
class TrainResult:
    run_dir: Path
    model_path: Path
    metrics: dict
    seconds: float
    images_per_second: float
    files: dict = field(default_factory=dict)


def train_run(
    resolved: ResolvedRun,
    run_dir: Path,
    *,
    backend: str,
    overwrite: bool = False,
    echo: Callable[[str], None] = print,
    verbose: Optional[int] = None,
) -> TrainResult:
    """Train ``resolved`` and fill ``run_dir``. The folder is created only
    once the data has loaded and the model is built, so a bad input leaves
    nothing behind."""
    start = time.perf_counter()
    config, train = resolved.config, resolved.config.train
    check_run_dir(run_dir, overwrite)
    data = load_data(resolved)
    if data.notice:
        echo(f"Notice: {data.notice}")

    from .backend import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(train.seed)
    model = build_model(resolved, data.info)
    model.compile(optimizer=make_optimizer(train))
    run_dir = prepare_run_dir(run_dir, overwrite)

    doc = config.to_dict()
    doc["zoo"] = {
        "version": __version__,
        "backend": backend,
        "keras": keras.__version__,
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "plugins": {k: v for k, v in resolved.providers.items()},
    }
    doc["data"] = {
        "source": data.source,
        "train_images": int(len(data.x_train)),
        "test_images": int(len(data.x_test)),
        "image_shape": list(data.info.image_shape),
        "num_classes": data.num_classes,
    }
    write_toml(doc, run_dir / CONFIG_FILE)

    h, w, c = data.info.image_shape
    echo(
        f"Training {config.model} on {config.dataset} ({len(data.x_train):,} images, {h}x{w}x{c}) "
        f"with loss {config.loss}, backend {backend}, {train.epochs} epochs of batch {train.batch_size}"
    )
    echo(f"Run folder: {run_dir}")

    callbacks, throughput, grids = _callbacks(run_dir, data, train, echo)
    fit_args: dict = {}
    if resolved.model.needs_labels:
        fit_args = {"x": data.x_train, "y": data.y_train}
        validation = (data.x_test, data.y_test)
    else:
        fit_args = {"x": data.x_train}
        validation = (data.x_test,)
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    model_path = run_dir / MODEL_FILE
    try:
        history = model.fit(
            **fit_args,
            batch_size=train.batch_size,
            epochs=train.epochs,
            shuffle=True,
            validation_data=validation if train.validation and len(data.x_test) else None,
            callbacks=callbacks,
            verbose=verbose,
        )
    except KeyboardInterrupt:
        done = len(throughput.epoch_seconds)
        save_model(model, model_path)
        raise Interrupted(
            f"interrupted after {done} of {train.epochs} epochs; the model so far is in "
            f"{model_path} and the metrics in {run_dir / METRICS_FILE}"
        ) from None
    save_model(model, model_path)

    seconds = time.perf_counter() - start
    metrics = {k: float(v[-1]) for k, v in history.history.items() if v}
    epoch_seconds = throughput.epoch_seconds
    steady = epoch_seconds[1:] or epoch_seconds
    images_per_second = len(data.x_train) * len(steady) / sum(steady) if steady else 0.0
    files = {"config": run_dir / CONFIG_FILE, "model": model_path, "metrics": run_dir / METRICS_FILE}
    files.update(grids.written)
    return TrainResult(run_dir, model_path, metrics, seconds, images_per_second, files)
