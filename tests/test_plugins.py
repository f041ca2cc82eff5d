"""Plugins as a third party meets them: core-version checks, ``zoo plugins``,
tracing, hooks that gain arguments, and the hook documentation."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import types
from dataclasses import dataclass, fields
from pathlib import Path

import pluggy
import pytest

from zoo_core import __version__, hookspecs, specs
import zoo_core.plugins.manager as plugins_module
from zoo_core.errors import DuplicateNameError
from zoo_core.hookspecs import hookimpl
from zoo_core.specs import LossSpec, ModelSpec, NoConfig, PresetSpec

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "plugins.md"
HOOK_NAMES = [name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
              if hasattr(_, f"{hookspecs.PROJECT}_spec")]


def model_spec(name, interface="toy", loss="toy-loss"):
    return ModelSpec(name, f"{name} model", NoConfig, build=lambda c, d, l: None,
                     loss_interface=interface, default_loss=loss)


def loss_spec(name, interface="toy"):
    return LossSpec(name, f"{name} loss", NoConfig, build=lambda c: None, interface=interface)


@dataclass
class FakeDist:
    name: str
    version: str = "1.0"
    requires: list | None = None


class FakeEntryPoint:
    """An installed plugin as importlib.metadata shows it; counts its loads."""

    def __init__(self, name, target, requires=None):
        self.name, self.target, self.group = name, target, "zoo"
        self.dist = FakeDist(f"zoo-{name}", requires=requires)
        self.value = f"zoo_{name}.plugin"
        self.loads = 0

    def load(self):
        self.loads += 1
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


def module_plugin(name, *models):
    mod = types.ModuleType(name)
    mod.zoo_models = hookimpl(lambda: [model_spec(m) for m in models])
    return mod


@pytest.fixture
def fake_entry_points(monkeypatch):
    """Replace the installed plugins with the given fake entry points."""

    def install(*eps):
        monkeypatch.setattr(plugins_module.metadata, "entry_points", lambda group: list(eps))
        return eps

    return install


# === Hooks (datasette style: every hook has a test_hook_<name>) ===


def test_hook_zoo_losses_pairs_by_interface(make_registry):
    """A loss from one plugin serves every model of another whose interface matches."""
    from zoo_core.cli.listing import entry_json

    class Models:
        name = "models"

        @hookimpl
        def zoo_models(self):
            return [model_spec("m-a", "alpha", "l-a"), model_spec("m-b", "beta", "l-b")]

    class Losses:
        name = "losses"

        @hookimpl
        def zoo_losses(self):
            return [loss_spec("l-a", "alpha"), loss_spec("l-a2", "alpha"), loss_spec("l-b", "beta")]

    registry = make_registry(Models(), Losses())
    assert registry.get("loss", "l-a2").plugin == "losses"
    assert entry_json(registry, registry.get("model", "m-a"))["compatible_losses"] == ["l-a", "l-a2"]
    assert entry_json(registry, registry.get("model", "m-b"))["compatible_losses"] == ["l-b"]

    class Clash:
        name = "clash"

        @hookimpl
        def zoo_losses(self):
            return [loss_spec("l-b", "beta")]

    with pytest.raises(DuplicateNameError, match="loss 'l-b' is registered twice") as err:
        make_registry(Models(), Losses(), Clash())
    assert "'losses'" in str(err.value) and "'clash'" in str(err.value)


def test_hook_zoo_presets_are_overridden_by_preset_files(make_registry, tmp_path):
    """Plugin presets come first; a zoo.toml changes only the keys it names."""

    class Recipes:
        name = "recipes"

        @hookimpl
        def zoo_models(self):
            return [model_spec("toy-model")]

        @hookimpl
        def zoo_presets(self):
            return [PresetSpec("toy-quick", "quick", model="toy-model", dataset="tiny",
                               model_config={"width": 4}, train={"epochs": 3, "batch_size": 8}),
                    PresetSpec("toy-needs", "needs more", model="missing-model", dataset="tiny")]

    (tmp_path / "zoo.toml").write_text("[presets.toy-quick.train]\nepochs = 5\n")
    registry = make_registry(Recipes(), cwd=tmp_path)
    quick = registry.preset("toy-quick")
    assert dict(quick.train) == {"epochs": 5, "batch_size": 8} and dict(quick.model_config) == {"width": 4}
    assert [e.plugin for e in registry.shadowed["toy-quick"]] == ["recipes"]
    assert "missing-model" in registry.preset_problem(registry.preset("toy-needs"))


def test_hook_zoo_trackers_opens_a_plugins_tracker_for_track(make_registry):
    """A third party's tracker (W&B, Comet, Aim ...) is found by name, opened with
    the URI after '=', and runs in the wrapper that switches it off when it fails."""
    from zoo_core.errors import ZooError
    from zoo_core.specs import TrackerSpec
    from zoo_core.tracking import SafeTracker, Tracker, open_trackers

    class Memo(Tracker):
        def __init__(self, uri):
            self.uri, self.heard = uri, []

        def epoch_ended(self, epoch, logs, model, run_dir):
            self.heard.append((epoch, logs["loss"]))
            raise ConnectionError("service went away")

    class Trackers:
        name = "trackers"

        @hookimpl
        def zoo_trackers(self):
            return [TrackerSpec("memo", "remembers", open=Memo, install="pip install zoo-memo"),
                    TrackerSpec("needs-lib", "a missing library", open=lambda uri: __import__("zoo_no_such_lib"),
                                install="pip install zoo-no-such-lib")]

    registry = make_registry(Trackers())
    assert registry.names("tracker") == ["memo", "needs-lib"] and registry.get("tracker", "memo").plugin == "trackers"
    lines = []
    [tracker] = open_trackers(["memo=memo://here"], registry, echo=lines.append)
    assert isinstance(tracker, SafeTracker) and tracker.tracker.uri == "memo://here" and tracker.tracker.name == "memo"
    tracker.epoch_ended(1, {"loss": 2.0}, None, Path("run"))
    tracker.epoch_ended(2, {"loss": 1.0}, None, Path("run"))
    assert tracker.tracker.heard == [(1, 2.0)] and len(lines) == 1 and "tracker 'memo' failed" in lines[0]
    with pytest.raises(ZooError, match="needs the 'zoo_no_such_lib' package.*pip install zoo-no-such-lib"):
        open_trackers(["needs-lib"], registry)
    with pytest.raises(ZooError, match="unknown tracker 'mem' in --track mem; did you mean memo.*known trackers: memo, needs-lib"):
        open_trackers(["mem"], registry)

    class Clash:
        name = "clash"

        @hookimpl
        def zoo_trackers(self):
            return [TrackerSpec("memo", "another", open=Memo)]

    with pytest.raises(DuplicateNameError, match="tracker 'memo' is registered twice"):
        make_registry(Trackers(), Clash())


def test_every_hook_has_a_test():
    """Each hook in zoo_core/hookspecs.py needs a test named test_hook_<hook>..."""
    source = "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    tests = re.findall(r"^def (test_hook_\w+)", source, flags=re.M)
    missing = [h for h in HOOK_NAMES if not any(t.startswith(f"test_hook_{h}") for t in tests)]
    assert HOOK_NAMES and not missing, f"hooks without a test_hook_<name> test: {missing}"


# === Documentation ===


def hook_signature(function) -> str:
    """``zoo_models() -> list[ModelSpec]``, as docs/plugins.md writes it."""
    params = []
    for p in inspect.signature(function).parameters.values():
        text = p.name + (f": {p.annotation}" if p.annotation is not p.empty else "")
        params.append(text + (f" = {p.default!r}" if p.default is not p.empty else ""))
    returns = inspect.signature(function).return_annotation
    return f"{function.__name__}({', '.join(params)}) -> {returns}"


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_hook_is_documented_with_its_signature(hook):
    docs = DOCS.read_text()
    signature = hook_signature(getattr(hookspecs, hook))
    assert f"### `{hook}`" in docs, f"docs/plugins.md has no '### `{hook}`' section"
    section = docs.split(f"### `{hook}`", 1)[1].split("\n### ", 1)[0]
    assert signature in section, f"the {hook} section does not show its signature {signature}"
    assert "Returns" in section and "@hookimpl" in section, f"the {hook} section needs 'Returns' and an example"


@pytest.mark.parametrize("spec_type", [specs.ModelSpec, specs.LossSpec, specs.DatasetSpec, specs.PresetSpec,
                                       specs.Dataset, specs.DataInfo], ids=lambda t: t.__name__)
def test_every_spec_field_is_documented(spec_type):
    docs = DOCS.read_text()
    section = docs.split(f"### `{spec_type.__name__}`", 1)
    assert len(section) == 2, f"docs/plugins.md has no '### `{spec_type.__name__}`' section"
    body = section[1].split("\n### ", 1)[0]
    missing = [f.name for f in fields(spec_type) if f"| `{f.name}` |" not in body]
    assert not missing, f"{spec_type.__name__} fields missing from docs/plugins.md: {missing}"


# === Hook API stability ===


def test_old_plugin_keeps_working_when_a_hook_gains_an_optional_argument():
    """A hook may gain an argument in a later zoo-core; a plugin written before
    it (taking none) still registers and is called. zoo's own hooks take no
    arguments yet, so this uses a future version of zoo_models on its own
    plugin manager, through zoo's real call_hook."""

    class FutureSpecs:
        @hookspecs.hookspec
        def zoo_models(self, core_version: str) -> list[ModelSpec]:
            """zoo_models as a later zoo-core might declare it."""

    class OldPlugin:
        @hookimpl
        def zoo_models(self):
            return [model_spec("old-model")]

    class NewPlugin:
        @hookimpl
        def zoo_models(self, core_version):
            return [model_spec(f"new-model-for-{core_version}")]

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(FutureSpecs)
    pm.register(OldPlugin(), name="old")
    pm.register(NewPlugin(), name="new")
    problems = []
    got = [spec.name for _, spec in plugins_module.call_hook(pm, "zoo_models", problems, core_version="9.0")]
    assert sorted(got) == ["new-model-for-9.0", "old-model"] and problems == []
    # pluggy's own calling convention agrees: each impl gets only what it names.
    assert sorted(m.name for ms in pm.hook.zoo_models(core_version="9.0") for m in ms) == sorted(got)


