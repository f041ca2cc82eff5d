"""``zoo new-plugin``: write a working plugin package to start from.

The templates live in ``zoo_core/templates/plugin`` as ``*.tmpl`` files with
``$name``-style placeholders (:class:`string.Template`; Python code has no
other ``$``). The ``package`` folder is renamed to the plugin's package.
A kind other than the default lays its own folder over that one
(``templates/adversarial``: a two-network model on ``zoo_core.multinet``),
replacing the files it has.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Optional

from ..version import __version__
from ..errors import ZooError

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "plugin"
#: ``--kind``: what each writes, and the template folder laid over the default one.
KINDS = {
    "vae": ("a small MLP VAE with one optimizer (compute_loss), its ELBO loss", None),
    "adversarial": ("a small MLP GAN: two networks, two optimizers, phases on zoo_core.multinet, "
                    "no backend code", TEMPLATES.parent / "adversarial"),
}
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
#: Names whose distribution or package would clash with zoo's own.
RESERVED = {"core", "zoo"}


def check_name(name: str) -> None:
    if not NAME_PATTERN.match(name) or len(name) > 40:
        raise ZooError(
            f"plugin name '{name}' must be lowercase letters, digits and single hyphens, "
            f"starting with a letter (at most 40 characters), e.g. 'my-vae'"
        )
    if name in RESERVED:
        raise ZooError(f"plugin name '{name}' would clash with zoo itself; choose another")


def check_not_installed(name: str) -> None:
    """Refuse a name whose distribution or package is already installed:
    installing the new plugin would replace it (``datasets`` -> ``zoo-datasets``)."""
    import importlib.metadata
    import importlib.util

    values = placeholders(name)
    try:
        dist = importlib.metadata.distribution(values["dist"])
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        raise ZooError(
            f"plugin name '{name}' would make the distribution {values['dist']}, which is installed already "
            f"({values['dist']} {dist.version}); installing the new one would replace it: choose another name"
        )
    try:
        found = importlib.util.find_spec(values["package"])
    except (ImportError, ValueError):
        found = None
    if found is not None:
        raise ZooError(
            f"plugin name '{name}' would make the package {values['package']}, which is installed already "
            f"({found.origin}); choose another name"
        )


KIND_WORDS = {"model": "a model", "loss": "a loss", "dataset": "a data set", "preset": "a preset"}


def _origin(entry, registry) -> str:
    """Where a registered name comes from, in words: a plugin, or a preset file."""
    if entry.plugin in registry.plugins:
        return f"from plugin '{entry.plugin}' ({entry.provider})"
    # Presets from a preset file carry the file as their origin: not a plugin.
    from ..plugins.registry import bundled_preset_file

    path = Path(entry.plugin)
    bundled = bundled_preset_file()
    if bundled is not None and path == bundled:
        return f"in zoo's bundled registry.toml ({path})"
    return f"in the preset file {path}"


def check_not_registered(name: str, registry, kind: str = "vae") -> None:
    """Refuse a plugin name whose model, loss, preset or plugin name is
    already a name of any kind: zoo looks names up across kinds ('zoo info',
    'zoo train'), so one would shadow the other once the plugin is installed."""
    new = (("model", name), ("loss", loss_name(name, kind)), ("preset", f"{name}-mnist"))
    for what, taken in new:
        for existing in ("model", "loss", "dataset", "preset"):
            if taken in registry.names(existing):
                entry = registry.get(existing, taken)
                clash = ("zoo refuses to load two plugins that register one name"
                         if existing == what and entry.plugin in registry.plugins
                         else f"'zoo info {taken}' and 'zoo train {taken}' would find only one of them")
                raise ZooError(
                    f"cannot name a plugin '{name}': its {what} '{taken}' is already {KIND_WORDS[existing]} "
                    f"{_origin(entry, registry)}, and {clash}; choose another name for the plugin"
                )
    if name in registry.plugins:
        info = registry.plugins[name]
        provider = (f"{info.distribution} {info.version}, installed already" if info.distribution
                    else "registered in-process")
        raise ZooError(f"cannot name a plugin '{name}': an installed plugin has that name ({provider}), "
                       f"and two plugins with one name cannot both load; choose another name for the plugin")


def core_range(version: str = __version__) -> str:
    """The zoo-core versions a new plugin accepts: this release's minor version
    up to the next major one (zoo-core only adds to the hook API in between)."""
    major, minor = (int(part) for part in version.split(".")[:2])
    return f">={major}.{minor},<{major + 1}"


def loss_name(name: str, kind: str = "vae") -> str:
    return f"{name}-loss" if kind == "adversarial" else f"{name}-elbo"


def templates(kind: str) -> dict[Path, Path]:
    """``{path inside the package: template file}`` for ``kind``."""
    chosen = {t.relative_to(TEMPLATES): t for t in TEMPLATES.rglob("*.tmpl")}
    overlay = KINDS[kind][1]
    if overlay is not None:
        chosen.update({t.relative_to(overlay): t for t in overlay.rglob("*.tmpl")})
    return dict(sorted(chosen.items()))


def placeholders(name: str, kind: str = "vae") -> dict[str, str]:
    return {
        "name": name,
        "loss": loss_name(name, kind),
        "dist": f"zoo-{name}",
        "package": "zoo_" + name.replace("-", "_"),
        "classname": "".join(part.capitalize() for part in name.split("-")),
        "core_range": core_range(),
    }


def new_plugin(name: str, parent: Optional[Path] = None, registry=None, kind: str = "vae") -> tuple[Path, list[Path]]:
    """Write the package ``zoo-NAME`` into ``parent`` (default: the current folder).

    Args:
        name: the plugin's name; the model is ``NAME``, the loss ``NAME-elbo``
            (``NAME-loss`` for the adversarial kind), the preset ``NAME-mnist``.
        parent: the folder to create ``zoo-NAME`` in.
        registry: when given, names it already has are refused (two plugins
            registering one name stop zoo).
        kind: a key of :data:`KINDS`.

    Returns:
        The package folder and the files written.

    Raises:
        ZooError: a bad name, a name already registered, or a folder in the way.
    """
    check_name(name)
    if kind not in KINDS:
        raise ZooError(f"unknown plugin kind '{kind}'; choose one of: {', '.join(KINDS)}")
    values = placeholders(name, kind)
    if registry is not None:
        check_not_registered(name, registry, kind)
    check_not_installed(name)
    target = Path(parent or ".") / values["dist"]
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ZooError(f"{target} already exists and is not empty; choose another --dir or name")

    from ..storage.files import WriteError, check_can_create, write_text

    check_can_create(target, "the plugin folder")
    existed = target.exists()
    written = []
    try:
        for relative, template in templates(kind).items():
            relative = relative.with_suffix("")  # drop .tmpl
            parts = [values["package"] if part == "package" else part for part in relative.parts]
            path = target.joinpath(*parts)
            write_text(path, string.Template(template.read_text()).substitute(values))
            written.append(path)
    except WriteError as exc:
        # Half a package is worse than none; the folder was empty or new.
        import shutil

        if existed:
            for child in list(target.iterdir()):
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
        else:
            shutil.rmtree(target, ignore_errors=True)
        raise WriteError(f"{exc}; nothing was left behind") from None
    return target, written
