"""What zoo checks before it builds or loads a model: a config far larger than
its weights (counted without allocating it), the public API's arguments, an
empty source, and Lambda layers in a ``.keras`` file."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import zoo_core
from zoo_core.saving import hub
from zoo_core.errors import ZooError
from zoo_core.plugins.registry import load_registry
from zoo_core.saving.runs import load_model, open_run, open_source
from zoo_core.saving.sizes import SLACK_PARAMETERS, count_parameters

from test_cli import assert_clean_error

REGISTRY = load_registry()
PRETRAINED = sorted(e.name for e in REGISTRY.entries("preset") if e.spec.weights)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))


def bundled(preset: str) -> Path:
    return hub.package_file(REGISTRY.preset(preset).weights["uri"], REGISTRY)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def only_line(output: str) -> str:
    """The whole output is one line (no Keras advice, no traceback after it)."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


def altered_export(tmp_path: Path, preset: str, key: str, value: str) -> Path:
    """The preset's published export, unpacked, with one model option of its
    config.toml changed and its checksum in metadata.json updated to match
    (what a careless or hostile publisher would ship)."""
    folder = tmp_path / f"{preset}-{key}"
    with zipfile.ZipFile(bundled(preset)) as archive:
        archive.extractall(folder)
    config = (folder / hub.CONFIG_FILE).read_text()
    changed = re.sub(rf"^{key} = (\[[^\]]*\]|\S+)$", f"{key} = {value}", config, count=1, flags=re.M)
    assert changed != config, f"{preset}'s config has no '{key}'"
    (folder / hub.CONFIG_FILE).write_text(changed)
    meta = json.loads((folder / hub.METADATA_FILE).read_text())
    meta["files"][hub.CONFIG_FILE] = sha(changed.encode())
    (folder / hub.METADATA_FILE).write_text(json.dumps(meta))
    return folder


HUGE = [("vae-mnist", "filters", "[65536, 65536]"),
        ("vae-mnist", "latent_dim", "1000000000"),
        ("dcgan-fashion-mnist", "latent_dim", "1000000000")]


# === A config far beyond its weights ===


@pytest.mark.parametrize("preset, key, value", HUGE)
def test_a_config_far_beyond_its_weights_is_refused_before_building(preset, key, value, cli, tmp_path):
    folder = altered_export(tmp_path, preset, key, value)
    result = cli("sample", folder, "--num", 2, "--out", tmp_path / "grid.npz")
    assert_clean_error(result, "refuses to build it", "parameters", "weights file holds")
    assert "Error" in only_line(result.output)
    assert not (tmp_path / "grid.npz").exists()
    with pytest.raises(ZooError, match="refuses to build it"):
        zoo_core.load_model(folder)


def test_a_preset_whose_archive_asks_for_a_huge_model_is_refused(cli, tmp_path):
    """The same archive named by a preset (with its true sha256): the preset's
    own recipe asks for the same huge model, so only the size check stops it."""
    folder = altered_export(tmp_path, "vae-mnist", "latent_dim", "1000000000")
    meta = json.loads((folder / hub.METADATA_FILE).read_text())
    meta["preset"] = "huge"
    (folder / hub.METADATA_FILE).write_text(json.dumps(meta))
    archive = tmp_path / "huge.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(folder.iterdir()):
            z.write(path, path.name)
    (tmp_path / "zoo.toml").write_text(textwrap.dedent(f"""\
        [presets.huge]
        dataset = "mnist"
        loss = {{ name = "elbo", reconstruction = "bce", beta = 1.0 }}
        model = {{ name = "vae", latent_dim = 1000000000, filters = [32, 64], dense_units = 16 }}
        weights = {{ uri = "huge.zip", sha256 = "{sha(archive.read_bytes())}" }}
        """))
    assert_clean_error(cli("sample", "huge", "--pretrained"), "refuses to build it")


