"""Images from a folder on disk, labelled by subfolder when there are subfolders.

``DIR/cat/1.png, DIR/dog/2.png`` gives two classes, 0 = cat and 1 = dog (the
subfolder names, sorted); images directly in ``DIR`` with no image-holding
subfolders are unlabelled. Images of any size and mode are accepted: they are
all resized to ``image_size`` when given (stretched, or with ``crop`` first
cut to their centred largest square), else to the most common size among them; they are grayscale when every image is, else RGB
(an alpha channel is dropped). Files and folders whose names start with a dot
are skipped.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Optional

import numpy as np

from zoo_core.errors import ZooError
from zoo_core.specs import DataInfo, Dataset

from .arrays import check_image_size, make_dataset, split_indices

NAME = "folder"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
# Pillow modes holding one grey channel; "I;16*" and "I" come from 16-bit PNGs.
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_SIXTEEN_BIT_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}
# EXIF orientations that rotate the picture by 90 degrees, swapping width and height.
_TRANSPOSED = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112


def load_folder(arg: Optional[str], image_size: Optional[int], crop: bool = False,
                stream: Optional[bool] = None) -> Dataset:
    """Loads every image under a folder, split 90/10 into train and test.

    Args:
        arg: the folder.
        image_size: resize every image to this square size; ``None`` uses the
            most common size among the images.
        crop: before resizing, cut each image to its centred largest square, so
            that nothing is stretched (``train.crop``).
        stream: ``None`` or ``True`` (the default, ``train.stream``): decode the
            images once into zoo's 8-bit on-disk cache, reused while the
            folder's files are unchanged, and stream both splits from it
            (:class:`zoo_core.data.stream.DiskImages`), so memory does not grow
            with the folder; ``False``: hold every image in memory as float32.

    Returns:
        The Dataset, labelled by subfolder when the folder has class
        subfolders; ``notice`` tells how many images were resized to fit.

    Raises:
        ZooError: when the folder is missing, holds no images, mixes top-level
            images with class subfolders, or an image cannot be read.
    """
    check_image_size(image_size)
    root = _root(arg)

    files, labels, class_names = find_images(root)
    if not files:
        raise ZooError(
            f"{root} holds no images (looked for {', '.join(IMAGE_EXTENSIONS)} files "
            "in it and its subfolders)"
        )
    if stream is None or stream:
        return _streamed(root, files, labels, class_names, image_size, crop)
    target, gray, notice = _layout(root, files, image_size)
    width, height = target
    x = np.empty((len(files), height, width, 1 if gray else 3), dtype=np.uint8)
    for i, path in enumerate(files):
        x[i] = _read(path, target, gray, crop).reshape(x.shape[1:])
    x = x.astype(np.float32) / np.float32(255)

    train, test = split_indices(len(files), f"image folder {root}")
    y_train = y_test = None
    if labels is not None:
        y = np.asarray(labels, dtype=np.int64)
        y_train, y_test = y[train], y[test]
    return make_dataset(
        NAME,
        x[train],
        x[test],
        y_train,
        y_test,
        num_classes=len(class_names) if class_names else None,
        source=str(root),
        notice=notice,
    )


def _layout(root: Path, files: list[Path], image_size) -> tuple[tuple[int, int], bool, Optional[str]]:
    """From the image headers: the ``(width, height)`` every image is resized to
    (``image_size``, else the most common size), whether all are grey, and the
    notice about images resized to the most common size."""
    sizes, modes = zip(*(_probe(path) for path in files), strict=True)
    gray = all(mode in _GRAY_MODES for mode in modes)
    if image_size is not None:
        return (image_size, image_size), gray, None
    # Ties go to the size met first, i.e. the first file in sorted order.
    target = Counter(sizes).most_common(1)[0][0]
    off_size = sum(size != target for size in sizes)
    notice = None
    if off_size:
        notice = (f"{off_size} of {len(files)} images in {root} are not {target[0]}x{target[1]} "
                  "(the most common size) and were resized to it; pass an image size to choose another")
    return target, gray, notice


def _streamed(root: Path, files: list[Path], labels, class_names, image_size, crop: bool) -> Dataset:
    """The folder through zoo's on-disk cache: decoded once, then read a batch at a time."""
    import hashlib
    import json

    from zoo_core.data import stream

    listing = []
    for path in files:
        st = path.stat()
        listing.append([str(path.relative_to(root)), st.st_size, st.st_mtime_ns])
    key_text = json.dumps([stream.CACHE_FORMAT, str(root.resolve()), image_size, bool(crop), listing])
    key = "folder-" + hashlib.sha256(key_text.encode()).hexdigest()[:40]
    folder = stream.cached(key)
    if folder is None:
        target, gray, notice = _layout(root, files, image_size)
        shape = (target[1], target[0], 1 if gray else 3)
        images = (_read(path, target, gray, crop).reshape(shape) for path in files)
        folder = stream.build(key, len(files), shape, images, labels,
                              {"source": str(root), "notice": notice, "class_names": class_names},
                              f"image folder {root}")
    images, y, meta = stream.open_cache(folder)
    train, test = split_indices(len(images), f"image folder {root}")
    return Dataset(
        name=NAME,
        x_train=images.subset(train),
        x_test=images.subset(test),
        y_train=None if y is None else y[train],
        y_test=None if y is None else y[test],
        num_classes=len(class_names) if class_names else None,
        notice=meta.get("notice"),
        source=str(root),
    )


