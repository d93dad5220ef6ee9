"""Keep tests away from this machine's pip/uv configuration and install offline, for real.

This machine's pip reads `/etc/pip.conf`, `/etc/xdg/pip/pip.conf` (a constraint file),
`~/.config/pip/pip.conf` (find-links `/opt/wheels`, extra index URLs) and `PIP_FIND_LINKS`.
`PIP_CONFIG_FILE=/dev/null` makes pip skip *every* config file (pip checks for `os.devnull`
before loading any; `pip config debug` still lists the files, `pip config list` shows none of
their values), so together with dropping the other `PIP_*` variables pip sees no local
configuration. uv ignores pip's files; `UV_NO_CONFIG=1` drops its own.

Helpers here are plain functions; `tests/conftest.py` wraps them as fixtures.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import pytest

__all__ = [
    "KEEP_PIP_VARS",
    "PYENV_VERSIONS",
    "REMOVED_VARS",
    "InstallFn",
    "InstallerFailed",
    "MakeVenv",
    "apply_isolation",
    "create_venv",
    "find_pythons",
    "install",
    "isolation_changes",
    "pip_install",
    "run_python",
    "site_packages",
    "uv_bin",
    "uv_install",
    "venv_python",
]

PYENV_VERSIONS = Path("/root/.pyenv/versions")
KEEP_PIP_VARS = frozenset({"PIP_DISABLE_PIP_VERSION_CHECK"})
# Variables that would leak the caller's environment into a child interpreter or installer.
REMOVED_VARS = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONSTARTUP")


class InstallerFailed(RuntimeError):
    """An installer run by a test helper exited non-zero; the message carries its output."""

    def __init__(self, cmd: Sequence[str], returncode: int, output: str) -> None:
        super().__init__(f"exit {returncode}: {' '.join(cmd)}\n{output}")
        self.cmd = tuple(cmd)
        self.returncode = returncode
        self.output = output


class InstallFn(Protocol):
    """The `pip_install` / `uv_install` / `install` fixtures: offline from the wheelhouse."""

    def __call__(
        self,
        venv: Path,
        *reqs: str,
        editable: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]: ...


class MakeVenv(Protocol):
    """The `make_venv` fixture: a fresh unseeded venv under the test's `tmp_path`."""

    def __call__(
        self, python: str | os.PathLike[str] | None = None, name: str = "venv"
    ) -> Path: ...


def isolation_changes(
    environ: Mapping[str, str], uv_cache_dir: Path
) -> tuple[dict[str, str], list[str]]:
    """What to set and what to delete in `environ` to isolate installers: `(set, delete)`."""
    to_set = {
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "UV_NO_CONFIG": "1",
        "UV_CACHE_DIR": str(uv_cache_dir),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_OFFLINE": "1",
    }
    to_delete = sorted(
        k
        for k in environ
        if k not in to_set
        and (
            (k.startswith("PIP_") and k not in KEEP_PIP_VARS)
            or k.startswith("UV_")
            or k in REMOVED_VARS
        )
    )
    return to_set, to_delete


def apply_isolation(mp: pytest.MonkeyPatch, uv_cache_dir: Path) -> None:
    """Isolate `os.environ` through `mp` (undone when `mp` is)."""
    to_set, to_delete = isolation_changes(os.environ, uv_cache_dir)
    for key in to_delete:
        mp.delenv(key, raising=False)
    for key, value in to_set.items():
        mp.setenv(key, value)


def find_pythons(
    root: Path = PYENV_VERSIONS, minors: Sequence[int] = (9, 10, 11, 12, 13)
) -> list[Path]:
    """One CPython executable per available 3.x minor under `root`, oldest first."""
    found: list[Path] = []
    for minor in minors:
        candidates = sorted(root.glob(f"3.{minor}.*/bin/python3.{minor}"))
        if candidates:
            found.append(candidates[-1])
    return found


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def site_packages(venv: Path) -> Path:
    """The venv's purelib dir (`lib/pythonX.Y/site-packages`)."""
    matches = sorted((venv / "lib").glob("python3.*/site-packages"))
    if len(matches) != 1:
        raise RuntimeError(f"expected one site-packages under {venv}, found {matches}")
    return matches[0]


def create_venv(dest: Path, python: str | os.PathLike[str] | None = None) -> Path:
    """A real, unseeded venv made by virtualenv (in-process: ~0.1 s)."""
    from virtualenv import cli_run  # slow import; only tests that make venvs pay for it

    exe = os.fspath(python) if python is not None else sys.executable
    args = [os.fspath(dest), "--python", exe, "--no-seed", "--no-vcs-ignore", "--activators", ""]
    cli_run(args, setup_logging=False)
    return Path(dest)


def uv_bin() -> str:
    import uv

    return str(uv.find_uv_bin())


def _run(cmd: list[str], check: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in REMOVED_VARS}
    proc = subprocess.run(
        cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise InstallerFailed(cmd, proc.returncode, proc.stdout + proc.stderr)
    return proc


def _targets(reqs: Sequence[str], editable: str | os.PathLike[str] | None) -> list[str]:
    out = list(reqs)
    if editable is not None:
        out += ["-e", os.fspath(editable)]
    return out


def _index_args(find_links: Sequence[str | os.PathLike[str]]) -> list[str]:
    args = ["--no-index"]
    for link in find_links:
        args += ["--find-links", os.fspath(link)]
    return args


def pip_install(
    venv: Path,
    *reqs: str,
    find_links: Sequence[str | os.PathLike[str]] = (),
    editable: str | os.PathLike[str] | None = None,
    extra_args: Sequence[str] = (),
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """`python -m pip --python <venv python> install --no-index --find-links ...` (offline)."""
    cmd = [sys.executable, "-m", "pip", "--python", os.fspath(venv_python(venv)), "install"]
    cmd += _index_args(find_links) + list(extra_args) + _targets(reqs, editable)
    return _run(cmd, check)


def uv_install(
    venv: Path,
    *reqs: str,
    find_links: Sequence[str | os.PathLike[str]] = (),
    editable: str | os.PathLike[str] | None = None,
    extra_args: Sequence[str] = (),
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """`uv pip install --python <venv python> --no-index --find-links ...` (offline)."""
    cmd = [uv_bin(), "pip", "install", "--python", os.fspath(venv_python(venv))]
    cmd += _index_args(find_links) + list(extra_args) + _targets(reqs, editable)
    return _run(cmd, check)


def install(
    installer: str,
    venv: Path,
    *reqs: str,
    find_links: Sequence[str | os.PathLike[str]] = (),
    editable: str | os.PathLike[str] | None = None,
    extra_args: Sequence[str] = (),
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Dispatch to `pip_install` or `uv_install` by name (`"pip"` / `"uv"`)."""
    fn = {"pip": pip_install, "uv": uv_install}[installer]
    return fn(
        venv, *reqs, find_links=find_links, editable=editable, extra_args=extra_args, check=check
    )


def run_python(
    python: str | os.PathLike[str], code: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `python -c code args...` with the isolated environment; output captured as text."""
    cmd = [os.fspath(python), "-c", code, *args]
    env = {k: v for k, v in os.environ.items() if k not in REMOVED_VARS}
    proc = subprocess.run(
        cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {cmd}\n{proc.stdout}{proc.stderr}")
    return proc
