"""Diagnostics on pyproject.toml (exact ranges), the sync quick fix, watching and autoSync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from tests.support.lsp import Session, execute, lsp_session, wait_for, workspace_project

pytestmark = [pytest.mark.lsp, pytest.mark.slow]

BROKEN = """\
[project]
name = "demo-app"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = ["alpha==1.0", "beta >>> 2"]

[dependency-groups]
dev = [{include-group = "nope"}]

[tool.envlayers]
bogus = 1
"""


def _range(text: str, needle: str, occurrence: int = 0) -> types.Range:
    """The LSP range of `needle` in `text` (ASCII, so UTF-16 units are characters)."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start)
    col = start - (text.rfind("\n", 0, start) + 1)
    return types.Range(
        start=types.Position(line=line, character=col),
        end=types.Position(line=line, character=col + len(needle)),
    )


def _diags(s: Session, ws: Path) -> list[types.Diagnostic]:
    return list(s.client.diagnostics.get((ws / "pyproject.toml").as_uri(), []))


def _codes(s: Session, ws: Path) -> list[str]:
    return [str(d.code) for d in _diags(s, ws)]


def _open(s: Session, ws: Path, text: str) -> None:
    s.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=(ws / "pyproject.toml").as_uri(), language_id="toml", version=1, text=text
            )
        )
    )


def _changed_on_disk(s: Session, ws: Path, text: str) -> None:
    (ws / "pyproject.toml").write_text(text, encoding="utf-8")
    s.client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[
                types.FileEvent(
                    uri=(ws / "pyproject.toml").as_uri(), type=types.FileChangeType.Changed
                )
            ]
        )
    )


async def test_problems_have_exact_ranges(tmp_path: Path, wheelhouse: Path) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    async with lsp_session([ws]) as s:
        _open(s, ws, BROKEN)  # unsaved: the diagnostics follow the editor's text
        await wait_for(lambda: "invalid-requirement" in _codes(s, ws), what="diagnostics")
        by_code = {str(d.code): d for d in _diags(s, ws)}
        assert set(by_code) == {"invalid-requirement", "unknown-include-group", "unknown-key"}
        assert by_code["invalid-requirement"].range == _range(BROKEN, '"beta >>> 2"')
        assert "beta >>> 2" in by_code["invalid-requirement"].message
        assert by_code["unknown-include-group"].range == _range(BROKEN, '{include-group = "nope"}')
        assert by_code["unknown-key"].range == _range(BROKEN, "bogus")
        assert all(d.severity == types.DiagnosticSeverity.Error for d in _diags(s, ws))
        assert all(d.source == "envlayers" for d in _diags(s, ws))

        uri = (ws / "pyproject.toml").as_uri()
        broken_toml = BROKEN.replace("[tool.envlayers]", "[tool.envlayers")
        s.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=broken_toml)],
            )
        )
        await wait_for(lambda: _codes(s, ws) == ["toml-syntax"], what="the syntax error")
        where = _range(broken_toml, "[tool.envlayers\n").end
        assert _diags(s, ws)[0].range.start == types.Position(line=where.line, character=15)

        # A bad document is a diagnostic, never a crash: commands still answer.
        report = await execute(s.client, "envlayers.report", {"workspace": str(ws)})
        assert report["workspace"] == str(ws)


