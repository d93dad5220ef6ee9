"""Find the workspace: the nearest folder at or above a path that holds a `pyproject.toml`.

Standard library only (`os.path`, no `pathlib` at import time) so the CLI fast path can use it
before anything else is imported. `find_workspace_str` is the one walk; `find_workspace` is its
`Path` form that raises when nothing is found.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from envlayers.core.errors import InvalidInput

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["PYPROJECT", "find_workspace", "find_workspace_str"]

PYPROJECT = "pyproject.toml"


def _start_folder(start: str) -> str:
    here = os.path.abspath(start)
    # A file names its folder; so does a pyproject.toml that does not exist (yet).
    if os.path.isfile(here) or (not os.path.exists(here) and os.path.basename(here) == PYPROJECT):
        return os.path.dirname(here)
    return here


def find_workspace_str(start: str) -> str | None:
    """The nearest folder at or above `start` holding a `pyproject.toml` file, or None."""
    folder = _start_folder(start)
    while True:
        if os.path.isfile(os.path.join(folder, PYPROJECT)):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def find_workspace(start: Path) -> Path:
    """The nearest folder at or above `start` that holds a `pyproject.toml`.

    Raises `InvalidInput` when there is none.
    """
    from pathlib import Path

    found = find_workspace_str(os.fspath(start))
    if found is None:
        here = _start_folder(os.fspath(start))
        raise InvalidInput(f"no {PYPROJECT} found in {here} or any folder above it")
    return Path(found)
