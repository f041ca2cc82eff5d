"""``zoo compare``: runs, exports and sweeps side by side.

What each run already records is read, never recomputed (:mod:`.compare_table`);
the models are loaded only to draw their samples (:mod:`.compare_figures`).
A sweep folder (one with a ``sweep.toml``) stands for its finished trial runs,
``trials/NNNN/seed-S/``: those whose ``checkpoint.json`` is at the end of
``train.epochs`` (a pruned, killed or running trial is left out, and counted).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, Optional

from ..errors import ZooError
from ..saving.runs import MODEL_FILE, open_source
from .compare_table import (METRICS_FILE, Entry, build_table, format_table, read_records, table_json,
                            training_state)

SWEEP_FILE = "sweep.toml"
KINDS = ("a run folder, a .keras file, an exported model (folder or .zip), a URL or hf://OWNER/NAME of one, "
         "or a sweep folder")
NO_RUNS = f"give at least one RUN to compare: {KINDS}"


# === Finding the runs ===


def _trials(sweep: Path, echo: Callable[[str], None]) -> list[Path]:
    """A sweep's trial runs that finished training (``trials/NNNN/seed-S/``
    whose ``checkpoint.json`` is at the end of its ``train.epochs``), in order;
    says on ``echo`` how many unfinished ones (pruned, killed, still running)
    it left out."""
    import tomllib

    def key(path: Path):
        digits = re.sub(r"\D", "", path.name)
        return (int(digits) if digits else -1, path.name)

    found, unfinished = [], []
    trials = sweep / "trials"
    for trial in sorted((p for p in trials.iterdir() if p.is_dir()), key=key) if trials.is_dir() else []:
        for seed in sorted((p for p in trial.iterdir() if p.is_dir() and p.name.startswith("seed-")), key=key):
            where = f"{trial.name}/{seed.name}"
            if not (seed / MODEL_FILE).is_file():
                unfinished.append(f"{where} (no {MODEL_FILE} yet)")
                continue
            try:
                config = tomllib.loads((seed / "config.toml").read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                config = {}
            finished, progress = training_state(seed, config)
            if finished:
                found.append(seed)
            else:
                unfinished.append(f"{where} ({progress if finished is False else f'cannot tell: {progress}'})")
    if not found:
        raise ZooError(f"{sweep} is a sweep with no finished trials yet (none of its trials/NNNN/seed-S/ has trained "
                       f"all its epochs); compare it once 'zoo sweep' has finished a trial, or name a trial's run "
                       f"folder to compare it unfinished")
    if unfinished:
        shown = ", ".join(unfinished[:5]) + (f" and {len(unfinished) - 5} more" if len(unfinished) > 5 else "")
        echo(f"{sweep}: left out {len(unfinished)} unfinished trial run(s) (pruned, stopped or still training): "
             f"{shown}; give a trial's own folder to compare it as it is")
    return found


def _check_source(source: str, registry) -> None:
    """A local path that does not exist, or a file zoo cannot read, is an
    error naming every kind of RUN (a preset's name gets open_source's word)."""
    from ..storage.sources import is_remote

    text = str(source)
    if not text.strip() or is_remote(text):
        return
    local = Path(text).expanduser()
    if not local.exists():
        if registry is not None:
            try:
                if registry.find(text).kind == "preset":
                    return  # open_source says it is a preset, and how to use its weights
            except (ZooError, AttributeError):
                pass
        raise ZooError(f"{source} does not exist; give {KINDS}")
    if local.is_file() and local.suffix.lower() not in (".keras", ".zip"):
        raise ZooError(f"{source} is a file zoo cannot compare: give {KINDS}")


def _named(entry: Entry) -> str:
    origin = f"a trial of the sweep '{entry.via}'" if entry.via else "given on its own"
    return f"'{entry.source}' ({origin})"


def find_runs(sources: tuple[str, ...], registry, echo: Callable[[str], None]) -> list[Entry]:
    """Open every source (a sweep gives its finished trials); refuses a source
    that is none of these, and the same run named twice."""
    if not sources:
        raise ZooError(NO_RUNS)
    entries: list[Entry] = []
    sweeps: dict[Path, str] = {}
    for source in sources:
        _check_source(source, registry)
        local = Path(str(source)).expanduser()
        if local.is_dir() and (local / SWEEP_FILE).is_file():
            first = sweeps.setdefault(local.resolve(), str(source))
            if first != str(source) or any(e.via == first for e in entries):
                same = f"the sweep '{first}' twice" if first == str(source) else (
                    f"'{first}' and '{source}' (the same sweep)")
                raise ZooError(f"{same}: {local.resolve()} is given more than once; name each sweep once")
            for trial in _trials(local, echo):
                entries.append(Entry(str(trial), open_source(trial), via=str(source),
                                     fixed_label=f"{local.resolve().name}/{trial.parent.name}/{trial.name}"))
            continue
        if local.is_dir() and not any((local / name).is_file() for name in ("config.toml", "metadata.json")):
            raise ZooError(f"{source} is not a run folder, an exported model or a sweep: it has no config.toml, "
                           f"metadata.json or {SWEEP_FILE}; give a folder 'zoo train', 'zoo export' or "
                           f"'zoo sweep' wrote")
        entries.append(Entry(str(source), open_source(source, registry, echo=echo)))
    seen: dict[Path, Entry] = {}
    for entry in entries:
        where = entry.run.path.resolve()
        if where in seen:
            first = seen[where]
            if first.via or entry.via:  # say where each copy came from
                same = f"{_named(first)} and {_named(entry)} are the same run"
            elif first.source == entry.source:
                same = f"'{entry.source}' twice"
            else:
                same = f"'{first.source}' and '{entry.source}' (the same run)"
            raise ZooError(f"{same}: {where} is given more than once; name each run once")
        seen[where] = entry
    _label(entries)
    return entries


def _label(entries: list[Entry]) -> None:
    """Short unique labels: the folder's name, with as many of its parents as
    it takes to tell two apart."""

    def candidate(entry: Entry, depth: int) -> str:
        if entry.fixed_label:
            return entry.fixed_label
        if depth == 0 or entry.run.exported and entry.run.source:
            return entry.run.name
        parts = entry.run.path.resolve().parts
        return "/".join(parts[-depth - 1:-1] + (entry.run.name,))

    depth = {id(e): 0 for e in entries}
    for _ in range(64):
        labels = [candidate(e, depth[id(e)]) for e in entries]
        clashes = [e for e, label in zip(entries, labels) if labels.count(label) > 1]
        moved = False
        for e in clashes:
            if not e.fixed_label and depth[id(e)] < len(e.run.path.resolve().parts) - 1:
                depth[id(e)] += 1
                moved = True
        if not moved:
            break
    used: dict[str, int] = {}
    for e in entries:
        label = candidate(e, depth[id(e)])
        used[label] = used.get(label, 0) + 1
        e.label = label if used[label] == 1 else f"{label} ({used[label]})"


# === The command ===


def compare(sources: tuple[str, ...], *, seed: int = 0, num: int = 16, out: Optional[str] = None,
            samples: bool = True, files: bool = True, as_json: bool = False, backend: Optional[str] = None,
            registry=None, echo: Callable[[str], None] = print,
            progress: Callable[[str], None] = print) -> dict:
    """Compare runs: print the table (or its JSON) and write the curves and
    samples into a new folder; returns the JSON document.

    Args:
        sources: run folders, exported models (folder, ``.zip``, URL, ``hf://``), sweep folders.
        seed, num: the samples drawn from every model.
        out: the folder for the figures (new or empty); default a new ``compare-...`` here.
        samples: load the models and draw their samples (the slow part).
        files: write the figures at all (False: the table only).
        echo: where the table goes; ``progress``: where the rest goes.
    """
    from . import compare_figures as F

    if not sources:
        raise ZooError(NO_RUNS)
    if out is not None and not files:
        raise ZooError("--out names the folder for the figures, and --table-only writes none: give one of them")
    folder = F.output_folder(out) if files else None
    entries = find_runs(sources, registry, progress)
    for entry in entries:
        read_records(entry)
    table = build_table(entries)
    notes: list[str] = []
    writers: dict = {}
    if files:
        with_curves = [(e.label, e.curves) for e in entries if e.curves and F.curve_names([e.curves])]
        if with_curves:
            writers["curves.png"] = lambda path: F.write_curves(with_curves, path)
        else:
            notes.append(f"no curves: none of the runs has a {METRICS_FILE}")
        missing = [e.label for e in entries if not e.curves]
        if with_curves and missing:
            notes.append(f"not in the curves (no {METRICS_FILE}): {', '.join(missing)}")
        if samples:
            from ..backend import choose_backend

            choose_backend(backend)  # a wrong --backend is the same for every run: say so once, now
            panels = [(e.label, _draw(e, num, seed, backend, registry, progress)) for e in entries]
            if any(p is not None for _, p in panels):
                writers["samples.png"] = lambda path: F.write_samples(panels, path)
    for e in entries:
        if e.finished is False:
            notes.append(f"{e.label}: its training did not finish ({e.progress}): its numbers are a partly "
                         f"trained model's")
        if e.stale:
            notes.append(f"{e.label}: {e.stale}; they are marked [stale]: run 'zoo eval {e.source}' again")
    for e in entries:
        if e.no_samples:
            notes.append(f"{e.label}: {e.no_samples}")
        if not (files and samples):
            e.no_samples = f"not drawn ({'--no-samples' if files else '--table-only'})"
    if files and not writers:
        notes.append("nothing to draw, so no folder was written")
    document = {**table_json(entries, table), "seed": seed, "num": num, "notes": notes, "files": {}}
    if writers:
        where = folder.absolute()
        document["files"] = {name.split(".")[0]: str(where / name) for name in writers}
        document["files"]["table"] = str(where / "compare.json")
        text = json.dumps(document, indent=2)
        writers["compare.json"] = lambda path: _write_text(path, text)
        F.publish(folder, writers)
    if as_json:
        echo(json.dumps(document, indent=2))
    else:
        echo(format_table(entries, table))
        for note in notes:
            echo(f"Note: {note}")
    if writers:
        progress(f"Wrote {', '.join(n for n in writers if n.endswith('.png'))} and compare.json: {folder}")
    return document


def _write_text(path: Path, text: str) -> Path:
    from ..storage.files import write_text

    return write_text(path, text + "\n")


def _draw(entry: Entry, num: int, seed: int, backend: Optional[str], registry, progress):
    """The run's sample grid, or None with ``entry.no_samples`` saying why."""
    from .compare_figures import draw_samples
    from .loading import load_run

    progress(f"Drawing {num} samples from {entry.label} (seed {seed}) ...")
    try:
        model = load_run(entry.run, registry, backend, echo=progress).model
    except ZooError as exc:
        entry.no_samples = f"no samples: cannot load the model ({exc})"
        return None
    if not callable(getattr(model, "generate", None)):
        entry.no_samples = f"no samples: this {type(model).__name__} cannot generate images (it has no generate())"
        return None
    try:
        return draw_samples(model, num, seed)
    except Exception as exc:  # a plugin's generate() may fail in any way; the other runs still count
        entry.no_samples = f"no samples: generate() failed ({type(exc).__name__}: {exc})"
        return None
    finally:
        import keras

        del model
        keras.backend.clear_session()  # a sweep's models one after another, not all at once
