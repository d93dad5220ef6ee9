"""The project's editable install is kept once built: a new workspace venv of the same project,
interpreter and installer gets it by copy, without running the build backend again, and it
works as the installer's own (imports follow the source, console scripts run with the new
venv's interpreter, RECORD true). A changed `pyproject.toml`, dynamic metadata or a damaged
cache entry means a real build, as before."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from envlayers.core.editables import entry_for
from envlayers.core.paths import CacheLayout
from tests.support.cli import cli, run_in
from tests.support.disk import snapshot
from tests.support.workspaces import workspace

pytestmark = pytest.mark.slow

_COUNTING = """

_envlayers_test_build_editable = build_editable


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    with open(os.path.join(ROOT, "editable-builds.log"), "a") as fh:
        fh.write("built\\n")
    return _envlayers_test_build_editable(wheel_directory, config_settings, metadata_directory)


_envlayers_test_metadata_files = _metadata_files


def _metadata_files():
    entry = b"[console_scripts]\\ndemo-tool = demo_app:main\\n"
    return _envlayers_test_metadata_files() + [(DIST_INFO + "/entry_points.txt", entry)]
"""


def _project(tmp_path: Path, installer: str, wheelhouse: Path) -> Path:
    ws = workspace(tmp_path / "ws", installer, wheelhouse, dependencies=("beta",))
    backend = ws / "_backend" / "tinybackend.py"
    backend.write_text(backend.read_text(encoding="utf-8") + _COUNTING, encoding="utf-8")
    init = ws / "src" / "demo_app" / "__init__.py"
    init.write_text(
        init.read_text(encoding="utf-8")
        + "\n\ndef main():\n    import sys\n    print('demo-tool', sys.executable)\n",
        encoding="utf-8",
    )
    return ws


def _builds(ws: Path) -> int:
    log = ws / "editable-builds.log"
    return len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0


def _new_venv_sync(ws: Path) -> subprocess.CompletedProcess[str]:
    shutil.rmtree(ws / ".venv", ignore_errors=True)
    result = cli("sync", "--project", str(ws), "--format", "json")
    assert result.returncode == 0, result.stderr
    return result


def _site(ws: Path) -> Path:
    (site,) = (ws / ".venv" / "lib").glob("python3.*/site-packages")
    return site


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def _check_installed(ws: Path) -> None:
    venv, site = ws / ".venv", _site(ws)
    out = run_in(venv / "bin" / "python", "import demo_app, beta; print(demo_app.WHERE)")
    assert out.returncode == 0 and str(ws / "src") in out.stdout, out.stderr
    tool = subprocess.run([str(venv / "bin" / "demo-tool")], capture_output=True, text=True)
    assert tool.stdout.split() == ["demo-tool", str(venv / "bin" / "python")], tool.stderr
    (info,) = site.glob("demo_app-*.dist-info")
    direct = json.loads((info / "direct_url.json").read_text(encoding="utf-8"))
    assert direct == {"url": ws.resolve().as_uri(), "dir_info": {"editable": True}}
    with open(info / "RECORD", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    for row in rows:
        if row[1]:  # every file RECORD vouches for is there, as it says
            data = (site / row[0]).resolve().read_bytes()
            assert row[1] == _record_hash(data) and row[2] == str(len(data)), row[0]
    for path in venv.rglob("*"):  # nothing names a folder it was built in
        if path.is_file() and not path.is_symlink() and path.suffix != ".pyc":
            assert b".venv.tmp-" not in path.read_bytes(), path


def test_a_new_venv_gets_the_kept_editable_without_a_build(
    tmp_path: Path, installer_name: str, wheelhouse: Path
) -> None:
    ws = _project(tmp_path, installer_name, wheelhouse)
    _new_venv_sync(ws)
    assert _builds(ws) == 1
    _check_installed(ws)
    _new_venv_sync(ws)  # a new venv: the editable comes from the cache
    assert _builds(ws) == 1
    _check_installed(ws)
    # Still an editable install: the source is imported where it is.
    init = ws / "src" / "demo_app" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + "NEW = 7\n", encoding="utf-8")
    out = run_in(ws / ".venv" / "bin" / "python", "import demo_app; print(demo_app.NEW)")
    assert out.stdout.strip() == "7", out.stderr
    # A new dependency changes the project's metadata: built again, and the new one is there.
    pyproject = ws / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace('["beta"]', '["beta", "gamma"]'), encoding="utf-8")
    _new_venv_sync(ws)
    assert _builds(ws) == 2
    assert run_in(ws / ".venv" / "bin" / "python", "import gamma").returncode == 0
    _check_installed(ws)


def test_a_damaged_kept_editable_is_built_again(
    tmp_path: Path, installer_name: str, wheelhouse: Path
) -> None:
    ws = _project(tmp_path, installer_name, wheelhouse)
    _new_venv_sync(ws)
    kept = [p for p in CacheLayout.at().editables.rglob("*.pth")]
    (pth,) = [p for p in kept if p.read_text(encoding="utf-8").startswith(str(ws))]
    pth.write_text("/somewhere/else\n", encoding="utf-8")
    result = _new_venv_sync(ws)
    assert _builds(ws) == 2
    assert "building it again" in result.stderr
    _check_installed(ws)
    assert not list(_site(ws).glob("*.pth.tmp*"))


def test_dynamic_metadata_is_never_kept(
    tmp_path: Path, installer_name: str, wheelhouse: Path
) -> None:
    ws = _project(tmp_path, installer_name, wheelhouse)
    pyproject = ws / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace("[project]\n", '[project]\ndynamic = ["readme"]\n'), "utf-8")
    _new_venv_sync(ws)
    _new_venv_sync(ws)
    assert _builds(ws) == 2
    _check_installed(ws)


def test_a_kept_entry_naming_paths_outside_the_venv_writes_nothing(
    tmp_path: Path, wheelhouse: Path
) -> None:
    ws = _project(tmp_path, "uv", wheelhouse)
    _new_venv_sync(ws)
    meta_path = entry_for(CacheLayout.at(), ws) / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine\n", encoding="utf-8")
    before = snapshot(tmp_path, skip=[ws])
    # The cache is input like any other: an entry that climbs out of the venv is refused whole.
    digest = next(iter(meta["files"].values()))
    meta["files"]["site/../../../../../outside/evil.pth"] = digest
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    result = _new_venv_sync(ws)
    assert "building it again" in result.stderr and _builds(ws) == 2
    assert snapshot(tmp_path, skip=[ws]) == before
    _check_installed(ws)
