"""Credentials in URLs never reach a log, a report, a message or a fast-path key.

String methods only, no `re`: the CLI's fast path keys its stored reports with it, and `re`
alone costs more to import than that whole path. The rule, as a regular expression (a property
test holds this code to it): `\\b<scheme>://<userinfo>@` where the scheme is a letter then
letters, digits, `+`, `.` or `-`, and the userinfo is one or more runs of characters other than
`/`, `?`, `#`, `@` and whitespace, joined by single `@`s. Everything up to the authority's last
such `@` goes (`https://user:p@ss@host` -> `https://****@host`).
"""

from __future__ import annotations

__all__ = ["redact"]

_SCHEME_EXTRA = "+.-"
_STOP = "/?#"


def _is_scheme_char(ch: str) -> bool:
    return (ch.isascii() and ch.isalnum()) or ch in _SCHEME_EXTRA


def _is_ascii_letter(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _has_scheme(text: str, start: int, colon: int) -> bool:
    """Whether a scheme ends at `colon`, begun at a word boundary at or after `start`."""
    i = colon
    while i > start and _is_scheme_char(text[i - 1]):
        i -= 1
    for j in range(i, colon):
        if _is_ascii_letter(text[j]) and (j == 0 or not _is_word(text[j - 1])):
            return True
    return False


def _userinfo_end(text: str, head: int) -> int:
    """The index just past the userinfo's final `@` after `head`, or -1 when there is none."""
    end = head
    while end < len(text) and text[end] not in _STOP and not text[end].isspace():
        end += 1
    found, i = -1, head
    while i < end:
        at = text.find("@", i, end)
        if at <= i:  # no `@` left, or an empty run (`@@`, or `@` right after `://`)
            break
        found = i = at + 1
    return found


def redact(text: str) -> str:
    """Hide credentials in URLs: `https://user:token@host` -> `https://****@host`."""
    out: list[str] = []
    start = 0  # where the text not yet copied (and not yet matched) begins
    search = 0
    while (colon := text.find("://", search)) >= 0:
        head = colon + 3
        search = head
        if not _has_scheme(text, start, colon):
            continue
        stop = _userinfo_end(text, head)
        if stop < 0:
            continue
        out.append(text[start:head])
        out.append("****@")
        start = search = stop
    out.append(text[start:])
    return "".join(out)
