"""Bad input, unknown workspaces, malformed files and failing installers: JSON-RPC errors with
`data.kind`, and the server keeps serving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.support.lsp import error_of, execute, lsp_session, workspace_project

pytestmark = [pytest.mark.lsp, pytest.mark.slow]


def _kind(exc: JsonRpcException) -> Any:
    assert -32099 <= exc.code <= -32000, exc.code
    assert isinstance(exc.data, dict) and exc.data["message"] == exc.message
    return exc.data["kind"]


async def test_errors_then_success(tmp_path: Path, wheelhouse: Path) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    other = tmp_path / "not-a-project"
    other.mkdir()
    bad_toml = tmp_path / "bad"
    bad_toml.mkdir()
    (bad_toml / "pyproject.toml").write_text("[project\nname = 1\n", encoding="utf-8")
    failing = workspace_project(tmp_path / "failing", wheelhouse, dependencies=["no-such-dist"])
    c = ws.as_uri()
    async with lsp_session([ws]) as s:
        cases: list[tuple[str, object, str]] = [
            ("envlayers.report", "just a string", "invalid-input"),
            ("envlayers.compose", {"workspace": c, "with": 3}, "invalid-input"),
            ("envlayers.compose", {"workspace": c, "noSuchOption": True}, "invalid-input"),
            ("envlayers.compose", {"workspace": c, "with": ["alpha >>> 1"]}, "invalid-input"),
            ("envlayers.compose", {"workspace": c, "profile": "missing"}, "invalid-input"),
            ("envlayers.sync", {"workspace": 42}, "invalid-input"),
            ("envlayers.sync", {"workspace": str(tmp_path / "nowhere")}, "invalid-input"),
            ("envlayers.report", {"workspace": "https://example.invalid/x"}, "invalid-input"),
            ("envlayers.sync", {"workspace": str(bad_toml)}, "invalid-input"),
            ("envlayers.sync", {"workspace": str(failing)}, "install-failed"),
            ("envlayers.sync", {"workspace": c, "python": "2.1"}, "interpreter-not-found"),
            ("envlayers.removeLayer", {"key": "../../etc"}, "invalid-input"),
            ("envlayers.removeLayer", {}, "invalid-input"),
            ("envlayers.pruneLayers", {"olderThanDays": "soon"}, "invalid-input"),
            ("envlayers.listLayers", {"unexpected": 1}, "invalid-input"),
        ]
        for command, arg, kind in cases:
            exc = await error_of(s.client, command, arg)
            assert _kind(exc) == kind, (command, arg, exc.message)
        # `other` has no pyproject.toml anywhere above it in tmp: unknown workspace.
        assert _kind(await error_of(s.client, "envlayers.report", {"workspace": str(other)})) == (
            "invalid-input"
        )
        # Two arguments where one object is expected.
        with pytest.raises(JsonRpcException) as info:
            await s.client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="envlayers.report", arguments=[{}, {}])
            )
        assert _kind(info.value) == "invalid-input"
        with pytest.raises(JsonRpcException):
            await execute(s.client, "envlayers.noSuchCommand", {})

        # The server kept serving: a good request right after all of that succeeds.
        synced = await execute(s.client, "envlayers.sync", {"workspace": c})
        assert synced["sync"]["state"] == "in-sync"
        # The failing workspace's sync left nothing claimed as in sync.
        report = await execute(s.client, "envlayers.report", {"workspace": str(failing)})
        assert report["sync"]["state"] != "in-sync"
