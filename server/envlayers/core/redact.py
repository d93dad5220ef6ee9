"""Credentials in URLs never reach a log, a report, a stored file, a message or a fast-path key.

`redact()` is the one scrubber: string methods only, no `re` (the CLI's fast path keys its
stored reports with it, and `re` alone costs more to import than that whole path). The rule, as
a regular expression (a property test holds this code to it): `\\b<scheme>://<userinfo>@` where
the scheme is a letter then letters, digits, `+`, `.` or `-`, and the userinfo is one or more
runs of characters other than `/`, `?`, `#`, `@` and whitespace, joined by single `@`s.
Everything up to the authority's last such `@` goes (`https://user:p@ss@host` ->
`https://****@host`).

`conceal()` is the boundary: every URL that enters the engine (index, extra index, find-links,
direct URL requirements, editor settings) passes through it once; it remembers each URL's
credentials in memory, by origin (scheme, host and port, as a netrc does by host), and returns
the text redacted, so everything downstream (requests, layer keys, stored state, reports, logs,
errors) holds `scheme://****@host` only. `reveal()` puts the credentials back for the
installer's call alone (see `installer`), which passes them through its environment or a
private file, never its command line.
"""

from __future__ import annotations

# Not `typing.TYPE_CHECKING`: importing typing (and with it `re`) costs the fast path.
TYPE_CHECKING = False

if TYPE_CHECKING:
    import logging
    import re

__all__ = ["MASK", "conceal", "redact", "reveal", "scrub_record"]

MASK = "****"

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


# origin ("scheme://host:port", lower case) -> userinfo; this process's memory only.
_SECRETS: dict[str, str] = {}
_PATTERN: list[re.Pattern[str]] = []


def _credentials() -> re.Pattern[str]:
    """The rule of `redact`, with the host captured; compiled on first use (`re` is slow to
    import, and only text that holds credentials ever needs it)."""
    if not _PATTERN:
        import re

        _PATTERN.append(
            re.compile(
                r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s?#@]+(?:@[^/\s?#@]+)*)@"
                r"(?P<host>[^/\s?#@]*)"
            )
        )
    return _PATTERN[0]


def _origin(scheme: str, host: str) -> str:
    return f"{scheme}{host}".lower()


def conceal(text: str) -> str:
    """`redact(text)`, remembering the credentials it hides for `reveal()`."""
    if "@" not in text or "://" not in text:
        return text
    for m in _credentials().finditer(text):
        if m.group("userinfo") != MASK:
            _SECRETS[_origin(m.group("scheme"), m.group("host"))] = m.group("userinfo")
    return redact(text)


def reveal(text: str) -> str:
    """For the installer only: each `scheme://****@host` gets the credentials `conceal()`
    remembered for that origin; a mask with none remembered is dropped (so the installer's own
    netrc or keyring can answer). Text without a mask comes back unchanged."""
    if MASK + "@" not in text:
        return text

    def back(m: re.Match[str]) -> str:
        scheme, userinfo, host = m.group("scheme"), m.group("userinfo"), m.group("host")
        if userinfo != MASK:
            return m.group(0)
        secret = _SECRETS.get(_origin(scheme, host))
        return f"{scheme}{secret}@{host}" if secret else f"{scheme}{host}"

    return _credentials().sub(back, text)


def scrub_record(record: logging.LogRecord) -> bool:
    """A logging filter (add it to a handler): the record's message and traceback, redacted."""
    message = record.getMessage()
    if record.exc_info and not record.exc_text:
        import traceback

        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    record.exc_info = None
    record.msg, record.args = redact(message), None
    return True
