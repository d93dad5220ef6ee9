"""The command line: a thin front over `Engine`; maps errors to exit codes once, here."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from envlayers.config import INSTALLER_CHOICES, Options
from envlayers.core.errors import EnvlayersError, InvalidInput
from envlayers.core.redact import redact

if TYPE_CHECKING:
    from envlayers.ttyprogress import Progress

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"envlayers: error: {message}\n")


def _sync_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", default=".", help="the workspace folder (or a path inside it)")
    p.add_argument("--python", help="interpreter request: version, range or path")
    p.add_argument(
        "--group",
        action="append",
        default=[],
        dest="groups",
        help="also sync this dependency group",
    )
    p.add_argument("--no-dev", action="store_true", help="do not sync the dev group")
    p.add_argument("--all-groups", action="store_true", help="sync every dependency group")
    p.add_argument(
        "--extra", action="append", default=[], dest="extras", help="sync this optional extra"
    )
    p.add_argument("--all-extras", action="store_true", help="sync every optional extra")
    p.add_argument(
        "--exact", action="store_true", default=None, help="remove packages nothing asks for"
    )
    p.add_argument("--frozen", action="store_true", help="install from pylock.toml as it is")
    p.add_argument(
        "--installer", choices=INSTALLER_CHOICES, help="installer to use (default: auto)"
    )
    p.add_argument("--index-url", help="base URL of the package index")
    p.add_argument("--extra-index-url", action="append", default=[], dest="extra_index_urls")
    p.add_argument(
        "--find-links", action="append", default=[], help="a folder or URL of distributions"
    )
    p.add_argument("--no-index", action="store_true", default=None, help="ignore package indexes")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more output on stderr")
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress line on a terminal's stderr"
    )


def _env_options(p: argparse.ArgumentParser) -> None:
    _sync_options(p)
    p.add_argument(
        "--with",
        action="append",
        default=[],
        dest="with_",
        metavar="REQ",
        help="an extra requirement for the layer",
    )
    p.add_argument("--with-requirements", action="append", default=[], metavar="FILE")
    p.add_argument("--with-editable", action="append", default=[], metavar="PATH")
    p.add_argument("--profile", help="a profile from [tool.envlayers.profiles]")
    p.add_argument("--no-sync", action="store_true", help="do not sync the base first")
    p.add_argument("--refresh", action="store_true", help="rebuild the layers")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="envlayers", description="Layered Python environments that editors can see."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("sync", help="sync the workspace environment from pyproject.toml")
    _sync_options(p)
    p.add_argument("--format", choices=("text", "json"), default="text")

    p = sub.add_parser("env", help="build or reuse layers, compose them and print the report")
    _env_options(p)
    p.add_argument(
        "--format", choices=("text", "json", "shell", "dotenv", "pyright"), default="text"
    )

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

    p = sub.add_parser("debug-config", help="a debugpy launch configuration for the composition")
    _env_options(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--program")
    g.add_argument("--module")
    p.add_argument("--format", choices=("json",), default="json")

    p = sub.add_parser("layers", help="manage the layer cache")
    lsub = p.add_subparsers(dest="layers_command", required=True, parser_class=_Parser)
    lp = lsub.add_parser("list")
    lp.add_argument("--format", choices=("text", "json"), default="text")
    lp = lsub.add_parser("prune")
    lp.add_argument("--older-than", type=float, metavar="DAYS")
    lp.add_argument("--all", action="store_true")
    lp.add_argument("--format", choices=("text", "json"), default="text")
    lp = lsub.add_parser("remove")
    lp.add_argument("key")

    p = sub.add_parser("compositions", help="the workspace's composed environments")
    csub = p.add_subparsers(dest="compositions_command", required=True, parser_class=_Parser)
    cp = csub.add_parser("list")
    cp.add_argument("--project", default=".")
    cp.add_argument("--format", choices=("text", "json"), default="text")
    cp = csub.add_parser("remove", help="delete a composed env and its Jupyter kernelspecs")
    cp.add_argument("name")
    cp.add_argument("--project", default=".")

    p = sub.add_parser("serve", help="run the language server")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--stdio", action="store_true", default=True)
    g.add_argument("--tcp", metavar="HOST:PORT")
    p.add_argument("--log-file")
    p.add_argument("-v", "--verbose", action="store_true")
    return parser


def _options(ns: argparse.Namespace) -> Options:
    g = vars(ns)
    return Options(
        with_=tuple(g.get("with_") or ()),
        with_requirements=tuple(g.get("with_requirements") or ()),
        with_editable=tuple(g.get("with_editable") or ()),
        profile=g.get("profile"),
        no_sync=bool(g.get("no_sync")),
        refresh=bool(g.get("refresh")),
        python=g.get("python"),
        groups=tuple(g.get("groups") or ()),
        no_dev=bool(g.get("no_dev")),
        all_groups=bool(g.get("all_groups")),
        extras=tuple(g.get("extras") or ()),
        all_extras=bool(g.get("all_extras")),
        exact=g.get("exact"),
        frozen=bool(g.get("frozen")),
        installer=g.get("installer"),
        index_url=g.get("index_url"),
        extra_index_urls=tuple(g.get("extra_index_urls") or ()),
        find_links=tuple(g.get("find_links") or ()),
        no_index=g.get("no_index"),
    )


def _setup_logging(verbosity: int, progress: Progress | None = None) -> None:
    import logging

    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    if progress is not None:  # it prints records of `level` above its line, and reads steps
        progress.echo_level = level
        handler = progress
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("envlayers")
    root.handlers[:] = [handler]
    root.setLevel(min(level, logging.INFO) if progress is not None else level)


def _progress(ns: argparse.Namespace) -> Progress | None:
    """The live line on a terminal's stderr for the commands that install (slow path only)."""
    if ns.command not in ("sync", "env", "run", "kernel") or getattr(ns, "quiet", False):
        return None
    if not sys.stderr.isatty():
        return None  # CI and pipes get nothing extra (-v prints the installer's lines)
    from envlayers.ttyprogress import Progress

    return Progress(sys.stderr, echo=bool(getattr(ns, "verbose", 0)))


