"""`find_workspace` and `find_workspace_str` agree with each other and with a model of the walk.

Random folder trees: some folders hold a `pyproject.toml` file, some a `pyproject.toml` folder
(which does not count); the walk starts at a folder, a file, a path that does not exist or a
`pyproject.toml` that does not exist. The model works on the generated relative paths only.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envlayers.core.errors import InvalidInput
from envlayers.core.locate import PYPROJECT, find_workspace, find_workspace_str
from envlayers.core.project import find_workspace as reexported

Rel = tuple[str, ...]

_names = st.sampled_from(["a", "b", "c"])
_folders = st.lists(st.lists(_names, min_size=0, max_size=4).map(tuple), min_size=1, max_size=8)
_kinds = st.sampled_from(["folder", "file", "ghost", "ghost-pyproject", "trailing-slash"])


def _closure(folders: list[Rel]) -> set[Rel]:
    return {f[:i] for f in folders for i in range(len(f) + 1)}


def _model(start_folder: Rel, projects: set[Rel]) -> Rel | None:
    for depth in range(len(start_folder), -1, -1):
        if start_folder[:depth] in projects:
            return start_folder[:depth]
    return None


def _outside_has_project(root: str) -> bool:
    folder = os.path.dirname(root)
    while True:
        if os.path.isfile(os.path.join(folder, PYPROJECT)):
            return True
        parent = os.path.dirname(folder)
        if parent == folder:
            return False
        folder = parent


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), folders=_folders, kind=_kinds)
def test_find_workspace_agrees_on_random_trees(
    data: st.DataObject, folders: list[Rel], kind: str
) -> None:
    tree = sorted(_closure(folders))
    projects = set(data.draw(st.lists(st.sampled_from(tree), unique=True)))
    decoys = set(data.draw(st.lists(st.sampled_from(tree), unique=True))) - projects
    at = data.draw(st.sampled_from(tree))
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.realpath(tmp)
        if _outside_has_project(root):
            pytest.skip("a pyproject.toml above the temporary folder")
        for rel in tree:
            os.makedirs(os.path.join(root, *rel), exist_ok=True)
        for rel in projects:
            Path(root, *rel, PYPROJECT).write_text("[project]\n", encoding="utf-8")
        for rel in decoys:  # a folder named pyproject.toml is not a project file
            os.makedirs(os.path.join(root, *rel, PYPROJECT), exist_ok=True)
        start_folder: Rel = at
        if kind == "file":
            Path(root, *at, "module.py").write_text("", encoding="utf-8")
            start = os.path.join(root, *at, "module.py")
        elif kind == "ghost":
            start = os.path.join(root, *at, "ghost")
            start_folder = (*at, "ghost")
        elif kind == "ghost-pyproject":
            start = os.path.join(root, *at, PYPROJECT)
            if at in decoys:  # an existing folder named pyproject.toml is a folder to start in
                start_folder = (*at, PYPROJECT)
        elif kind == "trailing-slash":
            start = os.path.join(root, *at) + os.sep
        else:
            start = os.path.join(root, *at)

        want = _model(start_folder, projects)
        expected = None if want is None else os.path.join(root, *want)
        assert find_workspace_str(start) == expected
        if expected is None:
            with pytest.raises(InvalidInput, match=r"no pyproject\.toml found"):
                find_workspace(Path(start))
        else:
            assert find_workspace(Path(start)) == Path(expected)
            assert reexported(Path(start)) == Path(expected)


def test_find_workspace_str_imports_only_the_standard_library() -> None:
    """The fast path imports this module first: no packaging, tomllib or pathlib pulled in."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import envlayers.core.locate\n"
        "new = set(sys.modules) - before\n"
        "bad = sorted(m for m in new if m.split('.')[0] in ('packaging', 'tomllib', 'pathlib'))\n"
        "print(bad)\n"
    )
    server = str(Path(__file__).resolve().parents[2] / "server")
    env = {**os.environ, "PYTHONPATH": server}
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {server!r})\n{code}"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert out.stdout.strip() == "[]"
