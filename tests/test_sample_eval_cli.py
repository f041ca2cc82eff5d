"""``zoo sample``, ``zoo eval`` and ``zoo plot`` on tiny trained runs of every
registered model (so a plugin's model is covered the moment it registers),
bad inputs included. Runs on whatever backend KERAS_BACKEND selects."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoo_core.plugins.registry import load_registry

from test_cli import assert_clean_error
from test_evaluation import quadrant_blobs

REGISTRY = load_registry()
#: Small versions of the bundled models, the ones tested first; a model not
#: named here trains with its defaults.
TINY = {
    "vae": ["filters=[4, 8]", "dense_units=8", "latent_dim=2"],
    "dcgan": ["latent_dim=4", "generator_filters=[8, 4]", "discriminator_filters=[4, 8]"],
    "cgan": ["latent_dim=4", "generator_filters=[8, 4]", "discriminator_filters=[4, 8]", "embedding_dim=4"],
    "vae-gan": ["latent_dim=2", "encoder_filters=[4, 8]", "encoder_units=8", "decoder_filters=[8, 4]",
                "discriminator_filters=[4, 8]", "discriminator_units=8", "kernel_size=3"],
    "mlp-vae": ["hidden_units=[16]", "latent_dim=3"],
    "beta-vae": ["filters=[4, 8]", "dense_units=8", "latent_dim=3"],
    "gan": ["generator_units=[16]", "discriminator_units=[16]", "latent_dim=4"],
    "wgan-gp": ["latent_dim=4", "generator_filters=[8, 4]", "discriminator_filters=[4, 8]", "n_critic=2"],
}


def _representatives():
    """One model per plugin, and one more for a plugin's class-conditional
    models: every plugin is covered the moment it is installed, while JAX's
    per-model compile time stays bounded."""
    order = list(TINY)
    names = sorted(REGISTRY.names("model"), key=lambda n: (order.index(n) if n in order else len(order), n))
    chosen: dict = {}
    for name in names:
        entry = REGISTRY.get("model", name)
        chosen.setdefault((entry.plugin, entry.spec.needs_labels), name)
    return sorted(chosen.values())


MODELS = _representatives()
QUICK_EVAL = ["--num", 40, "--k", 8, "--nll-images", 4, "--classifier-epochs", 3]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder with a labelled 16x16 npz data set and a private classifier cache."""
    root = tmp_path_factory.mktemp("sample-eval")
    x, y = quadrant_blobs(200, size=16, seed=0)
    np.savez(root / "blobs.npz", x_train=(x[:150] * 255).astype(np.uint8), x_test=(x[150:] * 255).astype(np.uint8),
             y_train=y[:150], y_test=y[150:])
    from conftest import in_workspace

    with in_workspace(root):
        yield root


@pytest.fixture(scope="module")
def run(workspace):
    """``zoo ARGS...`` in the workspace; unexpected exceptions propagate."""
    from conftest import zoo_invoker

    return zoo_invoker()


@pytest.fixture(scope="module")
def trained(workspace, run):
    """``trained(model)``: the folder of a one-epoch run of ``model`` (trained once)."""
    runs = {}

    def get(model):
        if model not in runs:
            out = workspace / model
            sets = [item for setting in TINY.get(model, []) for item in ("--set", setting)]
            result = run("train", model, "--dataset", f"npz:{workspace / 'blobs.npz'}", "--epochs", 1,
                         "--batch-size", 50, "--set", "grid_size=2", *sets, "--out", out)
            assert result.exit_code == 0, result.output
            runs[model] = out
        return runs[model]

    return get


def _model(name):
    return REGISTRY.model(name)


def _can(folder, capability):
    from zoo_core.saving.runs import load_model, open_run

    return callable(getattr(load_model(open_run(folder), REGISTRY), capability, None))


# === Every model ===


@pytest.mark.every_backend
@pytest.mark.parametrize("model", MODELS)
def test_every_model_samples_and_evaluates(model, trained, run, workspace):
    folder = trained(model)
    result = run("sample", folder, "--num", 6, "--seed", 3, "--out", workspace / f"{model}.npz")
    assert result.exit_code == 0, result.output
    with np.load(workspace / f"{model}.npz") as saved:
        images = saved["images"]
        assert images.shape == (6, 16, 16, 1) and images.dtype == np.float32
        assert images.min() >= 0 and images.max() <= 1
        if _model(model).needs_labels:
            assert list(saved["labels"]) == [0, 1, 2, 3, 0, 1]
        else:
            assert "labels" not in saved
    assert run("sample", folder, "--num", 4).exit_code == 0
    assert (folder / "sample-seed0.png").is_file()
    if _can(folder, "reconstruct"):
        result = run("sample", folder, "--reconstruct", "--num", 4, "--out", workspace / f"{model}-recon.npz")
        assert result.exit_code == 0, result.output
        assert np.load(workspace / f"{model}-recon.npz")["images"].shape == (4, 16, 16, 1)

    result = run("eval", folder, "--json", *QUICK_EVAL)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    metrics = report["metrics"]
    assert {"fd", "kid", "coverage"} <= set(metrics)
    assert metrics["fd"]["value"] >= 0 and metrics["fd"]["real_floor"] >= 0
    assert "real_floor" in metrics["kid"] and metrics["coverage"]["real"]["classes"] == 4
    assert 0 <= report["classifier"]["test_accuracy"] <= 1
    if _can(folder, "log_importance_weights"):
        lik = metrics["likelihood"]
        assert lik["iwae"]["nll"] <= lik["iwae"]["negative_elbo_same_images"] + 1e-6
        assert "binarised" in lik["data"] or "Gaussian" in lik["data"]
    else:
        assert "likelihood" not in metrics
    if _can(folder, "reconstruct"):
        rec = metrics["reconstruction"]
        assert rec["images"] == 40 and 0 <= rec["mae"] <= 1 and 0 <= rec["mse"] <= rec["mae"] + 1e-9
        assert rec["mean_image_mse"] > 0
    else:
        assert "reconstruction" not in metrics
    if _model(model).needs_labels:
        assert "label_accuracy" in metrics["coverage"]
    assert json.loads((folder / "eval.json").read_text())["metrics"].keys() == metrics.keys()


