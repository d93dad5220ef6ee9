"""Issue 12, item 8: a uv workspace (`[tool.uv.workspace] members`, globs, `exclude`) has one
`.venv` at its root, shared by its members.

From a member's folder envlayers finds the root (past the member's own pyproject.toml), syncs
what `uv sync` would sync there (that member, `--package NAME`, `--all-packages`), installs the
members editable and composes over that one base. The lock is made by real `uv lock
--no-index --find-links`, and each installed set is compared with what real `uv sync` installs
from the same wheelhouse into a copy of the same workspace.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from envlayers._entry import _try_fast, fast_options
from envlayers.core.locate import find_workspace_str
from tests.support.cli import cli, run_in
from tests.support.isolation import find_pythons, uv_bin
from tests.support.projects import write_project
from tests.support.workspaces import BASE_PYTHON, tool_table

pytestmark = pytest.mark.slow

_SEEDS = {"pip", "setuptools", "wheel"}
_LIST = (
    "import importlib.metadata as m, json, pathlib\n"
    "out = {}\n"
    "for d in m.distributions():\n"
    "    raw = d.read_text('direct_url.json')\n"
    "    editable = bool(raw and json.loads(raw).get('dir_info', {}).get('editable'))\n"
    "    out[d.metadata['Name']] = [d.version, editable]\n"
    "print(json.dumps(out))\n"
)


def _monorepo(root: Path, wheelhouse: Path, *, virtual: bool = False) -> Path:
    members = (
        "[tool.uv.workspace]\n"
        'members = ["packages/*"]\n'
        'exclude = ["packages/lone"]\n\n'
        "[tool.uv.sources]\n"
        "lib-a = { workspace = true }\n"
    )
    tool = tool_table("uv", wheelhouse)
    if virtual:
        root.mkdir(parents=True)
        (root / "pyproject.toml").write_text(
            f'{members}\n[dependency-groups]\ndev = ["zeta"]\n\n{tool}', encoding="utf-8"
        )
    else:
        write_project(
            root,
            name="ws-root",
            dependencies=["lib-a", "epsilon"],
            groups={"dev": ["zeta"]},
            tool=tool,
            extra_toml=members,
        )
    write_project(
        root / "packages" / "a",
        name="lib-a",
        dependencies=["alpha==1.0"],
        optional={"fancy": ["delta[fancy]"]},
        groups={"dev": ["plugin"]},
    )
    write_project(
        root / "packages" / "b",
        name="app-b",
        dependencies=["beta", "lib-a"],
        extra_toml="[tool.uv.sources]\nlib-a = { workspace = true }\n",
    )
    write_project(root / "packages" / "lone", name="lone-c", dependencies=["gamma"])
    (root / "packages" / "b" / "src" / "app_b" / "tool.py").write_text("print('b')\n")
    _uv(root, wheelhouse, "lock")
    return root


def _uv(cwd: Path, wheelhouse: Path, *args: str) -> None:
    python = next(str(p) for p in find_pythons() if f"/{BASE_PYTHON}." in str(p))
    cmd = [uv_bin(), *args, "--no-index", "--find-links", str(wheelhouse), "--python", python]
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False, timeout=300)
    assert out.returncode == 0, out.stderr


def _installed(venv: Path) -> dict[str, list[Any]]:
    out = run_in(str(venv / "bin" / "python"), _LIST)
    assert out.returncode == 0, out.stderr
    found: dict[str, list[Any]] = json.loads(out.stdout)
    return {k: v for k, v in found.items() if k not in _SEEDS}


def _uv_sync_set(ws: Path, wheelhouse: Path, tmp: Path, where: str, *args: str) -> dict[str, Any]:
    """What real `uv sync ARGS` installs, run in `where` of a fresh copy of the workspace."""
    copy = tmp / f"uv-copy-{len(list(tmp.glob('uv-copy-*')))}"
    shutil.copytree(ws, copy, ignore=shutil.ignore_patterns(".venv", ".envlayers"))
    _uv(copy / where, wheelhouse, "sync", *args)
    # Editable members point into the copy: compare names, versions and editable-ness.
    return _installed(copy / ".venv")


def _sync(ws: Path, where: str, *args: str) -> dict[str, Any]:
    out = cli("sync", "--format", "json", *args, cwd=ws / where)
    assert out.returncode == 0, out.stderr
    report: dict[str, Any] = json.loads(out.stdout)
    return report


def test_a_member_folder_finds_the_root_and_an_excluded_one_stands_alone(
    tmp_path: Path, wheelhouse: Path
) -> None:
    ws = _monorepo(tmp_path / "ws", wheelhouse)
    assert find_workspace_str(str(ws / "packages" / "b" / "src" / "app_b")) == str(ws)
    assert find_workspace_str(str(ws / "packages" / "a")) == str(ws)
    assert find_workspace_str(str(ws / "packages" / "lone")) == str(ws / "packages" / "lone")
    # A project under the root that no `members` glob names is not a member either.
    write_project(ws / "tools" / "d", name="tool-d", build_system=False)
    assert find_workspace_str(str(ws / "tools" / "d")) == str(ws / "tools" / "d")


@pytest.mark.parametrize(
    ("where", "args"),
    [
        ("packages/b", ()),  # from a member: that member, as `--package app-b`
        (".", ()),  # at the root: the root project
        (".", ("--package", "lib-a")),
        ("packages/b", ("--all-packages",)),
    ],
    ids=["member", "root", "package", "all-packages"],
)
def test_sync_installs_what_uv_sync_installs(
    tmp_path: Path, wheelhouse: Path, where: str, args: tuple[str, ...]
) -> None:
    ws = _monorepo(tmp_path / "ws", wheelhouse)
    report = _sync(ws, where, *args)
    assert report["sync"]["state"] == "in-sync"
    assert not (ws / where / ".venv").exists() or where == "."  # one .venv, at the root
    ours = _installed(ws / ".venv")
    assert ours == _uv_sync_set(ws, wheelhouse, tmp_path, where, *args)
    # The members are editable from their folders.
    if "app-b" in ours:
        out = run_in(str(ws / ".venv" / "bin" / "python"), "import app_b; print(app_b.WHERE)")
        assert out.stdout.strip() == str(ws / "packages/b/src/app_b/__init__.py"), out.stderr


def test_sync_without_a_lock_and_a_virtual_root(tmp_path: Path, wheelhouse: Path) -> None:
    ws = _monorepo(tmp_path / "ws", wheelhouse, virtual=True)
    expected = _uv_sync_set(ws, wheelhouse, tmp_path, ".")
    assert {"app-b", "lib-a", "plugin", "zeta"} <= set(expected)  # every member, their groups
    (ws / "uv.lock").unlink()  # resolved from the members' pyproject.toml files instead
    _sync(ws, ".")
    assert _installed(ws / ".venv") == expected
    member = _sync(ws, "packages/a", "--exact")  # uv sync is exact; envlayers when asked
    assert _installed(ws / ".venv") == _uv_sync_set(ws, wheelhouse, tmp_path, "packages/a")
    assert member["sync"]["state"] == "in-sync"


def test_compose_over_the_one_base_from_a_member(
    tmp_path: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _monorepo(tmp_path / "ws", wheelhouse)
    member = ws / "packages" / "b"
    out = cli("env", "--with", "plugin", "--format", "json", cwd=member)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["workspace"] == str(ws) and not (member / ".venv").exists()
    assert report["interpreter"].startswith(str(ws / ".envlayers"))
    code = "import app_b, lib_a, alpha, plugin; print(alpha.__version__, app_b.WHERE)"
    run = run_in(report["interpreter"], code)
    assert run.stdout.split() == ["1.0", str(member / "src/app_b/__init__.py")], run.stderr
    # Two members of one workspace never share a stored (fast path) report; each has its own.
    a = cli("sync", "--format", "json", cwd=ws / "packages" / "a")
    assert a.returncode == 0, a.stderr
    monkeypatch.chdir(ws / "packages" / "a")
    fast = _try_fast(
        fast_options(["sync", "--format", "json"])
    )  # a no-op now: the stored report answers
    assert fast is not None and json.loads(fast)["sync"]["installed"] == []
    assert _try_fast(fast_options(["sync", "--format", "json", "--project", str(member)])) is None
    b = cli("sync", "--format", "json", "--project", str(member), cwd=ws / "packages" / "a")
    assert b.returncode == 0, b.stderr
    assert (
        _try_fast(fast_options(["sync", "--format", "json", "--project", str(member)])) is not None
    )
    assert "app-b" in _installed(ws / ".venv")
    # A group no synced member defines is refused, as uv does.
    nogroup = cli("sync", "--group", "docs", cwd=member)
    assert nogroup.returncode == 2 and "docs" in nogroup.stderr
    # --package of something that is not a member is refused, and names the members.
    bad = cli("sync", "--package", "nope", cwd=member)
    assert bad.returncode == 2 and "lib-a" in bad.stderr and "app-b" in bad.stderr
    lone = cli("sync", "--package", "x", cwd=ws / "packages" / "lone")
    assert lone.returncode == 2 and "uv workspace" in lone.stderr
