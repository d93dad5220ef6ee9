"""The `envlayers` entry point: answer a repeated `env` / `sync` from the stored report
before importing argparse, the engine or anything heavy.

`fast_options()` reads only the plain flags of those two commands, from the one flag table
(`flags.OPTION_FLAGS`, which argparse reads too); for anything else (another command, `--help`,
`-v`, `--refresh`, requirement files, a flag it does not know) it returns None and the full
command line (`envlayers.cli`) parses and runs the request. Its result must equal
`Options.to_json()` of what argparse makes of the same words: a unit test holds them together.
"""

from __future__ import annotations

import os
import sys

from envlayers._stdio import stdout_closed
from envlayers.core.redact import conceal
from envlayers.flags import ENV_FORMATS, SYNC_FORMATS, fast_flags

# Not `typing.TYPE_CHECKING`: importing typing costs milliseconds on the hot path.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["fast_options", "main", "stdout_closed"]

_FORMATS = {"env": ENV_FORMATS, "sync": SYNC_FORMATS}
# A table kind -> how the fast reader takes it: one value, a repeated value, a switch.
_READ = {"str?": "value", "strs": "list", "bool": "flag", "bool?": "flag"}


def fast_options(argv: Sequence[str]) -> tuple[str, str, str, dict[str, object]] | None:
    """(command, project, format, wire options) for a plain `env` / `sync`, else None."""
    if not argv or argv[0] not in _FORMATS or os.environ.get("ENVLAYERS_VENV"):
        return None  # another venv than the stored reports describe: the full path decides
    command = argv[0]
    known = fast_flags(command)
    plain = {"--project": ".", "--format": "text"}
    wire: dict[str, object] = {}
    words = list(argv[1:])
    while words:
        word = words.pop(0)
        if word in ("-q", "--quiet"):
            continue  # only silences the slow path's progress line
        flag, eq, inline = word.partition("=")
        spec = known.get(flag)
        how = "value" if spec is None else _READ[spec.kind]
        if spec is None and flag not in plain:
            return None
        if how == "flag":
            if eq:
                return None
            wire[flag] = True
            continue
        if eq:
            value = inline
        elif words and not words[0].startswith("-"):
            value = words.pop(0)
        else:
            return None
        if spec is None:
            plain[flag] = value
        elif how == "list":
            items = wire.setdefault(flag, [])
            assert isinstance(items, list)
            items += [conceal(v) for v in spec.items([value])]  # as Options holds them
        elif spec.choices is not None and value not in spec.choices:
            return None
        else:
            wire[flag] = conceal(value)
    if plain["--format"] not in _FORMATS[command]:
        return None
    options = {known[f].wire: v for f, v in wire.items() if v != []}
    return command, plain["--project"], plain["--format"], options


def _try_fast(parsed: tuple[str, str, str, dict[str, object]] | None) -> str | None:
    """The stored report's text for a repeated request whose inputs are unchanged, else None."""
    if parsed is None:
        return None
    command, project, fmt, wire = parsed
    from envlayers.core import fastpath

    root = fastpath.find_root(project)
    if root is None:
        return None
    extra = fastpath.member_key(project, root)
    key = fastpath.request_key(command, {**wire, "cwd": os.getcwd(), **extra})
    entry = fastpath.lookup(root, key)
    if entry is None:
        return None
    from envlayers.core.render import render

    return render(entry["report"], fmt, entry["json"])


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        parsed = text = None
        try:
            parsed = fast_options(args)
            text = _try_fast(parsed)
        except (OSError, ValueError, KeyError, TypeError):
            text = None  # the full path will say what is wrong
        if text is not None:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
            return 0
        if parsed is not None:  # plain flags: the engine without argparse
            from envlayers.cli import run_plain

            return run_plain(*parsed, quiet=any(w in ("-q", "--quiet") for w in args))
        from envlayers.cli import main as full

        return full(args)
    except BrokenPipeError:
        return stdout_closed()