@pytest.mark.every_backend
@pytest.mark.parametrize("model", MODELS)
def test_every_model_exports_and_loads_back(model, trained, run, workspace):
    """zoo export of every model: weights only, and the export samples the
    same images as its run and evaluates without writing into itself."""
    import zipfile

    from zoo_core.saving import hub

    folder = trained(model)
    archive = workspace / f"{model}-export.zip"
    result = run("export", folder, archive)
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(archive) as z:
        names = set(z.namelist())
    assert {"metadata.json", "config.toml", "model.weights.h5", "README.md", "samples.png"} <= names
    assert not any(n.endswith((".keras", ".py", ".pkl")) for n in names)
    meta = hub.archive_metadata(archive)
    assert meta["model"] == model and meta["parameters"] > 0 and meta["dataset"]["image_shape"] == [16, 16, 1]
    for source in (folder, archive):
        assert run("sample", source, "--num", 5, "--seed", 1, "--out", workspace / f"{model}-x.npz").exit_code == 0
        images = np.load(workspace / f"{model}-x.npz")["images"]
        if source == folder:
            expected = images
    np.testing.assert_allclose(images, expected, atol=1e-6)
    result = run("eval", archive, "--json", "--metrics", "fd", *QUICK_EVAL)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["file"] is None  # an export stays as it was published
    unpacked = workspace / "cache" / "models" / hub.sha256_file(archive)
    assert sorted(p.name for p in unpacked.iterdir()) == sorted(names)
    hub.verify_folder(unpacked)


# === zoo sample ===


@pytest.mark.every_backend
def test_same_seed_same_samples(trained, run, workspace):
    folder = trained("vae")
    paths = [workspace / name for name in ("a.npz", "b.npz", "c.npz")]
    for path, seed in zip(paths, (5, 5, 6)):
        assert run("sample", folder, "--num", 8, "--seed", seed, "--out", path).exit_code == 0
    a, b, c = (np.load(p)["images"] for p in paths)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.every_backend
def test_conditional_sampling(trained, run, workspace):
    folder = trained("cgan")
    out = workspace / "class2.npz"
    result = run("sample", folder, "--num", 5, "--class", 2, "--out", out)
    assert result.exit_code == 0, result.output
    assert list(np.load(out)["labels"]) == [2] * 5
    result = run("sample", folder, "--num", 8, "--out", workspace / "cgan.png")
    assert result.exit_code == 0 and "one column per class" in result.output
    assert_clean_error(run("sample", folder, "--class", 4), "out of range", "0 to 3")
    assert_clean_error(run("sample", folder, "--class", -1), "out of range")


@pytest.mark.every_backend
def test_vae_modes(trained, run, workspace):
    folder = trained("vae")
    result = run("sample", folder, "--reconstruct", "--num", 6)
    assert result.exit_code == 0, result.output
    assert (folder / "reconstructions-seed0.png").is_file()
    out = workspace / "recon.npz"
    assert run("sample", folder, "--reconstruct", "--num", 6, "--out", out).exit_code == 0
    with np.load(out) as saved:
        assert saved["images"].shape == saved["originals"].shape == (6, 16, 16, 1) and len(saved["labels"]) == 6
    assert run("sample", folder, "--interpolate", "--num", 3).exit_code == 0
    assert (folder / "interpolation-seed0.png").is_file()
    assert run("sample", folder, "--traverse").exit_code == 0
    assert (folder / "traversal.png").is_file()
    result = run("sample", folder, "--latent-plot", "--num", 5)
    assert result.exit_code == 0, result.output
    assert (folder / "latent-grid.png").is_file() and (folder / "latent-grid-scatter.png").is_file()
    from PIL import Image

    assert Image.open(folder / "latent-grid-scatter.png").size[0] > 200  # a real matplotlib figure


