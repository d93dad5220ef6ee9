"""Find the workspace: the nearest folder at or above a path that holds a `pyproject.toml`, or,
when that project is a member of a uv workspace, the workspace's root (where its one `.venv`
lives).

uv's rule: from the nearest project, walk up past its own `pyproject.toml`; the first ancestor
whose `pyproject.toml` has `[tool.uv.workspace]` is the root when its `members` globs match the
project and its `exclude` globs do not; otherwise the project stands alone. A project with its
own `[tool.uv.workspace]` is a root. Standard library only (`os.path`, no `pathlib`, `tomllib`
or `glob` at import time: those load only when a `pyproject.toml` above mentions a workspace)
so the CLI fast path can use it before anything else is imported. `find_project_str` is the
plain walk, `find_workspace_str` adds the workspace step; `find_workspace` is its `Path` form
that raises when nothing is found.
"""

from __future__ import annotations

import os

# Not `typing.TYPE_CHECKING`: the fast path imports this module, and typing costs milliseconds.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "PYPROJECT",
    "find_project_str",
    "find_workspace",
    "find_workspace_str",
    "uv_workspace_table",
    "workspace_member_dirs",
]

PYPROJECT = "pyproject.toml"


def _start_folder(start: str) -> str:
    here = os.path.abspath(start)
    # A file names its folder; so does a pyproject.toml that does not exist (yet).
    if os.path.isfile(here) or (not os.path.exists(here) and os.path.basename(here) == PYPROJECT):
        return os.path.dirname(here)
    return here


def find_project_str(start: str) -> str | None:
    """The nearest folder at or above `start` holding a `pyproject.toml` file, or None."""
    folder = _start_folder(start)
    while True:
        if os.path.isfile(os.path.join(folder, PYPROJECT)):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def find_workspace_str(start: str) -> str | None:
    """The workspace of `start`: its uv workspace's root when the nearest project is a member
    of one, else the nearest project folder; None when there is no `pyproject.toml` at all."""
    project = find_project_str(start)
    if project is None or uv_workspace_table(project) is not None:
        return project
    folder = os.path.dirname(project)
    while True:
        table = (
            uv_workspace_table(folder) if os.path.isfile(os.path.join(folder, PYPROJECT)) else None
        )
        if table is not None:
            return folder if project in workspace_member_dirs(folder, table) else project
        parent = os.path.dirname(folder)
        if parent == folder:
            return project
        folder = parent


def uv_workspace_table(folder: str) -> dict[str, object] | None:
    """`[tool.uv.workspace]` of `folder/pyproject.toml`, or None (no file, no table, bad TOML)."""
    try:
        with open(os.path.join(folder, PYPROJECT), "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    if b"workspace" not in data:  # the common case: no TOML parsing on the fast path
        return None
    import tomllib

    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None
    tool = doc.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    table = uv.get("workspace") if isinstance(uv, dict) else None
    return table if isinstance(table, dict) else None


def workspace_member_dirs(root: str, table: dict[str, object]) -> list[str]:
    """The member folders of the workspace at `root` (absolute, sorted): the root itself when
    it is a project, and every folder holding a `pyproject.toml` that a `members` glob matches
    and no `exclude` glob does."""
    import glob

    def expand(key: str) -> set[str]:
        patterns = table.get(key)
        out: set[str] = set()
        for pattern in patterns if isinstance(patterns, list) else ():
            if isinstance(pattern, str):
                found = glob.glob(os.path.join(glob.escape(root), pattern))
                out.update(os.path.normpath(p) for p in found if os.path.isdir(p))
        return out

    members = {m for m in expand("members") - expand("exclude") if _has_pyproject(m)}
    members.add(os.path.normpath(root))
    return sorted(members)


def _has_pyproject(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, PYPROJECT))


def find_workspace(start: Path) -> Path:
    """The nearest folder at or above `start` that holds a `pyproject.toml`.

    Raises `InvalidInput` when there is none.
    """
    from pathlib import Path

    from envlayers.core.errors import InvalidInput

    found = find_workspace_str(os.fspath(start))
    if found is None:
        here = _start_folder(os.fspath(start))
        raise InvalidInput(f"no {PYPROJECT} found in {here} or any folder above it")
    return Path(found)