def _stop(progress: Progress | None) -> None:
    if progress is not None:
        progress.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    if ns.command == "serve":
        from envlayers.lsp.server import serve

        host = port = None
        mode = "stdio"
        if ns.tcp:
            mode = "tcp"
            host, _, port_text = ns.tcp.rpartition(":")
            if not host or not port_text.isdigit():
                parser.error(f"--tcp wants HOST:PORT, not {ns.tcp!r}")
            port = int(port_text)
        serve(mode, host, port, ns.log_file, bool(ns.verbose))
        return 0
    progress = _progress(ns)
    try:
        _setup_logging(int(getattr(ns, "verbose", 0) or 0), progress)
        return _dispatch(ns, progress)
    except EnvlayersError as exc:
        _stop(progress)
        print(f"envlayers: error: {redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        _stop(progress)
        print("envlayers: interrupted", file=sys.stderr)
        return 130
    finally:
        _stop(progress)


def _dispatch(ns: argparse.Namespace, progress: Progress | None = None) -> int:
    from envlayers.core.proc import CancelToken
    from envlayers.core.report import render
    from envlayers.core.workspace import Engine

    engine = Engine()
    verbose = int(getattr(ns, "verbose", 0) or 0)

    def on_line(line: str) -> None:
        if progress is not None:
            progress.line(line)
        elif verbose:
            print(f"  {line}", file=sys.stderr)

    cancel = CancelToken()
    cmd = ns.command
    if cmd == "sync":
        report = engine.sync(
            Path(ns.project), _options(ns).without_layers(), on_line=on_line, cancel=cancel
        )
        _stop(progress)
        print(render(report, ns.format))
        return 0
    if cmd == "env":
        report = engine.compose(Path(ns.project), _options(ns), on_line=on_line, cancel=cancel)
        _stop(progress)
        print(render(report, ns.format))
        return 0
    if cmd == "run":
        argv = list(ns.cmd)
        if argv and argv[0] == "--":
            argv = argv[1:]
        if not argv:
            raise InvalidInput("envlayers run needs a command after --")
        report = engine.compose(Path(ns.project), _options(ns), on_line=on_line, cancel=cancel)
        _stop(progress)
        return _run(argv, report.env())
    if cmd == "kernel":
        result = engine.install_kernel(
            Path(ns.project),
            _options(ns),
            name=ns.name,
            display_name=ns.display_name,
            user=ns.user,
            on_line=on_line,
            cancel=cancel,
        )
        _stop(progress)
        print(json.dumps(result, indent=2))
        return 0
    if cmd == "debug-config":
        config = engine.debug_configuration(
            Path(ns.project), _options(ns), program=ns.program, module=ns.module
        )
        print(json.dumps(config, indent=2))
        return 0
    if cmd == "layers":
        return _layers(engine, ns)
    if cmd == "compositions":
        if ns.compositions_command == "remove":
            print(json.dumps(engine.remove_composition(Path(ns.project), ns.name)))
            return 0
        rows = engine.list_compositions(Path(ns.project))
        if ns.format == "json":
            print(json.dumps(rows, indent=2))
        for row in rows if ns.format == "text" else ():
            mark = "*" if row["active"] else " "
            state = "" if row["valid"] else "  (damaged)"
            print(f"{mark} {row['name']}  {row['interpreter']}{state}")
        return 0
    raise InvalidInput(f"unknown command {cmd!r}")  # pragma: no cover - argparse refuses it first


def _layers(engine: object, ns: argparse.Namespace) -> int:
    from envlayers.core.workspace import Engine

    assert isinstance(engine, Engine)
    if ns.layers_command == "list":
        rows = engine.list_layers()
        if ns.format == "json":
            print(json.dumps(rows, indent=2))
        elif not rows:
            print("no layers")
        else:
            for row in rows:
                reqs = row.get("requirements")
                shown = ", ".join(str(r) for r in reqs) if isinstance(reqs, list) else ""
                size = int(str(row.get("sizeBytes", 0))) / 1e6
                print(f"{row['key']}  {size:7.1f} MB  last used {row['lastUsed']}  {shown}")
        return 0
    if ns.layers_command == "prune":
        result = engine.prune_layers(older_than_days=ns.older_than, all=ns.all)
        if ns.format == "json":
            print(json.dumps(result, indent=2))
        else:
            removed = result["removed"]
            count = len(removed) if isinstance(removed, list) else 0
            print(f"removed {count} layer(s), freed {int(str(result['freedBytes'])) / 1e6:.1f} MB")
        return 0
    result = engine.remove_layer(ns.key)
    print(json.dumps(result))
    return 0


def _run(argv: list[str], env_vars: dict[str, str]) -> int:
    import shutil
    import subprocess

    env = dict(os.environ)
    for var in ("PYTHONPATH", "PYTHONHOME"):
        env.pop(var, None)
    env.update(env_vars)
    exe = shutil.which(argv[0], path=env["PATH"]) or argv[0]
    try:
        return subprocess.call([exe, *argv[1:]], env=env)
    except FileNotFoundError as exc:
        raise InvalidInput(f"command not found: {argv[0]}") from exc
