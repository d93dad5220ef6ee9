"""Single-file scripts (PEP 723) in the language server: block diagnostics with exact ranges in
UTF-16 and UTF-8, re-checks on edit, the "Use this script's environment" code action, and the
commands that take `script` in place of `workspace`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
from lsprotocol import types

from tests.support.lsp import CAPABILITIES, Session, error_of, execute, lsp_session, wait_for

pytestmark = [pytest.mark.lsp, pytest.mark.slow]

# A non-BMP character before the second problem on its line: its column differs in every encoding.
BROKEN = """\
#!/usr/bin/env python
# /// script
# dependencies = ["\U0001f600", "bad req !!"]
# colour = "blue"
# ///
import beta
"""
GOOD = """\
# /// script
# requires-python = ">=3.9"
# dependencies = ["beta"]
# ///
import alpha, beta
print(alpha.__version__)
"""


def _units(text: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-32":
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _range_of(text: str, needle: str, encoding: str) -> types.Range:
    start = text.index(needle)
    line = text.count("\n", 0, start)
    line_text = text.split("\n")[line]
    col = start - (text.rfind("\n", 0, start) + 1)
    first = _units(line_text[:col], encoding)
    return types.Range(
        start=types.Position(line=line, character=first),
        end=types.Position(line=line, character=first + _units(needle, encoding)),
    )


def _open(s: Session, path: Path, text: str) -> None:
    s.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=path.as_uri(), language_id="python", version=1, text=text
            )
        )
    )


def _change(s: Session, path: Path, text: str, version: int) -> None:
    s.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=path.as_uri(), version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def _diags(s: Session, path: Path) -> list[types.Diagnostic] | None:
    found = s.client.diagnostics.get(path.as_uri())
    return None if found is None else list(found)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8", "utf-32"])
async def test_block_diagnostics_have_exact_ranges(tmp_path: Path, encoding: str) -> None:
    script = tmp_path / "tool.py"
    script.write_text("print(1)\n", encoding="utf-8")  # the editor's text is what counts
    caps = CAPABILITIES
    if encoding != "utf-16":
        caps = attrs.evolve(
            CAPABILITIES,
            general=types.GeneralClientCapabilities(
                position_encodings=[types.PositionEncodingKind(encoding)]
            ),
        )
    async with lsp_session([tmp_path], capabilities=caps) as s:
        assert s.init is not None
        negotiated = s.init.capabilities.position_encoding
        assert str(negotiated or "utf-16") == encoding
        _open(s, script, BROKEN)
        await wait_for(lambda: len(_diags(s, script) or []) == 3, what="script diagnostics")
        got = {d.message.split(":")[0]: d for d in _diags(s, script) or []}
        assert set(got) == {"dependencies[0]", "dependencies[1]", "colour"}
        assert got["dependencies[1]"].range == _range_of(BROKEN, '"bad req !!"', encoding)
        assert got["dependencies[0]"].range == _range_of(BROKEN, '"\U0001f600"', encoding)
        assert got["colour"].range == _range_of(BROKEN, "colour", encoding)
        assert {str(d.code) for d in got.values()} == {"invalid-requirement", "unknown-key"}
        assert all(d.source == "envlayers" for d in got.values())


async def test_editing_the_block_rechecks_and_the_code_action(tmp_path: Path) -> None:
    script = tmp_path / "tool.py"
    script.write_text(GOOD, encoding="utf-8")
    async with lsp_session([tmp_path]) as s:
        _open(s, script, GOOD)
        await wait_for(lambda: _diags(s, script) == [], what="an empty publish")
        block = types.Range(
            start=types.Position(line=2, character=3), end=types.Position(line=2, character=3)
        )
        actions = await s.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=script.as_uri()),
                range=block,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        assert actions is not None and len(actions) == 1
        action = actions[0]
        assert isinstance(action, types.CodeAction)
        assert action.title == "Use this script's environment"
        assert action.command is not None and action.command.command == "envlayers.compose"
        assert list(action.command.arguments or ()) == [{"script": str(script)}]
        # Outside the block: nothing offered.
        below = types.Range(
            start=types.Position(line=5, character=0), end=types.Position(line=5, character=0)
        )
        none = await s.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=script.as_uri()),
                range=below,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        assert not none
        # An edit that breaks the block is re-checked; fixing it clears the diagnostics.
        _change(s, script, GOOD.replace('# dependencies = ["beta"]', "# dependencies = [1]"), 2)
        await wait_for(lambda: bool(_diags(s, script)), what="diagnostics after the edit")
        assert [str(d.code) for d in _diags(s, script) or []] == ["wrong-type"]
        _change(s, script, GOOD, 3)
        await wait_for(lambda: _diags(s, script) == [], what="diagnostics cleared")
        # A block removed altogether: cleared too, and then no longer tracked.
        _change(s, script, "# /// script\n# dependencies = [\nimport os\n", 4)
        await wait_for(lambda: bool(_diags(s, script)), what="the unclosed block")
        assert [str(d.code) for d in _diags(s, script) or []] == ["script-block"]
        _change(s, script, "import os\n", 5)
        await wait_for(lambda: _diags(s, script) == [], what="no block, no diagnostics")


async def test_commands_take_a_script(tmp_path: Path, wheelhouse: Path) -> None:
    script = tmp_path / "tool.py"
    script.write_text(GOOD, encoding="utf-8")
    links: dict[str, Any] = {"findLinks": [str(wheelhouse)], "noIndex": True, "installer": "uv"}
    async with lsp_session([tmp_path]) as s:
        report = await execute(s.client, "envlayers.compose", {"script": script.as_uri(), **links})
        assert report["script"] == str(script) and report["name"] == "script"
        await wait_for(
            lambda: any(c.get("script") == str(script) for c in s.changes), what="changed"
        )
        change = next(c for c in s.changes if c.get("script") == str(script))
        assert change["workspace"] == report["workspace"]
        assert change["report"]["interpreter"] == report["interpreter"]
        again = await execute(s.client, "envlayers.report", {"script": str(script)})
        assert again["interpreter"] == report["interpreter"] and again["script"] == str(script)
        config = await execute(
            s.client, "envlayers.debugConfiguration", {"script": str(script), **links}
        )
        assert config["python"] == report["interpreter"]
        assert config["program"] == str(script) and config["cwd"] == str(tmp_path)
        bad = tmp_path / "bad.py"
        bad.write_text('# /// script\n# dependencies = ["ok"]\n# colour = 1\n# ///\n')
        err = await error_of(s.client, "envlayers.compose", {"script": str(bad)})
        assert f"{bad}:3:3" in str(err)
        err = await error_of(s.client, "envlayers.sync", {"script": str(script)})
        assert "no 'script'" in str(err)
