"""The core's layout (docs/architecture.md): its parts import only downward,
nothing imports itself round a circle, the top level stays small, the public
names stay where the docs say, and the modules that moved in zoo 0.2 are still
found under their old names. Backend-independent: reads imports, runs nothing
of Keras."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import zoo_core

pytestmark = pytest.mark.one_backend

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("zoo_core", "zoo_datasets", "zoo_vae", "zoo_gan", "zoo_vaegan", "zoo_hybrids")


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_circle_finder_finds_circles():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_itself_round_a_circle(package):
    """Module by module, imports inside functions included (grimp reads every import statement)."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph(package, cache_dir=None)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert circles(edges) == []


def test_the_import_contracts_hold():
    """.importlinter: the core's layers, no circles between siblings, no plugin imported by the core."""
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install -e .[test])")
    done = subprocess.run([str(lint), str(ROOT / ".importlinter")], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_the_top_level_shows_its_parts():
    top = sorted(p.stem for p in Path(zoo_core.__file__).parent.glob("*.py"))
    assert top == ["__init__", "backend", "errors", "hookspecs", "layers", "multinet", "specs", "testing",
                   "version"]
    parts = sorted(p.name for p in Path(zoo_core.__file__).parent.iterdir()
                   if p.is_dir() and (p / "__init__.py").is_file())
    assert parts == ["cli", "data", "evaluation", "plugins", "saving", "sharing", "storage", "tracking", "training",
                     "tuning"]


def test_old_module_names_are_the_moved_modules_with_a_warning():
    """A plugin written against zoo 0.1 imports zoo_core.registry, zoo_core.runs, ...:
    the same module objects (keeping their own spec), each import warning once with the new name."""
    code = (
        "import importlib, warnings, sys, json\n"
        "import zoo_core\n"
        "out = {}\n"
        "for old, new in zoo_core.MOVED.items():\n"
        "    with warnings.catch_warnings(record=True) as caught:\n"
        "        warnings.simplefilter('always')\n"
        "        module = importlib.import_module(old)\n"
        "    out[old] = [module is importlib.import_module(new) and module.__spec__.name == new,\n"
        "                [str(w.message) for w in caught]]\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    from zoo_core.plugins import make_plugin_manager\n"
        "    from zoo_core.data import load_data\n"
        "out['attributes'] = [make_plugin_manager.__module__, load_data.__module__, sorted({str(w.message) for w in caught})]\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    import json

    result = json.loads(done.stdout)
    attributes = result.pop("attributes")
    assert attributes == ["zoo_core.plugins.manager", "zoo_core.data.loading",
                          ["zoo_core.data.load_data moved to zoo_core.data.loading.load_data",
                           "zoo_core.plugins.make_plugin_manager moved to "
                           "zoo_core.plugins.manager.make_plugin_manager"]]
    assert set(result) == set(zoo_core.MOVED)
    for old, (same, messages) in result.items():
        assert same, old
        assert messages == [f"{old} moved to {zoo_core.MOVED[old]}; import it from there "
                            f"(the old name goes in zoo 1.0)"], old


def _documented_imports():
    """``from zoo_core.X import a, b`` lines and ``zoo_core.X.Y`` names in the docs plugin authors read."""
    found = set()
    for doc in (ROOT / "docs" / "plugins.md", ROOT / "README.md"):
        text = doc.read_text()
        for module, names in re.findall(r"^\s*from (zoo_core[\w.]*) import ([\w, ]+)$", text, re.M):
            found.update((module, name.strip().split(" as ")[0]) for name in names.split(","))
        for dotted in re.findall(r"`(zoo_core(?:\.\w+)+)", text):
            module, _, name = dotted.rpartition(".")
            found.add((module, name))
    return sorted(found)


@pytest.mark.parametrize("module,name", _documented_imports())
def test_every_documented_name_imports_from_its_documented_path(module, name, recwarn):
    import importlib

    target = importlib.import_module(module)
    if not hasattr(target, name):
        importlib.import_module(f"{module}.{name}")  # a documented submodule
    assert not [w for w in recwarn if "moved to" in str(w.message)], f"the docs name an old path: {module}.{name}"
