"""``zoo new-plugin``: the package it writes installs with pip, shows up in
``zoo list`` through its entry point, and passes its own tests.

The package is pip-installed into a throwaway ``--target`` folder put on
PYTHONPATH for subprocesses, so the environment running these tests is left
as it was.
"""

from __future__ import annotations

import importlib.util
import os
import py_compile
import re
import subprocess
import sys

import pytest

import zoo_core

from zoo_core.errors import ZooError
from zoo_core.hookspecs import hookimpl
from zoo_core.cli.scaffold import core_range, new_plugin
from zoo_core.specs import LossSpec, NoConfig

NAME = "scaffold-check"


def run(args, cwd=None, site=None, timeout=300):
    env = dict(os.environ)
    if site:
        env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The generated package, pip-installed (not editable) into a --target folder."""
    root = tmp_path_factory.mktemp("scaffold")
    package, _ = new_plugin(NAME, root)
    site = root / "site"
    # Without the build backend here, pip fetches it into an isolated build environment.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("hatchling") else []
    result = run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *isolation,
                  "--target", str(site), str(package)])
    assert result.returncode == 0, result.stdout + result.stderr
    return package, site


def test_it_writes_a_complete_package(tmp_path):
    package, written = new_plugin("my-vae", tmp_path)
    assert package == tmp_path / "zoo-my-vae"
    names = {p.relative_to(package).as_posix() for p in written}
    assert names == {"pyproject.toml", "README.md", "zoo_my_vae/__init__.py", "zoo_my_vae/plugin.py",
                     "zoo_my_vae/models.py", "zoo_my_vae/losses.py", "tests/test_plugin.py"}
    for path in written:
        text = path.read_text()
        assert "$" not in text, f"placeholder left in {path}"
        if path.suffix == ".py":
            py_compile.compile(str(path), doraise=True)
    pyproject = (package / "pyproject.toml").read_text()
    assert 'my-vae = "zoo_my_vae.plugin"' in pyproject
    assert f'"zoo-core{core_range()}"' in pyproject
    assert "class MyVaeVAE(keras.Model)" in (package / "zoo_my_vae" / "models.py").read_text()


@pytest.mark.parametrize("kind", ["vae", "adversarial"])
def test_it_names_zoo_modules_by_their_places(kind, tmp_path):
    """A new plugin imports zoo_core's modules from where they are, not by names that moved."""
    _, written = new_plugin("fresh", tmp_path, kind=kind)
    for path in written:
        text = path.read_text()
        moved = [old for old in zoo_core.MOVED if re.search(rf"(?<![\w.]){re.escape(old)}\b", text)]
        assert not moved, f"{path.name} names modules by their old paths: {moved}"


def test_core_range():
    assert core_range("0.1.0") == ">=0.1,<1"
    assert core_range("2.3.1") == ">=2.3,<3"


@pytest.mark.parametrize("name", ["Bad", "my_vae", "-x", "x-", "a--b", "9lives", "core", "x" * 41])
def test_bad_names_are_refused(name, tmp_path):
    with pytest.raises(ZooError):
        new_plugin(name, tmp_path)
    assert not any(tmp_path.iterdir())


def test_it_never_overwrites(tmp_path):
    (tmp_path / "zoo-mine").mkdir()
    (tmp_path / "zoo-mine" / "keep.txt").write_text("mine")
    with pytest.raises(ZooError, match="already exists"):
        new_plugin("mine", tmp_path)
    assert (tmp_path / "zoo-mine" / "keep.txt").read_text() == "mine"


def test_cli_refuses_a_name_already_registered(cli, tmp_path):
    result = cli("new-plugin", "vae", "--dir", tmp_path)
    assert result.exit_code == 1
    assert ("cannot name a plugin 'vae': its model 'vae' is already a model from plugin 'vae' (zoo-vae "
            in result.output), result.output
    assert "zoo refuses to load two plugins that register one name" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


