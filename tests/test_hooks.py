"""The plugin machinery, with in-test plugins (and fake entry points)."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from importlib import metadata

import numpy as np
import pytest

import zoo_core.plugins.manager as plugins_module
from zoo_core.errors import DuplicateNameError, UnknownNameError
from zoo_core.hookspecs import hookimpl
from zoo_core.specs import LossSpec, ModelSpec, NoConfig, PresetSpec


def model_spec(name, **kw):
    return ModelSpec(name, f"{name} model", NoConfig, build=lambda c, d, l: None,
                     loss_interface=kw.pop("interface", "toy"), default_loss=kw.pop("loss", "toy-loss"), **kw)


class ToyPlugin:
    name = "toy"

    @hookimpl
    def zoo_models(self):
        return [model_spec("toy-model")]

    @hookimpl
    def zoo_losses(self):
        return [LossSpec("toy-loss", "a loss", NoConfig, build=lambda c: None, interface="toy")]

    @hookimpl
    def zoo_presets(self):
        return [PresetSpec("toy-preset", "a preset", model="toy-model", dataset="tiny")]


def test_hook_zoo_models_and_losses_and_presets(make_registry):
    registry = make_registry(ToyPlugin())
    assert registry.names("model") == ["toy-model"]
    assert registry.names("loss") == ["toy-loss"]
    entry = registry.get("preset", "toy-preset")
    assert entry.plugin == "toy" and entry.spec.origin == "plugin toy"
    assert registry.problems == []
    assert registry.plugins["toy"].hooks == ["zoo_losses", "zoo_models", "zoo_presets"]


def test_hook_zoo_datasets(registry):
    entry = registry.get("dataset", "tiny")
    assert entry.plugin == "tiny-data"
    data = entry.spec.load(None, None)
    assert data.x_train.dtype == np.float32 and data.x_train.shape[1:] == (28, 28, 1)


def test_duplicate_name_names_both_plugins(make_registry):
    class Other:
        name = "other"

        @hookimpl
        def zoo_models(self):
            return [model_spec("toy-model")]

    with pytest.raises(DuplicateNameError) as err:
        make_registry(ToyPlugin(), Other())
    assert "'toy'" in str(err.value) and "'other'" in str(err.value) and "toy-model" in str(err.value)


def test_exception_in_a_hook_is_a_warning_and_the_rest_works(make_registry):
    class Broken:
        name = "broken"

        @hookimpl
        def zoo_models(self):
            raise RuntimeError("boom")

        @hookimpl
        def zoo_losses(self):
            return "not a list"

        @hookimpl
        def zoo_presets(self):
            return [model_spec("wrong-type")]

    registry = make_registry(ToyPlugin(), Broken())
    assert registry.names("model") == ["toy-model"]
    assert registry.names("loss") == ["toy-loss"]
    messages = [str(p) for p in registry.problems]
    assert any("broken" in m and "boom" in m and "zoo_models" in m for m in messages)
    assert any("must return a list" in m for m in messages)
    assert any("expected PresetSpec" in m for m in messages)


def test_misspelt_hook_is_reported(make_registry):
    class Typo:
        name = "typo"

        @hookimpl
        def zoo_modles(self):
            return []

    registry = make_registry(ToyPlugin(), Typo())
    (problem,) = registry.problems
    assert problem.plugin == "typo"
    assert "zoo_modles" in problem.message and "did you mean zoo_models" in problem.message
    assert registry.names("model") == ["toy-model"]


def test_hook_with_unknown_argument_is_reported(make_registry):
    class BadArgs:
        name = "bad-args"

        @hookimpl
        def zoo_models(self, nonsense):
            return []

    registry = make_registry(ToyPlugin(), BadArgs())
    assert any(p.plugin == "bad-args" and "could not be registered" in p.message for p in registry.problems)
    assert registry.names("model") == ["toy-model"]


@dataclass
class FakeDist:
    name: str
    version: str = "9.9"


class FakeEntryPoint:
    def __init__(self, name, target):
        self.name, self.target, self.dist = name, target, FakeDist(f"zoo-{name}")
        self.group = "zoo"

    def load(self):
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


def test_broken_entry_point_plugin_is_a_warning(monkeypatch, make_registry):
    good = types.ModuleType("good_plugin")
    good.zoo_models = hookimpl(lambda: [model_spec("good-model")])
    eps = [FakeEntryPoint("broken", ImportError("No module named 'nonexistent_dep'")),
           FakeEntryPoint("good", good)]
    monkeypatch.setattr(plugins_module.metadata, "entry_points", lambda group: eps)
    registry = make_registry(entrypoints=True)
    assert registry.names("model") == ["good-model"]
    assert registry.get("model", "good-model").provider == "zoo-good 9.9"
    (problem,) = registry.problems
    assert problem.plugin == "broken" and "nonexistent_dep" in problem.message
    assert registry.plugins["broken"].error


def test_zoo_plugins_env_var_limits_loading(monkeypatch, make_registry):
    mods = []
    for n in ("one", "two"):
        mod = types.ModuleType(n)
        mod.zoo_models = hookimpl(lambda n=n: [model_spec(f"{n}-model")])
        mods.append(FakeEntryPoint(n, mod))
    monkeypatch.setattr(plugins_module.metadata, "entry_points", lambda group: mods)
    monkeypatch.setenv("ZOO_PLUGINS", "two")
    assert make_registry(entrypoints=True).names("model") == ["two-model"]
    monkeypatch.setenv("ZOO_PLUGINS", "")
    assert make_registry(entrypoints=True).names("model") == []


def test_unknown_name_suggests_close_matches(registry):
    with pytest.raises(UnknownNameError, match="did you mean vae-mnist"):
        registry.get("preset", "vae-mnst")
    with pytest.raises(UnknownNameError, match="is a model, not a preset"):
        registry.get("preset", "vae")
    with pytest.raises(UnknownNameError, match="did you mean"):
        registry.find("fashon-mnist")


def test_wildcard_listing(registry):
    names = [e.name for e in registry.entries("model", "*vae")]
    assert "vae" in names and "mlp-vae" in names
    assert [e.name for e in registry.entries("model", "nothing*")] == []


def test_hook_optional_arguments_are_passed_only_when_named(make_registry):
    """A hook may gain optional arguments: an impl naming none keeps working."""
    pm, _, problems = plugins_module.make_plugin_manager([ToyPlugin()], entrypoints=False)
    out = list(plugins_module.call_hook(pm, "zoo_models", problems, future_argument=1))
    assert [spec.name for _, spec in out] == ["toy-model"]


def test_bundled_plugins_are_found_through_entry_points():
    names = {ep.name for ep in metadata.entry_points(group="zoo")}
    assert {"vae", "datasets"} <= names


def test_loss_from_another_plugin_trains_a_bundled_model(registry, make_registry, tmp_path):
    """Losses are looked up by name: an in-test plugin's loss trains zoo-vae's model."""
    from dataclasses import dataclass as dc

    from zoo_core.plugins.registry import load_registry
    from zoo_core.plugins.resolve import resolve_run
    from zoo_core.training import train_run

    @dc(frozen=True)
    class L1Config:
        beta: float = 0.5

    class L1ELBO:
        """A VAE loss with an L1 reconstruction term, from a different plugin."""

        def __init__(self, beta):
            self.beta = beta

        def __call__(self, x, outputs):
            from keras import ops

            rec = ops.mean(ops.sum(ops.abs(x - ops.sigmoid(outputs["logits"])), axis=(1, 2, 3)))
            zm, zlv = outputs["z_mean"], outputs["z_log_var"]
            kl = ops.mean(-0.5 * ops.sum(1 + zlv - zm**2 - ops.exp(zlv), axis=-1))
            return {"loss": rec + self.beta * kl, "reconstruction": rec, "kl": kl}

    class L1Plugin:
        name = "l1-plugin"

        @hookimpl
        def zoo_losses(self):
            return [LossSpec("l1-elbo", "L1 ELBO", L1Config, build=lambda c: L1ELBO(c.beta), interface="vae")]

    from conftest import TinyDataPlugin

    reg = load_registry(plugins=[TinyDataPlugin(), L1Plugin()])
    assert reg.get("loss", "l1-elbo").plugin == "l1-plugin"
    resolved = resolve_run(reg, "vae", dataset="tiny", loss="l1-elbo",
                           overrides=["epochs=2", "batch_size=8", "loss.beta=0.25"])
    assert resolved.config.loss_config.beta == 0.25
    import keras

    result = train_run(resolved, tmp_path / "run", backend=keras.backend.backend(), echo=lambda s: None, verbose=0)
    assert np.isfinite(result.metrics["loss"])
    assert (tmp_path / "run" / "model.keras").is_file()
