"""Single-file scripts (PEP 723) in the language server.

A Python document that carries a `# /// script` block gets diagnostics on the block (TOML
errors, invalid requirements, unknown keys: exact ranges inside the comment lines, converted
to the negotiated position encoding), the code action "Use this script's environment" (the
server command `envlayers.compose` with `{"script": path}`), and re-checks on every edit,
debounced by the `Refresher`. Commands take `script` (a path or `file:` URI) in place of
`workspace`; `envlayers/environmentChanged` carries `script` for a script's composition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import PositionCodec

from envlayers.core.checker import Problem
from envlayers.core.errors import EnvlayersError, InvalidInput
from envlayers.core.inline import check_script, has_block, read_script
from envlayers.lsp.diagnostics import SOURCE

__all__ = [
    "COMPOSE_COMMAND",
    "SUFFIXES",
    "USE_SCRIPT_TITLE",
    "ScriptHost",
    "script_actions",
    "script_arg",
    "script_diagnostics",
    "script_of_uri",
    "script_refresh",
]

log = logging.getLogger(__name__)

USE_SCRIPT_TITLE = "Use this script's environment"
COMPOSE_COMMAND = "envlayers.compose"
SUFFIXES = (".py", ".pyw")


class _Engine(Protocol):
    def report(self, workspace: Path, *, script: Path | None = None) -> object: ...


class ScriptHost(Protocol):
    """What a script's re-check needs from the server."""

    script_uris: set[str]

    @property
    def engine(self) -> _Engine: ...

    async def in_read(self, fn: Callable[[], object]) -> object: ...

    def open_document(self, uri: str) -> str | None: ...

    def position_codec(self) -> PositionCodec | None: ...

    def publish(self, params: types.PublishDiagnosticsParams) -> None: ...

    def script_changed(self, script: Path, report: Mapping[str, object] | None) -> None: ...


def script_of_uri(uri: str) -> Path | None:
    """The file a document URI names, when it is a Python file."""
    path = to_fs_path(uri)
    if path is None or not path.endswith(SUFFIXES):
        return None
    return Path(path)


def script_arg(arg: Mapping[str, object]) -> tuple[Mapping[str, object], Path | None]:
    """A command's argument with `script` (path or `file:` URI) made a path, and that path."""
    value = arg.get("script")
    if value is None:
        return arg, None
    if not isinstance(value, str) or not value or "\x00" in value or len(value) > 4096:
        raise InvalidInput("'script' must be a file path or a file: URI")
    path = to_fs_path(value) if value.startswith("file:") else value
    if path is None:
        raise InvalidInput("'script' must be a file path or a file: URI")
    script = Path(path).expanduser().absolute()
    return {**arg, "script": str(script)}, script


def script_diagnostics(
    path: Path, text: str, codec: PositionCodec | None = None
) -> list[types.Diagnostic]:
    """The block's problems as diagnostics, in the client's position units."""
    _, problems = check_script(path, text)
    lines = text.replace("\r\n", "\n").splitlines(keepends=True) or [""]
    return [_diagnostic(p, path, lines, codec) for p in problems]


def _diagnostic(
    problem: Problem, path: Path, lines: Sequence[str], codec: PositionCodec | None
) -> types.Diagnostic:
    span = problem.span
    rng = types.Range(
        start=types.Position(line=span.lsp_line, character=span.lsp_character),
        end=types.Position(line=span.lsp_end_line, character=span.lsp_end_character),
    )
    if codec is not None:
        rng = codec.range_to_client_units(list(lines), rng)
    severity = (
        types.DiagnosticSeverity.Error
        if problem.severity == "error"
        else types.DiagnosticSeverity.Warning
    )
    return types.Diagnostic(
        range=rng,
        message=problem.message,
        severity=severity,
        code=problem.code,
        source=SOURCE,
        data={"script": str(path)},
    )


def script_actions(uri: str, text: str, rng: types.Range) -> list[types.CodeAction]:
    """ "Use this script's environment" on the lines of a well-formed `# /// script` block."""
    path = script_of_uri(uri)
    if path is None or not has_block(text):
        return []
    block, problems = check_script(path, text)
    if block is None or any(p.severity == "error" for p in problems):
        return []
    first, last = block.line - 1, block.end_line - 1  # 0-based lines of the block
    if rng.end.line < first or rng.start.line > last:
        return []
    command = types.Command(
        title=USE_SCRIPT_TITLE, command=COMPOSE_COMMAND, arguments=[{"script": str(path)}]
    )
    return [
        types.CodeAction(
            title=USE_SCRIPT_TITLE, kind=types.CodeActionKind.QuickFix, command=command
        )
    ]


async def script_refresh(host: ScriptHost, script: Path, *, notify: bool) -> None:
    """Publish the block's diagnostics (clearing them when the block went away); with
    `notify`, send `environmentChanged` with the script's current report."""
    uri = str(from_fs_path(str(script)))
    text = host.open_document(uri)
    if text is None:
        try:
            text = read_script(script)
        except EnvlayersError:
            text = ""
    tracked = has_block(text)
    diags = script_diagnostics(script, text, host.position_codec()) if tracked else []
    if tracked or uri in host.script_uris:
        host.publish(types.PublishDiagnosticsParams(uri=uri, diagnostics=diags))
    if tracked:
        host.script_uris.add(uri)
    else:
        host.script_uris.discard(uri)
    if not notify:
        return
    engine = host.engine

    def current() -> dict[str, object] | None:
        try:
            report = engine.report(script, script=script)
        except EnvlayersError as exc:
            log.info("no report for %s: %s", script, exc)
            return None
        to_json = getattr(report, "to_json", None)
        return to_json() if callable(to_json) else None

    found = await host.in_read(current)
    host.script_changed(script, found if isinstance(found, dict) else None)
