"""Plugins hold model and loss code only: no module under plugins/ or
examples/ (nor the plugin template `zoo new-plugin` writes) imports a
backend or branches on the backend's name. Backend-specific training code
lives in the core (zoo_core/training/steps/), once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = {"tensorflow", "jax", "jaxlib", "torch", "flax", "optax"}
NAMES = {"tensorflow", "jax", "torch"}


def python_files():
    for folder in ("plugins", "examples"):
        yield from sorted((ROOT / folder).rglob("*.py"))


def backend_code(source: str, is_test: bool) -> list[str]:
    """Each line of ``source`` that imports a backend or asks which backend runs."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "backend":
            # keras.backend.backend() / keras.config.backend(): fine in a test that
            # passes the name on (train_run(backend=...)), a branch anywhere else.
            names = [] if is_test else ["keras.backend.backend()"]
            if names:
                found.append(f"line {node.lineno}: calls {ast.unparse(node)}")
            continue
        elif isinstance(node, ast.Compare):
            values = [node.left, *node.comparators]
            strings = {v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)}
            if strings & NAMES:
                found.append(f"line {node.lineno}: compares with a backend name: {ast.unparse(node)}")
            continue
        else:
            continue
        for name in names:
            if name.split(".")[0] in BACKENDS:
                found.append(f"line {node.lineno}: imports {name}")
    return found


FILES = list(python_files())


def test_the_scan_sees_the_plugins():
    names = {p.relative_to(ROOT).as_posix() for p in FILES}
    assert "plugins/zoo-gan/zoo_gan/base.py" in names
    assert "plugins/zoo-vaegan/zoo_vaegan/base.py" in names
    assert any(n.startswith("examples/zoo-plugin-example/") for n in names)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_backend_code_in_plugins(path):
    problems = backend_code(path.read_text(), is_test="tests" in path.parts)
    assert not problems, f"{path.relative_to(ROOT)} has backend code:\n" + "\n".join(problems)


def test_no_backend_code_in_a_new_plugin(tmp_path):
    from zoo_core.cli.scaffold import KINDS, new_plugin

    for kind in KINDS:
        target, written = new_plugin(f"scan-{kind}", tmp_path, kind=kind)
        sources = [p for p in written if p.suffix == ".py"]
        assert sources, kind
        for path in sources:
            problems = backend_code(path.read_text(), is_test="tests" in path.relative_to(target).parts)
            assert not problems, f"zoo new-plugin --kind {kind}: {path.name} has backend code:\n" + "\n".join(problems)


@pytest.mark.parametrize("source, expected", [
    ("import torch", "imports torch"),
    ("from jax import numpy", "imports jax"),
    ("import tensorflow as tf", "imports tensorflow"),
    ("if keras.backend.backend() == 'jax':\n    pass", "calls keras.backend.backend()"),
    ("x = name == 'torch'", "compares with a backend name"),
    ("from keras import ops", None),
])
def test_the_scan_catches_backend_code(source, expected):
    problems = backend_code(source, is_test=False)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems
