"""Presets' published weights: which archive a preset names, fetching and
verifying it for ``--pretrained``, refusing weights that are not the
preset's own recipe, and what ``zoo info`` says of them. Built on
:mod:`.hub` (the export format and fetching). No Keras here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional
from urllib.parse import urlsplit

from ..errors import ZooError
from ..storage.sources import URL_SCHEMES, cache_dir, check_sha256
from .hub import (CONFIG_FILE, _refuse_scheme, archive_config, archive_eval, config_of, fetch, file_url_path,
                  package_file, sha256_file)



def preset_weights(preset) -> Optional[dict]:
    """A preset's ``weights`` table (``uri`` and ``sha256``), or None."""
    weights = getattr(preset, "weights", None)
    if not weights:
        return None
    if not hasattr(weights, "get") or not isinstance(weights.get("uri"), str) or not weights["uri"]:
        raise ZooError(f"preset '{preset.name}' ({preset.origin}): its weights must be "
                       f"{{\"uri\": ..., \"sha256\": ...}}, got {str(weights)[:80]}")
    return {"uri": weights["uri"], "sha256": check_sha256(weights.get("sha256"), f"preset '{preset.name}'")}


def preset_source(registry, name: str, echo: Callable[[str], None] = print) -> Path:
    """The unpacked, verified weights a preset names (``--pretrained``)."""
    from ..errors import UnknownNameError

    try:
        entry = registry.find(name)
    except UnknownNameError as exc:
        raise ZooError(f"--pretrained takes a preset name: {exc}") from None
    if entry is None or entry.kind != "preset":
        what = f"a {entry.kind}" if entry else "not a preset"
        raise ZooError(f"--pretrained takes a preset name, and '{name}' is {what}; "
                       f"'zoo list presets' marks the ones with weights")
    weights = preset_weights(entry.spec)
    if not weights:
        with_weights = [e.name for e in registry.entries("preset") if preset_weights(e.spec)]
        raise ZooError(f"preset '{name}' has no published weights; train it with 'zoo train {name}'"
                       + (f", or use one that has: {', '.join(with_weights)}" if with_weights else ""))
    source = fetch(weights["uri"], weights.get("sha256"), registry, echo)
    if not (source.is_dir() and (source / CONFIG_FILE).is_file()):
        raise ZooError(f"preset '{name}' ({entry.spec.origin}): its weights {weights['uri']} are not an exported "
                       f"model (zoo export makes one), so zoo cannot check that they hold its '{entry.spec.model}' "
                       f"model; point the preset at an exported .zip or folder")
    mismatch = recipe_mismatch(entry.spec, config_of(source))
    if mismatch:
        raise ZooError(_mismatch_message(entry.spec, weights["uri"], mismatch))
    return source


def _plain(value):
    """TOML lists and Python tuples compare alike."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def recipe_mismatch(preset, config: dict) -> Optional[str]:
    """How the config that trained some weights differs from ``preset``'s
    recipe (its model, data set, loss and every option it sets), or None."""
    def table(key: str) -> dict:
        value = config.get(key) if isinstance(config, dict) else None
        return value if isinstance(value, dict) else {}

    theirs = table("model").get("name")
    if theirs != preset.model:
        return f"a '{theirs}' model, not the preset's '{preset.model}'"
    data = str(config.get("dataset") or "").split(":")[0]
    if data != preset.dataset.split(":")[0]:
        return f"a model trained on '{data}', not on the preset's '{preset.dataset.split(':')[0]}'"
    if preset.loss and table("loss").get("name") != preset.loss:
        return f"a model trained with the '{table('loss').get('name')}' loss, not the preset's '{preset.loss}'"
    for name, ours in (("model", preset.model_config), ("loss", preset.loss_config), ("train", preset.train)):
        for key, value in ours.items():
            if _plain(table(name).get(key)) != _plain(value):
                return f"{name}.{key} = {table(name).get(key)!r}, not the preset's {value!r}"
    return None


def _mismatch_message(preset, uri: str, mismatch: str) -> str:
    return (f"preset '{preset.name}' ({preset.origin}) does not match its weights {uri}: they hold {mismatch}; "
            f"refusing them: point the preset's weights at an export of this recipe")


def describe_weights(registry, preset) -> Optional[dict]:
    """What ``zoo info`` says of a preset's weights, without Keras: the URI,
    the checksum, and for a file on this machine (inside a plugin, or already
    downloaded) its size and the eval results its metadata carries."""
    weights = preset_weights(preset)
    if not weights:
        return None
    out = {"uri": weights["uri"], "sha256": weights.get("sha256"), "size": None, "eval": None,
           "available": False, "problem": None}
    try:
        uri = weights["uri"]
        _refuse_scheme(uri)
        path = None
        scheme = urlsplit(uri).scheme
        if scheme == "package":
            path = package_file(uri, registry)
        elif scheme in URL_SCHEMES:
            from .download import cached_file, reusable

            path = cached_file(cache_dir(), uri)
            if path is not None and not reusable(path, out["sha256"]):
                path = None  # an older or damaged download: fetched again on first use
        elif scheme != "hf":
            local = file_url_path(uri) if scheme == "file" else Path(uri).expanduser()
            path = local if local.is_file() else None
        if path is not None:
            out["size"] = path.stat().st_size
            if out["sha256"] and scheme not in URL_SCHEMES:
                digest = sha256_file(path)
                if digest != out["sha256"]:
                    fix = ("re-install the plugin" if scheme == "package" else
                           f"replace the file, or fix the preset's sha256 in {preset.origin}")
                    raise ZooError(f"sha256 MISMATCH: expected {out['sha256']}, file has {digest}; {fix}")
            label = uri if scheme in (*URL_SCHEMES, "package") else None
            out["eval"] = archive_eval(path, label)
            mismatch = recipe_mismatch(preset, archive_config(path, label))
            if mismatch:
                raise ZooError(_mismatch_message(preset, uri, mismatch))
            out["available"] = True
    except Exception as exc:  # noqa: BLE001 - zoo info reports a damaged file, it does not crash on one
        out["problem"] = str(exc) if isinstance(exc, ZooError) else f"{type(exc).__name__}: {exc}"
    return out
