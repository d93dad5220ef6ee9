"""The project's editable install, kept once built: a new workspace venv gets it by copy.

`pip install -e .` and `uv pip install -e .` run the project's build backend on every install
(two or more Python processes, 0.2-1 s); `uv sync` reuses the editable it built before, keyed
by the project's `pyproject.toml`, `setup.py` and `setup.cfg`. We do the same for a venv being
(re)created: after the installer built and installed the editable, the files its RECORD lists
(the dist-info, `.pth` and finder modules, console scripts) are copied into the private cache
(`CacheLayout.editables`, one entry per project folder); the next new venv of the same project,
interpreter and installer gets them back, byte for byte (each file's hash checked), with the
scripts pointed at that venv, and the installer installs only the rest.

Kept only when it is safe to: static metadata (nothing in `[project] dynamic`: a version from
git would go stale), no `[tool.uv] cache-keys` (the user asked for other keys), every file
inside site-packages or the scripts folder, small. Anything unexpected means "not cached":
the installer builds as before. Never an error of its own.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import shutil
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from envlayers.core.distmeta import read_direct_url
from envlayers.core.fsutil import atomic_write_text, discard, make_dir, read_json, swap_in
from envlayers.core.paths import CacheLayout
from envlayers.core.scripts import rewrite_shebang, shebang_python
from envlayers.core.trust import rerecord

__all__ = ["editable_key", "entry_for", "restore", "store"]

log = logging.getLogger(__name__)

_FORMAT = 1
_MAX_FILES = 200
_MAX_BYTES = 4 * 1024 * 1024
_KEY_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
_MARKERS = ("implementation_name", "python_full_version", "sys_platform", "platform_machine")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def editable_key(
    root: Path, name: str, installer: str, python: str, marker_env: Mapping[str, str]
) -> str | None:
    """What the editable build depends on, hashed; None when it must not be cached."""
    files: dict[str, str | None] = {}
    for rel in _KEY_FILES:
        try:
            files[rel] = _sha256((root / rel).read_bytes())
        except FileNotFoundError:
            files[rel] = None
        except OSError:
            return None
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    project = data.get("project")
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    if not isinstance(project, dict) or project.get("dynamic"):
        return None  # a version or requirements computed at build time: rebuild each time
    if isinstance(uv, dict) and "cache-keys" in uv:
        return None
    inputs = {
        "format": _FORMAT,
        "root": os.path.realpath(root),
        "name": name,
        "installer": installer,
        "python": python,
        "markers": {k: marker_env.get(k, "") for k in _MARKERS},
        "files": files,
    }
    return _sha256(json.dumps(inputs, sort_keys=True).encode("utf-8"))


def entry_for(layout: CacheLayout, root: Path) -> Path:
    """The cache folder that holds the editable install of the project at `root`."""
    return layout.editables / _sha256(os.path.realpath(root).encode("utf-8"))[:24]


def _record_rows(dist_info: Path) -> list[list[str]] | None:
    try:
        text = (dist_info / "RECORD").read_text(encoding="utf-8")
        return list(csv.reader(io.StringIO(text)))
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def _find_dist_info(site: Path, root: Path, name: str) -> Path | None:
    """The dist-info of `name` installed editable from `root`, else None."""
    want = name.replace("-", "_").replace(".", "_").lower()
    for entry in sorted(site.glob("*.dist-info")):
        if entry.name[: -len(".dist-info")].rsplit("-", 1)[0].replace(".", "_").lower() != want:
            continue
        url = read_direct_url(str(entry / "direct_url.json"))
        if url is not None and url.editable and url.url == root.resolve().as_uri():
            return entry
    return None


def _layout_of(site: Path, rows: Sequence[Sequence[str]]) -> list[tuple[str, str]] | None:
    """(`site` or `bin`, relative path) of every file RECORD lists, or None when one lies
    anywhere else, is not a plain file, or there are too many or too big."""
    out: list[tuple[str, str]] = []
    total = 0
    homes = {"site": os.path.realpath(site), "bin": os.path.realpath(site.parents[2] / "bin")}
    for row in rows:
        if not row or not row[0]:
            continue
        rel = row[0].replace("\\", "/")
        parts = rel.split("/")
        if rel.startswith("../"):
            if len(parts) != 5 or parts[:4] != ["..", "..", "..", "bin"]:
                return None
            rel = parts[4]
            if rel in ("", ".", ".."):
                return None
            place, path = "bin", site.parents[2] / "bin" / rel
        elif rel.startswith("/") or ".." in parts or "" in parts:
            return None
        else:
            place, path = "site", site / rel
        try:
            # No link anywhere on the way: a folder linked out of the venv is not copied.
            if os.path.commonpath([homes[place], os.path.realpath(path)]) != homes[place]:
                return None
            if path.is_symlink() or not path.is_file():
                return None
            total += path.stat().st_size
        except OSError:
            return None
        out.append((place, rel))
    if not out or len(out) > _MAX_FILES or total > _MAX_BYTES:
        return None
    return out


def store(layout: CacheLayout, key: str, site: Path, python: Path, root: Path, name: str) -> None:
    """Keep the editable that an installer just put into the venv of `python` (site `site`)."""
    dist_info = _find_dist_info(site, root, name)
    rows = _record_rows(dist_info) if dist_info is not None else None
    files = _layout_of(site, rows) if rows is not None else None
    if files is None:
        log.debug("the editable install of %s is not kept (unusual layout)", name)
        return
    entry = entry_for(layout, root)
    tmp = entry.with_name(f".tmp-{entry.name}-{os.urandom(4).hex()}")
    try:
        layout.ensure()
        make_dir(tmp, "build")
        hashes: dict[str, str] = {}
        for place, rel in files:
            src = (site / rel) if place == "site" else (python.parent / rel)
            dest = tmp / place / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            data = src.read_bytes()
            dest.write_bytes(data)
            shutil.copymode(src, dest)  # a console script stays executable
            hashes[f"{place}/{rel}"] = _sha256(data)
        meta = {"format": _FORMAT, "key": key, "python": str(python), "files": hashes}
        atomic_write_text(tmp / "meta.json", json.dumps(meta, indent=1) + "\n", durable=False)
        swap_in(tmp, entry, kind="build", roots=[layout.editables])
    except OSError as exc:  # only a cache: the next new venv builds again
        log.debug("could not keep the editable install of %s: %s", name, exc)
        discard(tmp, kind="build", roots=[layout.editables])


def restore(layout: CacheLayout, key: str, site: Path, python: Path, root: Path) -> bool:
    """Copy the kept editable for `key` into the new venv of `python`; whether it was."""
    entry = entry_for(layout, root)
    meta = read_json(entry / "meta.json")
    if meta is None or meta.get("format") != _FORMAT or meta.get("key") != key:
        return False
    files, old_python = meta.get("files"), meta.get("python")
    if not isinstance(files, dict) or not isinstance(old_python, str) or not files:
        return False
    # Every file is read and checked before the first is written: a damaged entry leaves
    # the new venv untouched (the installer then builds the editable as usual).
    todo: list[tuple[Path, bytes, int]] = []
    try:
        for name, digest in files.items():
            place, _, rel = str(name).partition("/")
            parts = rel.split("/")
            if place not in ("site", "bin") or ".." in parts or "" in parts or rel.startswith("/"):
                raise ValueError(f"unexpected entry {str(name)[:80]!r}")
            src = entry / place / rel
            data = src.read_bytes()
            if _sha256(data) != digest:
                raise ValueError(f"{name} changed in the cache")
            dest = (site / rel) if place == "site" else (python.parent / rel)
            if os.path.lexists(dest):
                raise ValueError(f"{dest.name} is already in the new venv")
            if place == "bin":
                data = _retarget(data, old_python, str(python))
            todo.append((dest, data, src.stat().st_mode & 0o777))
    except (OSError, ValueError) as exc:
        log.warning("the kept editable install is unusable (%s); building it again", exc)
        return False
    for dest, data, mode in todo:  # into a venv being built: a failure discards it whole
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        os.chmod(dest, mode)
    rerecord(site, [dest for dest, _, _ in todo if dest.parent == python.parent])
    log.info("installed the project editable from the cache")
    return True


def _retarget(data: bytes, old: str, new: str) -> bytes:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    if shebang_python(text) != old:
        return data
    fixed = rewrite_shebang(text, new)
    return data if fixed is None else fixed.encode("utf-8")
