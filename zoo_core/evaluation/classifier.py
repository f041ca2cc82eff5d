"""The per-data-set feature classifier behind FD, KID and class coverage.

Nothing is downloaded: zoo trains a small convnet on the data set's train
split, once, and caches it under ``~/.cache/zoo/classifiers/`` (or
``$ZOO_CACHE_DIR``, or ``$XDG_CACHE_HOME/zoo``). Its 128 penultimate
activations are the features; its softmax gives the class probabilities.

A cache entry is a ``.keras`` file and a ``.json`` beside it naming what it
was trained on: data set name, image shape, number of classes, a
fingerprint of the training images and labels, the training recipe and
:data:`FORMAT`, plus the ``.keras`` file's SHA-256. An entry whose JSON is
missing or unreadable, whose key differs, whose file's checksum differs or
that Keras cannot load is rebuilt with a notice, never used.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import ZooError
from ..storage.sources import cache_dir  # noqa: F401  (where classifiers are kept; also imported from here)

#: Bump when the architecture or the training recipe changes: old entries then no longer match.
FORMAT = 1
FEATURES = 128
DEFAULT_EPOCHS = 3
BATCH_SIZE = 128


class NoClassifier(ZooError):
    """The data set has no labels (or one class), so no classifier can be trained."""




def fingerprint(x: np.ndarray, y: np.ndarray) -> str:
    """A digest of the training images and labels: a classifier is reused only
    for exactly the data it was trained on."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y, dtype=np.int64)):
        digest.update(str(array.shape).encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class FeatureClassifier:
    """A trained classifier and what it is for.

    Attributes:
        model: ``images -> [features (N, 128), logits (N, C)]``.
        path: its cached ``.keras`` file.
        key: the cache key (data set, shape, classes, fingerprint, recipe, format).
        trained_now: trained in this call rather than loaded from the cache.
    """

    model: object
    path: Path
    key: dict
    trained_now: bool

    @property
    def num_classes(self) -> int:
        return int(self.key["num_classes"])

    def features_and_probabilities(self, images: np.ndarray, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
        """Features ``(N, 128)`` and class probabilities ``(N, C)``, float64."""
        features, logits = self.model.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0)
        logits = np.asarray(logits, np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return np.asarray(features, np.float64), probabilities


# === Architecture ===


def _pool_count(height: int, width: int) -> int:
    """Halve the image until it is about 7 pixels across (at most 4 times)."""
    pools, size = 0, min(height, width)
    while size >= 14 and pools < 4:
        size //= 2
        pools += 1
    return pools


def build_classifier(image_shape: tuple, num_classes: int):
    """Conv blocks (32, 64, 128... filters, 3x3, ReLU, 2x2 max-pool), dense 128
    (the features), dropout 0.3, then the class logits."""
    import keras
    from keras import layers

    inputs = keras.Input(tuple(image_shape), name="images")
    h = inputs
    pools = _pool_count(image_shape[0], image_shape[1])
    for i in range(max(pools, 1)):
        h = layers.Conv2D(min(32 * 2**i, 128), 3, padding="same", activation="relu")(h)
        if i < pools:
            h = layers.MaxPooling2D()(h)
    h = layers.Flatten()(h)
    features = layers.Dense(FEATURES, activation="relu", name="features")(h)
    logits = layers.Dense(num_classes, name="logits")(layers.Dropout(0.3)(features))
    return keras.Model(inputs, [features, logits], name="zoo_feature_classifier")


# === Cache ===


def classifier_key(dataset: str, x_train: np.ndarray, y_train: np.ndarray, num_classes: int,
                   epochs: int = DEFAULT_EPOCHS, seed: int = 0) -> dict:
    """Everything a cached classifier must match to be reused."""
    return {
        "format": FORMAT,
        "dataset": dataset,
        "image_shape": [int(d) for d in x_train.shape[1:]],
        "num_classes": int(num_classes),
        "train_images": int(len(x_train)),
        "fingerprint": fingerprint(x_train, y_train),
        "epochs": int(epochs),
        "seed": int(seed),
    }


def cache_paths(key: dict, directory: Optional[Path] = None) -> tuple[Path, Path]:
    """The ``.keras`` and ``.json`` files for ``key``."""
    directory = Path(directory or cache_dir()) / "classifiers"
    slug = re.sub(r"[^A-Za-z0-9]+", "-", Path(key["dataset"]).name or key["dataset"]).strip("-")[:40] or "data"
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    shape = "x".join(map(str, key["image_shape"]))
    stem = f"{slug}-{shape}-{key['num_classes']}c-{digest}"
    return directory / f"{stem}.keras", directory / f"{stem}.json"


def _problem_with_entry(key: dict, model_path: Path, meta_path: Path) -> Optional[str]:
    """Why the cache entry cannot be used (None when it can, so far as files tell)."""
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"its description {meta_path.name} is unreadable ({type(exc).__name__})"
    if not isinstance(meta, dict):
        return f"its description {meta_path.name} is not a JSON object"
    stored = {k: meta.get(k) for k in key}
    if stored != key:
        changed = sorted(k for k in key if stored.get(k) != key[k])
        return f"it was made for other data or settings ({', '.join(changed)} differ)"
    if not model_path.is_file():
        return f"its model file {model_path.name} is missing"
    if _file_sha256(model_path) != meta.get("sha256"):
        return f"its model file {model_path.name} does not match its recorded checksum (corrupt or replaced)"
    return None


def _load_entry(key: dict, model_path: Path):
    """Load a checked entry; returns the model, or a reason it is unusable."""
    import keras

    from ..backend import keras_without_tensorflow

    try:
        with keras_without_tensorflow():
            model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a damaged file
        return None, f"Keras cannot load it ({type(exc).__name__}: {str(exc)[:120]})"
    outputs = getattr(model, "outputs", None) or []
    shapes = [tuple(o.shape[1:]) for o in outputs]
    expected = [(FEATURES,), (key["num_classes"],)]
    if shapes != expected or tuple(model.inputs[0].shape[1:]) != tuple(key["image_shape"]):
        return None, f"its shapes {shapes} do not fit {key['image_shape']} images and {key['num_classes']} classes"
    return model, None


def train_classifier(key: dict, x_train, y_train, echo: Callable[[str], None] = print):
    """Train a fresh classifier for ``key`` on the train split."""
    import keras

    from ..backend import keras_without_tensorflow

    with keras_without_tensorflow():
        keras.utils.set_random_seed(key["seed"])
    model = build_classifier(tuple(key["image_shape"]), key["num_classes"])
    # Train the logits head; the saved two-output model shares its weights.
    trainer = keras.Model(model.inputs, model.outputs[1])
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    began = time.perf_counter()
    trainer.fit(np.asarray(x_train, np.float32), np.asarray(y_train, np.int64),
                batch_size=BATCH_SIZE, epochs=key["epochs"], shuffle=True, verbose=0)
    echo(f"Trained the feature classifier in {time.perf_counter() - began:.0f} s")
    return model


def get_classifier(
    dataset: str,
    x_train: np.ndarray,
    y_train: Optional[np.ndarray],
    num_classes: Optional[int],
    *,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    echo: Callable[[str], None] = print,
    directory: Optional[Path] = None,
) -> FeatureClassifier:
    """The cached classifier for this training data, trained (and cached) if
    there is none or the cached one is corrupt or made for something else."""
    if y_train is None or not num_classes or num_classes < 2:
        raise NoClassifier(
            f"dataset '{dataset}' has no class labels, so zoo cannot train the feature classifier "
            "that FD, KID and coverage need (give labelled data, e.g. class subfolders)"
        )
    key = classifier_key(dataset, x_train, y_train, num_classes, epochs, seed)
    model_path, meta_path = cache_paths(key, directory)
    if meta_path.exists() or model_path.exists():
        problem = _problem_with_entry(key, model_path, meta_path)
        model = None
        if problem is None:
            model, problem = _load_entry(key, model_path)
        if model is not None:
            return FeatureClassifier(model, model_path, key, trained_now=False)
        echo(f"Notice: the cached feature classifier {model_path} cannot be used: {problem}; training a new one")

    _check_cache_writable(model_path.parent)  # before minutes of training, not after
    echo(f"Training a feature classifier for '{dataset}' on {len(x_train):,} train images "
         f"({epochs} epoch{'s' if epochs != 1 else ''}; cached for later evaluations)")
    model = train_classifier(key, x_train, y_train, echo)
    from ..backend import keras_without_tensorflow
    from ..storage.files import WriteError, atomic_write, write_text

    try:
        if meta_path.exists():
            meta_path.unlink()  # the entry is whole only once its description is written last
        with keras_without_tensorflow():
            atomic_write(model_path, lambda p: model.save(p), what="the classifier cache")
        meta = {**key, "sha256": _file_sha256(model_path),
                "created": _dt.datetime.now().isoformat(timespec="seconds")}
        write_text(meta_path, json.dumps(meta, indent=2), what="the classifier cache")
    except OSError as exc:
        from ..storage.files import write_error

        raise WriteError(f"{write_error(meta_path, exc, 'the classifier cache')}; {CACHE_FIX}") from None
    except WriteError as exc:
        raise WriteError(f"{exc}; {CACHE_FIX}") from None
    return FeatureClassifier(model, model_path, key, trained_now=True)


CACHE_FIX = "set ZOO_CACHE_DIR to a folder you can write to"


def _check_cache_writable(folder: Path) -> None:
    from ..storage.files import WriteError, check_writable_folder

    try:
        check_writable_folder(folder, "the classifier cache")
    except WriteError as exc:
        raise WriteError(f"{exc}; {CACHE_FIX}") from None