def test_sample_bad_inputs(trained, run, workspace):
    vae, gan = trained("vae"), trained("dcgan")
    assert_clean_error(run("sample", workspace / "nope"), "does not exist")
    assert_clean_error(run("sample", vae, "--class", 0), "not class-conditional")
    assert_clean_error(run("sample", gan, "--reconstruct"), "cannot reconstruct")
    assert_clean_error(run("sample", gan, "--latent-plot"), "cannot decode")
    assert_clean_error(run("sample", vae, "--out", "x.jpg"), ".npz", ".png")
    assert_clean_error(run("sample", vae, "--reconstruct", "--interpolate"), "choose one")
    assert_clean_error(run("sample", vae, "--reconstruct", "--class", 1), "--class")
    assert_clean_error(run("sample", trained("mlp-vae"), "--latent-plot"), "2-D latent")
    assert_clean_error(run("sample", vae, "--reconstruct", "--dataset", "npz:missing.npz"), "missing.npz")


# === zoo eval ===


def test_eval_table_and_comparison(trained, run, workspace):
    vae, cgan = trained("vae"), trained("cgan")
    result = run("eval", vae, *QUICK_EVAL)
    assert result.exit_code == 0, result.output
    for words in ("FD (classifier features)", "real data", "KID", "classes present", "classifier score",
                  "test ELBO", "NLL (IWAE bound, k=8)", "binarised stochastically", "Feature classifier: test accuracy"):
        assert words in result.stdout, words
    result = run("eval", vae, cgan, *QUICK_EVAL, "--metrics", "fd,coverage", "--plot", workspace / "bars.png")
    assert result.exit_code == 0, result.output
    table = result.stdout.split("FD (floor)")[1]
    assert str(vae) in table and str(cgan) in table
    assert (workspace / "bars.png").is_file()
    data = json.loads(run("eval", vae, cgan, *QUICK_EVAL, "--metrics", "kid", "--json", "--no-save").stdout)
    assert [set(r["metrics"]) for r in data["runs"]] == [{"kid"}, {"kid"}]


def test_eval_json_merges_metric_groups(trained, run):
    folder = trained("mlp-vae")
    assert run("eval", folder, *QUICK_EVAL, "--metrics", "likelihood").exit_code == 0
    assert run("eval", folder, *QUICK_EVAL, "--metrics", "fd").exit_code == 0
    saved = json.loads((folder / "eval.json").read_text())
    assert {"likelihood", "fd"} <= set(saved["metrics"])


def test_evaluate_run_api(trained):
    """What ``zoo train --eval`` calls."""
    from zoo_core.evaluation import EvalOptions, evaluate_run

    folder = trained("dcgan")
    lines = []
    result = evaluate_run(folder, ["kid"], options=EvalOptions(num=30, classifier_epochs=3), echo=lines.append)
    assert set(result["metrics"]) == {"kid"} and result["file"] == str(folder / "eval.json")
    assert lines


def test_eval_bad_inputs(trained, run, workspace):
    vae, gan = trained("vae"), trained("dcgan")
    assert_clean_error(run("eval", workspace / "nope"), "does not exist")
    assert_clean_error(run("eval", vae, workspace / "nope"), "does not exist")
    assert_clean_error(run("eval", vae, "--metrics", "fid"), "unknown metric 'fid'", "likelihood")
    assert_clean_error(run("eval", gan, "--metrics", "likelihood"), "does not apply", "log_importance_weights")
    assert_clean_error(run("eval", vae, "--nll-images", 0), "--nll-images")
    assert_clean_error(run("eval", vae, "--plot", "bars.pdf"), ".png")
    assert run("eval").exit_code == 2  # Click's usage error: RUN is required


# === zoo plot ===


def test_plot_losses_and_comparison(trained, run, workspace):
    vae, cgan = trained("vae"), trained("cgan")
    result = run("plot", vae)
    assert result.exit_code == 0, result.output
    assert (vae / "losses.png").is_file()
    for folder in (vae, cgan):
        if not (folder / "eval.json").is_file():
            assert run("eval", folder, *QUICK_EVAL, "--metrics", "fd").exit_code == 0
    result = run("plot", vae, cgan, "--compare", workspace / "compare.png")
    assert result.exit_code == 0, result.output
    assert (workspace / "compare.png").is_file() and (cgan / "losses.png").is_file()
    assert_clean_error(run("plot", vae, cgan, "--out", "x.png"), "one run")
    assert_clean_error(run("plot", workspace / "nope"), "does not exist")
    (workspace / "empty").mkdir(exist_ok=True)
    assert_clean_error(run("plot", workspace / "empty"), "config.toml")


def test_train_eval_flag_stores_the_evaluation(workspace, run):
    out = workspace / "train-eval"
    result = run("train", "vae", "--dataset", f"npz:{workspace / 'blobs.npz'}", "--epochs", 1, "--batch-size", 50,
                 "--set", "grid_size=2", *[x for s in TINY["vae"] for x in ("--set", s)], "--out", out, "--eval")
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "eval.json").read_text())
    assert {"likelihood", "fd", "kid", "coverage"} <= set(saved["metrics"])
    assert "FD (classifier features)" in result.stdout and str(out / "eval.json") in result.stdout
