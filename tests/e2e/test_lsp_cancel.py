"""Cancelling an install stops the installer, leaves nothing half-built, keeps the old one."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.support.lsp import (
    Session,
    SlowPackage,
    execute,
    lsp_session,
    progress_streams,
    send_request,
    slow_package,
    wait_for,
    workspace_project,
)

pytestmark = [pytest.mark.lsp, pytest.mark.slow]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _layer_dirs(cache: Path) -> list[str]:
    root = cache / "layers" / "v1"
    # Per-key lock files may stay (they are how builders queue); anything else is a layer or junk.
    return (
        sorted(p.name for p in root.iterdir() if not p.name.endswith(".lock"))
        if root.is_dir()
        else []
    )


async def _start_slow_compose(
    s: Session, ws: Path, slow: SlowPackage, msg_id: str = "slow-compose"
) -> tuple[asyncio.Task[Any], int]:
    params = types.ExecuteCommandParams(
        command="envlayers.compose",
        arguments=[{"workspace": str(ws), "with": ["beta", slow.requirement]}],
    )
    task = asyncio.ensure_future(
        send_request(s.client, types.WORKSPACE_EXECUTE_COMMAND, params, msg_id)
    )
    await wait_for(slow.pids, timeout=60, what="the slow build to start")
    return task, slow.pids()[0]


async def _prepared(s: Session, ws: Path) -> dict[str, Any]:
    await execute(s.client, "envlayers.sync", {"workspace": str(ws)})
    before: dict[str, Any] = await execute(
        s.client, "envlayers.compose", {"workspace": str(ws), "with": ["gamma"]}
    )
    assert before["layers"]
    return before


async def _assert_unchanged(
    s: Session, ws: Path, before: dict[str, Any], cache: Path, pid: int
) -> None:
    await wait_for(lambda: _gone(pid), timeout=15, what=f"the build process {pid} to stop")
    after = await execute(s.client, "envlayers.report", {"workspace": str(ws)})
    assert after["name"] == before["name"]
    assert after["interpreter"] == before["interpreter"]
    assert [la["key"] for la in after["layers"]] == [la["key"] for la in before["layers"]]
    # Only the previous composition's layer: no half-built layer, no temporary folder left.
    assert _layer_dirs(cache) == [la["key"] for la in before["layers"]]


async def test_cancel_request_stops_the_installer(
    tmp_path: Path, wheelhouse: Path, envlayers_cache: Path
) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    slow = slow_package(tmp_path)
    async with lsp_session([ws]) as s:
        before = await _prepared(s, ws)
        task, pid = await _start_slow_compose(s, ws, slow, msg_id="to-cancel")
        started = time.monotonic()
        s.client.cancel_request(types.CancelParams(id="to-cancel"))
        with pytest.raises(JsonRpcException) as info:
            await task
        assert _kind(info.value) == "cancelled"
        assert info.value.code == -32800  # LSP RequestCancelled
        await _assert_unchanged(s, ws, before, envlayers_cache, pid)
        assert time.monotonic() - started < 15
        # The server keeps serving, and the same request works once the build is quick.
        slow.set_delay(0)
        done = await execute(
            s.client,
            "envlayers.compose",
            {"workspace": str(ws), "with": ["beta", slow.requirement]},
        )
        assert done["name"] != before["name"]


async def test_progress_cancel_stops_the_installer(
    tmp_path: Path, wheelhouse: Path, envlayers_cache: Path
) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    slow = slow_package(tmp_path)
    async with lsp_session([ws]) as s:
        before = await _prepared(s, ws)
        known = set(progress_streams(s.client))
        task, pid = await _start_slow_compose(s, ws, slow)
        fresh = [t for t in progress_streams(s.client) if t not in known]
        assert len(fresh) == 1
        begin = progress_streams(s.client)[fresh[0]][0]
        assert isinstance(begin, types.WorkDoneProgressBegin) and begin.cancellable
        s.client.window_work_done_progress_cancel(
            types.WorkDoneProgressCancelParams(token=fresh[0])
        )
        with pytest.raises(JsonRpcException) as info:
            await task
        assert _kind(info.value) == "cancelled"
        assert info.value.code == -32800  # LSP RequestCancelled
        ended = progress_streams(s.client)[fresh[0]][-1]
        assert isinstance(ended, types.WorkDoneProgressEnd) and ended.message == "cancelled"
        await _assert_unchanged(s, ws, before, envlayers_cache, pid)


async def test_shutdown_stops_running_installers(tmp_path: Path, wheelhouse: Path) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    slow = slow_package(tmp_path)
    async with lsp_session([ws]) as s:
        await execute(s.client, "envlayers.sync", {"workspace": str(ws)})
        task, pid = await _start_slow_compose(s, ws, slow)
        started = time.monotonic()
        await asyncio.wait_for(s.client.shutdown_session(), timeout=30)
        assert _gone(pid)
        assert time.monotonic() - started < 20
        with contextlib.suppress(Exception):
            await task
    assert s.client._server is not None and s.client._server.returncode == 0


def _kind(exc: JsonRpcException) -> object:
    data = exc.data
    return data.get("kind") if isinstance(data, dict) else None