# Each name new-plugin would register (model NAME, loss NAME-elbo/-loss, preset
# NAME-mnist, plugin NAME) against each kind of name already taken.
@pytest.mark.one_backend
@pytest.mark.parametrize("name, kind, words", [
    ("hinge", "vae", "its model 'hinge' is already a loss from plugin 'gan' (zoo-gan"),
    ("mnist", "vae", "its model 'mnist' is already a data set from plugin 'datasets' (zoo-datasets"),
    ("vae-mnist", "vae", "its model 'vae-mnist' is already a preset in zoo's bundled registry.toml ("),
    ("vaegan", "vae", "its preset 'vaegan-mnist' is already a preset in zoo's bundled registry.toml ("),
    ("dcgan", "adversarial", "its model 'dcgan' is already a model from plugin 'gan' (zoo-gan"),
    ("non-saturating", "vae", "its model 'non-saturating' is already a loss from plugin 'gan'"),
])
def test_every_name_already_registered_is_refused(name, kind, words, registry, tmp_path):
    with pytest.raises(ZooError) as caught:
        new_plugin(name, tmp_path, registry=registry, kind=kind)
    message = str(caught.value)
    assert message.startswith(f"cannot name a plugin '{name}': ") and words in message, message
    assert message.endswith("choose another name for the plugin") and "\n" not in message
    assert "plugin '/" not in message and "by plugin" not in message  # a preset file is not a plugin
    assert not any(tmp_path.iterdir())


@pytest.mark.one_backend
def test_the_loss_name_of_the_kind_is_checked(make_registry, tmp_path):
    class Taken:
        name = "taken-losses"

        @hookimpl
        def zoo_losses(self):
            return [LossSpec("duel-loss", "a loss", NoConfig, lambda c: None, "x")]

    registry = make_registry(Taken())
    new_plugin("duel", tmp_path / "vae", registry=registry)  # duel-elbo is free
    with pytest.raises(ZooError, match="its loss 'duel-loss' is already a loss from plugin 'taken-losses'"):
        new_plugin("duel", tmp_path / "adversarial", registry=registry, kind="adversarial")
    assert not (tmp_path / "adversarial").exists()


@pytest.mark.one_backend
def test_a_plugin_name_and_a_local_preset_file_are_refused(make_registry, tmp_path, monkeypatch):
    class Toy:
        name = "toy"

    with pytest.raises(ZooError, match="cannot name a plugin 'toy': an installed plugin has that name "
                                       r"\(registered in-process\), and two plugins"):
        new_plugin("toy", tmp_path, registry=make_registry(Toy()))
    (tmp_path / "zoo.toml").write_text('[presets.mine-mnist]\nmodel = "vae"\ndataset = "mnist"\n')
    from zoo_core.plugins.registry import load_registry

    registry = load_registry(cwd=tmp_path)
    with pytest.raises(ZooError, match=f"its preset 'mine-mnist' is already a preset in the preset file "
                                       f"{tmp_path / 'zoo.toml'}"):
        new_plugin("mine", tmp_path / "out", registry=registry)
    assert not (tmp_path / "out").exists()


def test_cli_writes_it_and_says_what_next(cli, tmp_path):
    result = cli("new-plugin", "fresh", "--dir", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "zoo-fresh" / "zoo_fresh" / "plugin.py").is_file()
    assert "pip install -e" in result.output and "zoo train fresh-mnist" in result.output


def test_pip_installed_it_shows_up_in_zoo_list_and_zoo_plugins(installed):
    _, site = installed
    listed = run([sys.executable, "-m", "zoo_core.cli", "list"], site=site)
    assert listed.returncode == 0, listed.stderr
    out = listed.stdout
    for name in (NAME, f"{NAME}-elbo", f"{NAME}-mnist"):
        assert name in out
    assert f"zoo-{NAME} 0.1.0" in out
    assert "Warning" not in listed.stderr, listed.stderr
    plugins = run([sys.executable, "-m", "zoo_core.cli", "plugins"], site=site)
    assert plugins.returncode == 0, plugins.stderr
    assert f"{NAME}  (zoo-{NAME} 0.1.0; entry point zoo_scaffold_check.plugin, needs zoo-core" in plugins.stdout
    assert f"zoo_models   1 model: {NAME}" in plugins.stdout


