"""The one rule (`core/owned.py`): envlayers removes or replaces only what it created, inside
the folders it manages, never through a link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envlayers.core.errors import InvalidInput, OperationFailed
from envlayers.core.owned import check_name, check_removable, is_owned, mark


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / ".envlayers").mkdir(parents=True)
    return root


def _venv(folder: Path) -> Path:
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "python").symlink_to("/usr/bin/python3")
    (folder / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.2\n", "utf-8")
    return folder


@pytest.mark.parametrize(
    "name", ["/home/me/.ssh", "../victim", "..", ".", "", "a/b", ".hidden", "x" * 65, "a\x00b"]
)
def test_names_from_files_are_plain_folder_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid composition name"):
        check_name(name)


@pytest.mark.parametrize("name", ["notebook", "with-0a1b2c3d", "py3.12_dev"])
def test_plain_names_pass(name: str) -> None:
    assert check_name(name) == name


def test_marked_folders_are_removable_unmarked_are_not(ws: Path) -> None:
    comp = ws / ".envlayers" / "notebook"
    comp.mkdir()
    with pytest.raises(OperationFailed, match="not an envlayers composition"):
        check_removable(comp, "composition", roots=[ws])
    mark(comp, "composition")
    check_removable(comp, "composition", roots=[ws])
    assert not is_owned(comp, "layer")  # a marker names one kind


def test_a_path_outside_the_roots_is_refused_whatever_it_holds(ws: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    mark(victim, "composition")  # even a folder that looks like ours
    for path in (victim, ws / ".envlayers" / ".." / ".." / "victim", ws, ws / ".envlayers" / ".."):
        with pytest.raises(OperationFailed, match="outside the folders envlayers manages"):
            check_removable(path, "composition", roots=[ws])


def test_a_symlinked_state_folder_cannot_lead_out(ws: Path, tmp_path: Path) -> None:
    docs = tmp_path / "Documents"
    (docs / "taxes").mkdir(parents=True)
    mark(docs / "taxes", "composition")
    os.rmdir(ws / ".envlayers")
    (ws / ".envlayers").symlink_to(docs)  # committed as a link
    with pytest.raises(OperationFailed, match="outside"):
        check_removable(ws / ".envlayers" / "taxes", "composition", roots=[ws])


def test_a_link_itself_is_never_replaced(ws: Path, tmp_path: Path) -> None:
    other = _venv(tmp_path / "elsewhere")
    (ws / ".venv").symlink_to(other)
    with pytest.raises(OperationFailed, match=r"outside|symbolic link"):
        check_removable(ws / ".venv", "base", roots=[ws])


def test_a_base_venv_made_before_markers_is_accepted_by_its_pyvenv_cfg(ws: Path) -> None:
    check_removable(_venv(ws / ".venv"), "base", roots=[ws])


@pytest.mark.parametrize("what", ["conda", "project", "empty"])
def test_a_folder_that_is_not_a_venv_is_never_a_base(ws: Path, what: str) -> None:
    folder = ws / ".venv"
    folder.mkdir()
    if what == "conda":
        (folder / "conda-meta").mkdir()
        (folder / "bin").mkdir()
        (folder / "bin" / "python").write_text("", "utf-8")
    elif what == "project":
        (folder / "pyproject.toml").write_text("[project]\n", "utf-8")
        (folder / ".git").mkdir()
    with pytest.raises(OperationFailed, match="not a virtual environment that envlayers created"):
        check_removable(folder, "base", roots=[ws])


def test_a_missing_folder_is_fine(ws: Path) -> None:
    check_removable(ws / ".envlayers" / "new", "composition", roots=[ws])
