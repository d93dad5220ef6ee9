"""What an interpreter request says (`3.12`, `>=3.10`, a path, a name), read without a process.

Shared by discovery (finding an interpreter) and venv matching (does a venv still fit).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

__all__ = [
    "MIN_PYTHON",
    "accepts",
    "is_version_request",
    "looks_like_path",
    "pyenv_roots",
    "specifier",
    "version_key",
]

# The oldest Python we manage (the probe script's floor).
MIN_PYTHON = (3, 9)


def looks_like_path(request: str) -> bool:
    return (
        os.path.isabs(request)
        or os.sep in request
        or (os.altsep is not None and os.altsep in request)
        or request.startswith(".")
    )


def specifier(text: str) -> SpecifierSet | None:
    """`text` as a version range when it starts with an operator and parses, else None."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if not text or text[0] not in "<>=!~":
        return None
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


def is_version_request(request: str) -> bool:
    """`3.12`, `3.11.7`, `cpython3.12`, `py3`, `>=3.10,<3.13`: what python-discovery parses."""
    head = request.lstrip("<>=!~ ")
    stripped = head.lower()
    for impl in ("cpython", "python", "pypy", "graalpy", "py"):
        if stripped.startswith(impl):
            stripped = stripped[len(impl) :]
            break
    return bool(stripped) and (stripped[0].isdigit() or stripped[0] in "<>=!~")


def version_key(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in name.split("."))
    except ValueError:
        return ()


def accepts(version: tuple[int, ...], requires_python: str | None) -> bool:
    if not requires_python:
        return True
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return True  # the project module reports a bad requires-python; it must not hide Pythons
    return spec.contains(".".join(map(str, version)), prereleases=True)


def pyenv_roots() -> list[str]:
    roots = [os.environ.get("PYENV_ROOT", ""), os.path.expanduser("~/.pyenv")]
    out: list[str] = []
    for r in roots:
        if r and os.path.isdir(r) and os.path.realpath(r) not in {os.path.realpath(x) for x in out}:
            out.append(r)
    return out
