"""Credentials in URLs never reach a log, a report, a stored file or a message.

`redact()` is the one scrubber. `conceal()` is the boundary: every URL that enters the engine
(index, extra index, find-links, direct URL requirements, editor settings) passes through it
once; it remembers each URL's credentials in memory, by origin (scheme, host and port, as a
netrc does by host), and returns the text redacted, so everything downstream (requests, layer
keys, stored state, reports, logs, errors) holds `scheme://****@host` only. `reveal()` puts the
credentials back for the installer's call alone (see `installer`), which passes them through
its environment or a private file, never its command line.

Stdlib `re` only: the report (a hot path) imports it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

__all__ = ["MASK", "conceal", "redact", "reveal", "scrub_record"]

MASK = "****"

_CREDENTIALS = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s?#@]+(?:@[^/\s?#@]+)*)@"
    r"(?P<host>[^/\s?#@]*)"
)

# origin ("scheme://host:port", lower case) -> userinfo; this process's memory only.
_SECRETS: dict[str, str] = {}


def _origin(scheme: str, host: str) -> str:
    return f"{scheme}{host}".lower()


def redact(text: str) -> str:
    """Hide credentials in URLs: `https://user:token@host` -> `https://****@host`."""
    return _CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{MASK}@{m.group('host')}", text)


def conceal(text: str) -> str:
    """`redact(text)`, remembering the credentials it hides for `reveal()`."""
    for m in _CREDENTIALS.finditer(text):
        if m.group("userinfo") != MASK:
            _SECRETS[_origin(m.group("scheme"), m.group("host"))] = m.group("userinfo")
    return redact(text)


def reveal(text: str) -> str:
    """For the installer only: each `scheme://****@host` gets the credentials `conceal()`
    remembered for that origin; a mask with none remembered is dropped (so the installer's own
    netrc or keyring can answer). Text without a mask comes back unchanged."""

    def back(m: re.Match[str]) -> str:
        scheme, userinfo, host = m.group("scheme"), m.group("userinfo"), m.group("host")
        if userinfo != MASK:
            return m.group(0)
        secret = _SECRETS.get(_origin(scheme, host))
        return f"{scheme}{secret}@{host}" if secret else f"{scheme}{host}"

    return _CREDENTIALS.sub(back, text)


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
