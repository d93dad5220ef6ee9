"""Secrets: an index URL's credentials never appear in output, logs, reports or metadata."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from envlayers.config import Options
from envlayers.core.engine import Engine
from envlayers.core.errors import EnvlayersError
from tests.support.cli import cli
from tests.support.lsp import error_of, execute, lsp_session, workspace_project
from tests.support.workspaces import uv_workspace

pytestmark = pytest.mark.slow

TOKEN = "s3cr3t-T0KEN-9f8e7d"
INDEX = f"https://alice:{TOKEN}@127.0.0.1:9/simple"  # loopback, closed port: never contacted


def _files_under(*roots: Path) -> list[Path]:
    out: list[Path] = []
    for root in roots:
        for dirpath, _, filenames in os.walk(root):
            out += [Path(dirpath) / n for n in filenames if not os.path.islink(Path(dirpath) / n)]
    return out


def _leaks(*roots: Path) -> list[str]:
    return [str(p) for p in _files_under(*roots) if TOKEN.encode() in p.read_bytes()]


def test_token_never_leaks_from_engine_or_cli(
    tmp_path: Path, wheelhouse: Path, envlayers_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The index is configured in pyproject.toml (no-index keeps the installers offline).
    ws = uv_workspace(tmp_path / "ws", wheelhouse, extra_tool=f'index-url = "{INDEX}"\n')
    caplog.set_level(logging.DEBUG, logger="envlayers")
    engine = Engine()
    lines: list[str] = []
    report = engine.compose(ws, Options(with_=("plugin",)), on_line=lines.append)
    texts = [str(report.to_json()), *lines]
    # A failing install: the installer's command line and stderr end up in the error.
    with pytest.raises(EnvlayersError) as info:
        engine.compose(ws, Options(with_=("no-such-dist-xyz",), no_sync=True), on_line=lines.append)
    texts += [str(info.value), *lines]
    # The same index given on the command line and through extra-index-url, verbosely.
    for args in (
        ("env", "--with", "eta", "-vv", "--index-url", INDEX),
        ("env", "--with", "no-such-dist-xyz", "-vv", "--extra-index-url", INDEX),
        ("sync", "-vv", "--index-url", INDEX, "--format", "json"),
        ("env", "--with", "plugin", "--format", "json"),
        ("env", "--with", "plugin", "--format", "shell"),
        ("layers", "list", "--format", "json"),
    ):
        result = cli(*args, "--project", str(ws)) if args[0] != "layers" else cli(*args)
        texts += [result.stdout, result.stderr]
    texts += [r.getMessage() for r in caplog.records]
    leaked = [t[:300] for t in texts if TOKEN in t]
    assert leaked == []
    assert "****@127.0.0.1:9" in "\n".join(texts)  # redacted, not dropped: still useful
    # On disk: layer metadata, active.json, the composed env, the report cache, the sync stamp.
    assert _leaks(envlayers_cache, ws / ".envlayers", ws / ".venv") == []


async def test_token_never_leaks_over_lsp(tmp_path: Path, wheelhouse: Path) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse, extra_tool=f'index-url = "{INDEX}"\n')
    async with lsp_session([ws], initialization_options={"verbose": True}) as s:
        await execute(s.client, "envlayers.sync", {"workspace": str(ws)})
        composed = await execute(
            s.client, "envlayers.compose", {"workspace": str(ws), "with": ["beta"]}
        )
        failed = await error_of(
            s.client,
            "envlayers.compose",
            {"workspace": str(ws), "with": ["no-such-dist-xyz"], "indexUrl": INDEX},
        )
        bad = await error_of(s.client, "envlayers.report", {"workspace": INDEX})
        report = await execute(s.client, "envlayers.report", {"workspace": str(ws)})
        texts = [str(composed), str(report), str(failed), str(failed.data), str(bad), str(bad.data)]
        texts += [m.message for m in s.client.log_messages]
        texts += [str(m) for m in getattr(s.client, "messages", [])]
        texts += [str(v) for values in s.client.progress_reports.values() for v in values]
        texts += [str(c) for c in s.changes]
        diagnostics = getattr(s.client, "diagnostics", {})
        texts += [str(d) for d in diagnostics.values()]
    leaked = [t[:300] for t in texts if TOKEN in t]
    assert leaked == []
