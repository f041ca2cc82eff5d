"""``zoo export RUN OUT``: a run as a self-contained, shareable model, in
the layout :mod:`zoo_core.saving.hub` describes (a folder, or a ``.zip`` of one).

The export is built in a hidden folder beside ``OUT`` and renamed into place
whole; ``OUT`` must not exist (zoo never replaces a file it did not make).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import urlsplit, urlunsplit

from ..version import __version__
from ..saving import hub
from ..errors import ZooError
from ..saving.hub import SAFE_NAME

GRID_SIDE = 8
#: Names that look like a file of another format: refused rather than made a folder of.
ARCHIVE_LIKE = (".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".keras", ".h5", ".npz", ".png")


def eval_summary(result: Optional[dict]) -> Optional[dict]:
    """The headline numbers of an ``eval.json``: what ``zoo info`` and the model card show
    (None for one that is not in the shape ``zoo eval`` writes)."""
    try:
        return _eval_summary(result)
    except (KeyError, TypeError, AttributeError):
        return None


def _eval_summary(result: Optional[dict]) -> Optional[dict]:
    if not isinstance(result, dict) or not isinstance(result.get("metrics"), dict):
        return None
    m = result["metrics"]
    out = {"dataset": result.get("dataset"), "backend": result.get("backend"),
           "samples": hub.samples_used(m), "created": result.get("created")}
    if "fd" in m:
        out.update(fd=m["fd"]["value"], fd_floor=m["fd"]["real_floor"])
    if "kid" in m:
        out.update(kid=m["kid"]["value"], kid_floor=m["kid"]["real_floor"])
    if "coverage" in m:
        cov = m["coverage"]
        out.update(classes_present=cov["classes_present"], classes=cov["classes"],
                   rarest_class=cov["min_fraction"])
        if "label_accuracy" in cov:
            out["label_accuracy"] = cov["label_accuracy"]
    if "reconstruction" in m:
        out["reconstruction_mse"] = m["reconstruction"]["mse"]
    if "likelihood" in m and "iwae" in m["likelihood"]:
        out["nll"] = m["likelihood"]["iwae"]["nll"]
    return out


def summary_line(summary: Optional[dict]) -> str:
    """``FD 7.89 (real 0.15), KID ..., 10/10 classes (rarest 5.3%)`` for one line of text."""
    if not summary:
        return "not evaluated"
    try:
        return _summary_line(summary)
    except (KeyError, TypeError, ValueError):
        return "its metadata's eval numbers are not in the shape zoo writes"


def _n(value) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def _summary_line(summary: dict) -> str:
    parts = []
    if "fd" in summary:
        parts.append(f"FD {summary['fd']:.3g} (real data {summary['fd_floor']:.2g})")
    if "kid" in summary:
        parts.append(f"KID {summary['kid']:.3g}")
    if "classes_present" in summary:
        parts.append(f"{summary['classes_present']}/{summary['classes']} classes "
                     f"(rarest {summary['rarest_class']:.1%})")
    if "label_accuracy" in summary:
        parts.append(f"label accuracy {summary['label_accuracy']:.1%}")
    if "reconstruction_mse" in summary:
        parts.append(f"reconstruction MSE {summary['reconstruction_mse']:.3g}")
    if "nll" in summary:
        parts.append(f"NLL {summary['nll']:.1f} nats")
    samples = f", {_n(summary['samples'])} samples" if summary.get("samples") else ""
    return ", ".join(parts) + f" (zoo eval on {summary.get('dataset')}{samples})"


def export_run(source: str, out: str | os.PathLike, *, registry, backend: Optional[str] = None,
               echo: Callable[[str], None] = print, pretrained: bool = False) -> Path:
    """Write run ``source`` (with ``pretrained``: a preset's published
    weights) as an exported model at ``out`` (a folder, or ``.zip``); returns ``out``."""
    from ..evaluation.loading import load_run
    from ..storage.files import WriteError, check_can_create, reason
    from ..saving.runs import open_source

    out = Path(out).expanduser()
    if out.name in ("", ".", ".."):
        raise ZooError(f"{out}: give a new folder name, or a file name ending in .zip")
    if out.exists() or out.is_symlink():
        raise ZooError(f"{out} already exists; zoo export writes a new folder or .zip and never replaces "
                       f"one: choose another name")
    if out.suffix.lower() in ARCHIVE_LIKE:
        raise ZooError(f"{out}: zoo export writes a folder, or a .zip archive; give a folder name or a "
                       f"file name ending in .zip")
    check_can_create(out, "the export")
    run = open_source(source, registry, pretrained=pretrained, echo=echo)
    if not run.config:
        raise ZooError(f"{source} is a bare .keras file: it records no config or data set; export the run "
                       f"folder that holds it")
    if run.path.is_dir() and out.resolve().is_relative_to(run.path.resolve()):
        raise ZooError(f"{out} is inside the run {source}; zoo export writes beside a run, never into it "
                       f"(a later --overwrite of the run would take the export with it): choose another OUT")
    loaded = load_run(run, registry, backend, echo=echo)
    name = out.stem if out.suffix.lower() == ".zip" else out.name
    if not SAFE_NAME.match(name):
        raise ZooError(f"{out}: the model's name '{name}' may hold only letters, digits and . _ + -")
    staging = out.with_name(f".{out.name}.zoo-new-{os.getpid()}")
    packed = out.with_name(f".{out.name}.zoo-new-{os.getpid()}.zip")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)  # as every file zoo writes
        staging.mkdir()
        write_folder(loaded, staging, name=name, registry=registry)
        if out.suffix.lower() == ".zip":
            with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as z:
                for path in sorted(staging.iterdir()):
                    z.write(path, path.name)
            os.link(packed, out)  # fails, rather than replaces, if OUT appeared meanwhile
        else:
            if out.exists():
                raise FileExistsError(17, "File exists", str(out))
            os.rename(staging, out)
    except FileExistsError:
        raise ZooError(f"{out} appeared while the model was being exported; it was left as it is") from None
    except OSError as exc:
        raise WriteError(f"cannot write {out}: {reason(exc, out)}") from None
    except WriteError as exc:  # a file of the export: named where the user will look for it, not in staging
        raise WriteError(str(exc).replace(str(staging), str(out))) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        packed.unlink(missing_ok=True)
    return out


def write_folder(loaded, folder: Path, name: str, registry) -> dict:
    """The export's files in ``folder``; returns its metadata."""
    import keras

    from ..evaluation import sampling as S

    run, model = loaded.run, loaded.model
    config = run.config
    private = private_strings(run)
    save_weights(inference_copy(loaded, registry), folder / hub.WEIGHTS_FILE)
    _write_config(run, folder / hub.CONFIG_FILE, private)
    if (run.path / "metrics.csv").is_file():
        shutil.copyfile(run.path / "metrics.csv", folder / "metrics.csv")
    if callable(getattr(model, "sample_grid", None)):
        images, columns = model.sample_grid(GRID_SIDE, seed=0)
    else:
        images, _ = S.generate(model, GRID_SIDE * GRID_SIDE, seed=0)
        columns = GRID_SIDE
    S.write_images(folder / hub.GRID_FILE, images, columns)

    evaluation = None
    if (run.path / "eval.json").is_file():
        try:
            evaluation = scrub(json.loads((run.path / "eval.json").read_text()), private)
        except ValueError:
            raise ZooError(f"{run.path / 'eval.json'} is damaged; run 'zoo eval {run.path}' again, "
                           f"then export") from None
        (folder / "eval.json").write_text(json.dumps(evaluation, indent=2), encoding="utf-8")
    zoo = config.get("zoo", {})
    metadata = {
        "format": hub.FORMAT,
        "format_version": hub.FORMAT_VERSION,
        "name": name,
        "preset": config.get("preset"),
        "model": config["model"]["name"],
        "model_class": f"{type(model).__module__}.{type(model).__name__}",
        "loss": config["loss"]["name"],
        "dataset": scrub({"name": config.get("dataset"), **config.get("data", {})}, private),
        "parameters": int(model.count_params()),
        "epochs": run.metadata.get("epochs") if run.exported else _epochs(run.path),
        "trained": {"zoo": zoo.get("version"), "keras": zoo.get("keras"), "backend": zoo.get("backend"),
                    "created": zoo.get("created"), "plugins": zoo.get("plugins", {})},
        "exported": {"zoo": __version__, "keras": keras.__version__, "backend": keras.backend.backend(),
                     "created": _dt.datetime.now().isoformat(timespec="seconds")},
        "eval": eval_summary(evaluation),
    }
    (folder / hub.CARD_FILE).write_text(model_card(metadata, config), encoding="utf-8")
    metadata["files"] = {p.name: hub.sha256_file(p) for p in sorted(folder.iterdir())}
    (folder / hub.METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return metadata


def save_weights(model, path: Path) -> None:
    """``model``'s weights at ``path``, in the format of Keras' ``save_weights``,
    with HDF5 never writing to disk.

    Keras' ``save_weights`` writes HDF5 straight into the file: on a full disk
    h5py keeps that file open with writes it cannot flush, prints tracebacks as
    it is collected, and can crash the interpreter (exit 139). A ``.keras`` file
    holds the same weights file, built in memory and written out by ``zipfile``,
    whose failure is a plain ``OSError``; the weights are taken out of it and
    written with ordinary file writes.
    """
    import tempfile

    bundle = path.with_name(f".{path.stem}.zoo-weights.keras")
    saved_tempdir = tempfile.tempdir
    # Keras leaves its temporary assets folder behind when the save fails: in one of ours, removed here.
    with tempfile.TemporaryDirectory(prefix="zoo-export-") as scratch:
        try:
            tempfile.tempdir = scratch
            model.save(bundle)
            with zipfile.ZipFile(bundle) as archive:
                data = archive.read(hub.WEIGHTS_FILE)  # the name Keras gives the weights inside a .keras
        finally:
            tempfile.tempdir = saved_tempdir
            bundle.unlink(missing_ok=True)
    path.write_bytes(data)


def inference_copy(loaded, registry):
    """The model rebuilt from its config, holding the trained weights and no
    optimizer state (a run's model carries its optimizers' slots, twice the
    weights' size with Adam, which sampling never needs)."""
    from ..saving.runs import build_from_config

    model = loaded.model
    if not (loaded.run.config.get("data") or {}).get("image_shape"):
        return model
    fresh = build_from_config(loaded.run.config, registry, loaded.run.label)
    fresh.set_weights(model.get_weights())
    return fresh


# === What an export keeps private ===
#
# An export is made to be shared: it names the data set, not where it lay on
# the exporter's machine, nor the exporter's run folder or home.


def public_source(source: Any) -> Any:
    """A local path as its last part; a URL without user name, password or query."""
    if not isinstance(source, str) or not source:
        return source
    parts = urlsplit(source)
    if parts.scheme.lower() in ("http", "https", "ftp", "hf", "s3", "gs") and parts.netloc:
        host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    path = Path(source).expanduser()
    if path.is_absolute() or source.startswith(("~", ".")) or path.exists():
        return path.name or source
    return source


def private_strings(run) -> dict[str, str]:
    """The exporter's paths an export may mention (data, run folder, home), each with what it
    says instead, longest first so that a path is replaced before its parents."""
    out: dict[str, str] = {}
    dataset = str(run.config.get("dataset") or "")
    _, _, arg = dataset.partition(":")
    source = (run.config.get("data") or {}).get("source")
    for original in (arg, source):
        if isinstance(original, str) and original and public_source(original) != original:
            for form in {original, str(Path(original).expanduser()), os.path.abspath(Path(original).expanduser())}:
                out[form] = public_source(original)
    if not run.exported:
        for form in {str(run.path), os.path.abspath(run.path), str(Path(run.path).resolve())}:
            out[form] = Path(run.path).resolve().name
    home = str(Path.home())
    if home not in ("/", ""):
        out[home] = "~"
    return dict(sorted(out.items(), key=lambda item: -len(item[0])))


def scrub(value: Any, private: dict[str, str]) -> Any:
    """``value`` (JSON-like) with every private path in its strings replaced."""
    if isinstance(value, dict):
        return {k: scrub(v, private) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, private) for v in value]
    if isinstance(value, str) and private:
        # A whole path only: /root is not replaced inside /rootfs.
        pattern = "|".join(re.escape(p) + r"(?![\w-]|\.\w)" for p in private)
        return re.sub(pattern, lambda m: private[m.group(0)], value)
    return value


