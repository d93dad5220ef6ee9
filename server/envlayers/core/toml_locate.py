"""Source positions inside TOML text: tomllib gives values but no locations.

`TomlLocations` scans the text once and records where every key and value sits, so
errors and diagnostics can point at the exact requirement string or setting. It is a
tolerant scanner, not a validator: it never raises and falls back to the nearest
enclosing key or table header when it cannot find an element.
"""

from __future__ import annotations

import bisect
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "KeyPath",
    "Span",
    "TomlLocations",
    "dotted",
    "locate",
    "syntax_error_span",
    "utf16_character",
]

logger = logging.getLogger(__name__)

KeyPath = Sequence[str | int]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ERROR_POS = re.compile(r"\(at line (\d+), column (\d+)\)\s*$")
_WS = " \t"
# A bare value (number, bool, date) runs until a separator, a comment or the line's end.
_SCALAR = re.compile(r"[^,\]}\n#]*")


@dataclass(frozen=True)
class Span:
    """A range in a file. `line`/`column` are 1-based (for people); `end_*` is exclusive.

    Columns count code points; the `lsp_*` properties give the 0-based LSP form.
    """

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @property
    def lsp_line(self) -> int:
        return self.line - 1

    @property
    def lsp_character(self) -> int:
        return self.column - 1

    @property
    def lsp_end_line(self) -> int:
        return self.end_line - 1

    @property
    def lsp_end_character(self) -> int:
        return self.end_column - 1


