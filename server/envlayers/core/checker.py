"""The problem-collecting reader under the `pyproject.toml` analysis.

A `Checker` reads decoded TOML values by key path: each typed getter returns the value or
records a `Problem` (with the span `TomlLocations` finds) plus the error `load_project` raises,
and returns None. The table decoders (`[project]`, `[dependency-groups]`, `[tool.envlayers]`)
are written on top of it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envlayers.core.errors import ConfigError, EnvlayersError, InvalidRequirement
from envlayers.core.requirements import URL, ReqItem, parse_requirement
from envlayers.core.toml_locate import KeyPath, Span, TomlLocations, dotted

__all__ = ["Checker", "Issue", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One diagnostic: `severity` is "error" or "warning"; `code` is a stable short id."""

    span: Span
    message: str
    severity: str
    code: str


@dataclass(frozen=True)
class Issue:
    """A problem (for diagnostics) with the error value it becomes (for `load_project`)."""

    problem: Problem
    error: EnvlayersError


class Checker:
    """Typed reads of TOML values at key paths, collecting every problem with its span."""

    def __init__(self, pyproject: Path, text: str, *, scan: bool = True) -> None:
        self.pyproject = pyproject
        self.root = pyproject.parent
        self.file = str(pyproject)
        self.text = text
        self.issues: list[Issue] = []
        # Without a scan (text that is not TOML) every span falls back to the file's start.
        self.loc = TomlLocations(text if scan else "", self.file)

    # -- problems ------------------------------------------------------------------------
    def add(self, problem: Problem, error: EnvlayersError) -> None:
        self.issues.append(Issue(problem, error))

    def config(
        self, path: KeyPath, code: str, reason: str, *, key: bool = False, severity: str = "error"
    ) -> None:
        span = self.loc.find(path, key=key)
        name = dotted(path)
        self.add(
            Problem(span, f"{name}: {reason}", severity, code),
            ConfigError(name, reason, file=self.file, line=span.line, column=span.column),
        )

    def wrong_type(self, path: KeyPath, expected: str, value: object) -> None:
        self.config(path, "wrong-type", f"expected {expected}, got {toml_type(value)}")

    # -- typed reads -----------------------------------------------------------------------
    def table(self, path: tuple[str, ...], value: object) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.wrong_type(path, "a table", value)
        return None

    def string(self, path: KeyPath, value: object, *, nonempty: bool = True) -> str | None:
        if not isinstance(value, str):
            self.wrong_type(path, "a string", value)
            return None
        if nonempty and not value.strip():
            self.config(path, "invalid-value", "must not be empty")
            return None
        return value

    def strings(self, path: KeyPath, value: object) -> list[str] | None:
        if not isinstance(value, list):
            self.wrong_type(path, "an array of strings", value)
            return None
        out: list[str] = []
        for index, element in enumerate(value):
            checked = self.string((*path, index), element)
            if checked is not None:
                out.append(checked)
        return out

    def requirements(self, path: KeyPath, value: object) -> tuple[ReqItem, ...]:
        if not isinstance(value, list):
            self.wrong_type(path, "an array of requirement strings", value)
            return ()
        out: list[ReqItem] = []
        for index, element in enumerate(value):
            if not isinstance(element, str):
                self.wrong_type((*path, index), "a requirement string", element)
                continue
            item = self.req_item((*path, index), element)
            if item is not None:
                out.append(item)
        return tuple(out)

    def req_item(self, path: KeyPath, text: str) -> ReqItem | None:
        item = ReqItem(text, self.loc.find(path))
        try:
            parse_requirement(item)
        except InvalidRequirement as exc:
            assert item.span is not None
            message = f"{dotted(path)}: invalid requirement {text!r}: {exc.reason}"
            self.add(Problem(item.span, message, "error", "invalid-requirement"), exc)
            return None
        return item

    # -- paths -----------------------------------------------------------------------------
    def link(self, link: str) -> str:
        """A find-links entry: URLs as written, paths absolute against the project root."""
        if URL.match(link):
            return link
        return os.path.normpath(self.root / os.path.expanduser(link))

    def path(self, path: KeyPath, value: str, what: str) -> str:
        """`value` made absolute against the project root; a warning when it does not exist."""
        absolute = os.path.normpath(self.root / os.path.expanduser(value))
        if not os.path.exists(absolute):
            self.config(
                path, "missing-path", f"{what} {absolute} does not exist", severity="warning"
            )
        return absolute


def toml_type(value: object) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)
