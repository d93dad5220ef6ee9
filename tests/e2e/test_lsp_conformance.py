"""LSP / JSON-RPC conformance of `envlayers serve`, driven by a raw client (or pytest-lsp):
the lifecycle, error codes, malformed and hostile messages, cancellation of queued work."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.support.lsp import (
    execute,
    lsp_session,
    raw_client,
    send_request,
    slow_package,
    wait_for,
    workspace_project,
)

pytestmark = [pytest.mark.lsp, pytest.mark.slow]

SERVER_NOT_INITIALIZED = -32002
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
REQUEST_CANCELLED = -32800
EXECUTE = "workspace/executeCommand"
WATCHING = {
    "workspace": {
        "configuration": True,
        "workspaceFolders": True,
        "didChangeWatchedFiles": {"dynamicRegistration": True},
    },
    "window": {"workDoneProgress": True},
}


def _report(ws: Path | None = None) -> dict[str, Any]:
    return {"command": "envlayers.report", "arguments": [{"workspace": str(ws)} if ws else {}]}


def _code(answer: dict[str, Any]) -> object:
    assert "error" in answer, answer
    return answer["error"]["code"]


async def test_shutdown_right_after_initialized(tmp_path: Path, wheelhouse: Path) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    async with raw_client() as c:
        # `initialized` awaits the client (registration, configuration) while shutdown arrives.
        await c.initialize(
            capabilities=WATCHING, workspaceFolders=[{"uri": ws.as_uri(), "name": "ws"}]
        )
        answer = await c.request("shutdown")
        assert "error" not in answer, answer
        assert answer["result"] is None
        c.notify("exit")
        assert await c.close() == 0


async def test_requests_before_initialize_get_server_not_initialized(
    tmp_path: Path, wheelhouse: Path
) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    async with raw_client() as c:
        assert _code(await c.request(EXECUTE, _report(ws))) == SERVER_NOT_INITIALIZED
        c.notify("workspace/didChangeConfiguration", {"settings": {}})  # dropped
        assert _code(await c.request("shutdown")) == SERVER_NOT_INITIALIZED
        init = await c.initialize(workspaceFolders=[{"uri": ws.as_uri(), "name": "ws"}])
        assert init["result"]["serverInfo"]["name"] == "envlayers"
        assert _code(await c.request("initialize", {"capabilities": {}})) == INVALID_REQUEST
        served = await c.request(EXECUTE, _report(ws))
        assert served["result"]["workspace"] == str(ws)
        assert not [m for m in c.messages_shown() if "Error in server" in m]


async def test_requests_after_shutdown_get_invalid_request(
    tmp_path: Path, wheelhouse: Path
) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    async with raw_client() as c:
        await c.initialize(workspaceFolders=[{"uri": ws.as_uri(), "name": "ws"}])
        assert "result" in await c.request("shutdown")
        assert _code(await c.request(EXECUTE, _report(ws))) == INVALID_REQUEST
        assert _code(await c.request("shutdown")) == INVALID_REQUEST
        c.notify("exit")
        assert await c.close() == 0


async def test_exit_codes() -> None:
    async with raw_client() as c:  # shutdown, then exit
        await c.initialize()
        assert "result" in await c.request("shutdown")
        c.notify("exit")
        assert await c.close() == 0
    async with raw_client() as c:  # exit without shutdown
        await c.initialize()
        c.notify("exit")
        assert await c.close() == 1
    async with raw_client() as c:  # stdin closed without shutdown
        await c.initialize()
        assert await c.close() == 1


async def test_unparsable_params_get_invalid_params(tmp_path: Path, wheelhouse: Path) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    async with raw_client() as c:
        await c.initialize(workspaceFolders=[{"uri": ws.as_uri(), "name": "ws"}])
        cases: list[tuple[str, object]] = [
            (EXECUTE, {"command": 3}),
            (EXECUTE, {"arguments": []}),
            (EXECUTE, "not an object"),
            ("textDocument/codeAction", {"textDocument": 5}),
            ("textDocument/codeAction", {"textDocument": {"uri": "file:///x"}, "range": 1}),
        ]
        for method, params in cases:
            answer = await c.request(method, params)
            assert _code(answer) == INVALID_PARAMS, (method, params, answer)
        # A didChange for a document that was never opened: logged and ignored.
        c.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": (ws / "pyproject.toml").as_uri(), "version": 2},
                "contentChanges": [{"text": "x"}],
            },
        )
        # Still serving, and nothing popped up.
        assert (await c.request(EXECUTE, _report(ws)))["result"]["workspace"] == str(ws)
        assert c.messages_shown() == []
        assert "result" in await c.request("shutdown")
        c.notify("exit")
        assert await c.close() == 0


@pytest.mark.parametrize("depth", [250, 980, 5_000, 100_000])
async def test_deeply_nested_arguments_are_answered(
    tmp_path: Path, wheelhouse: Path, depth: int
) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    nested = "[" * depth + '"leaf"' + "]" * depth
    message = {
        "jsonrpc": "2.0",
        "id": "deep",
        "method": "workspace/executeCommand",
        "params": {
            "command": "envlayers.compose",
            "arguments": [{"workspace": str(ws), "with": "@NESTED@"}],
        },
    }
    body = json.dumps(message).replace('"@NESTED@"', nested)
    async with raw_client() as c:
        await c.initialize(workspaceFolders=[{"uri": ws.as_uri(), "name": "ws"}])
        c.write_body(body.encode("utf-8"))
        answer = await c.response("deep")
        error = answer.get("error")
        assert error is not None, answer
        kind = error.get("data", {}).get("kind") if isinstance(error.get("data"), dict) else None
        assert error["code"] == INVALID_PARAMS or kind == "invalid-input", error
        assert (await c.request(EXECUTE, _report(ws)))["result"]["workspace"] == str(ws)
        assert c.messages_shown() == []


async def test_non_ascii_names_are_not_escaped(tmp_path: Path, wheelhouse: Path) -> None:
    ws = workspace_project(
        tmp_path / "ws",
        wheelhouse,
        extra_tool='[tool.envlayers.profiles."😀 x"]\nwith = ["beta"]\n',
    )
    async with raw_client() as c:
        await c.initialize(workspaceFolders=[{"uri": ws.as_uri(), "name": "ws"}])
        answer = await c.request(EXECUTE, _report(ws))
        message = answer["error"]["message"]
        assert "😀" in message and "\\ud83d" not in message, message
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    cli = subprocess.run(
        [sys.executable, "-m", "envlayers", "env", "--no-sync", "--project", str(ws)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        check=False,
        timeout=120,
    )
    assert cli.returncode != 0
    assert "😀" in cli.stderr and "\\ud83d" not in cli.stderr, cli.stderr


@pytest.mark.parametrize("root", ["rootUri", "rootPath"])
async def test_root_uri_only_client_may_omit_workspace(
    tmp_path: Path, wheelhouse: Path, root: str
) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    async with raw_client() as c:
        value = ws.as_uri() if root == "rootUri" else str(ws)
        await c.initialize(**{root: value})
        answer = await c.request(EXECUTE, _report())
        assert "error" not in answer, answer
        assert answer["result"]["workspace"] == str(ws)


async def test_cancel_of_a_queued_compose_is_answered_at_once(
    tmp_path: Path, wheelhouse: Path
) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    slow = slow_package(tmp_path)
    async with lsp_session([ws]) as s:
        await execute(s.client, "envlayers.sync", {"workspace": str(ws)})
        first = asyncio.ensure_future(
            send_request(
                s.client,
                types.WORKSPACE_EXECUTE_COMMAND,
                types.ExecuteCommandParams(
                    command="envlayers.compose",
                    arguments=[{"workspace": str(ws), "with": [slow.requirement]}],
                ),
                "running",
            )
        )
        await wait_for(slow.pids, timeout=60, what="the slow build to start")
        queued = asyncio.ensure_future(
            send_request(
                s.client,
                types.WORKSPACE_EXECUTE_COMMAND,
                types.ExecuteCommandParams(
                    command="envlayers.compose",
                    arguments=[{"workspace": str(ws), "with": ["beta"]}],
                ),
                "queued",
            )
        )
        await asyncio.sleep(0.5)
        assert not queued.done()
        started = time.monotonic()
        s.client.cancel_request(types.CancelParams(id="queued"))
        with pytest.raises(JsonRpcException) as info:
            await asyncio.wait_for(queued, 10)
        assert time.monotonic() - started < 3
        assert info.value.code == REQUEST_CANCELLED
        assert isinstance(info.value.data, dict) and info.value.data["kind"] == "cancelled"
        assert not first.done()  # the running build was not touched
        s.client.cancel_request(types.CancelParams(id="running"))
        with pytest.raises(JsonRpcException) as running:
            await first
        assert running.value.code == REQUEST_CANCELLED
        # Nothing of the cancelled compose was built.
        report = await execute(s.client, "envlayers.report", {"workspace": str(ws)})
        assert report["layers"] == []


async def test_compose_sent_during_a_sync_is_done_after_it(
    tmp_path: Path, wheelhouse: Path
) -> None:
    slow = slow_package(tmp_path, delay=4.0)
    ws = workspace_project(
        tmp_path / "ws", wheelhouse, dependencies=["alpha==1.0", slow.requirement]
    )
    async with lsp_session([ws]) as s:
        order: list[str] = []

        async def run(name: str, command: str, arg: dict[str, Any]) -> Any:
            result = await execute(s.client, command, arg)
            order.append(name)
            return result

        sync = asyncio.ensure_future(run("sync", "envlayers.sync", {"workspace": str(ws)}))
        await wait_for(slow.pids, timeout=60, what="the sync's slow build to start")
        compose = asyncio.ensure_future(
            run("compose", "envlayers.compose", {"workspace": str(ws), "with": ["beta"]})
        )
        synced, composed = await asyncio.wait_for(asyncio.gather(sync, compose), 180)
        assert order == ["sync", "compose"]
        assert synced["sync"]["state"] == "in-sync"
        assert [la["requirements"] for la in composed["layers"]] == [["beta"]]
        assert Path(composed["interpreter"]).is_file()
        report = await execute(s.client, "envlayers.report", {"workspace": str(ws)})
        assert report["name"] == composed["name"]