def test_plugin_for_a_newer_core_is_skipped_with_a_message(fake_entry_points, make_registry):
    too_new = FakeEntryPoint("future", module_plugin("future", "future-model"), requires=["zoo-core>=99"])
    fits = FakeEntryPoint("fits", module_plugin("fits", "fits-model"), requires=["keras>=3", "zoo-core>=0.1,<99"])
    fake_entry_points(too_new, fits)
    registry = make_registry(entrypoints=True)
    assert registry.names("model") == ["fits-model"]
    assert too_new.loads == 0, "an incompatible plugin must not even be imported"
    info = registry.plugins["future"]
    assert info.status == "incompatible" and info.requires == ">=99"
    (problem,) = registry.problems
    assert problem.plugin == "future"
    assert f"needs zoo-core>=99, but zoo-core {__version__} is installed" in problem.message
    assert "pip install -U zoo-future" in problem.message
    assert registry.plugins["fits"].requires == "<99,>=0.1"


@pytest.mark.parametrize("requires, expected", [
    (None, None),
    ([], None),
    (["numpy", "keras>=3.5"], None),
    (["zoo-core"], ""),
    (["Zoo_Core>=0.1"], ">=0.1"),
    (["zoo-core<0.1; extra == 'old'", "zoo-core>=0.1"], ">=0.1"),
    (["not a requirement !!", "zoo-core==0.1.*"], "==0.1.*"),
])
def test_core_requirement_is_read_from_requires_dist(requires, expected):
    assert plugins_module.core_requirement(FakeDist("zoo-x", requires=requires)) == expected


