"""The one rule: envlayers deletes or replaces only what it created.

Every folder envlayers makes (a base venv, a composition, a layer, a temporary build folder)
carries a marker file naming its kind. Before anything is moved aside, emptied or deleted,
`check_removable` proves three things, and refuses with a message naming the folder and what
to do otherwise:
- the path stays inside the folders envlayers may touch (the workspace's venv and
  `.envlayers/`, the cache), after resolving every link on the way: a name read from a file
  (`../victim`, `/home/me/.ssh`) or a committed symlink cannot lead elsewhere;
- it is not itself a symbolic link (envlayers never follows one to delete what is behind it);
- it holds envlayers' marker for that kind (a base venv made before markers existed is
  accepted by a valid `pyvenv.cfg` of a virtual environment, as uv accepts one).
Names that come from files (compositions, profiles, kernels) must match `SAFE_NAME`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from envlayers.core.errors import InvalidInput, OperationFailed

__all__ = [
    "MARKER",
    "SAFE_NAME",
    "Kind",
    "check_inside",
    "check_name",
    "check_removable",
    "is_owned",
    "mark",
]

Kind = Literal["base", "composition", "layer", "build", "kernel", "dist-info"]
MARKER = ".envlayers-owned"
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Records that envlayers wrote before markers existed: they vouch for the folder too.
_LEGACY = {"composition": "envlayers-composition.json", "layer": "envlayers-layer.json"}


def check_name(name: str, what: str = "composition") -> str:
    """`name` when it is a plain folder name (no separators, no `..`, no leading dot)."""
    if not isinstance(name, str) or not SAFE_NAME.match(name) or ".." in name:
        raise InvalidInput(
            f"invalid {what} name {str(name)[:80]!r}: use letters, digits, '.', '_' and '-'"
        )
    return name


def mark(folder: Path, kind: Kind) -> None:
    """Write the marker that lets envlayers replace or remove `folder` later."""
    (folder / MARKER).write_text(json.dumps({"format": 1, "kind": kind}) + "\n", "utf-8")


def is_owned(folder: Path, kind: Kind) -> bool:
    """Whether `folder` (not a link) carries envlayers' marker for `kind`."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    try:
        data = json.loads((folder / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict) and data.get("kind") == kind:
        return True
    legacy = _LEGACY.get(kind)
    if legacy is not None and _is_json_object(folder / legacy):
        return True
    if kind == "kernel":
        return _is_our_kernelspec(folder)
    if kind == "dist-info":  # an installer's metadata folder in a site dir of our venv
        return folder.name.endswith(".dist-info") and folder.parent.name == "site-packages"
    return kind == "base" and _is_virtualenv(folder)


def check_inside(path: Path, roots: Sequence[Path]) -> Path:
    """`path` with every link of its parent resolved, when it lies strictly inside one of
    `roots` (the anchors: a workspace folder, the cache root; never a folder below them that
    a repository could have committed as a link)."""
    # The parent fully resolved, the last part not followed ('..' and '.' folded lexically).
    real = Path(os.path.normpath(os.path.join(os.path.realpath(path.parent), path.name)))
    for root in roots:
        top = os.path.realpath(root)
        if os.path.commonpath([top, str(real)]) == top and str(real) != top:
            return real
    shown = ", ".join(str(r) for r in roots)
    raise OperationFailed(
        f"refusing to touch {path}: it is outside the folders envlayers manages ({shown})"
    )


def check_removable(path: Path, kind: Kind, *, roots: Sequence[Path]) -> None:
    """Raise unless envlayers may move aside, empty or delete `path` (see the module doc)."""
    real = check_inside(path, roots)
    if real.is_symlink():
        raise OperationFailed(
            f"refusing to replace {path}: it is a symbolic link (to {os.readlink(real)}); "
            "remove the link yourself if envlayers should create the folder"
        )
    if not real.exists():
        return
    if not is_owned(real, kind):
        what = "a virtual environment" if kind == "base" else f"an envlayers {kind}"
        raise OperationFailed(
            f"refusing to replace {path}: it is not {what} that envlayers created; "
            "move it away or point envlayers at another folder"
        )


def _is_our_kernelspec(folder: Path) -> bool:
    """A kernelspec envlayers wrote before markers: `metadata.envlayers` in its kernel.json."""
    try:
        data = json.loads((folder / "kernel.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    meta = data.get("metadata") if isinstance(data, dict) else None
    return isinstance(meta, dict) and isinstance(meta.get("envlayers"), dict)


def _is_json_object(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_text("utf-8")), dict)
    except (OSError, ValueError):
        return False


def _is_virtualenv(folder: Path) -> bool:
    """A `pyvenv.cfg` with a `home` key beside an interpreter: a venv, not a conda prefix or
    a project folder."""
    try:
        text = (folder / "pyvenv.cfg").read_text("utf-8", "replace")
    except OSError:
        return False
    keys = {line.partition("=")[0].strip().lower() for line in text.splitlines() if "=" in line}
    if "home" not in keys:
        return False
    return any(os.path.lexists(folder / sub) for sub in ("bin/python", "Scripts/python.exe"))
