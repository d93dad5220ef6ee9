"""Does an existing venv still fit a request? Judged from its files alone, without a process.

`pyvenv.cfg` gives the version and the base interpreter; a request is compared with those
(paths and names by the binary they resolve to, pyenv shims included).
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from envlayers.core.pyrequest import (
    accepts,
    is_version_request,
    looks_like_path,
    pyenv_roots,
    specifier,
)
from envlayers.core.venv import read_pyvenv_cfg, venv_python

__all__ = ["venv_python_matches"]

_WINDOWS = sys.platform == "win32"


def _cfg_version(cfg: Mapping[str, str]) -> tuple[int, ...] | None:
    raw = cfg.get("version_info") or cfg.get("version") or ""
    parts: list[int] = []
    for piece in raw.split(".")[:3]:
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts) if len(parts) >= 2 else None


def _cfg_base(prefix: Path, cfg: Mapping[str, str], version: tuple[int, ...]) -> str | None:
    """The real interpreter a venv runs, from its pyvenv.cfg, if it still exists."""
    candidates = [cfg.get("base-executable", "")]
    home = cfg.get("home", "")
    if home:
        names = (
            ["python.exe"]
            if _WINDOWS
            else [f"python{version[0]}.{version[1]}", f"python{version[0]}", "python"]
        )
        candidates += [os.path.join(home, n) for n in names]
    for c in candidates:
        if c and os.path.isfile(c):
            return os.path.realpath(c)
    return None


def _same_binary(path: str, base: str) -> bool:
    if os.path.realpath(path) == base:
        return True
    # A pyenv shim (a script) runs versions/*/bin/<name>: compare those without running it.
    shim_dir = os.path.dirname(path)
    for root in pyenv_roots():
        if os.path.realpath(shim_dir) == os.path.realpath(os.path.join(root, "shims")):
            name = os.path.basename(path)
            for exe in glob.glob(os.path.join(root, "versions", "*", "bin", name)):
                if os.path.realpath(exe) == base:
                    return True
    return False


def venv_python_matches(prefix: Path, request: str | None, requires_python: str | None) -> bool:
    """Whether the venv at `prefix` still fits `request`, judged from files alone (no process).

    False when the venv, its `python` or the interpreter behind it has gone, or when its
    version, implementation or binary no longer matches the request or `requires_python`.
    """
    cfg = read_pyvenv_cfg(prefix)
    if not cfg or not os.path.exists(venv_python(prefix)):
        return False
    version = _cfg_version(cfg)
    if version is None:
        return False
    base = _cfg_base(prefix, cfg, version)
    if base is None:
        return False
    if not accepts(version, requires_python):
        return False
    text = (request or "").strip()
    if not text:
        return True
    if looks_like_path(text):
        path = os.path.abspath(os.path.expanduser(text))
        if os.path.realpath(path) == os.path.realpath(venv_python(prefix)):
            return True  # the request names this very venv's python
        return _same_binary(path, base)
    spec = specifier(text)
    if spec is not None:
        return spec.contains(".".join(map(str, version)), prereleases=True)
    if not is_version_request(text):
        found = shutil.which(text)
        return found is not None and _same_binary(found, base)
    plain = text[len("python") :] if text.startswith("python") else text
    parts = plain.split(".")
    if 1 <= len(parts) <= 3 and all(p.isdigit() for p in parts):
        # The common `3.12` / `3.12.1`: no need to import python-discovery (~0.1 s).
        return all(got == int(want) for got, want in zip(version, parts, strict=False))
    return _matches_version_spec(text, cfg, version)


def _matches_version_spec(text: str, cfg: Mapping[str, str], version: tuple[int, ...]) -> bool:
    try:
        from python_discovery import PythonSpec

        spec = PythonSpec.from_string_spec(text)
    except ValueError:
        return False
    impl = (cfg.get("implementation") or "cpython").lower()
    if spec.implementation is not None and spec.implementation.lower() not in {impl, "python"}:
        return False
    if spec.version_specifier is not None:
        return specifier(str(spec.version_specifier)) is not None and bool(
            accepts(version, str(spec.version_specifier))
        )
    wanted = [spec.major, spec.minor, spec.micro]
    for got, want in zip(version, wanted, strict=False):
        if want is not None and got != want:
            return False
    return spec.major is not None