def test_incompatibility():
    assert plugins_module.incompatibility(None) is None
    assert plugins_module.incompatibility("") is None
    assert plugins_module.incompatibility(">=0.1,<1", "0.4.2") is None
    assert plugins_module.incompatibility(">=0.1,<1", "0.2.0rc1") is None  # a pre-release core counts
    assert "needs zoo-core<0.1" in plugins_module.incompatibility("<0.1", "0.1.0")


# === zoo plugins ===


def test_zoo_plugins_lists_the_bundled_plugins(cli):
    result = cli("plugins")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(f"zoo-core {__version__}: ")
    assert "vae  (zoo-vae 0.1.0; entry point zoo_vae.plugin, needs zoo-core>=0.1)" in out
    assert re.search(r"zoo_models +3 models: vae, mlp-vae, beta-vae", out)
    assert re.search(r"zoo_losses +1 loss: elbo", out)


def test_zoo_plugins_shows_failures_and_skips(cli, fake_entry_points, monkeypatch):
    class Broken:
        @hookimpl
        def zoo_losses(self):
            raise RuntimeError("boom")

        @hookimpl
        def zoo_models(self):
            return [model_spec("ok-model")]

    fake_entry_points(
        FakeEntryPoint("good", Broken(), requires=["zoo-core>=0.1"]),
        FakeEntryPoint("missing", ImportError("No module named 'nonexistent_dep'")),
        FakeEntryPoint("future", module_plugin("future", "x"), requires=["zoo-core>=99"]),
        FakeEntryPoint("other", module_plugin("other", "y")),
    )
    monkeypatch.setenv("ZOO_PLUGINS", "good,missing,future")
    result = cli("plugins")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "1 plugin loaded, 3 not" in out
    assert re.search(r"zoo_losses +raised RuntimeError: boom", out)
    assert re.search(r"zoo_models +1 model: ok-model", out)
    assert "FAILED: ImportError: No module named 'nonexistent_dep'" in out
    assert f"SKIPPED: needs zoo-core>=99, but zoo-core {__version__} is installed" in out
    assert "other  (zoo-other 1.0; entry point zoo_other.plugin)\n  not loaded: not in ZOO_PLUGINS" in out
    assert "Problems:" in out

    import json

    doc = json.loads(cli("plugins", "--json").output)
    by_name = {p["name"]: p for p in doc["plugins"]}
    assert by_name["good"]["results"] == {"zoo_losses": "raised RuntimeError: boom (test_plugins.py:"
                                          + by_name["good"]["results"]["zoo_losses"].split(":")[-1],
                                          "zoo_models": ["ok-model"]}
    assert [by_name[n]["status"] for n in ("missing", "future", "other")] == ["failed", "incompatible",
                                                                               "not selected"]
    assert any(p["plugin"] == "good" and "boom" in p["message"] for p in doc["problems"])


