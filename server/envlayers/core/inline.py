"""Inline script metadata (PEP 723): the `# /// script` block of a single-file script.

The block is found with the regular expression of the PEP's specification; its content (each
line without its `#` or `# ` prefix) is TOML read with `tomllib`. The table may hold
`dependencies`, `requires-python` and `[tool.*]`; any other top-level key is an error.
Problems carry spans inside the comment lines of the script itself (1-based, code points, as
`toml_locate.Span`), so the language server can convert them to any position encoding.
Parsing only: nothing here runs a process or touches an environment.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from envlayers.core.checker import Checker, Problem
from envlayers.core.errors import ConfigError, EnvlayersError, InvalidInput, InvalidRequirement
from envlayers.core.requirements import ReqItem
from envlayers.core.toml_locate import Span, syntax_error_span
from envlayers.core.toolconfig import ToolSettings, decode_tool_settings

__all__ = [
    "BLOCK_RE",
    "KNOWN_KEYS",
    "ScriptBlock",
    "ScriptMetadata",
    "check_script",
    "find_block",
    "has_block",
    "load_script",
    "read_script",
]

log = logging.getLogger(__name__)

# The reference expression of PEP 723's specification.
BLOCK_RE = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")
_OPENING = re.compile(r"(?m)^# /// script$")
KNOWN_KEYS = ("dependencies", "requires-python", "tool")
_MAX_SCRIPT = 4 * 1024 * 1024


@dataclass(frozen=True)
class ScriptBlock:
    """Where the block sits: `line` is the 1-based line of `# /// script`, `end_line` that of
    the closing `# ///`; `toml` is the content, `prefixes` the length of each content line's
    comment prefix (1 for `#`, 2 for `# `)."""

    file: str
    line: int
    end_line: int
    toml: str
    prefixes: tuple[int, ...]

    def to_file(self, span: Span) -> Span:
        """A span inside `toml` moved to the script's own lines and columns."""
        return Span(
            self.file,
            span.line + self.line,
            span.column + self._prefix(span.line),
            span.end_line + self.line,
            span.end_column + self._prefix(span.end_line),
        )

    def _prefix(self, toml_line: int) -> int:
        if 1 <= toml_line <= len(self.prefixes):
            return self.prefixes[toml_line - 1]
        return 0

    @property
    def header(self) -> Span:
        """The `# /// script` line."""
        return Span(self.file, self.line, 1, self.line, len("# /// script") + 1)


@dataclass(frozen=True)
class ScriptMetadata:
    """A script's decoded block: requirement spans point into the script's comment lines."""

    path: Path
    block: ScriptBlock
    dependencies: tuple[ReqItem, ...]
    requires_python: str | None
    settings: ToolSettings
    tool: Mapping[str, object] = field(default_factory=dict)
    requires_python_span: Span | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.block.toml.encode()).hexdigest()