def describe_folder(arg: Optional[str], image_size: Optional[int]) -> DataInfo:
    """The shape and class count :func:`load_folder` would give, from the
    image headers only (no pixels are decoded)."""
    check_image_size(image_size)
    root = _root(arg)
    files, _, class_names = find_images(root)
    if not files:
        raise ZooError(f"{root} holds no images (looked for {', '.join(IMAGE_EXTENSIONS)} files in it and its subfolders)")
    sizes, modes = zip(*(_probe(path) for path in files), strict=True)
    gray = all(mode in _GRAY_MODES for mode in modes)
    width, height = (image_size, image_size) if image_size is not None else Counter(sizes).most_common(1)[0][0]
    return DataInfo((height, width, 1 if gray else 3), len(class_names) if class_names else None)


def _root(arg: Optional[str]) -> Path:
    if not arg:
        raise ZooError("folder needs a directory: --dataset folder:PATH/TO/IMAGES")
    root = Path(arg).expanduser()
    if not root.exists():
        raise ZooError(f"image folder {root} does not exist")
    if not root.is_dir():
        raise ZooError(f"{root} is not a directory; folder needs a directory of images")
    return root


def find_images(root: Path) -> tuple[list[Path], Optional[list[int]], Optional[list[str]]]:
    """Lists the images under ``root`` and their classes.

    Returns:
        ``(files, labels, class_names)``; ``labels`` and ``class_names`` are
        ``None`` when no immediate subfolder holds images.

    Raises:
        ZooError: when there are class subfolders and also images directly in ``root``.
    """
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    per_class = {d: _images_under(d) for d in subfolders}
    class_dirs = [d for d in subfolders if per_class[d]]
    top_level = sorted(p for p in root.iterdir() if _is_image(p))
    if not class_dirs:
        return top_level, None, None
    if top_level:
        raise ZooError(
            f"{root} has class subfolders ({', '.join(d.name for d in class_dirs)}) and also "
            f"images at its top level (e.g. {top_level[0].name}); move those into a subfolder"
        )
    files, labels = [], []
    for label, folder in enumerate(class_dirs):
        files += per_class[folder]
        labels += [label] * len(per_class[folder])
    return files, labels, [d.name for d in class_dirs]


def _images_under(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found += [Path(dirpath) / f for f in filenames if _is_image(Path(dirpath) / f)]
    return sorted(found)


def _is_image(path: Path) -> bool:
    # Dot files include macOS's "._x.png" resource forks, which are not images.
    return (
        path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".") and path.is_file()
    )


def _probe(path: Path) -> tuple[tuple[int, int], str]:
    """Reads only the header: the displayed ``(width, height)`` and the mode."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            size, mode = img.size, img.mode
            if mode == "P" and _gray_palette(img.getpalette() or []):
                mode = "L"  # a GIF saved from a grayscale image has a grey palette
            if img.getexif().get(_EXIF_ORIENTATION) in _TRANSPOSED:
                size = size[::-1]
            return size, mode
    except Exception as e:  # noqa: BLE001 - Pillow raises many types for a bad file
        raise ZooError(f"cannot read image {path} ({e}); fix or remove it") from None


def _gray_palette(palette: list[int]) -> bool:
    rgb = palette[: len(palette) - len(palette) % 3]
    return all(rgb[i] == rgb[i + 1] == rgb[i + 2] for i in range(0, len(rgb), 3))


def centre_square(width: int, height: int) -> tuple[int, int, int, int]:
    """The box (left, top, right, bottom) of the largest centred square."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def _read(path: Path, size: tuple[int, int], gray: bool, crop: bool = False) -> np.ndarray:
    """Decodes one image as uint8, upright, in the chosen mode and size."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode in _SIXTEEN_BIT_MODES:
                # convert("L") would clip 16-bit values at 255 instead of scaling them.
                pixels = np.clip(np.asarray(img, dtype=np.int64), 0, 65535) // 257
                img = Image.fromarray(pixels.astype(np.uint8))
            img = img.convert("L" if gray else "RGB")
            if crop and img.width != img.height:
                img = img.crop(centre_square(img.width, img.height))
            if img.size != size:
                img = img.resize(size, Image.Resampling.BILINEAR)
            return np.asarray(img, dtype=np.uint8)
    except Exception as e:  # noqa: BLE001 - e.g. a truncated file fails only when decoded
        raise ZooError(f"cannot read image {path} ({e}); fix or remove it") from None
