"""Exported models, and finding a model wherever it is: a run folder, an
exported folder or ``.zip``, an ``http(s)://`` URL, ``hf://owner/name``, a
file inside an installed plugin (``package://``), or a preset's published
weights (:mod:`.presets`).

An exported model is a folder (or a ``.zip`` of one) in the shape of
keras-hub's preset folders: the resolved ``config.toml``, the weights alone
(``model.weights.h5``: arrays in HDF5, no code, no pickle),
``metadata.json`` (versions, data set, parameter count, eval results, and
the SHA-256 of every other file), a model card ``README.md`` and the sample
grid ``samples.png``. Loading builds the model from an installed plugin's
spec and reads the arrays into it; nothing in the file is executed.

Everything downloaded or unpacked goes under zoo's cache
(``$ZOO_CACHE_DIR``, else ``$XDG_CACHE_HOME/zoo``, else ``~/.cache/zoo``):
``downloads/`` keeps each URL's file, ``models/SHA256/`` each archive
unpacked. Both are written to a temporary name and renamed into place, and a
file that fails its checksum is deleted, never kept. Messages about a cached
copy name what the user gave (the URL, the archive), not the cache folder.

No Keras here: ``zoo info`` reads an archive's metadata with this module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
import zipfile
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import unquote, urlsplit

from .download import CHUNK, ZIP_ERRORS, sha256_file
from ..errors import ZooError
from ..storage.sources import SHA256, URL_SCHEMES, cache_dir, check_sha256, is_remote, split_checksum  # noqa: F401

FORMAT = "zoo-model"
FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
CONFIG_FILE = "config.toml"
WEIGHTS_FILE = "model.weights.h5"
CARD_FILE = "README.md"
GRID_FILE = "samples.png"
#: Files an exported model may hold; an archive with any other member is refused.
KNOWN_FILES = (METADATA_FILE, CONFIG_FILE, WEIGHTS_FILE, CARD_FILE, GRID_FILE, "eval.json", "metrics.csv")
REQUIRED_FILES = (METADATA_FILE, CONFIG_FILE, WEIGHTS_FILE)
#: An archive that unpacks to more than this is refused (a "zip bomb" guard).
MAX_UNPACKED_BYTES = 2 << 30
#: An exported model's name: it names the files zoo writes for it in the current folder.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,127}$")
#: What ``fetch`` reads, as a refusal of any other scheme says.
SUPPORTED = ("http(s)://HOST/PATH, hf://OWNER/NAME, package://MODULE/PATH, file:///PATH "
             "or a path on this machine")
#: Folders in zoo's cache -> what the user gave for them (a URL, an archive's path), for messages.
_GIVEN: dict[str, str] = {}


def given_name(folder: os.PathLike | str) -> str:
    """What the user gave for ``folder``: the URL or archive it was unpacked
    from when it is in zoo's cache, else the folder itself."""
    return _GIVEN.get(os.path.abspath(folder), str(folder))


def _file_in(folder: Path, name: str) -> str:
    """A file of ``folder`` as messages name it: ``NAME in ARCHIVE`` for a cached unpacking."""
    where = given_name(folder)
    return str(folder / name) if where == str(folder) else f"{name} in {where}"


# === Exported folders ===


def is_exported_folder(path: Path) -> bool:
    return path.is_dir() and (path / METADATA_FILE).is_file() and (path / WEIGHTS_FILE).is_file()


