"""Helpers for composition tests: fixture workspaces wired to the offline wheelhouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.projects import write_project

__all__ = ["BASE_PYTHON", "cli", "run_in", "tool_table", "workspace"]

# The managed envs run another Python than the tool (3.11), so markers and paths are the target's.
BASE_PYTHON = "3.12"


def tool_table(installer: str, wheelhouse: Path, extra: str = "") -> str:
    return (
        "[tool.envlayers]\n"
        f'installer = "{installer}"\n'
        f'python = "{BASE_PYTHON}"\n'
        "no-index = true\n"
        f"find-links = [{json.dumps(str(wheelhouse))}]\n" + extra
    )


def workspace(
    root: Path,
    installer: str,
    wheelhouse: Path,
    *,
    dependencies: Sequence[str] = ("beta", "gamma", "zeta"),
    name: str = "demo-app",
    extra_tool: str = "",
    **kwargs: object,
) -> Path:
    return write_project(
        root,
        name=name,
        dependencies=dependencies,
        tool=tool_table(installer, wheelhouse, extra_tool),
        **kwargs,  # type: ignore[arg-type]
    )


def run_in(
    python: str | Path,
    code: str,
    *,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    full = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    if env:
        full.update(env)
    return subprocess.run(
        [str(python), *args, "-c", code],
        capture_output=True,
        text=True,
        env=full,
        check=False,
        timeout=120,
    )


def cli(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    if env:
        full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "envlayers", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full,
        check=False,
        timeout=300,
    )
