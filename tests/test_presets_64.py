"""The 64x64 colour presets: GPU-sized, smoke-tested here for two small
steps each on a generated folder of non-square colour images (marked slow:
CI runs them once, on its first backend)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from test_cli import assert_clean_error

PRESETS = ["dcgan-64", "vae-64", "vaegan-64"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(0)
    for i in range(36):
        Image.fromarray((rng.uniform(size=(80, 96, 3)) * 255).astype(np.uint8)).save(root / f"{i}.png")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_trains_on_a_colour_folder(preset, folder, cli, tmp_path):
    out = tmp_path / "run"
    # Two steps of four images: the paper-sized networks cost seconds a step on a CPU core.
    result = cli("train", preset, "--dataset", f"folder:{folder}", "--epochs", 1, "--batch-size", 4,
                 "--set", "max_train_examples=8", "--set", "grid_size=2", "--out", out)
    assert result.exit_code == 0, result.output
    result = cli("sample", out, "--num", 2, "--out", tmp_path / "s.npz")
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "s.npz")["images"].shape == (2, 64, 64, 3)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_is_a_paper_sized_64x64_model(preset, cli):
    doc = json.loads(cli("info", preset, "--json").output)
    assert doc["dataset"] == "folder" and doc["train"]["image_size"] == 64 and not doc["invalid"]
    assert "GPU-sized" in doc["description"]
    assert_clean_error(cli("train", preset), "needs", "--dataset folder:")
