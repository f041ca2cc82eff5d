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