@pytest.mark.slow
def test_pip_installed_it_passes_its_own_tests(installed):
    package, site = installed
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=package, site=site)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "8 passed" in result.stdout  # zoo_core.testing's five checks among them


# === --kind adversarial: a two-network model on zoo_core.multinet ===

ADVERSARIAL = "scaffold-duel"


@pytest.fixture(scope="module")
def installed_adversarial(tmp_path_factory):
    root = tmp_path_factory.mktemp("scaffold-adversarial")
    package, _ = new_plugin(ADVERSARIAL, root, kind="adversarial")
    site = root / "site"
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("hatchling") else []
    result = run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *isolation,
                  "--target", str(site), str(package)])
    assert result.returncode == 0, result.stdout + result.stderr
    return package, site


def test_the_adversarial_kind_writes_a_two_network_model(tmp_path):
    package, written = new_plugin("my-gan", tmp_path, kind="adversarial")
    names = {p.relative_to(package).as_posix() for p in written}
    assert names == {"pyproject.toml", "README.md", "zoo_my_gan/__init__.py", "zoo_my_gan/plugin.py",
                     "zoo_my_gan/models.py", "zoo_my_gan/losses.py", "tests/test_plugin.py"}
    for path in written:
        assert "$" not in path.read_text().replace("=$b ", ""), f"placeholder left in {path}"
        if path.suffix == ".py":
            py_compile.compile(str(path), doraise=True)
    models = (package / "zoo_my_gan" / "models.py").read_text()
    assert "class MyGanGAN(MultiNetworkModel)" in models and "def train_phases(self)" in models
    assert "def train_step" not in models
    # A tanh generator, with zoo's [0, 1] pixels mapped to [-1, 1] on the way in and back on the way out.
    assert 'activation="tanh"' in models and 'activation="sigmoid"' not in models
    assert "def prepare_batch(self, data)" in models and "return self.to_model_range(x)" in models
    assert "self.to_unit_range(self.generator(z, training=False))" in models
    pyproject = (package / "pyproject.toml").read_text()
    assert "the my-gan-loss loss" in pyproject and "elbo" not in pyproject
    assert '"ignore::DeprecationWarning:tensorflow.*"' in pyproject
    assert "testing.run_check(check, \"my-gan\"" in (package / "tests" / "test_plugin.py").read_text()


def test_an_unknown_kind_is_refused(tmp_path, cli):
    with pytest.raises(ZooError, match="unknown plugin kind 'diffusion'; choose one of: vae, adversarial"):
        new_plugin("mine", tmp_path, kind="diffusion")
    result = cli("new-plugin", "mine", "--kind", "diffusion", "--dir", tmp_path)
    assert result.exit_code == 2 and "'diffusion' is not one of" in result.output
    assert not any(tmp_path.iterdir())


def test_the_adversarial_plugin_passes_its_own_tests_on_this_backend(installed_adversarial):
    # Not marked slow: CI runs it on TensorFlow, JAX and PyTorch (KERAS_BACKEND passes through).
    # Over 10 s: a fresh interpreter runs the plugin's 10 tests, zoo_core.testing's five checks
    # among them (four small runs): 143 s measured on 2 cores shared with other sessions.
    package, site = installed_adversarial
    listed = run([sys.executable, "-m", "zoo_core.cli", "list"], site=site)
    assert listed.returncode == 0 and f"{ADVERSARIAL}-loss" in listed.stdout, listed.stderr
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=package, site=site)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "10 passed" in result.stdout  # zoo_core.testing's five checks among them