def dotted(path: KeyPath) -> str:
    """A key path for people: `("profiles", "my.nb", "with", 2)` -> `profiles."my.nb".with[2]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        shown = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
        out += f".{shown}" if out else shown
    return out


def _as_path(path: KeyPath | str) -> tuple[str | int, ...]:
    # A plain string is a dotted key of bare parts; callers with dots inside keys pass a tuple.
    return tuple(path.split(".")) if isinstance(path, str) else tuple(path)


class _Scanner:
    """Walks TOML text recording offsets of keys and values by their full key path."""

    def __init__(self, text: str) -> None:
        self.t = text
        self.n = len(text)
        self.i = 0
        self.values: dict[tuple[str | int, ...], tuple[int, int]] = {}
        self.keys: dict[tuple[str | int, ...], tuple[int, int]] = {}
        self._aot: dict[tuple[str | int, ...], int] = {}

    # -- small helpers -----------------------------------------------------------------
    def _peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.t[j] if j < self.n else ""

    def _skip_ws(self) -> None:
        while self.i < self.n and self.t[self.i] in _WS:
            self.i += 1

    def _skip_ws_nl_comments(self) -> None:
        while self.i < self.n:
            c = self.t[self.i]
            if c in " \t\r\n":
                self.i += 1
            elif c == "#":
                self._skip_line()
            else:
                return

    def _skip_line(self) -> None:
        j = self.t.find("\n", self.i)
        self.i = self.n if j < 0 else j + 1

    # -- document ----------------------------------------------------------------------
    def run(self) -> None:
        table: tuple[str | int, ...] = ()
        while True:
            self._skip_ws_nl_comments()
            if self.i >= self.n:
                return
            start = self.i
            if self._peek() == "[":
                table = self._header(table)
            else:
                self._key_value(table)
            if self.i <= start:  # never loop without progress
                self._skip_line()

    def _header(self, current: tuple[str | int, ...]) -> tuple[str | int, ...]:
        start = self.i
        aot = self._peek(1) == "["
        self.i += 2 if aot else 1
        self._skip_ws()
        parts, _ = self._key()
        self._skip_ws()
        closing = "]]" if aot else "]"
        if not parts or not self.t.startswith(closing, self.i):
            self._skip_line()
            return current
        self.i += len(closing)
        span = (start, self.i)
        self._skip_line()
        path: tuple[str | int, ...] = tuple(parts)
        if aot:
            index = self._aot.get(path, -1) + 1
            self._aot[path] = index
            self.keys.setdefault(path, span)
            path = (*path, index)
        self.keys.setdefault(path, span)
        return path

    def _key_value(self, table: tuple[str | int, ...]) -> None:
        parts, spans = self._key()
        self._skip_ws()
        if not parts or self._peek() != "=":
            self._skip_line()
            return
        self.i += 1
        self._skip_ws()
        for k in range(len(parts)):
            self.keys.setdefault((*table, *parts[: k + 1]), (spans[0][0], spans[k][1]))
        self._value((*table, *parts))

    def _key(self) -> tuple[list[str], list[tuple[int, int]]]:
        """A dotted key; returns its parts and, per part, the offsets of that part."""
        parts: list[str] = []
        spans: list[tuple[int, int]] = []
        while True:
            self._skip_ws()
            start = self.i
            c = self._peek()
            if c == '"':
                raw = self._basic_string()
                parts.append(_decode_basic(raw))
            elif c == "'":
                raw = self._literal_string()
                parts.append(raw[1:-1] if len(raw) >= 2 else "")
            else:
                m = _BARE_KEY.match(self.t, self.i)
                if not m:
                    return parts, spans
                self.i = m.end()
                parts.append(m.group())
            spans.append((start, self.i))
            self._skip_ws()
            if self._peek() != ".":
                return parts, spans
            self.i += 1

    # -- values ------------------------------------------------------------------------
    def _value(self, path: tuple[str | int, ...]) -> None:
        start = self.i
        c = self._peek()
        if c == '"':
            if self.t.startswith('"""', self.i):
                self._multiline('"""')
            else:
                self._basic_string()
        elif c == "'":
            if self.t.startswith("'''", self.i):
                self._multiline("'''")
            else:
                self._literal_string()
        elif c == "[":
            self._array(path)
        elif c == "{":
            self._inline_table(path)
        else:
            m = _SCALAR.match(self.t, self.i)
            end = m.end() if m else self.i
            while end > self.i and self.t[end - 1] in " \t\r":
                end -= 1
            self.i = end
        if self.i > start:
            self.values.setdefault(path, (start, self.i))

    def _basic_string(self) -> str:
        start = self.i
        self.i += 1
        while self.i < self.n:
            c = self.t[self.i]
            if c == "\\":
                self.i += 2
                continue
            if c == "\n":
                break
            self.i += 1
            if c == '"':
                break
        self.i = min(self.i, self.n)
        return self.t[start : self.i]

    def _literal_string(self) -> str:
        start = self.i
        j = self.i + 1
        while j < self.n and self.t[j] not in "'\n":
            j += 1
        self.i = j + 1 if j < self.n and self.t[j] == "'" else j
        return self.t[start : self.i]

    def _multiline(self, quote: str) -> None:
        j = self.i + 3
        while j < self.n:
            if quote == '"""' and self.t[j] == "\\":
                j += 2
                continue
            if self.t.startswith(quote, j):
                j += 3
                # Up to two quotes right before the closing delimiter belong to the string.
                extra = 0
                while extra < 2 and j < self.n and self.t[j] == quote[0]:
                    j += 1
                    extra += 1
                self.i = j
                return
            j += 1
        self.i = self.n

    def _array(self, path: tuple[str | int, ...]) -> None:
        self.i += 1
        index = 0
        while self.i < self.n:
            self._skip_ws_nl_comments()
            if self._peek() == "]":
                self.i += 1
                return
            before = self.i
            self._value((*path, index))
            index += 1
            self._skip_ws_nl_comments()
            c = self._peek()
            if c == ",":
                self.i += 1
            elif c == "]":
                self.i += 1
                return
            elif self.i == before or not c:
                return

    def _inline_table(self, path: tuple[str | int, ...]) -> None:
        self.i += 1
        while self.i < self.n:
            self._skip_ws_nl_comments()
            c = self._peek()
            if c == "}":
                self.i += 1
                return
            if c == ",":
                self.i += 1
                continue
            parts, spans = self._key()
            self._skip_ws()
            if not parts or self._peek() != "=":
                return
            self.i += 1
            self._skip_ws()
            for k in range(len(parts)):
                self.keys.setdefault((*path, *parts[: k + 1]), (spans[0][0], spans[k][1]))
            self._value((*path, *parts))


