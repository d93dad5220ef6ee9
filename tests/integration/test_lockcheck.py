"""Lock freshness agrees with uv: every edit that makes `uv lock --check` fail is stale here,
every edit it accepts is current; a pylock.toml that misses a requirement is stale."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from envlayers.core.installer import IndexSettings
from envlayers.core.lockcheck import pylock_problem, uv_lock_problem
from tests.support.isolation import uv_bin

PYPROJECT = """\
[project]
name = "demo"
version = "0.1"
requires-python = ">=3.10"
dependencies = ["beta>=1.0"]

[dependency-groups]
dev = ["gamma"]
"""

# (edit, does uv call the lock stale?)
EDITS: dict[str, tuple[Callable[[str], str], bool]] = {
    "nothing": (lambda t: t, False),
    "comment": (lambda t: t + "# a comment\n", False),
    "add a dependency": (lambda t: t.replace('["beta>=1.0"]', '["beta>=1.0", "zeta"]'), True),
    "drop a dependency": (lambda t: t.replace('["beta>=1.0"]', "[]"), True),
    "tighten a specifier": (lambda t: t.replace("beta>=1.0", "beta>=2.0"), True),
    "change a group": (lambda t: t.replace('dev = ["gamma"]', 'dev = ["gamma", "zeta"]'), True),
    "requires-python": (lambda t: t.replace(">=3.10", ">=3.11"), True),
}


def _uv_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env.update(UV_NO_CONFIG="1", UV_CACHE_DIR=str(tmp / "uv-cache"), UV_PYTHON_DOWNLOADS="never")
    return env


def _locked_project(root: Path, wheelhouse: Path, tmp: Path) -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    cmd = [uv_bin(), "lock", "--no-index", "--find-links", str(wheelhouse), "--project", str(root)]
    done = subprocess.run(cmd, env=_uv_env(tmp), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return root


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_uv_lock_staleness_is_what_uv_says(edit: str, tmp_path: Path, wheelhouse: Path) -> None:
    root = _locked_project(tmp_path / "p", wheelhouse, tmp_path)
    change, stale = EDITS[edit]
    assert callable(change)
    path = root / "pyproject.toml"
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")
    check = [uv_bin(), "lock", "--check", "--project", str(root), "--no-index"]
    check += ["--find-links", str(wheelhouse)]
    uv_says = subprocess.run(check, env=_uv_env(tmp_path), capture_output=True, check=False)
    assert (uv_says.returncode != 0) is stale  # the fixture is what the table claims
    before = (root / "uv.lock").read_bytes()
    index = IndexSettings(find_links=(str(wheelhouse),), no_index=True)
    problem = uv_lock_problem(uv_bin(), root, index)
    assert (problem is not None) is stale, problem
    if problem is not None:
        assert "uv.lock" in problem and "pyproject.toml" in problem
    assert (root / "uv.lock").read_bytes() == before  # a check never writes the lock


PYLOCK = """\
lock-version = "1.0"
created-by = "hand"

[[packages]]
name = "beta"
version = "1.0"

[[packages.wheels]]
name = "beta-1.0-py3-none-any.whl"
url = "https://example.invalid/beta-1.0-py3-none-any.whl"
hashes = {sha256 = "%s"}
""" % ("0" * 64)


@pytest.mark.parametrize(
    ("requirements", "problem"),
    [
        (["beta"], None),
        (["beta>=1.0", "gamma; python_version < '3'"], None),  # a false marker asks nothing
        (["beta", "gamma"], "does not lock gamma"),
        (["beta>=2"], "locks beta 1.0, but pyproject.toml asks for beta>=2"),
    ],
)
def test_pylock_staleness(tmp_path: Path, requirements: list[str], problem: str | None) -> None:
    lock = tmp_path / "pylock.toml"
    lock.write_text(PYLOCK, encoding="utf-8")
    env = {"python_version": "3.12", "python_full_version": "3.12.1", "sys_platform": "linux"}
    found = pylock_problem(lock, requirements, env)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found
