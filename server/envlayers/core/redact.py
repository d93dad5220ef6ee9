"""Credentials in URLs never reach a log, a report or a message. Stdlib `re` only: the
report (a hot path) imports it."""

from __future__ import annotations

import re

__all__ = ["redact"]

_CREDENTIALS = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s?#@]+(?:@[^/\s?#@]+)*)@"
)


def redact(text: str) -> str:
    """Hide credentials in URLs: `https://user:token@host` -> `https://****@host`."""
    return _CREDENTIALS.sub(lambda m: f"{m.group('scheme')}****@", text)
