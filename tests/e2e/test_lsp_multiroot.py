"""One server, two workspace folders: separate state, no waiting behind another's install."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.support.lsp import (
    execute,
    lsp_session,
    progress_streams,
    send_request,
    slow_package,
    wait_for,
    workspace_project,
)

pytestmark = [pytest.mark.lsp, pytest.mark.slow]


async def test_two_folders_at_once(tmp_path: Path, wheelhouse: Path) -> None:
    a = workspace_project(tmp_path / "a", wheelhouse, dependencies=["alpha==1.0"], name="app-a")
    b = workspace_project(tmp_path / "b", wheelhouse, dependencies=["alpha==2.0"], name="app-b")
    slow = slow_package(tmp_path)
    async with lsp_session([a, b]) as s:
        synced_a, synced_b = await asyncio.gather(
            execute(s.client, "envlayers.sync", {"workspace": a.as_uri()}),
            execute(s.client, "envlayers.sync", {"workspace": b.as_uri()}),
        )
        assert synced_a["sync"]["installed"] == ["alpha==1.0"]
        assert synced_b["sync"]["installed"] == ["alpha==2.0"]
        assert synced_a["baseInterpreter"] != synced_b["baseInterpreter"]

        params = types.ExecuteCommandParams(
            command="envlayers.compose",
            arguments=[{"workspace": str(a), "with": [slow.requirement]}],
        )
        long = asyncio.ensure_future(
            send_request(s.client, types.WORKSPACE_EXECUTE_COMMAND, params, "long-a")
        )
        await wait_for(slow.pids, timeout=60, what="the slow build in a")

        # Read-only commands and the other workspace do not queue behind a's install.
        started = time.monotonic()
        report_a = await execute(s.client, "envlayers.report", {"workspace": str(a)})
        report_b = await execute(s.client, "envlayers.report", {"workspace": str(b)})
        await execute(s.client, "envlayers.listLayers")
        assert time.monotonic() - started < 3
        assert report_a["layers"] == [] and report_a["workspace"] == str(a)
        assert report_b["workspace"] == str(b) and report_b["sync"]["state"] == "in-sync"
        composed_b = await execute(
            s.client, "envlayers.compose", {"workspace": str(b), "with": ["epsilon"]}
        )
        assert composed_b["layers"] and not long.done()

        # A second install in `a` waits for the first one (per-workspace serialisation).
        queued = asyncio.ensure_future(execute(s.client, "envlayers.sync", {"workspace": str(a)}))
        await asyncio.sleep(1.0)
        assert not queued.done()

        s.client.cancel_request(types.CancelParams(id="long-a"))
        with pytest.raises(JsonRpcException):
            await long
        assert (await queued)["sync"]["state"] == "in-sync"
        final_b = await execute(s.client, "envlayers.report", {"workspace": str(b)})
        assert final_b["name"] == composed_b["name"]


async def test_identical_requests_share_one_build(tmp_path: Path, wheelhouse: Path) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    slow = slow_package(tmp_path, delay=2.0)
    async with lsp_session([ws]) as s:
        await execute(s.client, "envlayers.sync", {"workspace": str(ws)})
        known = set(progress_streams(s.client))
        arg = {"workspace": str(ws), "with": [slow.requirement]}
        first, second = await asyncio.gather(
            execute(s.client, "envlayers.compose", arg),
            execute(s.client, "envlayers.compose", dict(arg)),
        )
        assert first == second
        assert first["layers"][0]["requirements"] == [slow.requirement]
        assert slow.builds() == 1
        fresh = [t for t in progress_streams(s.client) if t not in known]
        assert len(fresh) == 1
