"""Crashes: SIGKILL at chosen and at random points leaves nothing that is ever used."""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import pytest

from envlayers.config import Options
from envlayers.core.base import SYNC_STAMP
from envlayers.core.engine import Engine
from envlayers.core.flock import FileLock, Timeout
from tests.support.cli import cli, run_in
from tests.support.disk import assert_cache_sound, layers_root, leftovers, published, snapshot
from tests.support.isolation import uv_bin
from tests.support.lsp import slow_package
from tests.support.processes import Child, fault_cmd, spawn, wait_until
from tests.support.workspaces import uv_workspace

pytestmark = pytest.mark.slow


@pytest.fixture
def ws(tmp_path: Path, wheelhouse: Path) -> Path:
    root = uv_workspace(tmp_path / "ws", wheelhouse)
    Engine().sync(root)
    return root


def _next_compose_works(ws: Path, cache: Path, req: str, module: str) -> dict[str, object]:
    report = Engine().compose(ws, Options(with_=(req,), no_sync=True)).to_json()
    layers = report["layers"]
    assert isinstance(layers, list) and len(layers) == 1
    assert layers[0]["reused"] is False  # rebuilt, not the dead build's folder
    out = run_in(str(report["interpreter"]), f"import {module}; print('ok')")
    assert out.stdout.strip() == "ok", out.stderr
    assert leftovers(cache) == []
    assert_cache_sound(cache)
    return report


@pytest.mark.parametrize("point", ["venv", "installed", "publish"])
def test_build_killed_at_a_point_is_never_used(
    point: str, ws: Path, tmp_path: Path, envlayers_cache: Path
) -> None:
    marker = tmp_path / "reached"
    child = Child(
        fault_cmd(point, marker, "env", "--no-sync", "--with", "plugin", "--project", str(ws))
    )
    wait_until(marker.exists, what=f"the build to reach {point!r}")
    child.kill()
    # The dead build left a temporary folder, never a published layer.
    assert published(envlayers_cache) == []
    assert [n for n in leftovers(envlayers_cache) if n.startswith(".tmp-")]
    # The workspace still answers with its base; no composition claims the dead layer.
    report = Engine().report(ws)
    assert report.layers == () and report.interpreter == report.base_interpreter
    _next_compose_works(ws, envlayers_cache, "plugin", "plugin")


def test_build_killed_mid_install(ws: Path, tmp_path: Path, envlayers_cache: Path) -> None:
    slow = slow_package(tmp_path, delay=60)
    child = spawn("env", "--no-sync", "--with", slow.requirement, "--project", str(ws))
    wait_until(lambda: slow.builds() > 0, what="the installer to build slowpkg")
    child.kill()
    assert published(envlayers_cache) == []
    slow.set_delay(0)
    _next_compose_works(ws, envlayers_cache, slow.requirement, "slowpkg")


def test_build_killed_at_random_points(ws: Path, envlayers_cache: Path) -> None:
    rng = random.Random(7)
    # Measure one whole build, then kill later builds anywhere inside that span.
    began = time.monotonic()
    first = spawn("env", "--no-sync", "--with", "eta", "--project", str(ws), "--format", "json")
    first.report()
    span = time.monotonic() - began
    for i in range(4):
        req = f"plugin; python_version >= '3.{i}'"  # a new key each round, same content
        child = spawn("env", "--no-sync", "--with", req, "--project", str(ws))
        time.sleep(rng.uniform(0.05, span))
        child.kill()
        assert_cache_sound(envlayers_cache)
        report = Engine().report(ws)
        assert Path(report.interpreter).exists()
        # The active composition (the first one, or the killed one if it finished) works whole.
        modules = [m for la in report.layers for m in la["packages"]]  # type: ignore[attr-defined]
        out = run_in(report.interpreter, "import " + ", ".join(["sys", *modules]))
        assert out.returncode == 0, out.stderr
    again = Engine().compose(ws, Options(with_=("plugin; python_version >= '3.0'",), no_sync=True))
    assert run_in(again.interpreter, "import plugin").returncode == 0
    # Dead builds of other keys may leave temporary folders (never used; pruned later), but
    # the key just built cleaned its own.
    key = str(again.layers[0]["key"])
    assert not [n for n in leftovers(envlayers_cache) if n.startswith(f".tmp-{key}-")]
    assert_cache_sound(envlayers_cache)


def test_sync_killed_mid_install_is_repaired(tmp_path: Path, wheelhouse: Path) -> None:
    slow = slow_package(tmp_path, delay=60)
    ws = uv_workspace(tmp_path / "ws", wheelhouse, dependencies=("beta", slow.requirement))
    child = spawn("sync", "--project", str(ws))
    wait_until(lambda: slow.builds() > 0, what="the sync to build slowpkg")
    child.kill()
    engine = Engine()
    assert engine.sync_state(ws) != "in-sync"  # a dead sync never claims success
    slow.set_delay(0)
    report = engine.sync(ws)
    assert report.sync.state == "in-sync"
    assert run_in(report.interpreter, "import slowpkg, beta; print('ok')").stdout.strip() == "ok"
    assert engine.sync_state(ws) == "in-sync"


