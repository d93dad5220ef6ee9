"""A signal to envlayers stops the installer's whole process tree: nothing outlives envlayers.

The installer runs in its own session (so a terminal's Ctrl-C cannot tear an install in half
behind envlayers' back); that also means a SIGTERM to envlayers alone would orphan it, and the
next sync would run a second installer on the same venv at the same time.
"""

from __future__ import annotations

import signal
from pathlib import Path

import psutil
import pytest

from envlayers.core.engine import Engine
from tests.support.cli import run_in
from tests.support.disk import leftovers, published
from tests.support.lsp import SlowPackage, slow_package
from tests.support.processes import running, spawn, wait_until
from tests.support.workspaces import workspace

pytestmark = pytest.mark.slow


def _family(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def _interrupt(child_pid: int, slow: SlowPackage, sig: signal.Signals) -> list[psutil.Process]:
    """Wait until the installer is building the slow package, then signal envlayers only."""
    wait_until(lambda: slow.builds() > 0, what="the installer to build the slow package")
    family = _family(child_pid)
    assert family, "the installer should be a child of envlayers"
    psutil.Process(child_pid).send_signal(sig)
    return family


def _assert_all_gone(family: list[psutil.Process], slow: SlowPackage) -> None:
    psutil.wait_procs(family, timeout=1)
    alive = [p for p in family if running(p)]
    assert not alive, f"still running after envlayers exited: {[p.pid for p in alive]}"
    for pid in slow.pids():  # the build backend itself, however deep in the tree
        assert not psutil.pid_exists(pid) or not running(psutil.Process(pid))


@pytest.mark.parametrize("installer", ["pip", "uv"])
@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name
)
def test_signal_during_layer_build_stops_the_installer(
    installer: str, sig: signal.Signals, tmp_path: Path, wheelhouse: Path, envlayers_cache: Path
) -> None:
    ws = workspace(tmp_path / "ws", installer, wheelhouse, dependencies=("beta",))
    Engine().sync(ws)
    slow = slow_package(tmp_path, delay=120)
    child = spawn("env", "--no-sync", "--with", slow.requirement, "--project", str(ws))
    family = _interrupt(child.proc.pid, slow, sig)
    code, _out, err = child.result(timeout=60)
    assert code == 128 + sig, err  # the conventional status, not a crash
    assert "Traceback" not in err
    _assert_all_gone(family, slow)
    # Nothing half-built is published or left behind, and the next run builds cleanly.
    assert published(envlayers_cache) == []
    assert [n for n in leftovers(envlayers_cache) if n.startswith(".tmp-")] == []
    slow.set_delay(0)
    report = spawn(
        "env", "--no-sync", "--with", slow.requirement, "--project", str(ws), "--format", "json"
    )
    data = report.report()
    assert run_in(str(data["interpreter"]), "import slowpkg").returncode == 0


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_sigterm_during_sync_stops_the_installer_and_keeps_the_base(
    installer: str, tmp_path: Path, wheelhouse: Path
) -> None:
    ws = workspace(tmp_path / "ws", installer, wheelhouse, dependencies=("beta",))
    Engine().sync(ws)
    python = ws / ".venv" / "bin" / "python"
    slow = slow_package(tmp_path, delay=120)
    text = (ws / "pyproject.toml").read_text(encoding="utf-8")
    (ws / "pyproject.toml").write_text(
        text.replace('"beta"', f'"beta", "{slow.requirement}"'), encoding="utf-8"
    )
    child = spawn("sync", "--project", str(ws))
    family = _interrupt(child.proc.pid, slow, signal.SIGTERM)
    code, _out, err = child.result(timeout=60)
    assert code == 128 + signal.SIGTERM, err
    _assert_all_gone(family, slow)
    # What was importable before still is.
    assert run_in(str(python), "import beta").returncode == 0
