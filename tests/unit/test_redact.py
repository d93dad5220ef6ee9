"""`redact()` hides URL credentials wherever they appear in text we log or report."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envlayers.core.proc import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:token@host/simple", "https://****@host/simple"),
        ("https://token@host/simple", "https://****@host/simple"),
        ("http://u:p@127.0.0.1:8080/x", "http://****@127.0.0.1:8080/x"),
        ("git+https://user:pw@github.com/o/r.git", "git+https://****@github.com/o/r.git"),
        ("git+ssh://git@github.com/o/r.git", "git+ssh://****@github.com/o/r.git"),
        # an unencoded '@' in the password: everything up to the authority's last '@' goes
        ("https://user:p@ss@host/simple", "https://****@host/simple"),
        ("https://user:p%40ss@host/", "https://****@host/"),
        (
            "Looking in indexes: https://a:b@one/simple, https://c:d@two/simple",
            "Looking in indexes: https://****@one/simple, https://****@two/simple",
        ),
        ("--index-url=https://user:tok@host/simple", "--index-url=https://****@host/simple"),
        ("'https://user:tok@host'", "'https://****@host'"),
        # nothing to hide
        ("https://host/simple", "https://host/simple"),
        ("https://host/path@v1.0", "https://host/path@v1.0"),
        ("https://host?q=a@b", "https://host?q=a@b"),
        ("https://host#frag@x", "https://host#frag@x"),
        ("pkg @ file:///tmp/pkg.whl", "pkg @ file:///tmp/pkg.whl"),
        ("user@example.com wrote", "user@example.com wrote"),
        ("", ""),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_is_idempotent() -> None:
    once = redact("https://user:token@host/simple and ftp://x:y@z/")
    assert redact(once) == once
    assert "token" not in once and "x:y" not in once


def test_redact_multiline() -> None:
    text = "line one https://u:secret@h/a\nline two https://u:secret@h/b\n"
    out = redact(text)
    assert "secret" not in out
    assert out.count("\n") == 2


# The rule as a regular expression: the oracle the string-method implementation must match.
_ORACLE = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s?#@]+(?:@[^/\s?#@]+)*)@"
)
_PIECES = st.sampled_from(
    ["://", "@", "/", "?", "#", ":", " ", "\t", "\n", "'", '"', ",", ")", "_", "+", ".", "-",
     "https", "git+ssh", "u", "p", "h", "1", "é", "\u00a0", "\u2003", "x9"]
)  # fmt: skip
_NOISE = st.lists(_PIECES, max_size=5).map("".join)
_CHARS = st.text(alphabet="ab1:_+.-@/?#' \t\né\u00a0", max_size=8)
# Mostly URL-shaped: noise, a scheme, `://`, userinfo-ish characters, an `@`, more of the same.
_URLISH = st.tuples(
    _NOISE, st.sampled_from(["https", "git+ssh", "a.b-c", "1x", "_h", "é"]), _CHARS, _CHARS, _NOISE
).map(lambda t: f"{t[0]}{t[1]}://{t[2]}@{t[3]}{t[4]}")


def _oracle(text: str) -> str:
    return _ORACLE.sub(lambda m: f"{m.group('scheme')}****@", text)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(_URLISH, st.lists(_PIECES, max_size=14).map("".join)))
def test_redact_matches_its_regular_expression(text: str) -> None:
    assert redact(text) == _oracle(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_redact_matches_its_regular_expression_on_any_text(text: str) -> None:
    assert redact(text) == _oracle(text)


def test_conceal_then_reveal_by_origin() -> None:
    from envlayers.core.redact import conceal, reveal

    shown = conceal("pkg @ https://u:tok-A1@Host.example:8443/x.whl")
    assert shown == "pkg @ https://****@Host.example:8443/x.whl"
    assert conceal(shown) == shown  # a redacted text does not replace what was remembered
    assert reveal(shown) == "pkg @ https://u:tok-A1@Host.example:8443/x.whl"
    # Same origin, another path: the same credentials (as a netrc by host); another port: none.
    assert (
        reveal("https://****@host.example:8443/simple")
        == "https://u:tok-A1@host.example:8443/simple"
    )
    assert reveal("https://****@host.example/simple") == "https://host.example/simple"
    assert reveal("https://host.example:8443/simple") == "https://host.example:8443/simple"
    # A rotated token replaces the old one.
    conceal("https://u:tok-B2@host.example:8443/")
    assert "tok-B2" in reveal(shown) and "tok-A1" not in reveal(shown)


def test_scrub_record_redacts_message_args_and_traceback() -> None:
    import logging

    from envlayers.core.redact import scrub_record

    try:
        raise ValueError("bad https://u:tok-C3@h/simple")
    except ValueError as exc:
        record = logging.LogRecord(
            "x",
            logging.INFO,
            __file__,
            1,
            "settings %s",
            ({"indexUrl": "https://u:tok-C3@h/"},),
            (type(exc), exc, exc.__traceback__),
        )
    assert scrub_record(record) is True
    text = logging.Formatter("%(message)s").format(record)
    assert "tok-C3" not in text and "https://****@h/" in text and "ValueError" in text