def test_sync_killed_at_random_points_is_repaired(tmp_path: Path, wheelhouse: Path) -> None:
    rng = random.Random(11)
    for i in range(3):
        ws = uv_workspace(tmp_path / f"ws{i}", wheelhouse, dependencies=("beta", "zeta"))
        child = spawn("sync", "--project", str(ws))
        time.sleep(rng.uniform(0.05, 1.0))
        child.kill()
        report = Engine().sync(ws)
        assert report.sync.state == "in-sync"
        out = run_in(report.interpreter, "import beta, zeta, alpha; print('ok')")
        assert out.stdout.strip() == "ok", out.stderr
        assert not list(ws.glob(".venv.*")), "a dead sync's temporary venv was left behind"


_HOLD = """
import sys, time
from envlayers.core.flock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
open(sys.argv[2], "w").close()
time.sleep(600)
"""


def _locked_elsewhere(lock_path: Path) -> bool:
    lock = FileLock(str(lock_path), timeout=0.2)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False


def test_stale_locks_of_killed_holders_do_not_block(
    ws: Path, tmp_path: Path, envlayers_cache: Path
) -> None:
    engine = Engine()
    # Find the key the request will use, without building it.
    probe = engine.compose(ws, Options(with_=("plugin",), no_sync=True))
    key = str(probe.layers[0]["key"])
    engine.remove_layer(key, force=True)  # used by the probe's composition: removed anyway
    layer_lock = layers_root(envlayers_cache) / f".{key}.lock"
    ws_lock = ws / ".envlayers" / ".lock"
    for lock_path in (layer_lock, ws_lock):
        marker = tmp_path / "held"
        marker.unlink(missing_ok=True)
        holder = Child([sys.executable, "-c", _HOLD, str(lock_path), str(marker)])
        wait_until(marker.exists, what="the holder to take the lock")
        assert _locked_elsewhere(lock_path)
        holder.kill()  # the kernel drops its flock with the process
        assert lock_path.exists() and not _locked_elsewhere(lock_path)
    began = time.monotonic()
    report = engine.compose(ws, Options(with_=("plugin",), no_sync=True))
    assert time.monotonic() - began < 60
    assert report.layers[0]["key"] == key and report.layers[0]["reused"] is False


def test_killed_cli_holding_the_workspace_lock_does_not_block(
    ws: Path, tmp_path: Path, envlayers_cache: Path
) -> None:
    slow = slow_package(tmp_path, delay=60)
    child = spawn("env", "--no-sync", "--with", slow.requirement, "--project", str(ws))
    wait_until(lambda: slow.builds() > 0, what="the build to start under the locks")
    assert _locked_elsewhere(ws / ".envlayers" / ".lock")
    child.kill()
    assert not _locked_elsewhere(ws / ".envlayers" / ".lock")
    report = spawn(
        "env", "--no-sync", "--with", "plugin", "--project", str(ws), "--format", "json"
    ).report(timeout=120)
    assert json.dumps(report["layers"]).count('"key"') == 1


def _hanging_uv(tmp_path: Path, python: str, marker: Path) -> Path:
    """uv behind a wrapper that, once an install with `python` has succeeded, hangs (until
    killed) before envlayers hears of it: the venv is changed, the sync is not finished."""
    wrapper = tmp_path / "uv-hangs"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import subprocess, sys, time\n"
        f"code = subprocess.run([{uv_bin()!r}, *sys.argv[1:]]).returncode\n"
        f"if code == 0 and sys.argv[1:3] == ['pip', 'install'] and {python!r} in sys.argv:\n"
        f"    open({str(marker)!r}, 'w').close()\n"
        "    time.sleep(600)\n"
        "sys.exit(code)\n",
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    return wrapper


def test_sync_killed_after_changing_the_venv_is_undone_by_the_next(
    tmp_path: Path, wheelhouse: Path
) -> None:
    """A sync into an existing venv keeps a copy of it; killed after the installer changed the
    venv, it cannot put the copy back. The next sync does, before anything else: the venv is
    byte for byte what it was before the killed sync, and no copy is left beside it."""
    ws = uv_workspace(tmp_path / "ws", wheelhouse, dependencies=("beta",))
    engine = Engine()
    assert engine.sync(ws).sync.state == "in-sync"
    venv, pyproject = ws / ".venv", ws / "pyproject.toml"
    before, text = snapshot(venv), pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace('["beta"]', '["beta", "zeta"]'), encoding="utf-8")
    marker = tmp_path / "installed"
    python = str(venv / "bin" / "python")
    child = spawn(
        "sync",
        "--project",
        str(ws),
        env={"ENVLAYERS_UV": str(_hanging_uv(tmp_path, python, marker))},
    )
    wait_until(marker.exists, what="the installer to change the venv")
    child.kill()
    assert run_in(python, "import zeta").returncode == 0  # the dead sync's change
    pyproject.write_text(text, encoding="utf-8")  # the user takes the change back
    result = cli("sync", "--project", str(ws))
    assert result.returncode == 0, result.stderr
    assert "was stopped before it finished" in result.stderr
    assert engine.sync_state(ws) == "in-sync"
    assert run_in(python, "import zeta").returncode != 0
    assert run_in(python, "import beta").returncode == 0
    # Every file as it was (size, mtime); only the stamp is new: the copied pyvenv.cfg is a
    # new inode, so the interpreter's identity changed and the sync checked the venv again.
    after = snapshot(venv)
    stamp = SYNC_STAMP
    assert {k: v for k, v in after.items() if k != stamp} == {
        k: v for k, v in before.items() if k != stamp
    }
    assert sorted(p.name for p in ws.iterdir() if p.name.startswith(".venv")) == [".venv"]
