"""The files of a virtual environment: where its interpreter, scripts and site dir are,
its `pyvenv.cfg`, and how the direct writer (`venv.create_venv`) lays one out for an
interpreter. Reads and writes files only; no process, no probe."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from envlayers.core.errors import InvalidInput, OperationFailed
from envlayers.core.fsutil import atomic_write_text

if TYPE_CHECKING:
    from envlayers.core.pyinfo import InterpreterInfo

__all__ = [
    "WINDOWS",
    "WRITER_KEY",
    "WRITER_LAYOUT",
    "check_entries",
    "direct_layout",
    "is_threaded",
    "read_pyvenv_cfg",
    "site_packages",
    "venv_python",
    "venv_scripts",
    "venv_sites",
    "windows_launchers",
    "write_pyvenv_cfg",
]

log = logging.getLogger(__name__)

WINDOWS = sys.platform == "win32"
# Names the direct writer in the pyvenv.cfg it writes (as `uv = ...` and `virtualenv = ...` do):
# the probe describes such a venv from its interpreter's probe instead of running it.
WRITER_KEY = "envlayers"
WRITER_LAYOUT = "1"


def venv_scripts(prefix: Path) -> Path:
    return prefix / ("Scripts" if WINDOWS else "bin")


def venv_sites(prefix: Path) -> list[Path]:
    """The site-packages folders a venv at `prefix` has (whatever its Python version)."""
    found = [*prefix.glob("lib/python*/site-packages"), prefix / "Lib" / "site-packages"]
    return [p for p in found if p.is_dir()]


def venv_python(prefix: Path) -> Path:
    return venv_scripts(prefix) / ("python.exe" if WINDOWS else "python")


def site_packages(prefix: Path, version_info: tuple[int, int] | tuple[int, int, int]) -> Path:
    if WINDOWS:
        return prefix / "Lib" / "site-packages"
    major, minor = version_info[0], version_info[1]
    lib = prefix / "lib" / f"python{major}.{minor}"
    threaded = prefix / "lib" / f"python{major}.{minor}t"
    # A free-threaded build lays its env out under pythonX.Yt.
    if not lib.is_dir() and threaded.is_dir():
        lib = threaded
    return lib / "site-packages"


def read_pyvenv_cfg(prefix: Path) -> dict[str, str]:
    """The `key = value` pairs of `<prefix>/pyvenv.cfg` (keys lower-cased, as `site` reads them)."""
    try:
        text = (prefix / "pyvenv.cfg").read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as exc:
        log.debug("cannot read %s: %s", prefix / "pyvenv.cfg", exc)
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values[key.strip().lower()] = value.strip()
    return values


def check_entries(values: Mapping[str, str]) -> None:
    for key, value in values.items():
        if not key.strip() or "=" in key or any(c in f"{key}{value}" for c in "\r\n"):
            raise InvalidInput(f"invalid pyvenv.cfg entry {key!r} = {value!r}")


def write_pyvenv_cfg(prefix: Path, values: Mapping[str, str]) -> None:
    """Update or add `values` in `<prefix>/pyvenv.cfg`, keeping the other lines and their order."""
    check_entries(values)
    path = prefix / "pyvenv.cfg"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    except OSError as exc:
        raise OperationFailed(f"cannot read {path}: {exc}") from exc
    wanted = {k.strip().lower(): (k.strip(), v) for k, v in values.items()}
    out: list[str] = []
    for line in lines:
        key, sep, _ = line.partition("=")
        norm = key.strip().lower()
        if sep and norm in wanted:
            name, value = wanted.pop(norm)
            out.append(f"{name} = {value}")
        else:
            out.append(line)
    out.extend(f"{name} = {value}" for name, value in wanted.values())
    try:
        atomic_write_text(path, "".join(f"{line}\n" for line in out))
    except OSError as exc:
        raise OperationFailed(f"cannot write {path}: {exc}") from exc


def is_threaded(info: InterpreterInfo) -> bool:
    """A free-threaded build (3.13t): its venvs use lib/pythonX.Yt and a pythonX.Yt link."""
    return os.path.basename(os.path.dirname(info.purelib)) == f"python{info.major_minor}t"


def windows_launchers(info: InterpreterInfo) -> dict[str, str] | None:
    """Scripts/<name> -> the stdlib's venv launcher to copy (Windows venvs never link)."""
    nt = os.path.join(info.base_prefix, "Lib", "venv", "scripts", "nt")
    found: dict[str, str] = {}
    # 3.13+ ships venvlauncher.exe; 3.7-3.12 ship the launcher as python.exe.
    for target, names in (
        ("python.exe", ("venvlauncher.exe", "python.exe")),
        ("pythonw.exe", ("venvwlauncher.exe", "pythonw.exe")),
    ):
        src = next((os.path.join(nt, n) for n in names if os.path.isfile(os.path.join(nt, n))), "")
        if not src:
            return None
        found[target] = src
    return found


def direct_layout(info: InterpreterInfo) -> dict[str, object] | None:
    """How a venv of `info`'s interpreter is laid out, or None when only virtualenv knows."""
    if info.implementation.lower() != "cpython":
        return None  # PyPy and GraalPy have their own layouts and launchers
    if WINDOWS:
        launchers = windows_launchers(info)
        if launchers is None:
            return None
        return {"site": os.path.join("Lib", "site-packages"), "launchers": launchers}
    lib = f"python{info.major_minor}{'t' if is_threaded(info) else ''}"
    # A platlibdir of lib64 (Fedora, openSUSE): platlib is <venv>/lib64/..., linked to lib.
    lib64 = f"{os.sep}lib64{os.sep}" in info.platlib
    return {"site": os.path.join("lib", lib, "site-packages"), "lib64": lib64}
