"""One rule, enforced in one place: nothing in `envlayers` removes, renames or replaces a file or
folder except `core/fsutil.py`, and fsutil's removing functions ask `core/owned.py` first."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "server" / "envlayers"
FSUTIL = PACKAGE / "core" / "fsutil.py"
# Module functions that delete or move, and the methods of `Path` that do.
_QUALIFIED = {
    ("os", "remove"),
    ("os", "removedirs"),
    ("os", "rename"),
    ("os", "renames"),
    ("os", "replace"),
    ("os", "rmdir"),
    ("os", "unlink"),
    ("shutil", "move"),
    ("shutil", "rmtree"),
}
_METHODS = {"unlink", "rmdir", "rename"}


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        attr, owner = node.func.attr, node.func.value
        if isinstance(owner, ast.Name) and (owner.id, attr) in _QUALIFIED:
            found.append(f"{path.name}:{node.lineno}: {owner.id}.{attr}")
        elif attr in _METHODS and not (
            isinstance(owner, ast.Name) and owner.id in ("os", "shutil")
        ):
            found.append(f"{path.name}:{node.lineno}: .{attr}()")
    return sorted(found, key=lambda f: int(f.split(":")[1]))


def test_only_fsutil_removes_or_moves_anything() -> None:
    offences = [o for p in sorted(PACKAGE.rglob("*.py")) if p != FSUTIL for o in _offences(p)]
    assert offences == [], "\n".join(offences)


def test_the_check_above_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text(
        "import os, shutil\nfrom pathlib import Path\n"
        "shutil.rmtree('a')\nos.replace('a', 'b')\nPath('a').unlink()\n",
        encoding="utf-8",
    )
    found = _offences(sample)
    assert [f.rsplit(": ", 1)[1] for f in found] == ["shutil.rmtree", "os.replace", ".unlink()"]


def _calls(function: ast.FunctionDef) -> set[str]:
    return {
        n.func.id
        for n in ast.walk(function)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }


def test_every_removing_function_of_fsutil_asks_owned_first() -> None:
    tree = ast.parse(FSUTIL.read_text(encoding="utf-8"))
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "check_removable" in _calls(functions["swap_in"])
    assert "check_removable" in _calls(functions["remove_tree"])
    assert "check_inside" in _calls(functions["remove_file"])
    assert "remove_tree" in _calls(functions["discard"])