@pytest.mark.one_backend  # the refusal itself runs on every backend above; this peak is measured on TensorFlow
def test_the_refusing_process_stays_small(tmp_path):
    """A real process refuses a 3-trillion-parameter config (12 TB of float32)
    with the peak memory of any model load. Over 10 s: a fresh interpreter
    imports TensorFlow."""
    folder = altered_export(tmp_path, "vae-mnist", "latent_dim", "1000000000")
    script = textwrap.dedent(f"""\
        import resource, sys
        import zoo_core
        from zoo_core.errors import ZooError
        try:
            zoo_core.load_model({str(folder)!r})
        except ZooError as exc:
            print("refused:", exc)
        print("peak MiB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused:" in done.stdout and "refuses to build it" in done.stdout, done.stdout
    peak = float(done.stdout.split("peak MiB")[1])
    assert peak < 2048, f"the refusing process peaked at {peak:.0f} MiB"


from test_runs import saved_vae  # noqa: E402,F401  (a module-scoped fixture: a saved conv VAE)


def rewrite_keras(source: Path, target: Path, change) -> Path:
    """A copy of a ``.keras`` file with its config.json changed by ``change(dict)``."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == "config.json":
                config = json.loads(data)
                change(config)
                data = json.dumps(config).encode()
            new.writestr(info.filename, data)
    return target


def test_a_keras_file_is_counted_exactly(saved_vae, registry):
    import keras

    from zoo_core.saving.runs import keras_file_config

    model = load_model(open_run(saved_vae), registry)
    real = sum(int(keras.ops.size(v.value)) for v in model.weights)
    stored = keras_file_config(saved_vae)
    assert count_parameters(lambda: keras.saving.deserialize_keras_object(stored, safe_mode=True)) == real > 0


def test_load_run_takes_no_registry(saved_vae):
    from zoo_core.evaluation.loading import load_run

    assert load_run(str(saved_vae), None).model.generate(1, seed=0).shape == (1, 28, 28, 1)


def test_a_keras_file_asking_for_a_huge_model_is_refused(saved_vae, tmp_path, registry, cli):
    def grow(config):
        config["config"]["latent_dim"] = 10**9

    bad = rewrite_keras(saved_vae, tmp_path / "huge.keras", grow)
    with pytest.raises(ZooError, match="refuses to build it"):
        load_model(open_run(bad), registry)
    # The same file as a run folder's model.keras.
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text('dataset = "mnist"\n[model]\nname = "vae"\n')
    (run / "model.keras").write_bytes(bad.read_bytes())
    assert_clean_error(cli("sample", run, "--num", 2), "refuses to build it", "model.keras")


def test_a_zip_directory_cannot_claim_more_weights_than_the_file_has(saved_vae, tmp_path, registry):
    """A stored member's declared size is bounded by the file's own size, so a
    forged directory entry (2 GB of weights in a 1 MB file) does not let a
    huge config through."""
    from zoo_core.saving.sizes import keras_weights_bytes

    honest = zipfile.ZipFile(saved_vae).getinfo("model.weights.h5").file_size
    assert keras_weights_bytes(saved_vae) == honest

    def grow(config):
        config["config"]["latent_dim"] = 10**9

    data = bytearray(rewrite_keras(saved_vae, tmp_path / "huge.keras", grow).read_bytes())
    start, patched = data.find(b"PK\x01\x02"), False
    while start != -1:  # central directory records: the uncompressed size sits at offset 24
        name_length = int.from_bytes(data[start + 28:start + 30], "little")
        if data[start + 46:start + 46 + name_length] == b"model.weights.h5":
            data[start + 24:start + 28] = (2**31).to_bytes(4, "little")
            patched = True
        start = data.find(b"PK\x01\x02", start + 4)
    assert patched
    forged = tmp_path / "forged.keras"
    forged.write_bytes(bytes(data))
    assert zipfile.ZipFile(forged).getinfo("model.weights.h5").file_size == 2**31
    assert keras_weights_bytes(forged) == forged.stat().st_size
    with pytest.raises(ZooError, match="refuses to build it"):
        load_model(open_run(forged), registry)


def test_every_published_archive_loads_and_is_counted_exactly():
    """No shipped archive is refused, with room to spare: each model's count
    without allocating equals its real one, and its weights file holds at least
    four bytes a parameter. Over 10 s: builds every published model."""
    import keras

    from zoo_core.backend import choose_backend
    from zoo_core.saving.runs import build_from_config

    choose_backend(None)
    for preset in PRETRAINED:
        run = open_source(preset, REGISTRY, pretrained=True, echo=lambda _: None)
        model = load_model(run, REGISTRY)  # through the check
        real = sum(int(keras.ops.size(v.value)) for v in model.weights)
        counted = count_parameters(lambda: build_from_config(run.config, REGISTRY, preset))
        assert counted == real, (preset, counted, real)
        size = run.model_path.stat().st_size
        assert 4 * counted <= size + SLACK_PARAMETERS // 64, (preset, counted, size)


def test_counting_leaves_no_variable_to_allocate_later():
    """Variables made while counting are uninitialized; left in Keras' list,
    the next scope Keras leaves would allocate them (here 40 GB)."""
    import keras
    from keras.src.backend.common import global_state

    before = len(global_state.get_global_attribute("uninitialized_variables", [], set_to_default=True))

    def huge():
        model = keras.Sequential([keras.Input((100_000,)), keras.layers.Dense(100_000)])
        model(keras.ops.zeros((1, 100_000)))  # a real forward pass in the build, as zoo_vae's has
        return model

    assert count_parameters(huge) == 100_000 * 100_000 + 100_000
    assert len(global_state.get_global_attribute("uninitialized_variables") or []) == before


def test_a_model_that_cannot_be_counted_is_left_to_the_real_build():
    import keras

    def needs_values():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        float(keras.ops.convert_to_numpy(model(keras.ops.ones((1, 3))))[0, 0])  # needs real numbers
        return model

    assert count_parameters(needs_values) is None
    assert count_parameters(lambda: keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])) == 8


# === The public API's arguments ===


