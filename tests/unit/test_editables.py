"""`core.editables.store` keeps only what lies inside the venv: a RECORD row reached through a
folder linked out of site-packages (a build backend can write one) is not copied anywhere."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from envlayers.core.editables import entry_for, store
from envlayers.core.paths import CacheLayout


def _editable(site: Path, root: Path, rows: list[str]) -> None:
    info = site / "demo_app-0.1.0.dist-info"
    info.mkdir(parents=True)
    url = {"url": root.resolve().as_uri(), "dir_info": {"editable": True}}
    (info / "direct_url.json").write_text(json.dumps(url), encoding="utf-8")
    (info / "METADATA").write_text("Name: demo-app\nVersion: 0.1.0\n", encoding="utf-8")
    lines = [*rows, "demo_app-0.1.0.dist-info/METADATA,,", "demo_app-0.1.0.dist-info/RECORD,,"]
    (info / "RECORD").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX links")
def test_a_file_reached_through_a_link_out_of_the_venv_is_not_kept(tmp_path: Path) -> None:
    root, venv = tmp_path / "ws", tmp_path / "ws" / ".venv"
    site = venv / "lib" / "python3.12" / "site-packages"
    (venv / "bin").mkdir(parents=True)
    root.mkdir(exist_ok=True)
    secret = tmp_path / "home" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("do not copy me\n", encoding="utf-8")
    _editable(site, root, ["demo_app.pth,,", "out/secret.txt,,"])
    (site / "demo_app.pth").write_text(f"{root}/src\n", encoding="utf-8")
    os.symlink(secret.parent, site / "out")
    layout = CacheLayout(tmp_path / "cache")
    store(layout, "k" * 64, site, venv / "bin" / "python", root, "demo-app")
    assert not entry_for(layout, root).exists()
    # The same install without the link is kept: the refusal above is the link's doing.
    (site / "out").unlink()
    record = site / "demo_app-0.1.0.dist-info" / "RECORD"
    record.write_text("demo_app.pth,,\ndemo_app-0.1.0.dist-info/METADATA,,\n", encoding="utf-8")
    store(layout, "k" * 64, site, venv / "bin" / "python", root, "demo-app")
    kept = json.loads((entry_for(layout, root) / "meta.json").read_text(encoding="utf-8"))
    assert sorted(kept["files"]) == ["site/demo_app-0.1.0.dist-info/METADATA", "site/demo_app.pth"]
