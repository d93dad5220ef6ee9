"""The entry point's plain-flag reader agrees with argparse + Options (the fast path's key
must be the engine's key), and gives up on everything it does not fully understand."""

from __future__ import annotations

from pathlib import Path

import pytest

from envlayers._entry import fast_options
from envlayers.cliparse import build_parser
from envlayers.cliparse import options_of as _options
from envlayers.config import Options

AGREE = [
    ["env"],
    ["sync"],
    ["env", "--with", "rich", "--with", "httpx>=0.27", "--format", "json"],
    ["env", "--with=rich", "--project=/tmp/x", "--format=json"],
    ["env", "--project", "ws", "--no-sync", "--profile", "nb", "--with-editable", "../lib"],
    ["sync", "--group", "docs", "--group", "test", "--no-dev", "--extra", "fancy", "--exact"],
    ["sync", "--all-groups", "--all-extras", "--frozen", "--no-index", "--find-links", "/w"],
    ["env", "--python", "3.12", "--installer", "uv", "--index-url", "https://u:t@h/simple"],
    ["env", "--extra-index-url", "https://a/simple", "--extra-index-url", "https://b/simple"],
    ["sync", "--format", "json", "--installer", "pip"],
    ["env", "-q", "--with", "rich"],
    ["sync", "--quiet", "--format", "json"],
    ["env", "--with", "alpha,beta", "--with=gamma, delta"],
    ["env", "--with", "pkg[x,y]>=1,<2", "--with", ",", "--format", "pyright"],
]


@pytest.mark.parametrize("argv", AGREE, ids=[" ".join(a) for a in AGREE])
def test_fast_reader_agrees_with_argparse(argv: list[str]) -> None:
    parsed = fast_options(argv)
    assert parsed is not None
    command, project, fmt, wire = parsed
    ns = build_parser().parse_args(argv)
    options = _options(ns)
    if command == "sync":
        options = options.without_layers()
    assert command == ns.command
    assert project == ns.project and fmt == ns.format
    assert wire == options.to_json()
    # A plain `env` / `sync` the stored reports cannot answer runs from these words alone,
    # without argparse (`cli.run_plain`): the request must be the very same.
    assert Options.from_json(wire) == options


GIVE_UP = [
    [],
    ["run", "--", "python"],
    ["layers", "list"],
    ["env", "--refresh"],
    ["env", "-v"],
    ["env", "--help"],
    ["env", "--with-requirements", "r.txt"],
    ["env", "--wi", "rich"],  # argparse abbreviations are left to argparse
    ["env", "--with"],
    ["env", "--with", "--no-sync"],
    ["env", "--format", "yaml"],
    ["sync", "--with", "rich"],
    ["sync", "--format", "shell"],
    ["env", "--installer", "conda"],
    ["env", "--no-sync=yes"],
    ["env", "positional"],
]


@pytest.mark.parametrize("argv", GIVE_UP, ids=[" ".join(a) or "(none)" for a in GIVE_UP])
def test_fast_reader_gives_up_on_the_rest(argv: list[str]) -> None:
    assert fast_options(argv) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:tok@h/simple", "https://****@h/simple"),
        ("x https://u@h:9/s and http://a:b@c", "x https://****@h:9/s and http://****@c"),
        ("('https://u:p@127.0.0.1:9/simple',)", "('https://****@127.0.0.1:9/simple',)"),
        ("file:///tmp/x@y", "file:///tmp/x@y"),
        ("no url here", "no url here"),
    ],
)
def test_request_keys_never_hold_credentials(text: str, expected: str) -> None:
    from envlayers.core.redact import redact  # the one redaction, shared with the fast path

    assert redact(text) == expected


def test_a_stored_entry_must_vouch_for_the_workspace_pyproject(tmp_path: Path) -> None:
    """A crafted report-cache (e.g. committed to a repository) with no stats to check is refused."""
    from envlayers.core import fastpath

    root = tmp_path
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    key = fastpath.request_key("env", {"cwd": str(root)})
    fastpath.store(str(root), key, [], [], {"interpreter": "/tmp/evil/python"})
    assert fastpath.lookup(str(root), key) is None
    pyproject = str(root / "pyproject.toml")
    fastpath.store(
        str(root), key, [pyproject], fastpath.stat_all([pyproject]), {"interpreter": "/ok"}
    )
    entry = fastpath.lookup(str(root), key)
    assert entry is not None and entry["report"]["interpreter"] == "/ok"
    (root / "pyproject.toml").write_text("[project]\nname = 'changed'\n")
    assert fastpath.lookup(str(root), key) is None


def test_one_flag_table_for_argparse_the_fast_path_and_the_wire() -> None:
    from dataclasses import fields

    from envlayers.config import _WIRE, Options
    from envlayers.flags import OPTION_FLAGS

    assert {f.field for f in OPTION_FLAGS} == {f.name for f in fields(Options)}
    assert {f.wire: (f.field, f.kind) for f in OPTION_FLAGS} == _WIRE
    # Every table flag reaches argparse: `env` (which has them all) parses each one.
    for f in OPTION_FLAGS:
        words = [f.flag] if f.kind in ("bool", "bool?") else [f.flag, "auto"]
        ns = build_parser().parse_args(["env", *words])
        assert getattr(ns, f.field) not in (None, False, []), f.flag


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("a,b", ["a", "b"]),
        ("a, b ,,c", ["a", "b", "c"]),
        ("pkg[x,y]>=1,<2", ["pkg[x,y]>=1,<2"]),
        ("pkg (>=1,<2),c", ["pkg (>=1,<2)", "c"]),
        ("x>=1, !=1.5,y~=2", ["x>=1, !=1.5", "y~=2"]),
        ("pkg @ https://h/a,b.whl", ["pkg @ https://h/a,b.whl"]),
        ("pkg @ https://h/a.whl, other", ["pkg @ https://h/a.whl", "other"]),
        ("file:///w/a,b.whl", ["file:///w/a,b.whl"]),
        ("a; python_version < '3.12', b", ["a; python_version < '3.12'", "b"]),
        ("a; platform_release == 'x,y'", ["a; platform_release == 'x,y'"]),
        (",", []),
    ],
)
def test_with_splits_comma_lists_like_uv(text: str, items: list[str]) -> None:
    from envlayers.flags import split_requirements

    assert split_requirements(text) == items
    ns = build_parser().parse_args(["env", "--with", text])
    assert list(_options(ns).with_) == items