def read_script(path: Path) -> str:
    """The script's text (UTF-8, line ends normalised); an unreadable file is `InvalidInput`."""
    try:
        if path.stat().st_size > _MAX_SCRIPT:
            raise InvalidInput(f"{path}: too large for a script ({path.stat().st_size} bytes)")
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read the script {path}: {exc.strerror or exc}") from exc
    try:
        return _normalise(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text ({exc.reason})") from exc


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n")


def has_block(text: str) -> bool:
    """Whether `text` opens a `# /// script` block (well-formed or not)."""
    return _OPENING.search(_normalise(text)) is not None


def find_block(file: str, text: str) -> ScriptBlock | None:
    """The `script` block of `text`, None when there is none; a malformed one (two blocks,
    an opening without its closing line) is a `Problem`-carrying `_BlockError`."""
    text = _normalise(text)
    matches = [m for m in BLOCK_RE.finditer(text) if m.group("type") == "script"]
    if len(matches) > 1:
        line = text.count("\n", 0, matches[1].start()) + 1
        raise _BlockError(
            _header(file, line), "a second `# /// script` block (only one is allowed)"
        )
    if not matches:
        opening = _OPENING.search(text)
        if opening is not None:
            line = text.count("\n", 0, opening.start()) + 1
            raise _BlockError(
                _header(file, line),
                "the `# /// script` block is not closed: every line up to a `# ///` line "
                "must start with `#`",
            )
        return None
    match = matches[0]
    line = text.count("\n", 0, match.start()) + 1
    content = match.group("content").splitlines(keepends=True)
    prefixes = tuple(2 if raw.startswith("# ") else 1 for raw in content)
    toml = "".join(raw[n:] for raw, n in zip(content, prefixes, strict=True))
    return ScriptBlock(file, line, line + len(content) + 1, toml, prefixes)


def _header(file: str, line: int) -> Span:
    return Span(file, line, 1, line, len("# /// script") + 1)


class _BlockError(InvalidInput):
    def __init__(self, span: Span, reason: str) -> None:
        super().__init__(reason, file=span.file, line=span.line, column=span.column)
        self.problem = Problem(span, reason, "error", "script-block")


def check_script(path: Path, text: str) -> tuple[ScriptBlock | None, list[Problem]]:
    """Every problem of the script's block (for diagnostics), spans in the script's lines."""
    try:
        block = find_block(str(path), text)
    except _BlockError as exc:
        return None, [exc.problem]
    if block is None:
        return None, []
    analysis = _Analysis(path, block)
    return block, [problem for problem, _ in analysis.issues_in_file()]


def load_script(path: Path, text: str | None = None) -> ScriptMetadata | None:
    """The script's metadata, None without a block; the first problem raised as an error
    naming the script's file, line and column."""
    text = read_script(path) if text is None else text
    block = find_block(str(path), text)
    if block is None:
        return None
    analysis = _Analysis(path, block)
    for _problem, error in analysis.issues_in_file():
        if _problem.severity == "error":
            raise error
    return analysis.metadata()


class _Analysis(Checker):
    """The block's TOML checked like a pyproject table; spans are TOML-relative until
    `issues_in_file` moves them into the script."""

    def __init__(self, path: Path, block: ScriptBlock) -> None:
        self.block = block
        self.data: dict[str, Any] = {}
        self.dependencies: tuple[ReqItem, ...] = ()
        self.requires_python: str | None = None
        self.settings = ToolSettings()
        try:
            self.data = tomllib.loads(block.toml)
        except tomllib.TOMLDecodeError as exc:
            super().__init__(path, block.toml, scan=False)
            span = syntax_error_span(block.toml, str(exc), str(path))
            reason = f"invalid TOML in the script block: {str(exc).split(' (at ')[0]}"
            self.add(Problem(span, reason, "error", "toml-syntax"), InvalidInput(reason))
            return
        super().__init__(path, block.toml)
        self._read()

    def _read(self) -> None:
        for key in self.data:
            if key not in KNOWN_KEYS:
                self.config(
                    (key,),
                    "unknown-key",
                    "unknown key in a script block (allowed: dependencies, requires-python, "
                    "[tool])",
                    key=True,
                )
        if "dependencies" in self.data:
            self.dependencies = self.requirements(("dependencies",), self.data["dependencies"])
        if "requires-python" in self.data:
            spec = self.string(("requires-python",), self.data["requires-python"])
            if spec is not None:
                try:
                    SpecifierSet(spec)
                    self.requires_python = spec
                except InvalidSpecifier:
                    self.config(
                        ("requires-python",), "invalid-value", f"not a version specifier: {spec!r}"
                    )
        self.settings = decode_tool_settings(self, self.data, {})

    def issues_in_file(self) -> list[tuple[Problem, EnvlayersError]]:
        out = []
        for issue in self.issues:
            span = self.block.to_file(issue.problem.span)
            problem = Problem(
                span, issue.problem.message, issue.problem.severity, issue.problem.code
            )
            out.append((problem, _relocate(issue.error, span)))
        return out

    def metadata(self) -> ScriptMetadata:
        items = tuple(
            ReqItem(i.text, self.block.to_file(i.span) if i.span else None)
            for i in self.dependencies
        )
        tool = self.data.get("tool")
        return ScriptMetadata(
            path=self.pyproject,
            block=self.block,
            dependencies=items,
            requires_python=self.requires_python,
            settings=self.settings,
            tool=tool if isinstance(tool, dict) else {},
            requires_python_span=(
                self.block.to_file(self.loc.find(("requires-python",)))
                if self.requires_python
                else None
            ),
        )


def _relocate(error: EnvlayersError, span: Span) -> EnvlayersError:
    """The same error, pointing at `span` in the script."""
    where: dict[str, Any] = {"file": span.file, "line": span.line, "column": span.column}
    if isinstance(error, InvalidRequirement):
        return InvalidRequirement(error.text, error.reason, **where)
    if isinstance(error, ConfigError):
        return ConfigError(error.key, error.reason, **where)
    if isinstance(error, InvalidInput):
        return InvalidInput(error.detail, **where)
    return error
