"""Issue 10: one `CacheLayout` owns every cache path, so an engine's own cache dir (the
server's `cacheDir` setting) moves the interpreter probes with the layers; and the one swap."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from envlayers.config import Options
from envlayers.core.engine import Engine
from envlayers.core.fsutil import swap_in
from envlayers.core.owned import MARKER, mark
from tests.support.workspaces import workspace


def _probed(folder: Path) -> set[str]:
    out: set[str] = set()
    for entry in folder.glob("*.json") if folder.is_dir() else ():
        out.add(str(json.loads(entry.read_text(encoding="utf-8")).get("executable")))
    return out


def test_an_engine_with_its_own_cache_dir_keeps_its_probes_there(
    tmp_path: Path, wheelhouse: Path, envlayers_cache: Path
) -> None:
    ws = workspace(tmp_path / "ws", "uv", wheelhouse, dependencies=("beta",))
    own = tmp_path / "own-cache"
    report = Engine(cache_dir=own).compose(ws, Options(with_=("plugin",)))
    base_python = os.path.abspath(report.base_interpreter)
    assert base_python in _probed(own / "probes" / "v1")
    assert base_python not in _probed(envlayers_cache / "probes" / "v1")
    assert str(report.layers[0]["path"]).startswith(str(own / "layers" / "v1"))


def test_swap_in_replaces_a_folder_and_leaves_nothing_aside(tmp_path: Path) -> None:
    dest, new = tmp_path / "env", tmp_path / ".env.tmp"
    dest.mkdir()
    (dest / "old").write_text("old", encoding="utf-8")
    mark(dest, "build")
    new.mkdir()
    (new / "new").write_text("new", encoding="utf-8")
    mark(new, "build")
    swap_in(new, dest, kind="build", roots=[tmp_path])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["env"]
    assert sorted(p.name for p in dest.iterdir()) == [MARKER, "new"]


def test_swap_in_puts_the_old_one_back_when_the_new_one_cannot_move_in(tmp_path: Path) -> None:
    dest = tmp_path / "env"
    dest.mkdir()
    (dest / "old").write_text("old", encoding="utf-8")
    mark(dest, "build")
    with pytest.raises(OSError):
        swap_in(tmp_path / "missing", dest, kind="build", roots=[tmp_path])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["env"]
    assert (dest / "old").read_text(encoding="utf-8") == "old"
