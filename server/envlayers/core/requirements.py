"""Requirement strings as written (`ReqItem`, with their source span) and pip requirements files.

Parsing only: a requirements file is read into requirement strings and editable paths; any
other pip option is refused with the file and line, so raw lines never reach an installer.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement as _PackagingInvalidRequirement
from packaging.requirements import Requirement

from envlayers.core.errors import InvalidInput, InvalidRequirement
from envlayers.core.toml_locate import Span

__all__ = ["URL", "ReqItem", "parse_requirement", "read_requirements_file"]

# A URL or a `file:` reference, as opposed to a local path.
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|file:")


@dataclass(frozen=True)
class ReqItem:
    """One requirement string as written, with where it came from (None: not from a file)."""

    text: str
    span: Span | None = None


def parse_requirement(item: ReqItem) -> Requirement:
    """Parse one PEP 508 string; `InvalidRequirement` points at the item's span."""
    span = item.span
    where: dict[str, Any] = {}
    if span is not None:
        where = {"file": span.file or None, "line": span.line, "column": span.column}
    if not item.text.strip():
        raise InvalidRequirement(item.text, "empty requirement", **where)
    try:
        return Requirement(item.text)
    except _PackagingInvalidRequirement as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "does not parse"
        raise InvalidRequirement(item.text, reason, **where) from exc


def read_requirements_file(path: Path) -> tuple[list[ReqItem], list[str]]:
    """Read a pip requirements file: `(requirements, absolute editable paths)`.

    Supports comments, blank lines, `\\` continuations, `-r FILE` (relative to the including
    file; each file read once, so cycles are harmless) and `-e PATH`. Any other option is an
    `InvalidInput` naming file and line: raw lines are never handed to an installer.
    """
    reader = _Reader()
    reader.read(Path(os.path.realpath(path)), None)
    return reader.reqs, reader.editables


def _logical_lines(text: str) -> list[tuple[int, int, str]]:
    """(line, column of first character, text) per logical line, comments and joins done."""
    out: list[tuple[int, int, str]] = []
    buf = ""
    first = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not buf:
            first = number
        # pip's rule: a comment starts at a '#' at line start or after whitespace.
        line = re.sub(r"(^|\s+)#.*$", "", raw)
        if line.endswith("\\"):
            buf += line[:-1]
            continue
        buf += line
        stripped = buf.strip()
        if stripped:
            column = len(buf) - len(buf.lstrip()) + 1
            out.append((first, column, stripped))
        buf = ""
    if buf.strip():
        out.append((first, len(buf) - len(buf.lstrip()) + 1, buf.strip()))
    return out


def _read_text(path: Path, included_from: Span | None) -> str:
    # A missing included file is reported at the `-r` line that names it.
    src = included_from.file if included_from else None
    src_line = included_from.line if included_from else None
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidInput(f"requirements file not found: {path}", file=src, line=src_line) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"cannot read requirements file {path}: {exc}", file=src, line=src_line
        ) from exc


def _requirement_line(content: str, span: Span) -> ReqItem:
    item = ReqItem(content, span)
    try:
        parse_requirement(item)
    except InvalidRequirement as exc:
        # The file may be anything (a netrc, a key): its content is never echoed.
        where: dict[str, Any] = {"file": span.file, "line": span.line, "column": span.column}
        if re.search(r"\s--?[A-Za-z]", content):
            raise InvalidInput(
                "per-requirement options (such as --hash) are not supported", **where
            ) from exc
        quoted = any(w in exc.reason for w in content.split() if len(w) > 3)
        raise InvalidInput(
            f"not a requirement ({'does not parse' if quoted else exc.reason}); a requirements "
            "file holds requirements, -r FILE and -e PATH lines",
            **where,
        ) from exc
    return item


class _Reader:
    """Accumulates one file and everything it includes; each file is read once."""

    def __init__(self) -> None:
        self.reqs: list[ReqItem] = []
        self.editables: list[str] = []
        self.seen: set[Path] = set()

    def read(self, path: Path, included_from: Span | None) -> None:
        if path in self.seen:
            return
        self.seen.add(path)
        text = _read_text(path, included_from)
        for line, column, content in _logical_lines(text):
            span = Span(str(path), line, column, line, column + len(content))
            if content.startswith("-"):
                self._option(path, content, span)
            else:
                self.reqs.append(_requirement_line(content, span))

    def _option(self, path: Path, content: str, span: Span) -> None:
        where: dict[str, Any] = {"file": span.file, "line": span.line, "column": span.column}
        option, arg = _split_option(content)
        if option in ("-r", "--requirement") and arg:
            included = Path(os.path.realpath(path.parent / os.path.expanduser(arg)))
            self.read(included, span)
        elif option in ("-e", "--editable") and arg:
            if URL.match(arg):
                raise InvalidInput(f"only local paths are supported for -e, not {arg!r}", **where)
            self.editables.append(os.path.normpath(path.parent / os.path.expanduser(arg)))
        else:
            named = re.match(r"--[A-Za-z][A-Za-z0-9-]*|-[A-Za-z]", content)
            raise InvalidInput(
                "unsupported option in requirements file: "
                f"{named[0] if named else content[:1]!r} "
                "(only requirements, -r FILE and -e PATH are allowed)",
                **where,
            )


def _split_option(content: str) -> tuple[str, str]:
    """`-r x`, `-rx`, `--requirement=x`, `--requirement x` -> (option, argument)."""
    if content[:2] in ("-r", "-e") and not content.startswith("--"):
        return content[:2], content[2:].strip().removeprefix("=").strip()
    m = re.fullmatch(r"(--[A-Za-z][A-Za-z0-9-]*)(?:\s*=\s*|\s+)?(.*)", content)
    if not m:
        return content, ""
    return m.group(1), m.group(2).strip()
