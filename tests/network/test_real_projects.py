"""Two small real projects from PyPI, synced and layered by envlayers and by uv, compared.

Marked `network` (run by `make test`; skipped, saying why, when PyPI cannot be reached). Each
uses a private `UV_CACHE_DIR`, so nothing comes from this machine's caches or pip config:

- a uv-managed project with `uv.lock` (made by real `uv lock`) and `[dependency-groups]`,
  depending on `httpx`: `envlayers sync` installs exactly what `uv sync` installs, and the
  `--with h2` layer holds the versions `uv run --with h2` chose;
- a flit project (src layout) with an extra and no lock: `envlayers sync --extra cli` installs
  what `uv sync --extra cli` does, and a `--with typer-slim` layer keeps the base's `click`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli_cmd
from tests.support.isolation import find_pythons, uv_bin

pytestmark = [pytest.mark.network, pytest.mark.slow]

INDEX = "https://pypi.org/simple"
_SEEDS = {"pip", "setuptools", "wheel"}
_LIST = (
    "import importlib.metadata as m, json\n"
    "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))\n"
)


@pytest.fixture
def online(tmp_path: Path) -> dict[str, str]:
    """The environment for a child that may use PyPI (private uv cache), or a clean skip."""
    try:
        with urllib.request.urlopen(f"{INDEX}/httpx/", timeout=10) as response:
            response.read(64)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        pytest.skip(f"PyPI ({INDEX}) is unreachable: {exc}")
    env = {k: v for k, v in os.environ.items() if k not in ("UV_OFFLINE", "VIRTUAL_ENV")}
    env |= {"UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_NO_CONFIG": "1"}
    return env


def _python() -> str:
    return next(str(p) for p in find_pythons() if "/3.12." in str(p))


def _run(cmd: list[str], cwd: Path, env: Mapping[str, str]) -> str:
    out = subprocess.run(
        cmd, cwd=cwd, env=dict(env), capture_output=True, text=True, check=False, timeout=300
    )
    assert out.returncode == 0, f"{cmd}\n{out.stderr}"
    return out.stdout


def _uv(cwd: Path, env: Mapping[str, str], *args: str) -> str:
    return _run([uv_bin(), *args, "--default-index", INDEX, "--python", _python()], cwd, env)


def _envlayers(cwd: Path, env: Mapping[str, str], *args: str) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(_run(cli_cmd(*args, "--format", "json"), cwd, env))
    return report


def _versions(python: Path | str, env: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = json.loads(_run([str(python), "-c", _LIST], Path.cwd(), env))
    return {k: v for k, v in found.items() if k not in _SEEDS}


def _tool() -> str:
    return f'[tool.envlayers]\ninstaller = "uv"\npython = "3.12"\nindex-url = "{INDEX}"\n'


def _copy(ws: Path, dest: Path) -> Path:
    shutil.copytree(ws, dest, ignore=shutil.ignore_patterns(".venv", ".envlayers"))
    return dest


def test_uv_project_with_lock_and_groups_matches_uv(tmp_path: Path, online: dict[str, str]) -> None:
    ws = tmp_path / "uv-app"
    ws.mkdir()
    (ws / "pyproject.toml").write_text(
        '[project]\nname = "uv-app"\nversion = "0.1.0"\nrequires-python = ">=3.10"\n'
        'dependencies = ["httpx>=0.27"]\n\n[dependency-groups]\ndev = ["iniconfig"]\n\n' + _tool(),
        encoding="utf-8",
    )
    _uv(ws, online, "lock")
    theirs = _copy(ws, tmp_path / "uv-copy")
    _uv(theirs, online, "sync")
    expected = _versions(theirs / ".venv" / "bin" / "python", online)
    assert {"httpx", "httpcore", "idna", "iniconfig"} <= set(expected)

    report = _envlayers(ws, online, "sync")
    assert report["sync"]["state"] == "in-sync"
    assert _versions(ws / ".venv" / "bin" / "python", online) == expected

    # A layer: the versions `uv run --with` chose, the base's own versions untouched.
    layered = _envlayers(ws, online, "env", "--with", "h2")
    code = "import h2, hpack, hyperframe, httpx; print('ok')"
    _run([layered["interpreter"], "-c", code], ws, online)
    ours = _versions(layered["interpreter"], online)
    uv_run = _uv(theirs, online, "run", "--with", "h2", "python", "-c", _LIST)
    chosen = {k: v for k, v in json.loads(uv_run).items() if k not in _SEEDS}
    for name in ("h2", "hpack", "hyperframe", "httpx", "idna"):
        assert ours[name] == chosen[name], (name, ours, chosen)
    assert {k: ours[k] for k in expected} == expected


def test_flit_project_with_an_extra_matches_uv(tmp_path: Path, online: dict[str, str]) -> None:
    ws = tmp_path / "flit-app"
    pkg = ws / "src" / "flit_app"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""A tiny flit app."""\n__version__ = "0.1.0"\n')
    (ws / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["flit_core>=3.9,<4"]\nbuild-backend = "flit_core.buildapi"\n\n'
        '[project]\nname = "flit-app"\nversion = "0.1.0"\ndescription = "A tiny flit app."\n'
        'requires-python = ">=3.10"\ndependencies = ["packaging>=24"]\n\n'
        '[project.optional-dependencies]\ncli = ["click>=8"]\n\n' + _tool(),
        encoding="utf-8",
    )
    theirs = _copy(ws, tmp_path / "flit-copy")
    _uv(theirs, online, "sync", "--extra", "cli")
    expected = _versions(theirs / ".venv" / "bin" / "python", online)
    assert {"flit-app", "packaging", "click"} <= set(expected)

    _envlayers(ws, online, "sync", "--extra", "cli")
    assert _versions(ws / ".venv" / "bin" / "python", online) == expected
    where = _run(
        [str(ws / ".venv" / "bin" / "python"), "-c", "import flit_app as m; print(m.__file__)"],
        ws,
        online,
    )
    assert where.strip() == str(pkg / "__init__.py")  # editable, from the src layout

    layered = _envlayers(ws, online, "env", "--extra", "cli", "--with", "typer-slim")
    ours = _versions(layered["interpreter"], online)
    uv_run = _uv(
        theirs, online, "run", "--extra", "cli", "--with", "typer-slim", "python", "-c", _LIST
    )
    chosen = {k: v for k, v in json.loads(uv_run).items() if k not in _SEEDS}
    assert ours["typer-slim"] == chosen["typer-slim"]
    assert ours["click"] == chosen["click"] == expected["click"]  # the base's click is kept
    _run([layered["interpreter"], "-c", "import typer, click, flit_app"], ws, online)
