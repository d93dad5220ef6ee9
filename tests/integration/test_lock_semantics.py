"""Lock semantics like uv: a lock that no longer matches pyproject.toml is never "in sync".

By default a stale `uv.lock` is re-locked with uv (as `uv sync` does) and the new dependency
installed; `--locked` refuses a stale lock; `--frozen` installs the lock as it is and says
`out-of-sync` with the reason; a stale `pylock.toml` (which uv cannot re-lock) is refused
with how to regenerate it. Lock files are made by real `uv lock` / `uv export`, offline."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from envlayers.core.engine import Engine
from tests.support.cli import cli
from tests.support.disk import snapshot
from tests.support.isolation import uv_bin
from tests.support.workspaces import workspace

pytestmark = pytest.mark.slow

_VERSION = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"


def _uv(ws: Path, wheelhouse: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [uv_bin(), *args, "--offline", "--no-index", "--find-links", str(wheelhouse)]
    return subprocess.run(cmd, cwd=ws, capture_output=True, text=True, check=False)


def _locked(root: Path, installer: str, wheelhouse: Path) -> Path:
    ws = workspace(root, installer, wheelhouse, dependencies=("beta",), build_system=False)
    assert _uv(ws, wheelhouse, "lock").returncode == 0
    return ws


def _add_plugin(ws: Path, installer: str, wheelhouse: Path) -> None:
    workspace(ws, installer, wheelhouse, dependencies=("beta", "plugin"), build_system=False)


def _sync(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("sync", "--project", str(ws), "--format", "json", *args)


def _version(ws: Path, name: str) -> str | None:
    done = subprocess.run(
        [str(ws / ".venv" / "bin" / "python"), "-c", _VERSION, name],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def test_stale_uv_lock_is_relocked_and_installed(
    installer_name: str, tmp_path: Path, wheelhouse: Path
) -> None:
    ws = _locked(tmp_path / "ws", installer_name, wheelhouse)
    assert _sync(ws).returncode == 0
    _add_plugin(ws, installer_name, wheelhouse)
    stale = (ws / "uv.lock").read_text(encoding="utf-8")
    assert 'name = "plugin"' not in stale

    done = _sync(ws)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["sync"]["state"] == "in-sync" and "plugin==1.0" in report["sync"]["installed"]
    fresh = (ws / "uv.lock").read_text(encoding="utf-8")
    assert fresh != stale and 'name = "plugin"' in fresh  # uv.lock was rewritten
    assert _uv(ws, wheelhouse, "lock", "--check").returncode == 0  # uv agrees it is current
    assert _version(ws, "plugin") == "1.0" and _version(ws, "beta") == "1.0"
    assert Engine().report(ws).sync.state == "in-sync"


def test_locked_refuses_a_stale_uv_lock_and_changes_nothing(
    tmp_path: Path, wheelhouse: Path
) -> None:
    ws = _locked(tmp_path / "ws", "uv", wheelhouse)
    assert _sync(ws).returncode == 0
    assert _sync(ws, "--locked").returncode == 0  # a current lock passes --locked
    _add_plugin(ws, "uv", wheelhouse)
    lock, venv = (ws / "uv.lock").read_bytes(), snapshot(ws / ".venv")

    refused = _sync(ws, "--locked")

    assert refused.returncode == 2, refused.stderr
    assert "uv.lock" in refused.stderr and "--locked" in refused.stderr
    assert (ws / "uv.lock").read_bytes() == lock and snapshot(ws / ".venv") == venv
    assert _version(ws, "plugin") is None
    both = _sync(ws, "--locked", "--frozen")
    assert both.returncode == 2 and "together" in both.stderr


def test_frozen_installs_a_stale_uv_lock_as_it_is_and_says_out_of_sync(
    installer_name: str, tmp_path: Path, wheelhouse: Path
) -> None:
    ws = _locked(tmp_path / "ws", installer_name, wheelhouse)
    assert _sync(ws).returncode == 0
    _add_plugin(ws, installer_name, wheelhouse)
    lock = (ws / "uv.lock").read_bytes()

    for _ in range(3):  # the first run syncs, then the no-op path, then the CLI's fast path
        done = _sync(ws, "--frozen")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["sync"]["state"] == "out-of-sync"
        assert any("uv.lock needs to be updated" in w for w in report["warnings"]), report
    assert (ws / "uv.lock").read_bytes() == lock  # --frozen never re-locks
    assert _version(ws, "plugin") is None and _version(ws, "beta") == "1.0"
    again = Engine().report(ws)
    assert again.sync.state == "out-of-sync"
    assert any("uv.lock needs to be updated" in w for w in again.warnings)


def test_report_of_a_stale_lock_names_the_reason(tmp_path: Path, wheelhouse: Path) -> None:
    ws = _locked(tmp_path / "ws", "uv", wheelhouse)
    assert _sync(ws).returncode == 0
    _add_plugin(ws, "uv", wheelhouse)
    report = Engine().report(ws)
    assert report.sync.state == "out-of-sync"
    assert any("uv.lock needs to be updated" in w for w in report.warnings), report.warnings


def test_edit_after_a_stored_sync_is_not_answered_by_the_fast_path(
    tmp_path: Path, wheelhouse: Path
) -> None:
    ws = _locked(tmp_path / "ws", "uv", wheelhouse)
    assert _sync(ws).returncode == 0
    assert _sync(ws).returncode == 0  # stored for the fast path
    _add_plugin(ws, "uv", wheelhouse)
    done = _sync(ws)
    assert done.returncode == 0, done.stderr
    assert "plugin==1.0" in json.loads(done.stdout)["sync"]["installed"]
    assert _version(ws, "plugin") == "1.0"


def test_noop_sync_of_a_locked_project_runs_no_lock_check(
    tmp_path: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _locked(tmp_path / "ws", "uv", wheelhouse)
    Engine().sync(ws)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a process was spawned: {args!r}")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    assert Engine().sync(ws).sync.state == "in-sync"


def _pylocked(root: Path, installer: str, wheelhouse: Path) -> Path:
    """A project whose lock is a pylock.toml exported by uv (uv.lock then removed)."""
    ws = _locked(root, installer, wheelhouse)
    out = _uv(ws, wheelhouse, "export", "--format", "pylock.toml", "-o", "pylock.toml")
    assert out.returncode == 0, out.stderr
    os.unlink(ws / "uv.lock")
    return ws


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_stale_pylock_is_refused_frozen_installs_it(
    installer: str, tmp_path: Path, wheelhouse: Path
) -> None:
    ws = _pylocked(tmp_path / "ws", installer, wheelhouse)
    first = _sync(ws)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["sync"]["state"] == "in-sync"
    _add_plugin(ws, installer, wheelhouse)
    lock, venv = (ws / "pylock.toml").read_bytes(), snapshot(ws / ".venv")

    for args in ((), ("--locked",)):
        refused = _sync(ws, *args)
        assert refused.returncode == 2, refused.stderr
        assert "pylock.toml" in refused.stderr and "plugin" in refused.stderr
        assert "--frozen" in refused.stderr and "uv export" in refused.stderr
        assert snapshot(ws / ".venv") == venv
    assert Engine().report(ws).sync.state == "out-of-sync"

    frozen = _sync(ws, "--frozen")
    assert frozen.returncode == 0, frozen.stderr
    report = json.loads(frozen.stdout)
    assert report["sync"]["state"] == "out-of-sync"
    assert any("does not lock plugin" in w for w in report["warnings"]), report["warnings"]
    assert (ws / "pylock.toml").read_bytes() == lock
    assert _version(ws, "plugin") is None and _version(ws, "beta") == "1.0"
