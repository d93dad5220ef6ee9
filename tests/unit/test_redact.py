"""`redact()` hides URL credentials wherever they appear in text we log or report."""

from __future__ import annotations

import pytest

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