@pytest.mark.one_backend
@pytest.mark.parametrize("kwargs, error, words", [
    ({"source": "x", "registry": "nonsense"}, TypeError, ["registry must be", "load_registry()", "not str"]),
    ({"source": "x", "pretrained": "yes"}, TypeError, ["pretrained must be True or False"]),
    ({"source": "x", "backend": "tf"}, ZooError, ["unknown backend 'tf'", "tensorflow"]),
    ({"source": None}, TypeError, ["source must be a str or a path", "not NoneType"]),
    ({"source": b"runs/x"}, TypeError, ["not bytes"]),
    ({"source": 3}, TypeError, ["not int"]),
    ({"source": ""}, ZooError, ["source is empty", "run folder, export, URL or preset name"]),
    ({"source": "   "}, ZooError, ["source is empty"]),
])
def test_public_api_arguments_are_checked_first(kwargs, error, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an empty source must not mean this folder
    (tmp_path / "config.toml").write_text('[model]\nname = "vae"\n')
    source = kwargs.pop("source")
    with pytest.raises(error) as caught:
        zoo_core.load_model(source, **kwargs)
    for word in words:
        assert word in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.one_backend
def test_argument_checks_import_no_keras():
    script = ("import sys, zoo_core\n"
              "try:\n    zoo_core.load_model('x', registry='nonsense')\nexcept TypeError as e:\n    print(e)\n"
              "print('keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.split("\n")[-2] == "False", done.stdout + done.stderr


@pytest.mark.one_backend
def test_an_empty_source_on_the_command_line(cli, tmp_path):
    (tmp_path / "config.toml").write_text('[model]\nname = "vae"\n')  # the current folder looks like a run
    for command in (("sample", ""), ("eval", ""), ("info", "")):
        result = cli(*command)
        assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    assert_clean_error(cli("sample", ""), "source is empty")
    assert_clean_error(cli("sample", "", "--pretrained"), "source is empty")
    with pytest.raises(ZooError, match="source is empty"):
        open_run("")


# === Lambda layers ===


def double(x):
    """A module-level function, as a user's Lambda layer would name."""
    return x * 2


@pytest.fixture(scope="module")
def lambda_files(tmp_path_factory):
    """Real ``.keras`` files saved by Keras: a Lambda naming a plain function,
    a Lambda holding Python bytecode, and a Dense whose activation is a plain function."""
    import keras

    folder = tmp_path_factory.mktemp("lambda")
    files = {}
    for name, layer in (("named", lambda: keras.layers.Lambda(double)),
                        ("bytecode", lambda: keras.layers.Lambda(lambda x: x * 2)),
                        ("activation", lambda: keras.layers.Dense(2, activation=double))):
        inputs = keras.Input((4,))
        model = keras.Model(inputs, layer()(keras.layers.Dense(3)(inputs)))
        model.save(folder / f"{name}.keras")
        files[name] = folder / f"{name}.keras"
    return files


@pytest.mark.one_backend
@pytest.mark.parametrize("kind, words", [
    ("named", ["would run code the file names", "a Lambda layer calling 'double'", "safe mode"]),
    ("bytecode", ["would run code stored in the file", "Lambda", "safe mode"]),
])
def test_a_lambda_layer_is_refused_in_one_line(lambda_files, kind, words, cli, tmp_path):
    path = lambda_files[kind]
    result = cli("sample", path, "--num", 2, "--out", tmp_path / "grid.npz")
    line = only_line(result.output)
    assert result.exit_code == 1 and line.startswith("Error:")
    for word in words:
        assert word in line
    assert not (tmp_path / "grid.npz").exists()
    with pytest.raises(ZooError) as caught:
        zoo_core.load_model(path)
    assert "\n" not in str(caught.value) and words[0] in str(caught.value)


@pytest.mark.one_backend
def test_keras_nested_advice_comes_out_as_its_root_cause(lambda_files, cli):
    """Keras wraps a missing function in advice for each enclosing object
    (nine lines); the user sees the innermost reason only."""
    line = only_line(cli("sample", lambda_files["activation"], "--num", 2).output)
    assert "Could not locate function 'double'" in line and "from_config" not in line


@pytest.mark.one_backend
@pytest.mark.parametrize("depth", [900, 100_000])
def test_a_deeply_nested_keras_config_is_one_short_line(saved_vae, depth, tmp_path, cli):
    """A config.json nested deeper than Python's JSON reader follows (100,000):
    no RecursionError traceback; nested values Keras quotes back (900): the
    line is cut short."""
    def nest(config):
        config["config"]["junk"] = json.loads("[" * 900 + "]" * 900)

    bad = rewrite_keras(saved_vae, tmp_path / "deep.keras", nest)
    if depth > 900:
        with zipfile.ZipFile(saved_vae) as old, zipfile.ZipFile(bad, "w") as new:
            for info in old.infolist():
                data = old.read(info)
                new.writestr(info.filename, b"[" * depth + b"]" * depth if info.filename == "config.json" else data)
    result = cli("sample", bad, "--num", 2)
    assert result.exit_code != 0
    line = only_line(result.output)
    assert len(line) < 500, line
    assert ("nested too deeply" if depth > 900 else "Unrecognized keyword arguments") in line
