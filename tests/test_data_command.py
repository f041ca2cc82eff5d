"""``zoo data``: a data set as zoo sees it, and a PNG of examples."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from test_cli import assert_clean_error


def make_folder(root, per_class=(5, 3), size=(20, 12)):
    for c, n in enumerate(per_class):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(n):
            pixels = np.full((size[1], size[0], 3), 40 * (c + 1) + i, np.uint8)
            Image.fromarray(pixels).save(root / f"class{c}" / f"{i}.png")
    return root


def test_a_folder_of_colour_images(cli, tmp_path):
    folder = make_folder(tmp_path / "pics")
    result = cli("data", f"folder:{folder}", "--image-size", 16, "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["image_shape"] == [16, 16, 3] and d["train_images"] + d["test_images"] == 8
    assert d["num_classes"] == 2
    assert sum(d["train_histogram"]) + sum(d["test_histogram"] or [0]) == 8
    assert str(folder) in d["source"]
    grid = Image.open(tmp_path / d["grid"])
    assert grid.mode == "RGB" and grid.size[0] > 32
    text = cli("data", f"folder:{folder}", "--image-size", 16, "--out", tmp_path / "g.png")
    assert text.exit_code == 0, text.output
    assert "Classes: 2" in text.output and "colour" in text.output and (tmp_path / "g.png").is_file()


def test_npz_without_labels(cli, tmp_path):
    x = (np.random.default_rng(0).uniform(size=(30, 8, 8)) * 255).astype(np.uint8)
    np.savez(tmp_path / "d.npz", x=x)
    result = cli("data", f"npz:{tmp_path / 'd.npz'}")
    assert result.exit_code == 0, result.output
    assert "Labels: none" in result.output and "8x8x1" in result.output
    assert len(list(tmp_path.glob("data-npz*.png"))) == 1


def test_bad_inputs(cli, tmp_path):
    assert_clean_error(cli("data", "folder"), "needs", "folder:")
    assert_clean_error(cli("data", f"folder:{tmp_path / 'none'}"), "none")
    assert_clean_error(cli("data", "nope"), "unknown dataset")
    assert_clean_error(cli("data", f"folder:{tmp_path}", "--out", tmp_path / "x.jpg"), ".png")
    assert not list(tmp_path.glob("*.png"))


def test_train_crop_cuts_the_centred_square_before_resizing(cli, tmp_path):
    """96x48 images with a red left quarter, a green middle half and a blue right
    quarter: cropped, only green is left; stretched, all three colours are."""
    folder = tmp_path / "wide"
    folder.mkdir()
    pixels = np.zeros((48, 96, 3), np.uint8)
    pixels[:, :24, 0] = pixels[:, 24:72, 1] = pixels[:, 72:, 2] = 255
    for i in range(12):
        Image.fromarray(pixels).save(folder / f"{i}.png")
    from zoo_datasets.folder import load_folder

    cropped = load_folder(str(folder), 16, crop=True).x_train
    stretched = load_folder(str(folder), 16).x_train
    assert cropped.shape[1:] == (16, 16, 3)
    assert cropped[..., 1].min() > 0.9 and cropped[..., [0, 2]].max() < 0.1
    assert stretched[:, :, 0, 0].min() > 0.9 and stretched[:, :, -1, 2].min() > 0.9
    result = cli("train", "vae", "--dataset", f"folder:{folder}", "--set", "image_size=16", "--set", "crop=true",
                 "--epochs", 1, "--set", "filters=[4]", "--set", "dense_units=4", "--set", "grid_size=2",
                 "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    np.savez(tmp_path / "d.npz", x=(np.zeros((20, 8, 8)) * 255).astype(np.uint8))
    result = cli("train", "vae", "--dataset", f"npz:{tmp_path / 'd.npz'}", "--set", "crop=true", "--epochs", 1)
    assert_clean_error(result, "cannot centre-crop")
