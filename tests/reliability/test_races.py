"""Races: many processes on one new stack, different workspaces side by side."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from envlayers.core.engine import Engine
from tests.support.cli import run_in
from tests.support.disk import assert_cache_sound, leftovers, published
from tests.support.lsp import slow_package
from tests.support.processes import spawn, wait_until
from tests.support.workspaces import uv_workspace

pytestmark = pytest.mark.slow


def test_eight_processes_compose_one_new_stack(
    tmp_path: Path, wheelhouse: Path, envlayers_cache: Path
) -> None:
    # Four workspaces, two processes each: the workspace lock and the layer lock both race.
    roots = [uv_workspace(tmp_path / f"w{i}", wheelhouse, name=f"app{i}") for i in range(4)]
    for root in roots:
        Engine().sync(root)
    assert published(envlayers_cache) == []
    args = ("env", "--no-sync", "--with", "plugin", "--with", "eta", "-v", "--format", "json")
    children = [spawn(*args, "--project", str(root)) for root in roots for _ in range(2)]
    results = [child.result() for child in children]
    assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
    reports = [json.loads(out) for _, out, _ in results]
    keys = {r["layers"][0]["key"] for r in reports}
    assert len(keys) == 1
    # One build: one process logged it, every other one reused the published layer.
    builds = sum("building layer" in err for _, _, err in results)
    assert builds == 1, [err for _, _, err in results]
    assert published(envlayers_cache) == sorted(keys)
    assert leftovers(envlayers_cache) == []
    assert_cache_sound(envlayers_cache)
    # Same result: both processes of a workspace report the same composition, and it works.
    for i in range(0, 8, 2):
        a, b = reports[i], reports[i + 1]
        assert a["interpreter"] == b["interpreter"] and a["sysPath"] == b["sysPath"]
        out = run_in(a["interpreter"], "import plugin, eta, beta; print('ok')")
        assert out.stdout.strip() == "ok", out.stderr


def test_two_workspaces_do_not_wait_for_each_other(tmp_path: Path, wheelhouse: Path) -> None:
    slow = slow_package(tmp_path, delay=10)
    a = uv_workspace(tmp_path / "a", wheelhouse, name="app-a")
    b = uv_workspace(tmp_path / "b", wheelhouse, name="app-b")
    for root in (a, b):
        Engine().sync(root)
    long = spawn("env", "--no-sync", "--with", slow.requirement, "--project", str(a))
    wait_until(lambda: slow.builds() > 0, what="the long build to start")
    began = time.monotonic()
    quick = spawn(
        "env", "--no-sync", "--with", "plugin", "--project", str(b), "--format", "json"
    ).report(timeout=120)
    took = time.monotonic() - began
    # B built its own layer while A's build (10 s) was still running.
    assert long.proc.poll() is None, "the long build ended first: the comparison proves nothing"
    assert took < 10, took
    assert run_in(str(quick["interpreter"]), "import plugin").returncode == 0
    slow.set_delay(0)
    code, _, err = long.result(timeout=120)
    assert code == 0, err
