"""The fast path shares its pieces with the full path, or is proven to match them: the
workspace lookup, the renderings, the snapshot, and it imports nothing heavy."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envlayers.core import fastpath, render
from envlayers.core.errors import InvalidInput
from envlayers.core.project import find_workspace
from envlayers.core.report import Report, SyncInfo
from envlayers.core.report import render as report_render
from envlayers.core.snapshot import Snapshot

SERVER = Path(__file__).resolve().parents[2] / "server" / "envlayers"

# -- find_root == project.find_workspace ------------------------------------------------------
_NAMES = st.sampled_from(["a", "b", "pyproject.toml", "c.txt"])
_TREE = st.lists(
    st.tuples(st.lists(_NAMES, min_size=1, max_size=4), st.sampled_from(["file", "dir"])),
    max_size=8,
)
_START = st.tuples(st.lists(_NAMES, max_size=5), st.booleans())


def _expected(start: str) -> str | None:
    try:
        return str(find_workspace(Path(start)))
    except InvalidInput:
        return None


@settings(max_examples=300, deadline=None)
@given(_TREE, _START)
def test_find_root_matches_find_workspace(
    tree: list[tuple[list[str], str]], start: tuple[list[str], bool]
) -> None:
    """Random folder trees with pyproject.toml files and folders at random depths, a random
    start (existing or not, a file, a folder, `pyproject.toml` itself), relative or absolute."""
    with tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp, "top")
        top.mkdir()
        for parts, kind in tree:
            path = top.joinpath(*parts)
            try:
                if kind == "dir":
                    path.mkdir(parents=True, exist_ok=True)
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.touch()
            except OSError:  # a file where a folder was asked for, or the reverse
                continue
        parts, relative = start
        target = top.joinpath(*parts)
        text = os.path.relpath(target) if relative else str(target)
        assert fastpath.find_root(text) == _expected(text)


# -- the renderings -----------------------------------------------------------------------------
_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_json_string_is_what_json_dumps_writes(text: str) -> None:
    assert render.json_string(text) == json.dumps(text)


def _report(workspace: str, name: str | None, prefix: list[str], extra: str) -> Report:
    return Report(
        workspace=workspace,
        interpreter=f"{workspace}/.venv/bin/python",
        base_interpreter="/usr/bin/python3",
        python_version="3.12.1",
        virtual_env=f"{workspace}/.venv",
        sys_path=(f"{workspace}/src", extra),
        path_prefix=tuple(prefix),
        layers=({"key": "k" * 8, "requirements": [extra], "packages": {extra: "1"}},),
        satisfied_by_base=(extra,),
        conflicts=(),
        sync=SyncInfo(state="in-sync", installed=(extra,)),
        name=name,
        warnings=(extra,),
    )


@settings(max_examples=150, deadline=None)
@given(_TEXT, st.one_of(st.none(), _TEXT), st.lists(_TEXT, max_size=3), _TEXT)
def test_a_stored_report_renders_like_the_full_path(
    workspace: str, name: str | None, prefix: list[str], extra: str
) -> None:
    """Every format of the fast path (a stored entry) equals `report.render` of the report."""
    report = _report(workspace, name, prefix, extra)
    with tempfile.TemporaryDirectory() as root:
        pyproject = os.path.join(root, "pyproject.toml")
        Path(pyproject).write_text("[project]\nname = 'x'\n")
        data = report.to_json()
        data.pop("env")
        fastpath.store(root, "k", [pyproject], fastpath.stat_all([pyproject]), data)
        entry = fastpath.lookup(root, "k")
        assert entry is not None
        for fmt in render.FORMATS:
            stored = render.render(entry["report"], fmt, entry["json"])
            assert stored == report_render(report, fmt), fmt


def test_launch_env_leaves_path_to_the_editor() -> None:
    env = render.launch_env("/ws/.venv", ["/ws/.envlayers/x/bin", "/ws/.venv/bin"])
    assert env == {
        "VIRTUAL_ENV": "/ws/.venv",
        "PATH": os.pathsep.join(["/ws/.envlayers/x/bin", "/ws/.venv/bin", "${env:PATH}"]),
    }


# -- the snapshot -------------------------------------------------------------------------------
def test_snapshot_sees_writes_appearances_and_removals(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("1")
    snap = Snapshot.take([str(a), str(b)])
    assert not snap.changed() and snap == Snapshot(snap.paths, snap.stats)
    b.write_text("new")
    assert snap.changed()
    snap = Snapshot.take([str(a), str(b)])
    a.unlink()
    assert snap.changed()
    with pytest.raises(AttributeError):
        snap.paths = ()
    with pytest.raises(ValueError, match="one stat per path"):
        Snapshot(["x"], [])


# -- one of each, and nothing heavy on the hot path ---------------------------------------------
def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def test_report_takes_its_renderers_from_render_not_from_the_fast_path() -> None:
    imports = _imports(SERVER / "core" / "report.py")
    assert "envlayers.core.render" in imports
    assert "envlayers.core.fastpath" not in imports


def test_the_fast_path_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "import envlayers._entry, envlayers.core.fastpath, envlayers.core.render\n"
        "heavy = ('re', 'json', 'typing', 'dataclasses', 'pathlib', 'argparse', 'hashlib')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stdout
