"""Run the envlayers CLI and managed interpreters as child processes, output captured as text.

- `cli(*args, cwd=None, env=None, clean=False)`: `python -m envlayers ARGS` with the test venv's
  Python; the environment is this process's (or, with `clean`, `clean_environ()`) plus `env`.
- `cli_cmd(*args)`: the same command as a list, for `Popen`.
- `run_in(python, code, env=None, args=())`: `python ARGS -c CODE` in `clean_environ(env)`.
- `clean_environ(extra=None)`: this process's environment without what would leak into a child
  Python (`LEAKY_VARS`), plus `extra`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["LEAKY_VARS", "clean_environ", "cli", "cli_cmd", "run_in"]

LEAKY_VARS = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without what would leak into a child Python."""
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_VARS}
    if extra:
        env.update(extra)
    return env


def cli_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "envlayers", *args]


def cli(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    clean: bool = False,
) -> subprocess.CompletedProcess[str]:
    full = clean_environ() if clean else dict(os.environ)
    if env:
        full.update(env)
    return subprocess.run(
        cli_cmd(*args),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full,
        check=False,
        timeout=300,
    )


def run_in(
    python: str | Path,
    code: str,
    *,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), *args, "-c", code],
        capture_output=True,
        text=True,
        env=clean_environ(env),
        check=False,
        timeout=120,
    )