async def test_out_of_sync_quick_fix_and_notification(tmp_path: Path, wheelhouse: Path) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    async with lsp_session([ws]) as s:
        await execute(s.client, "envlayers.sync", {"workspace": str(ws)})
        await wait_for(lambda: _codes(s, ws) == [], what="clean diagnostics after the sync")
        seen = len(s.changes)

        text = (ws / "pyproject.toml").read_text(encoding="utf-8")
        edited = text.replace(
            'dependencies = ["alpha==1.0"]', 'dependencies = ["alpha==1.0", "beta"]'
        )
        assert edited != text
        _changed_on_disk(s, ws, edited)
        await wait_for(lambda: len(s.changes) > seen, what="envlayers/environmentChanged")
        change: dict[str, Any] = s.changes[-1]
        assert change["workspace"] == str(ws)
        assert change["report"]["sync"]["state"] == "out-of-sync"
        await wait_for(lambda: "out-of-sync" in _codes(s, ws), what="the out-of-sync diagnostic")
        diag = next(d for d in _diags(s, ws) if d.code == "out-of-sync")
        assert diag.range == _range(edited, "dependencies")
        assert diag.severity == types.DiagnosticSeverity.Warning

        actions = await s.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=(ws / "pyproject.toml").as_uri()),
                range=diag.range,
                context=types.CodeActionContext(diagnostics=[diag]),
            )
        )
        assert actions is not None and len(actions) == 1
        action = actions[0]
        assert isinstance(action, types.CodeAction)
        assert action.title == "Sync workspace environment"
        assert action.kind == types.CodeActionKind.QuickFix
        assert action.command is not None and action.command.command == "envlayers.sync"

        fixed = await execute(
            s.client, action.command.command, (action.command.arguments or [None])[0]
        )
        assert fixed["sync"]["state"] == "in-sync"
        assert "beta==1.0" in fixed["sync"]["installed"]
        await wait_for(lambda: "out-of-sync" not in _codes(s, ws), what="the warning to clear")
        assert s.changes[-1]["report"] == fixed


async def test_requires_python_and_conflicts(tmp_path: Path, wheelhouse: Path) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse, dependencies=("alpha==1.0", "gamma"))
    async with lsp_session([ws]) as s:
        await execute(s.client, "envlayers.sync", {"workspace": str(ws)})
        composed = await execute(
            s.client, "envlayers.compose", {"workspace": str(ws), "with": ["alpha==2.0"]}
        )
        assert [c["name"] for c in composed["conflicts"]] == ["alpha"]
        text = (ws / "pyproject.toml").read_text(encoding="utf-8")
        await wait_for(lambda: "conflict" in _codes(s, ws), what="the conflict diagnostic")
        conflict = next(d for d in _diags(s, ws) if d.code == "conflict")
        assert conflict.range == _range(text, '"alpha==1.0"')
        assert "2.0" in conflict.message and "gamma" in conflict.message

        edited = text.replace('requires-python = ">=3.9"', 'requires-python = ">=3.99"')
        _changed_on_disk(s, ws, edited)
        await wait_for(lambda: "requires-python" in _codes(s, ws), what="requires-python")
        diag = next(d for d in _diags(s, ws) if d.code == "requires-python")
        assert diag.range == _range(edited, '">=3.99"')
        assert diag.severity == types.DiagnosticSeverity.Error


async def test_auto_sync_on_save(tmp_path: Path, wheelhouse: Path) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    config = {"envlayers": {"autoSync": True}}
    async with lsp_session([ws], configuration=config) as s:
        await execute(s.client, "envlayers.sync", {"workspace": str(ws)})
        seen = len(s.changes)
        text = (ws / "pyproject.toml").read_text(encoding="utf-8")
        (ws / "pyproject.toml").write_text(
            text.replace('["alpha==1.0"]', '["alpha==1.0", "epsilon"]'), encoding="utf-8"
        )
        s.client.text_document_did_save(
            types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=(ws / "pyproject.toml").as_uri())
            )
        )
        await wait_for(lambda: len(s.changes) > seen, timeout=60, what="the auto-sync")
        report = s.changes[-1]["report"]
        assert report["sync"]["state"] == "in-sync"
        assert "epsilon==1.0" in report["sync"]["installed"]


async def test_bad_settings_warn_and_default(tmp_path: Path, wheelhouse: Path) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    options = {"envlayers": {"installer": "bogus", "autoSync": "yes", "nope": 1}}
    async with lsp_session([ws], initialization_options=options) as s:
        await wait_for(lambda: len(s.client.messages) >= 3, what="the setting warnings")
        texts = [m.message for m in s.client.messages]
        assert all(m.type == types.MessageType.Warning for m in s.client.messages)
        assert any("installer" in t for t in texts)
        assert any("autoSync" in t for t in texts)
        assert any("nope" in t for t in texts)
        synced = await execute(s.client, "envlayers.sync", {"workspace": str(ws)})
        assert synced["sync"]["state"] == "in-sync"
