"""The server under races, hostile arguments and load: one build, clear errors, no growth."""

from __future__ import annotations

import asyncio
import gc
import json
import random
from pathlib import Path
from typing import Any

import psutil
import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.support.disk import published
from tests.support.lsp import (
    Session,
    error_of,
    execute,
    lsp_session,
    slow_package,
    workspace_project,
)
from tests.support.processes import spawn

pytestmark = [pytest.mark.lsp, pytest.mark.slow]


def _kind(exc: JsonRpcException) -> Any:
    assert -32099 <= exc.code <= -32000, exc.code
    assert isinstance(exc.data, dict) and exc.data["message"] == exc.message
    return exc.data["kind"]


async def test_same_workspace_composed_twice_at_once_one_build(
    tmp_path: Path, wheelhouse: Path, envlayers_cache: Path
) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    slow = slow_package(tmp_path, delay=3.0)
    async with lsp_session([ws]) as s:
        await execute(s.client, "envlayers.sync", {"workspace": str(ws)})
        # The same request spelled two ways (URI / path, string / list), plus a CLI process.
        cli = spawn("env", "--no-sync", "--with", slow.requirement, "--project", str(ws))
        first, second = await asyncio.gather(
            execute(
                s.client, "envlayers.compose", {"workspace": ws.as_uri(), "with": slow.requirement}
            ),
            execute(
                s.client, "envlayers.compose", {"workspace": str(ws), "with": [slow.requirement]}
            ),
        )
        code, _, err = await asyncio.to_thread(cli.result, 120)
        assert code == 0, err
        assert first == second
        assert slow.builds() == 1
        assert len(published(envlayers_cache)) == 1
        report = await execute(s.client, "envlayers.report", {"workspace": str(ws)})
        assert report["interpreter"] == first["interpreter"]


def _random_json(rng: random.Random, depth: int = 0) -> object:
    choice = rng.randrange(9 if depth < 4 else 6)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.choice([0, -1, 2**63, 1.5, float("1e308")])
    if choice == 3:
        return rng.choice(["", "../..", "/", "x" * 10_000, "\u2028", "$(touch /tmp/x)", "file:///"])
    if choice == 4:
        return "--index-url=http://127.0.0.1:9/"
    if choice == 5:
        return "plugin"
    if choice == 6:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["workspace", "with", "profile", "key", "olderThanDays", "all", "python", "noSync", "x"]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


async def test_hostile_arguments_keep_the_server_serving(
    tmp_path: Path, wheelhouse: Path, envlayers_cache: Path
) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    canary = tmp_path / "pwned"
    huge = "x" * 5_000_000
    nested: object = "leaf"
    for _ in range(40):  # deeper breaks the test client's own serialiser
        nested = {"with": [nested]}
    async with lsp_session([ws]) as s:
        c = str(ws)
        cases: list[tuple[str, object]] = [
            ("envlayers.compose", {"workspace": c, "with": [huge]}),
            ("envlayers.compose", {"workspace": huge}),
            ("envlayers.compose", {"workspace": c, "with": ["plugin"] * 5000}),
            ("envlayers.compose", {"workspace": c, "with": [f"plugin; $(touch {canary})"]}),
            ("envlayers.compose", {"workspace": c, "with": ["--index-url=http://127.0.0.1:9/"]}),
            ("envlayers.compose", {"workspace": c, "profile": "../../x"}),
            ("envlayers.compose", {"workspace": c, "profile": {"name": "x"}}),
            ("envlayers.compose", nested),
            ("envlayers.compose", {"workspace": c, "with": nested}),
            ("envlayers.sync", {"workspace": c, "python": ["3.12"]}),
            ("envlayers.sync", {"workspace": c, "noSync": "yes"}),
            ("envlayers.report", {"workspace": None, "x": 1}),
            ("envlayers.report", [c]),
            ("envlayers.report", 12),
            ("envlayers.removeLayer", {"key": "../../../etc"}),
            ("envlayers.removeLayer", {"key": str(envlayers_cache)}),
            ("envlayers.removeLayer", {"key": 7}),
            ("envlayers.pruneLayers", {"olderThanDays": -1}),
            ("envlayers.pruneLayers", {"olderThanDays": float("1e308") * 10}),
            ("envlayers.pruneLayers", {"all": "yes"}),
            ("envlayers.debugConfiguration", {"workspace": c, "program": 3}),
            ("envlayers.installKernel", {"workspace": c, "name": "../../x", "user": 1}),
        ]
        for command, arg in cases:
            exc = await asyncio.wait_for(error_of(s.client, command, arg), 60)
            assert _kind(exc) == "invalid-input", (command, str(arg)[:200], exc.message[:300])
            assert len(exc.message) < 20_000  # a huge input is not echoed back whole
        rng = random.Random(1234)
        commands = [
            "envlayers.compose",
            "envlayers.sync",
            "envlayers.report",
            "envlayers.removeLayer",
            "envlayers.pruneLayers",
            "envlayers.listLayers",
            "envlayers.debugConfiguration",
        ]
        for _ in range(150):
            arg = _random_json(rng)
            if isinstance(arg, dict) and "workspace" not in arg:
                arg["workspace"] = c if rng.random() < 0.5 else arg.get("workspace", 1)
            try:
                await execute(s.client, rng.choice(commands), arg)
            except JsonRpcException as exc:
                assert _kind(exc) in ("invalid-input", "install-failed", "interpreter-not-found")
        assert not canary.exists()
        assert not (tmp_path / "x").exists()
        # Still serving: a real request succeeds.
        synced = await execute(s.client, "envlayers.sync", {"workspace": c})
        assert synced["sync"]["state"] == "in-sync"


