"""Diagnostics on pyproject.toml and the "Sync workspace environment" quick fix (pure)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pygls.workspace import PositionCodec

from envlayers.core.project import Problem
from envlayers.core.toml_locate import Span, TomlLocations

__all__ = [
    "SOURCE",
    "SYNC_CODES",
    "SYNC_TITLE",
    "Findings",
    "build_diagnostics",
    "sync_actions",
]

SOURCE = "envlayers"
SYNC_TITLE = "Sync workspace environment"
SYNC_CODES = frozenset({"out-of-sync", "missing-environment"})


@dataclass(frozen=True)
class Findings:
    """What the server learnt about one workspace, without installing anything."""

    root: Path
    problems: Sequence[Problem] = ()
    sync_state: str | None = None
    requires_python: str | None = None
    python_version: str | None = None
    conflicts: Sequence[Mapping[str, object]] = field(default=())


def build_diagnostics(
    findings: Findings, text: str, codec: PositionCodec | None = None
) -> list[types.Diagnostic]:
    """Diagnostics for `text` (the pyproject.toml), in the client's position units."""
    lines = text.splitlines(keepends=True) or [""]
    locs = TomlLocations(text, str(findings.root / "pyproject.toml"))
    data = {"workspace": str(findings.root)}
    out: list[types.Diagnostic] = []

    def add(span: Span, message: str, severity: types.DiagnosticSeverity, code: str) -> None:
        rng = types.Range(
            start=types.Position(line=span.lsp_line, character=span.lsp_character),
            end=types.Position(line=span.lsp_end_line, character=span.lsp_end_character),
        )
        if codec is not None:
            rng = codec.range_to_client_units(lines, rng)
        out.append(
            types.Diagnostic(
                range=rng, message=message, severity=severity, code=code, source=SOURCE, data=data
            )
        )

    for p in findings.problems:
        sev = (
            types.DiagnosticSeverity.Error
            if p.severity == "error"
            else types.DiagnosticSeverity.Warning
        )
        add(p.span, p.message, sev, p.code)
    has_errors = any(p.severity == "error" for p in findings.problems)
    deps_span = locs.find(("project", "dependencies"), key=True)
    if findings.sync_state == "out-of-sync" and not has_errors:
        add(
            deps_span,
            "The workspace environment is out of sync with pyproject.toml",
            types.DiagnosticSeverity.Warning,
            "out-of-sync",
        )
    elif findings.sync_state == "missing" and not has_errors:
        add(
            deps_span,
            "The workspace environment does not exist yet",
            types.DiagnosticSeverity.Warning,
            "missing-environment",
        )
    miss = _requires_python_miss(findings.requires_python, findings.python_version)
    if miss is not None:
        add(
            locs.find(("project", "requires-python")),
            miss,
            types.DiagnosticSeverity.Error,
            "requires-python",
        )
    for conflict in findings.conflicts:
        span, message = _conflict(conflict, text, locs, deps_span)
        add(span, message, types.DiagnosticSeverity.Warning, "conflict")
    return out


def sync_actions(uri: str, diagnostics: Sequence[types.Diagnostic]) -> list[types.CodeAction]:
    """One quick fix per out-of-sync diagnostic in the request's context."""
    actions: list[types.CodeAction] = []
    for d in diagnostics:
        if d.source != SOURCE or d.code not in SYNC_CODES:
            continue
        workspace = d.data.get("workspace") if isinstance(d.data, Mapping) else None
        args: list[object] = (
            [{"workspace": workspace}] if isinstance(workspace, str) else [{"workspace": uri}]
        )
        actions.append(
            types.CodeAction(
                title=SYNC_TITLE,
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[d],
                is_preferred=True,
                command=types.Command(title=SYNC_TITLE, command="envlayers.sync", arguments=args),
            )
        )
    return actions


def _requires_python_miss(spec: str | None, version: str | None) -> str | None:
    if not spec or not version:
        return None
    try:
        if SpecifierSet(spec).contains(Version(version), prereleases=True):
            return None
    except (InvalidSpecifier, InvalidVersion):
        return None  # check_project reports a malformed specifier itself
    return f"The workspace interpreter is Python {version}, which requires-python {spec!r} excludes"


def _conflict(
    conflict: Mapping[str, object], text: str, locs: TomlLocations, fallback: Span
) -> tuple[Span, str]:
    name = str(conflict.get("name", "?"))
    version = str(conflict.get("version", "?"))
    source = str(conflict.get("source", "?"))
    shadows = conflict.get("shadows")
    shadowed = ""
    if isinstance(shadows, list):
        shadowed = ", ".join(
            f"{s.get('version')} from {s.get('source')}" for s in shadows if isinstance(s, Mapping)
        )
    message = f"{name} {version} from layer {source} shadows {shadowed or 'another version'}"
    breaks = conflict.get("breaks")
    if isinstance(breaks, list) and breaks:
        message += "; it no longer satisfies: " + ", ".join(str(b) for b in breaks)
    return _dependency_span(name, text, locs) or fallback, message


def _dependency_span(name: str, text: str, locs: TomlLocations) -> Span | None:
    """Where the project's own dependency on `name` is written, if it is a direct one."""
    try:
        deps = tomllib.loads(text).get("project", {}).get("dependencies", [])
    except (tomllib.TOMLDecodeError, AttributeError):
        return None
    if not isinstance(deps, list):
        return None
    want = canonicalize_name(name)
    for i, item in enumerate(deps):
        try:
            if isinstance(item, str) and canonicalize_name(Requirement(item).name) == want:
                return locs.value_span(("project", "dependencies", i))
        except InvalidRequirement:
            continue
    return None
