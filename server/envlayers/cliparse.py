"""The command line's parser: argparse, built from the one flag table (`flags`).

Imported only for what the plain reader of `_entry` does not take (another command, `--help`,
`-v`, files, an abbreviation): a plain `env` or `sync` never pays for argparse.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from envlayers.config import Options
from envlayers.flags import ENV_FORMATS, OPTION_FLAGS, SYNC_FORMATS

__all__ = ["build_parser", "options_of"]

_TEXT_JSON = ("text", "json")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"envlayers: error: {message}\n")


def _request_options(p: argparse.ArgumentParser, scope: str) -> None:
    """The request flags of `scope` ("sync" or "env"), from the one table (`flags`)."""
    for f in OPTION_FLAGS:
        if f.scope != scope:
            continue
        extra: dict[str, Any] = {"dest": f.field, "help": f.help}
        if f.kind == "strs":
            extra.update(action="append", default=[], metavar=f.metavar)
        elif f.kind in ("bool", "bool?"):
            extra.update(action="store_true", default=None if f.kind == "bool?" else False)
        else:
            extra.update(choices=f.choices, metavar=f.metavar)
        p.add_argument(f.flag, **extra)


def _sync_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", default=".", help="the workspace folder (or a path inside it)")
    _request_options(p, "sync")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more output on stderr")
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress line on a terminal's stderr"
    )


def _env_options(p: argparse.ArgumentParser) -> None:
    _sync_options(p)
    _request_options(p, "env")


def _format(p: argparse.ArgumentParser, choices: Sequence[str], default: str = "text") -> None:
    p.add_argument("--format", choices=tuple(choices), default=default)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("envlayers")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"


class _Version(argparse.Action):
    """argparse's `version` action, the version looked up only when asked for (reading the
    installed metadata costs every other command about 20 ms)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="show the version and exit",
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(f"envlayers {_version()}\n")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="envlayers", description="Layered Python environments that editors can see."
    )
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("sync", help="sync the workspace environment from pyproject.toml")
    _sync_options(p)
    _format(p, SYNC_FORMATS)

    p = sub.add_parser("env", help="build or reuse layers, compose them and print the report")
    _env_options(p)
    _format(p, ENV_FORMATS)

    p = sub.add_parser("run", help="run a command in the composition")
    _env_options(p)
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="COMMAND")

    p = sub.add_parser("kernel", help="Jupyter kernels for the composition")
    ksub = p.add_subparsers(dest="kernel_command", required=True, parser_class=_Parser)
    k = ksub.add_parser("install", help="install a kernelspec for the composition")
    _env_options(k)
    k.add_argument("--name")
    k.add_argument("--display-name")
    k.add_argument("--user", action="store_true", help="also install into the user's kernels dir")
    _format(k, _TEXT_JSON, "json")

    p = sub.add_parser("debug-config", help="a debugpy launch configuration for the composition")
    _env_options(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--program")
    g.add_argument("--module")
    _format(p, _TEXT_JSON, "json")

    p = sub.add_parser("layers", help="manage the layer cache")
    lsub = p.add_subparsers(dest="layers_command", required=True, parser_class=_Parser)
    lp = lsub.add_parser("list")
    _format(lp, _TEXT_JSON)
    lp = lsub.add_parser("prune")
    lp.add_argument("--older-than", type=float, metavar="DAYS")
    lp.add_argument("--all", action="store_true")
    _format(lp, _TEXT_JSON)
    lp = lsub.add_parser("remove")
    lp.add_argument("key")
    lp.add_argument("--force", action="store_true", help="remove it even when compositions use it")
    _format(lp, _TEXT_JSON, "json")

    p = sub.add_parser("compositions", help="the workspace's composed environments")
    csub = p.add_subparsers(dest="compositions_command", required=True, parser_class=_Parser)
    cp = csub.add_parser("list")
    cp.add_argument("--project", default=".")
    _format(cp, _TEXT_JSON)
    cp = csub.add_parser("remove", help="delete a composed env and its Jupyter kernelspecs")
    cp.add_argument("name")
    cp.add_argument("--project", default=".")
    _format(cp, _TEXT_JSON, "json")

    p = sub.add_parser("serve", help="run the language server")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--stdio", action="store_true", default=True)
    g.add_argument("--tcp", metavar="HOST:PORT")
    p.add_argument("--log-file")
    p.add_argument("-v", "--verbose", action="store_true")
    return parser


def options_of(ns: argparse.Namespace) -> Options:
    """The request of a parsed command line, read through the flag table."""
    g = vars(ns)
    values: dict[str, Any] = {}
    for f in OPTION_FLAGS:
        raw = g.get(f.field)
        if f.kind == "strs":
            values[f.field] = tuple(f.items(raw or ()))
        elif f.kind == "bool":
            values[f.field] = bool(raw)
        else:
            values[f.field] = raw
    return Options(**values)