def _write_config(run, target: Path, private: dict[str, str]) -> None:
    """The run's ``config.toml``, with its data set named as the metadata names it
    (byte for byte the run's when it names no private path)."""
    import tomli_w

    public = scrub(run.config, private)
    raw = (run.path / hub.CONFIG_FILE).read_bytes()
    target.write_bytes(raw if public == run.config else tomli_w.dumps(public).encode("utf-8"))


def _epochs(run_path: Path) -> Optional[int]:
    """Epochs trained: from ``checkpoint.json``, else the last row of ``metrics.csv``."""
    try:
        return int(json.loads((run_path / "checkpoint.json").read_text()).get("epoch"))
    except (OSError, ValueError, TypeError):
        pass
    from ..evaluation.plots import read_metrics_csv

    try:
        return int(read_metrics_csv(run_path / "metrics.csv")["epoch"][-1])
    except (ZooError, KeyError, ValueError):
        return None


def model_card(meta: dict, config: dict) -> str:
    """The export's ``README.md``: what it is, how it was trained, its numbers, its samples."""
    data = meta["dataset"]
    shape = "x".join(str(d) for d in data.get("image_shape", []))
    trained = meta["trained"]
    lines = [
        f"# {meta['name']}",
        "",
        f"A `{meta['model']}` model ({meta['model_class']}) trained by zoo "
        f"on `{data.get('name')}`" + (f" (preset `{meta['preset']}`)" if meta.get("preset") else "") + ".",
        "",
        "## Use it",
        "",
        "```bash",
        f"zoo sample {meta['name']} --out grid.png      # this folder, its .zip, or a URL to the .zip",
        f"zoo eval {meta['name']}",
        "```",
        "",
        "```python",
        "import zoo_core",
        f"model = zoo_core.load_model({meta['name']!r})",
        "images = model.generate(16, seed=0)   # float32 (16, H, W, C) in [0, 1]",
        "```",
        "",
        f"Loading needs the plugin that provides the model ({', '.join(f'{k}: {v}' for k, v in trained['plugins'].items()) or 'see config.toml'}); "
        "the weights are arrays only (HDF5), no code.",
        "",
        "## Training",
        "",
        f"- data: `{data.get('name')}`, {_n(data.get('train_images'))} train and {_n(data.get('test_images'))} "
        f"test images of {shape}" + (f", {data['num_classes']} classes" if data.get("num_classes") else "")
        + (f" (from {data['source']})" if data.get("source") else ""),
        f"- model: `{meta['model']}`, {meta['parameters']:,} parameters; options: "
        + ", ".join(f"{k}={v}" for k, v in config.get("model", {}).items() if k != "name"),
        f"- loss: `{meta['loss']}` " + ", ".join(f"{k}={v}" for k, v in config.get("loss", {}).items() if k != "name"),
        "- training: " + ", ".join(f"{k}={v}" for k, v in config.get("train", {}).items())
        + (f"; {meta['epochs']} epoch{'s' if meta['epochs'] != 1 else ''} done" if meta.get("epochs") else ""),
        f"- trained with zoo {trained.get('zoo')}, Keras {trained.get('keras')}, backend {trained.get('backend')}, "
        f"{trained.get('created')}",
        "",
        "## Numbers",
        "",
    ]
    summary = meta.get("eval")
    if summary:
        lines += ["| metric | value |", "| --- | --- |"]
        names = {"fd": "FD (zoo's classifier features)", "fd_floor": "FD of real data (floor)",
                 "kid": "KID", "kid_floor": "KID of real data (floor)", "classes_present": "classes found",
                 "rarest_class": "rarest class", "label_accuracy": "label accuracy",
                 "reconstruction_mse": "test reconstruction MSE per pixel", "nll": "NLL (IWAE, nats)"}
        for key, label in names.items():
            if key in summary:
                value = summary[key]
                text = f"{value:.1%}" if key in ("rarest_class", "label_accuracy") else (
                    f"{value}/{summary['classes']}" if key == "classes_present" else f"{value:.4g}")
                lines.append(f"| {label} | {text} |")
        lines += ["", f"Measured with `zoo eval` on {summary.get('dataset')} ({_n(summary.get('samples'))} samples, "
                      f"backend {summary.get('backend')}). FD and KID use zoo's own classifier, not Inception: "
                      f"compare zoo models with each other, not with papers."]
    else:
        lines.append("Not evaluated: run `zoo eval RUN` before exporting to include its numbers.")
    lines += ["", "## Samples", "", f"![64 samples, seed 0]({hub.GRID_FILE})", ""]
    return "\n".join(lines)