def parse_metadata(text: bytes | str, where: str) -> dict:
    """An exported model's ``metadata.json``, checked for its format."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ZooError(f"{where} is damaged: {METADATA_FILE} is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ZooError(f"{where} is not a zoo model: its {METADATA_FILE} has no \"format\": \"{FORMAT}\"")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ZooError(f"{where} is a zoo model of format version {version!r}, newer than this zoo reads "
                       f"({FORMAT_VERSION}); upgrade zoo-core")
    files = doc.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise ZooError(f"{where} is damaged: its {METADATA_FILE} lists no file checksums")
    name = doc.get("name")
    if name is not None and (not isinstance(name, str) or not SAFE_NAME.match(name)):
        raise ZooError(f"{where} is damaged: its {METADATA_FILE} name {str(name)[:60]!r} is not a plain name "
                       f"(letters, digits and . _ + -)")
    return doc


def read_metadata(folder: Path) -> dict:
    try:
        return parse_metadata((folder / METADATA_FILE).read_bytes(), given_name(folder))
    except OSError as exc:
        raise ZooError(f"cannot read {_file_in(folder, METADATA_FILE)}: {exc.strerror or exc}") from None


def verify_folder(folder: Path) -> dict:
    """Check every file of an exported folder against the SHA-256 its metadata
    lists; returns the metadata. A missing, extra-required or changed file is
    an error naming it."""
    doc = read_metadata(folder)
    where = given_name(folder)
    files = doc["files"]
    for name in REQUIRED_FILES[1:]:
        if name not in files:
            raise ZooError(f"{where} is damaged: its {METADATA_FILE} lists no checksum for {name}")
    for name in KNOWN_FILES:
        if name != METADATA_FILE and name not in files and (folder / name).exists():
            raise ZooError(f"{_file_in(folder, name)} is not listed in {METADATA_FILE}: it was added after the "
                           f"export; remove it or export the model again")
    for name, expected in files.items():
        if name not in KNOWN_FILES or name == METADATA_FILE:
            raise ZooError(f"{where} is damaged: its {METADATA_FILE} lists an unexpected file {name!r}")
        path = folder / name
        if not path.is_file():
            raise ZooError(f"{where} is incomplete: {name} is missing")
        try:
            digest = sha256_file(path)
        except OSError as exc:
            raise ZooError(f"cannot read {_file_in(folder, name)}: {exc.strerror or exc}") from None
        if digest != expected:
            raise ZooError(f"{_file_in(folder, name)} does not match the checksum in {METADATA_FILE}: the file "
                           f"was changed or damaged; export or download the model again")
    return doc


def config_of(folder: Path) -> dict:
    try:
        return tomllib.loads((folder / CONFIG_FILE).read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ZooError(f"{_file_in(folder, CONFIG_FILE)} is damaged: {exc}") from None


# === Archives ===


def _members(archive: zipfile.ZipFile, where: str) -> list[zipfile.ZipInfo]:
    """The archive's files, each a known name at its top level (or inside one
    top-level folder), or an error: no paths, links or surprises."""
    infos = [i for i in archive.infolist() if not i.is_dir()]
    prefixes = {i.filename.split("/")[0] + "/" for i in infos if "/" in i.filename}
    prefix = prefixes.pop() if len(prefixes) == 1 and all("/" in i.filename for i in infos) else ""
    total = 0
    for info in infos:
        name = info.filename[len(prefix):]
        if name not in KNOWN_FILES:
            raise ZooError(f"{where} is not a zoo model archive: it holds {info.filename!r} "
                           f"(expected only {', '.join(KNOWN_FILES)})")
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise ZooError(f"{where} holds a symbolic link ({info.filename}); zoo does not unpack links")
        total += info.file_size
    if total > MAX_UNPACKED_BYTES:
        raise ZooError(f"{where} would unpack to {total / 2**30:.1f} GiB; zoo refuses archives over "
                       f"{MAX_UNPACKED_BYTES >> 30} GiB")
    listed = [i.filename[len(prefix):] for i in infos]
    if len(set(listed)) != len(listed):
        raise ZooError(f"{where} is not a zoo model archive: it holds the same file twice")
    names = set(listed)
    missing = [n for n in REQUIRED_FILES if n not in names]
    if missing:
        raise ZooError(f"{where} is not a zoo model archive: it has no {missing[0]}")
    return infos


def _open_zip(path: Path, where: Optional[str] = None) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ZooError(f"{where or path} is not a zoo model archive (not a readable .zip: {exc})") from None


def _archive_member(path: Path, name: str, where: str) -> bytes:
    with _open_zip(path, where) as archive:
        infos = _members(archive, where)
        member = next(i for i in infos if i.filename.split("/")[-1] == name)
        try:
            return archive.read(member)
        except ZIP_ERRORS as exc:
            raise ZooError(f"{where} is a damaged archive: {type(exc).__name__}: {exc}") from None


def archive_metadata(path: os.PathLike | str, label: Optional[str] = None) -> dict:
    """An archive's ``metadata.json``, read without unpacking (for ``zoo info``);
    ``label`` names the archive in messages (what the user gave)."""
    where = label or str(path)
    return parse_metadata(_archive_member(Path(path), METADATA_FILE, where), where)


def samples_used(metrics: dict) -> Optional[int]:
    """The images an ``eval.json``'s metrics compared: its sample metrics'
    generated count, else its reconstructions' (``--num`` is only an upper
    bound: a test split of 500 images caps it at 500); None when not recorded."""
    for group, key in (("fd", "generated"), ("kid", "generated"), ("coverage", "generated"),
                       ("reconstruction", "images")):
        value = metrics.get(group, {}).get(key) if isinstance(metrics.get(group), dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def archive_eval(path: os.PathLike | str, label: Optional[str] = None) -> Optional[dict]:
    """The eval summary an archive's metadata carries, with the sample count its
    ``eval.json`` records (archives exported before zoo read that count give
    ``--num`` there)."""
    summary = archive_metadata(path, label).get("eval")
    if not isinstance(summary, dict):
        return summary
    try:
        used = samples_used(json.loads(_archive_member(Path(path), "eval.json", label or str(path)))["metrics"])
    except (StopIteration, ZooError, ValueError, KeyError, TypeError, AttributeError):
        return summary  # no eval.json, or not one zoo wrote: the metadata's word
    return {**summary, "samples": used} if used else summary


def archive_config(path: os.PathLike | str, label: Optional[str] = None) -> dict:
    """An archive's ``config.toml``, read without unpacking."""
    where = label or str(path)
    try:
        return tomllib.loads(_archive_member(Path(path), CONFIG_FILE, where).decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ZooError(f"{CONFIG_FILE} in {where} is damaged: {exc}") from None


def unpack(path: Path, expected_sha256: Optional[str] = None, label: Optional[str] = None) -> Path:
    """Unpack a model archive into the cache (once per archive content) and
    return the folder, verified file by file. ``label`` names the archive in
    messages when ``path`` is a copy in zoo's cache (the URL it came from)."""
    where = label or str(path)
    try:
        digest = sha256_file(path)
    except OSError as exc:
        raise ZooError(f"cannot read {where}: {exc.strerror or exc}") from None
    if expected_sha256 and digest != expected_sha256:
        raise ZooError(f"{where} has sha256 {digest}, not the expected {expected_sha256}: the file was "
                       f"changed or damaged; refusing it")
    target = cache_dir() / "models" / digest
    _GIVEN[os.path.abspath(target)] = where
    if _cached_copy_is_good(target, path):
        return target
    from ..storage.files import WriteError, reason

    staging = target.with_name(f".{digest}.zoo-new-{os.getpid()}")
    _GIVEN[os.path.abspath(staging)] = where
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        with _open_zip(path, where) as archive:
            for info in _members(archive, where):
                name = info.filename.split("/")[-1]
                with archive.open(info) as src, open(staging / name, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
        verify_folder(staging)
        if target.exists():  # a damaged earlier unpacking in zoo's own cache: set it aside first
            aside = target.with_name(f".{digest}.zoo-old-{os.getpid()}")
            try:
                os.replace(target, aside)
            except OSError:
                pass
            shutil.rmtree(aside, ignore_errors=True)
        try:
            os.replace(staging, target)
        except OSError:
            if _cached_copy_is_good(target, path):  # another process unpacked it meanwhile
                return target
            raise
    except tuple(e for e in ZIP_ERRORS if e is not OSError) as exc:
        raise ZooError(f"{where} is a damaged archive: {type(exc).__name__}: {exc}") from None
    except OSError as exc:
        raise WriteError(f"cannot unpack {where} into {target.parent}: {reason(exc, target.parent)}; "
                         f"set ZOO_CACHE_DIR to a folder you can write to") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        _GIVEN.pop(os.path.abspath(staging), None)
    return target


def _cached_copy_is_good(target: Path, archive_path: Path) -> bool:
    """The cache's unpacking of an archive verifies, and its metadata is the
    archive's own (so a changed cache folder is not trusted)."""
    if not is_exported_folder(target):
        return False
    try:
        verify_folder(target)
        with zipfile.ZipFile(archive_path) as archive:
            member = next(i for i in archive.infolist() if i.filename.split("/")[-1] == METADATA_FILE)
            return archive.read(member) == (target / METADATA_FILE).read_bytes()
    except (ZooError, StopIteration, *ZIP_ERRORS):
        return False


# === Sources ===


def file_url_path(uri: str) -> Path:
    """The local path a ``file:///PATH`` URL names (``file://localhost/PATH`` too)."""
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/") or parts.query:
        raise ZooError(f"{uri}: a file URL names a file on this machine, file:///ABSOLUTE/PATH; "
                       f"or give the path itself")
    return Path(unquote(parts.path))


def _refuse_scheme(uri: str) -> None:
    scheme = urlsplit(uri).scheme
    if is_remote(uri) and scheme not in (*URL_SCHEMES, "hf", "package", "file"):
        raise ZooError(f"{uri}: zoo cannot fetch {scheme}:// URLs; give {SUPPORTED}")


def fetch(uri: str, sha256: Optional[str] = None, registry=None, echo: Callable[[str], None] = print) -> Path:
    """A local file or folder for ``uri``: a path, ``http(s)://...``,
    ``hf://owner/name[@revision]`` or ``package://MODULE/PATH`` (a file inside an
    installed zoo plugin). ``sha256`` (or a ``#sha256=`` fragment) is checked;
    an archive is unpacked into the cache. Returns what :func:`zoo_core.saving.runs.open_run` opens."""
    uri, fragment_sha = split_checksum(str(uri))
    expected = check_sha256(sha256, uri) or fragment_sha
    if sha256 and fragment_sha and fragment_sha != expected:
        raise ZooError(f"{uri}: the URL's #sha256 and the preset's sha256 differ")
    _refuse_scheme(uri)
    scheme = urlsplit(uri).scheme
    if scheme in URL_SCHEMES:
        return _fetch_url(uri, expected, echo)
    elif scheme == "hf":
        if expected:
            raise ZooError(f"{uri}: a Hub repository is a folder, not one archive, so a sha256 cannot pin it; "
                           f"pin a revision (hf://OWNER/NAME@COMMIT) instead: every file is still checked "
                           f"against its metadata.json")
        return hf_snapshot(uri, echo)
    elif scheme == "package":
        path = package_file(uri, registry)
    else:
        path = file_url_path(uri) if scheme == "file" else Path(uri).expanduser()
        if not path.exists():
            raise ZooError(f"{uri if scheme else path} does not exist; give a run folder, an exported model "
                           f"(folder or .zip), a .keras file, a URL or a preset name with --pretrained")
    if path.is_file() and (path.suffix.lower() == ".zip" or zipfile.is_zipfile(path)):
        return unpack(path, expected, uri if scheme == "package" else None)
    if expected:
        raise ZooError(f"{uri}: a sha256 can only be checked for a .zip archive, and {path} is not one")
    return path


def _fetch_url(url: str, expected: Optional[str], echo: Callable[[str], None]) -> Path:
    """Download and unpack ``url``. A download whose archive turns out damaged
    is deleted from the cache, so the next try fetches it again."""
    from .download import discard, download
    from ..storage.files import WriteError

    path, unverified = download(url, expected, cache_dir(), echo)
    try:
        folder = unpack(path, expected, url)
    except WriteError:
        raise  # the cache cannot be written: the download itself is fine
    except ZooError as exc:
        discard(path, url)
        raise ZooError(f"{exc} (the download was not kept)") from None
    if unverified:  # said once, when it is downloaded, and only of a usable archive
        echo(f"Notice: no sha256 was given for {url}, so it was not verified; pin it with "
             f"{url}#sha256={unverified}")
    return folder


def package_file(uri: str, registry=None) -> Path:
    """``package://zoo_gan/pretrained/x.zip``: a file shipped inside an
    installed zoo plugin's package (no other package's files are read)."""
    parts = urlsplit(uri)
    module, relative = parts.netloc, parts.path.lstrip("/")
    if not module or not relative or ".." in Path(relative).parts:
        raise ZooError(f"{uri}: a package URI is package://MODULE/PATH, PATH inside the module's folder")
    if registry is not None:
        from ..plugins.registry import plugin_for_module

        if plugin_for_module(module, registry) is None:
            raise ZooError(f"{uri} names a file of '{module}', which is not an installed zoo plugin")
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ZooError(f"{uri}: the package '{module}' is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise ZooError(f"{uri}: {path} is missing from the installed package; reinstall it")
    return path


def hf_snapshot(uri: str, echo: Callable[[str], None] = print) -> Path:
    """``hf://owner/name[@revision]``: the exported folder in a Hugging Face
    Hub model repository, through ``huggingface_hub`` (an optional extra)."""
    parts = urlsplit(uri)
    repo, _, revision = (parts.netloc + parts.path).partition("@")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise ZooError(f"{uri}: a Hub URI is hf://OWNER/NAME (or hf://OWNER/NAME@REVISION)")
    try:
        import huggingface_hub
    except ImportError:
        raise ZooError(f"{uri} needs the huggingface_hub library: pip install 'zoo-core[hf]'") from None
    try:
        folder = huggingface_hub.snapshot_download(repo_id=repo, revision=revision or None,
                                                   allow_patterns=list(KNOWN_FILES),
                                                   cache_dir=str(cache_dir() / "hf"))
    except Exception as exc:  # the library's errors have no common base short of Exception
        raise ZooError(f"cannot fetch {uri} from the Hugging Face Hub: {type(exc).__name__}: "
                       f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    _GIVEN[os.path.abspath(folder)] = uri
    return Path(folder)
