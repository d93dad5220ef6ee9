"""Write fixture workspaces: a `pyproject.toml` and, with `build_system`, an installable package.

The package is built by an in-tree PEP 517/660 backend (`_backend/tinybackend.py`, stdlib
only, Python 3.9+, `requires = []`), so `pip install -e` and `uv pip install -e` work offline.
Its metadata (name, version, dependencies, extras, requires-python) is baked into the backend
as Python literals when the fixture is written, so the backend never has to parse TOML.
An editable build is a wheel holding `<import_name>.pth` (the absolute `src` path) and a
dist-info; installers then record PEP 610 `direct_url.json` with `dir_info.editable: true`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from packaging.version import Version

from .wheels import escape_name, import_name, metadata_text

__all__ = ["BACKEND_MODULE", "toml_value", "write_project"]

BACKEND_MODULE = "tinybackend"

_NO_EXTRAS: Mapping[str, Sequence[str]] = MappingProxyType({})
_NO_GROUPS: Mapping[str, Sequence[str | dict[str, str]]] = MappingProxyType({})

_BACKEND_TEMPLATE = '''\
"""Tiny in-tree PEP 517/660 build backend for test workspaces (stdlib only, Python 3.9+)."""

import base64
import hashlib
import io
import os
import tarfile
import zipfile

NAME = {name!r}
VERSION = {version!r}
DIST = {dist!r}
METADATA = {metadata!r}
TAG = "py3-none-any"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
WHEEL = "Wheel-Version: 1.0\\nGenerator: tinybackend\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
DIST_INFO = DIST + "-" + VERSION + ".dist-info"


def _hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _tree(top):
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for fn in sorted(filenames):
            if fn.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(dirpath, fn)
            out.append((os.path.relpath(full, top).replace(os.sep, "/"), full))
    return out


def _metadata_files():
    return [
        (DIST_INFO + "/METADATA", METADATA.encode("utf-8")),
        (DIST_INFO + "/WHEEL", WHEEL.encode("utf-8")),
    ]


def _write_wheel(wheel_directory, files):
    files = list(files) + _metadata_files()
    record = "".join("%s,%s,%d\\n" % (arc, _hash(data), len(data)) for arc, data in files)
    record += DIST_INFO + "/RECORD,,\\n"
    files.append((DIST_INFO + "/RECORD", record.encode("utf-8")))
    basename = DIST + "-" + VERSION + "-" + TAG + ".whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, basename), "w", zipfile.ZIP_DEFLATED) as zf:
        for arc, data in files:
            zf.writestr(arc, data)
    return basename


def _write_metadata(metadata_directory):
    for arc, data in _metadata_files():
        path = os.path.join(metadata_directory, arc)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
    return DIST_INFO


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    return _write_metadata(metadata_directory)


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    return _write_metadata(metadata_directory)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = []
    for rel, full in _tree(SRC):
        with open(full, "rb") as fh:
            files.append((rel, fh.read()))
    return _write_wheel(wheel_directory, files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    pth = (SRC + "\\n").encode("utf-8")
    return _write_wheel(wheel_directory, [(DIST + ".pth", pth)])


def build_sdist(sdist_directory, config_settings=None):
    base = DIST + "-" + VERSION
    basename = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, basename), "w:gz") as tf:
        tf.add(os.path.join(ROOT, "pyproject.toml"), arcname=base + "/pyproject.toml")
        for top in ("_backend", "src"):
            for rel, full in _tree(os.path.join(ROOT, top)):
                tf.add(full, arcname=base + "/" + top + "/" + rel)
        data = METADATA.encode("utf-8")
        info = tarfile.TarInfo(base + "/PKG-INFO")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return basename
'''


def toml_value(value: object) -> str:
    """A TOML literal for str / bool / int / list / dict values (inline tables for dicts)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # JSON string escapes are valid TOML basic-string escapes.
        return json.dumps(value)
    if isinstance(value, Mapping):
        inner = ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def write_project(
    root: Path,
    *,
    name: str = "demo-app",
    version: str = "0.1.0",
    dependencies: Sequence[str] = (),
    optional: Mapping[str, Sequence[str]] = _NO_EXTRAS,
    groups: Mapping[str, Sequence[str | dict[str, str]]] = _NO_GROUPS,
    requires_python: str | None = ">=3.9",
    build_system: bool = True,
    tool: str = "",
    extra_toml: str = "",
) -> Path:
    """Write a workspace into `root` (created if needed) and return `root`.

    With `build_system`, also writes `src/<import_name>/__init__.py` (defining `__version__`
    and `WHERE = __file__`) and the in-tree backend. `tool` and `extra_toml` are raw TOML
    appended in that order (e.g. a `[tool.envlayers]` table).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    ver = str(Version(version))
    parts: list[str] = []
    if build_system:
        parts.append(
            "[build-system]\n"
            "requires = []\n"
            f'build-backend = "{BACKEND_MODULE}"\n'
            'backend-path = ["_backend"]\n'
        )
    project = [f"name = {toml_value(name)}", f"version = {toml_value(ver)}"]
    if requires_python is not None:
        project.append(f"requires-python = {toml_value(requires_python)}")
    project.append(f"dependencies = {toml_value(list(dependencies))}")
    parts.append("[project]\n" + "\n".join(project) + "\n")
    if optional:
        body = "".join(f"{toml_value(k)} = {toml_value(list(v))}\n" for k, v in optional.items())
        parts.append("[project.optional-dependencies]\n" + body)
    if groups:
        body = "".join(f"{toml_value(k)} = {toml_value(list(v))}\n" for k, v in groups.items())
        parts.append("[dependency-groups]\n" + body)
    for raw in (tool, extra_toml):
        if raw.strip():
            parts.append(raw.strip("\n") + "\n")
    (root / "pyproject.toml").write_text("\n".join(parts), encoding="utf-8")
    if build_system:
        _write_package(root, name, ver, dependencies, optional, requires_python)
    return root


def _write_package(
    root: Path,
    name: str,
    version: str,
    dependencies: Sequence[str],
    optional: Mapping[str, Sequence[str]],
    requires_python: str | None,
) -> None:
    pkg = root / "src" / import_name(name)
    pkg.mkdir(parents=True, exist_ok=True)
    init = pkg / "__init__.py"
    if not init.exists():
        init.write_text(f"__version__ = {version!r}\nWHERE = __file__\n", encoding="utf-8")
    meta = metadata_text(
        name, version, requires=dependencies, extras=optional, requires_python=requires_python
    )
    backend = _BACKEND_TEMPLATE.format(
        name=name, version=version, dist=escape_name(name), metadata=meta
    )
    (root / "_backend").mkdir(exist_ok=True)
    (root / "_backend" / f"{BACKEND_MODULE}.py").write_text(backend, encoding="utf-8")