def test_zoo_plugins_works_when_two_plugins_clash(cli, fake_entry_points):
    """zoo list stops on a duplicate name; zoo plugins shows who is to blame."""
    fake_entry_points(FakeEntryPoint("one", module_plugin("one", "same")),
                      FakeEntryPoint("two", module_plugin("two", "same")))
    out = cli("plugins").output
    assert re.search(r"one .*\n  zoo_models +1 model: same", out) and re.search(r"two .*\n  zoo_models +1 model: same", out)
    listed = cli("list")
    assert listed.exit_code == 1 and "registered twice" in listed.output


def _run_python(code, **env):
    import os

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


@pytest.mark.parametrize("command", [["plugins"], ["plugins", "--json"], ["new-plugin", "--help"]])
def test_plugin_commands_import_no_backend(command):
    code = (
        "import sys\nfrom zoo_core.cli import cli\n"
        f"try:\n    cli({command!r}, prog_name='zoo')\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "loaded = [m for m in ('keras', 'tensorflow', 'jax', 'torch', 'mlflow', 'optuna') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = _run_python(code)
    assert result.returncode == 0, result.stderr


# === Tracing ===


def test_tracing_shows_loading_and_every_hook_call(fake_entry_points, make_registry):
    fake_entry_points(FakeEntryPoint("one", module_plugin("one", "m1", "m2")),
                      FakeEntryPoint("future", module_plugin("future", "x"), requires=["zoo-core>=99"]))
    lines = []
    with plugins_module.tracing(lines.append):
        make_registry(entrypoints=True)
    text = "\n".join(lines)
    assert re.search(r"zoo-trace: load one = zoo_one.plugin \(zoo-one 1.0\): [\d.]+ ms", text)
    assert "zoo-trace: skip future (zoo-future 1.0): needs zoo-core>=99" in text
    assert re.search(r"zoo-trace: call one.zoo_models\(\) -> 2 ModelSpec: m1, m2 \([\d.]+ ms\)", text)


def test_zoo_trace_plugins_env_var_traces_any_command():
    result = _run_python("from zoo_core.cli import main; import sys; sys.argv = ['zoo', 'list', 'models']; main()",
                         ZOO_TRACE_PLUGINS="1")
    assert result.returncode == 0, result.stderr
    assert "zoo-trace: load vae = zoo_vae.plugin" in result.stderr
    assert re.search(r"zoo-trace: call vae.zoo_models\(\) -> 3 ModelSpec: vae, mlp-vae, beta-vae", result.stderr)
    assert "zoo-trace" not in result.stdout
    quiet = _run_python("from zoo_core.cli import main; import sys; sys.argv = ['zoo', 'list', 'models']; main()",
                        ZOO_TRACE_PLUGINS="0")
    assert "zoo-trace" not in quiet.stderr


def test_zoo_plugins_trace_flag(cli, monkeypatch):
    lines = []
    monkeypatch.setattr("click.echo", lambda message="", err=False, **kw: lines.append((err, str(message))))
    result = cli("plugins", "--trace")
    assert result.exit_code == 0
    traced = [m for err, m in lines if err and m.startswith("zoo-trace:")]
    assert any("call vae.zoo_models()" in m for m in traced)
    assert not any(m.startswith("zoo-trace:") for err, m in lines if not err)
