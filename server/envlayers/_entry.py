"""The `envlayers` entry point: answer a repeated `env` / `sync` from the stored report
before importing argparse, the engine or anything heavy.

`fast_options()` reads only the plain flags of those two commands; for anything else (another
command, `--help`, `-v`, `--refresh`, requirement files, a flag it does not know) it returns
None and the full command line (`envlayers.cli`) parses and runs the request. Its result must
equal `Options.to_json()` of what argparse makes of the same words: a unit test holds them
together.
"""

from __future__ import annotations

import os
import sys

# Not `typing.TYPE_CHECKING`: importing typing costs milliseconds on the hot path.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["fast_options", "main"]

# flag -> (wire key, kind); kinds: "value", "list", "flag"
_COMMON: dict[str, tuple[str, str]] = {
    "--project": ("", "value"),
    "--format": ("", "value"),
    "--python": ("python", "value"),
    "--group": ("groups", "list"),
    "--extra": ("extras", "list"),
    "--installer": ("installer", "value"),
    "--index-url": ("indexUrl", "value"),
    "--extra-index-url": ("extraIndexUrls", "list"),
    "--find-links": ("findLinks", "list"),
    "--no-dev": ("noDev", "flag"),
    "--all-groups": ("allGroups", "flag"),
    "--all-extras": ("allExtras", "flag"),
    "--exact": ("exact", "flag"),
    "--frozen": ("frozen", "flag"),
    "--no-index": ("noIndex", "flag"),
}
_ENV_ONLY: dict[str, tuple[str, str]] = {
    "--with": ("with", "list"),
    "--with-editable": ("withEditable", "list"),
    "--profile": ("profile", "value"),
    "--no-sync": ("noSync", "flag"),
}
_FORMATS = {"env": ("text", "json", "shell", "dotenv", "pyright"), "sync": ("text", "json")}


def fast_options(argv: Sequence[str]) -> tuple[str, str, str, dict[str, object]] | None:
    """(command, project, format, wire options) for a plain `env` / `sync`, else None."""
    if not argv or argv[0] not in _FORMATS:
        return None
    command = argv[0]
    known = {**_COMMON, **(_ENV_ONLY if command == "env" else {})}
    project, fmt = ".", "text"
    wire: dict[str, object] = {}
    words = list(argv[1:])
    while words:
        word = words.pop(0)
        if word in ("-q", "--quiet"):
            continue  # only silences the slow path's progress line
        flag, eq, inline = word.partition("=")
        spec = known.get(flag)
        if spec is None or not flag.startswith("--"):
            return None
        key, kind = spec
        if kind == "flag":
            if eq:
                return None
            wire[key] = True
            continue
        if eq:
            value = inline
        elif words and not words[0].startswith("-"):
            value = words.pop(0)
        else:
            return None
        if flag == "--project":
            project = value
        elif flag == "--format":
            fmt = value
        elif kind == "list":
            items = wire.setdefault(key, [])
            assert isinstance(items, list)
            items.append(value)
        else:
            wire[key] = value
    if fmt not in _FORMATS[command] or wire.get("installer", "auto") not in ("auto", "uv", "pip"):
        return None
    return command, project, fmt, wire


def _try_fast(argv: Sequence[str]) -> int | None:
    parsed = fast_options(argv)
    if parsed is None:
        return None
    command, project, fmt, wire = parsed
    from envlayers.core import fastpath

    root = fastpath.find_root(project)
    if root is None:
        return None
    key = fastpath.request_key(command, {**wire, "cwd": os.getcwd()})
    entry = fastpath.lookup(root, key)
    if entry is None:
        return None
    text = fastpath.render(entry, fmt)
    if text is None:
        from envlayers.core.report import Report, render

        text = render(Report.from_json(entry["report"]), fmt)
    sys.stdout.write(text + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        fast = _try_fast(args)
    except (OSError, ValueError, KeyError, TypeError):
        fast = None  # the full path will say what is wrong
    if fast is not None:
        return fast
    from envlayers.cli import main as full

    return full(args)