def _server_rss(s: Session) -> int:
    server = s.client._server
    assert server is not None
    return int(psutil.Process(server.pid).memory_info().rss)


async def _load(
    s: Session, ws: Path, batches: int, *, edit: bool, sample: tuple[int, ...] = ()
) -> tuple[list[str], list[int], dict[str, Any] | None]:
    """`batches` x 100 concurrent reports, a document edit before each batch when `edit`."""
    uri = (ws / "pyproject.toml").as_uri()
    text = (ws / "pyproject.toml").read_text()
    s.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="toml", version=1, text=text)
        )
    )
    errors: list[str] = []
    rss: list[int] = []
    expected: dict[str, Any] | None = None
    for batch in range(batches):
        if batch in sample:
            gc.collect()
            rss.append(_server_rss(s))
        if edit:
            # A comment only: the answer must not change.
            s.client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=batch + 2),
                    content_changes=[
                        types.TextDocumentContentChangeWholeDocument(
                            text=f"{text}\n# edit {batch}\n"
                        )
                    ],
                )
            )
        answers = await asyncio.gather(
            *(execute(s.client, "envlayers.report", {"workspace": str(ws)}) for _ in range(100)),
            return_exceptions=True,
        )
        for answer in answers:
            if isinstance(answer, BaseException):
                errors.append(repr(answer))
            elif expected is None:
                expected = answer
            elif answer != expected:
                errors.append(f"changed answer: {json.dumps(answer)[:300]}")
    rss.append(_server_rss(s))
    return errors, rss, expected


async def test_ten_thousand_reports_mixed_with_document_changes(
    tmp_path: Path, wheelhouse: Path
) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    async with lsp_session([ws]) as s:
        await execute(s.client, "envlayers.sync", {"workspace": str(ws)})
        await execute(s.client, "envlayers.compose", {"workspace": str(ws), "with": ["plugin"]})
        errors, _, expected = await _load(s, ws, 100, edit=True)
        assert errors == [], errors[:5]
        assert expected is not None and expected["layers"][0]["requirements"] == ["plugin"]
        bad_logs = [m.message for m in s.client.log_messages if m.type == types.MessageType.Error]
        assert bad_logs == []
        final = await execute(s.client, "envlayers.report", {"workspace": str(ws)})
        assert final == expected


@pytest.mark.parametrize("edit", [False, True], ids=["reports", "reports-and-edits"])
async def test_server_memory_does_not_grow(tmp_path: Path, wheelhouse: Path, edit: bool) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    async with lsp_session([ws]) as s:
        await execute(s.client, "envlayers.sync", {"workspace": str(ws)})
        await execute(s.client, "envlayers.compose", {"workspace": str(ws), "with": ["plugin"]})
        errors, rss, _ = await _load(s, ws, 60, edit=edit, sample=(20, 40))
        assert errors == []
    # After warm-up, a leak grows with every request; allocator noise levels off.
    assert rss[2] - rss[1] < 4 * 2**20 and rss[2] - rss[0] < 8 * 2**20, rss
