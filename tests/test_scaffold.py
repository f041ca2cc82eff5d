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
import subprocess
import sys

import pytest

from zoo_core.errors import ZooError
from zoo_core.scaffold import core_range, new_plugin

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
    assert result.exit_code == 1 and "model 'vae' is already registered by plugin 'vae'" in result.output
    assert "Traceback" not in result.output and not any(tmp_path.iterdir())


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
    assert "5 passed" in result.stdout


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


def test_an_unknown_kind_is_refused(tmp_path, cli):
    with pytest.raises(ZooError, match="unknown plugin kind 'diffusion'; choose one of: vae, adversarial"):
        new_plugin("mine", tmp_path, kind="diffusion")
    result = cli("new-plugin", "mine", "--kind", "diffusion", "--dir", tmp_path)
    assert result.exit_code == 2 and "'diffusion' is not one of" in result.output
    assert not any(tmp_path.iterdir())


def test_the_adversarial_plugin_passes_its_own_tests_on_this_backend(installed_adversarial):
    # Not marked slow: CI runs it on TensorFlow, JAX and PyTorch (KERAS_BACKEND passes through).
    package, site = installed_adversarial
    listed = run([sys.executable, "-m", "zoo_core.cli", "list"], site=site)
    assert listed.returncode == 0 and f"{ADVERSARIAL}-loss" in listed.stdout, listed.stderr
    result = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=package, site=site)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "6 passed" in result.stdout
