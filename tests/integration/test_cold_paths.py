"""Each thing once: what one command did is not redone or voided by the next one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from envlayers.core import probe as interpreter
from envlayers.core.layers import LAYER_META
from tests.support.cli import cli
from tests.support.workspaces import workspace

pytestmark = pytest.mark.slow


@pytest.fixture
def ws(tmp_path: Path, wheelhouse: Path) -> Path:
    return workspace(tmp_path / "ws", "uv", wheelhouse, dependencies=("beta",))


def _stat(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns, st.st_size


def test_alternating_no_sync_stays_on_the_fast_path(ws: Path) -> None:
    with_sync: tuple[str, ...] = (
        "env",
        "--project",
        str(ws),
        "--with",
        "plugin",
        "--format",
        "json",
    )
    without = (*with_sync, "--no-sync")
    reports = []
    for args in (with_sync, without):  # each stored once (the slow path)
        proc = cli(*args)
        assert proc.returncode == 0, proc.stderr
        reports.append(json.loads(proc.stdout))
    stored = ws / ".envlayers" / "report-cache.bin"
    active = ws / ".envlayers" / "active.json"
    meta = Path(str(reports[0]["layers"][0]["path"])) / LAYER_META
    seen = (_stat(stored), _stat(active), _stat(meta))
    for _ in range(2):
        for args, first in zip((with_sync, without), reports, strict=True):
            proc = cli(*args)
            assert proc.returncode == 0, proc.stderr
            assert json.loads(proc.stdout)["interpreter"] == first["interpreter"]
    # Every call after a switch was answered from the stored report: a slow-path call would
    # have stored its report again (and rewritten active.json, touched the layer's metadata).
    assert (_stat(stored), _stat(active), _stat(meta)) == seen


def test_a_first_sync_runs_no_probe_of_the_venv_it_wrote(ws: Path) -> None:
    proc = cli("sync", "--project", str(ws), "-vv")
    assert proc.returncode == 0, proc.stderr
    venv_python = ws / ".venv" / "bin" / "python"
    # -vv logs every process started: the venv's python never runs the probe script.
    probes = [ln for ln in proc.stderr.splitlines() if "run:" in ln and "_probe.py" in ln]
    assert not [ln for ln in probes if str(venv_python) in ln], probes
    assert f"described {venv_python} from its interpreter" in proc.stderr
    # And what it described is what the venv's python says of itself.
    info = interpreter.probe(venv_python)
    assert info == interpreter._run_probe(str(venv_python), info.identity)
