"""Fixture workspaces wired to offline wheel folders, and the one `[tool.envlayers]` table.

- `tool_table(installer, *links, python=BASE_PYTHON, extra="")`: an offline tool table
  (`no-index`, `find-links` = `links`), then `extra` (raw TOML lines).
- `workspace(root, installer, *links, ...)`: a project (installable, built by the in-tree
  backend) whose base holds `dependencies` (default beta, gamma, zeta) on `BASE_PYTHON`.
- `uv_workspace(root, wheelhouse, ...)`: a small uv workspace without a build system (fast).
- `consumer_workspace(root, *links, ...)`: an installable uv workspace on `KERNEL_PYTHON`,
  for the consumer tests whose repacked compiled wheels are built for the test venv's Python.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .projects import write_project

__all__ = [
    "BASE_PYTHON",
    "KERNEL_PYTHON",
    "consumer_workspace",
    "tool_table",
    "uv_workspace",
    "workspace",
]

# The managed envs run another Python than the tool (3.11), so markers and paths are the target's.
BASE_PYTHON = "3.12"
# Repacked compiled wheels (pyzmq, tornado, debugpy, psutil) are built for the test venv's Python.
KERNEL_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"


def tool_table(installer: str, *links: Path, python: str = BASE_PYTHON, extra: str = "") -> str:
    return (
        "[tool.envlayers]\n"
        f'installer = "{installer}"\n'
        f'python = "{python}"\n'
        "no-index = true\n"
        f"find-links = {json.dumps([str(p) for p in links])}\n" + extra
    )


def workspace(
    root: Path,
    installer: str,
    *links: Path,
    python: str = BASE_PYTHON,
    dependencies: Sequence[str] = ("beta", "gamma", "zeta"),
    name: str = "demo-app",
    extra_tool: str = "",
    **kwargs: object,
) -> Path:
    """Write the workspace into `root`; `kwargs` go to `write_project` (e.g. `build_system`)."""
    return write_project(
        root,
        name=name,
        dependencies=dependencies,
        tool=tool_table(installer, *links, python=python, extra=extra_tool),
        **kwargs,  # type: ignore[arg-type]
    )


def uv_workspace(
    root: Path,
    wheelhouse: Path,
    *,
    dependencies: Sequence[str] = ("beta",),
    name: str = "demo-app",
    extra_tool: str = "",
) -> Path:
    """A small workspace that installs with uv from the wheelhouse (no build system: fast)."""
    return workspace(
        root,
        "uv",
        wheelhouse,
        dependencies=dependencies,
        name=name,
        extra_tool=extra_tool,
        build_system=False,
    )


def consumer_workspace(
    root: Path,
    *links: Path,
    name: str = "demo-app",
    dependencies: Sequence[str] = ("alpha==1.0", "beta"),
    installer: str = "uv",
    extra_tool: str = "",
) -> Path:
    """A workspace whose project installs editable and whose base holds `dependencies`."""
    return workspace(
        root,
        installer,
        *links,
        python=KERNEL_PYTHON,
        dependencies=dependencies,
        name=name,
        extra_tool=extra_tool,
    )