def _decode_basic(raw: str) -> str:
    body = raw[1:-1] if len(raw) >= 2 and raw.endswith('"') else raw[1:]
    if "\\" not in body:
        return body
    try:
        # TOML's \UXXXXXXXX has no JSON form; everything else decodes the same way.
        decoded = json.loads(
            '"' + re.sub(r"\\U([0-9A-Fa-f]{8})", lambda m: chr(int(m.group(1), 16)), body) + '"'
        )
    except ValueError:
        return body
    return decoded if isinstance(decoded, str) else body


class TomlLocations:
    """Where keys and values sit in one TOML document. Never raises."""

    def __init__(self, text: str, file: str = "") -> None:
        self.file = file
        self._text = text
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        scanner = _Scanner(text)
        try:
            scanner.run()
        except Exception:  # a locator must never take down the caller; keep what we found
            logger.debug("toml_locate: scanner stopped early", exc_info=True)
        self._values = scanner.values
        self._keys = scanner.keys

    def _span(self, start: int, end: int) -> Span:
        line, col = self._position(start)
        end_line, end_col = self._position(max(end, start))
        return Span(self.file, line, col, end_line, end_col)

    def _position(self, offset: int) -> tuple[int, int]:
        row = bisect.bisect_right(self._line_starts, offset) - 1
        return row + 1, offset - self._line_starts[row] + 1

    def value_span(self, path: KeyPath | str) -> Span | None:
        """The exact span of the value at `path`, or None when it was not found."""
        found = self._values.get(_as_path(path))
        return None if found is None else self._span(*found)

    def key_span(self, path: KeyPath | str) -> Span | None:
        """The span of the key (or table header) that defines `path`, or None."""
        found = self._keys.get(_as_path(path))
        return None if found is None else self._span(*found)

    def find(self, path: KeyPath | str, *, key: bool = False) -> Span:
        """Best span for `path`: the value (or key), else the nearest enclosing key or header."""
        full = _as_path(path)
        exact = self.key_span(full) if key else self.value_span(full)
        if exact is not None:
            return exact
        if not key and (k := self.key_span(full)) is not None:
            return k
        for cut in range(len(full) - 1, 0, -1):
            k = self.key_span(full[:cut])
            if k is not None:
                return k
        return self._span(0, len(self._text.split("\n", 1)[0]))

    def position(self, line: int, column: int) -> Span:
        """A one-character span at a 1-based position, clamped into the text."""
        line = min(max(line, 1), len(self._line_starts))
        start = self._line_starts[line - 1]
        line_end = self._text.find("\n", start)
        line_end = len(self._text) if line_end < 0 else line_end
        offset = min(start + max(column, 1) - 1, line_end)
        return self._span(offset, min(offset + 1, line_end) if line_end > offset else offset)


def locate(
    text: str,
    path: KeyPath | str,
    index: int | None = None,
    *,
    file: str = "",
    key: bool = False,
) -> Span:
    """The span of the value (or key) at `path` (plus array `index`), with fallbacks."""
    full = _as_path(path)
    if index is not None:
        full = (*full, index)
    return TomlLocations(text, file).find(full, key=key)


def syntax_error_span(text: str, message: str, file: str = "") -> Span:
    """Where a `tomllib.TOMLDecodeError` points, read from its "(at line X, column Y)" text."""
    locations = TomlLocations(text, file)
    m = _ERROR_POS.search(message)
    if m:
        return locations.position(int(m.group(1)), int(m.group(2)))
    # "(at end of document)" and anything else: point at the last character.
    lines = text.split("\n")
    return locations.position(len(lines), len(lines[-1]))


def utf16_character(text: str, line: int, column: int) -> int:
    """The 0-based UTF-16 offset of 1-based code-point (`line`, `column`) in `text`.

    LSP positions count UTF-16 code units by default; `Span` columns count code points.
    """
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return max(column - 1, 0)
    prefix = lines[line - 1][: max(column - 1, 0)]
    return len(prefix.encode("utf-16-le")) // 2
