"""The command line: a thin front over `Engine`; maps errors to exit codes once, here."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from envlayers._stdio import stdout_closed
from envlayers.config import Options
from envlayers.core.errors import EnvlayersError, InstallFailed, InvalidInput
from envlayers.core.redact import redact, scrub_record

if TYPE_CHECKING:
    import argparse

    from envlayers.ttyprogress import Progress

__all__ = ["main", "run_plain"]


def _setup_logging(verbosity: int, progress: Progress | None = None) -> None:
    import logging

    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    if progress is not None:  # it prints records of `level` above its line, and reads steps
        progress.echo_level = level
        handler = progress
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(scrub_record)
    root = logging.getLogger("envlayers")
    root.handlers[:] = [handler]
    root.setLevel(min(level, logging.INFO) if progress is not None else level)
    # python-discovery says what it makes of every other interpreter it meets ("... is Python
    # 2.7, older than ..."): not ours to show unless asked (-v its warnings, -vv everything).
    discovery = logging.getLogger("python_discovery")
    discovery.handlers[:] = [handler if verbosity > 0 else logging.NullHandler()]
    discovery.propagate = False
    discovery.setLevel(logging.WARNING if verbosity <= 1 else logging.DEBUG)


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


_TEMP_MARKERS = (".tmp-", "envlayers-constraints-", "envlayers-uvlock-")


def _temp_folders(cmd: Sequence[str]) -> list[str]:
    """The temporary folders and files a failed installer command names (our build folders)."""
    found: list[str] = []
    for arg in cmd:
        _, _, value = arg.rpartition("=")
        parts = value.split(os.sep)
        for i, part in enumerate(parts):
            if value.startswith(os.sep) and any(m in part for m in _TEMP_MARKERS):
                found.append(os.sep.join(parts[: i + 1]))
                break
    return sorted(set(found), key=len, reverse=True)


def _error_text(exc: EnvlayersError, verbosity: int) -> str:
    """What failed, for a person. An installer failure names the step, the installer, its exit
    status and its own last lines; its command line and our temporary paths are shown only
    with -v (they are noise, and long)."""
    if not isinstance(exc, InstallFailed) or verbosity > 0:
        return redact(str(exc))
    installer = os.path.basename(exc.cmd[0]) if exc.cmd else "installer"
    if len(exc.cmd) > 2 and exc.cmd[1:3] == ("-m", "pip"):
        installer = "pip"
    what, found, _ = str(exc).partition(": installer failed")
    status = f"{installer} exited with status {exc.returncode}"
    head = f"{what} ({status})" if found and what else status
    tail = exc.stderr_tail.strip()
    for folder in _temp_folders(exc.cmd):
        tail = tail.replace(folder, "<temporary build folder>")
    lines = [
        head,
        *([tail] if tail else []),
        "(run again with -v for the installer's command line)",
    ]
    return redact("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _parse_and_run(argv)
        sys.stdout.flush()  # here, where a closed pipe can still be handled
        return code
    except BrokenPipeError:
        return stdout_closed()


def run_plain(command: str, project: str, fmt: str, wire: dict[str, object], quiet: bool) -> int:
    """A plain `env` / `sync` that `_entry` read itself (`fast_options`): no argparse."""
    from types import SimpleNamespace

    ns = SimpleNamespace(command=command, project=project, format=fmt, verbose=0, quiet=quiet)
    ns.request = wire  # decoded by `_options`, where a bad value is reported like any error
    try:
        code = _run_ns(None, ns)  # type: ignore[arg-type]
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return stdout_closed()


def _parse_and_run(argv: Sequence[str] | None) -> int:
    from envlayers.cliparse import build_parser

    parser = build_parser()
    return _run_ns(parser, parser.parse_args(argv))


def _run_ns(parser: argparse.ArgumentParser | None, ns: argparse.Namespace) -> int:
    from envlayers.core.proc import Terminated, install_signal_handlers

    # A signal stops the installer's whole process group and waits for it before we exit.
    install_signal_handlers(interrupt=ns.command == "serve")
    try:
        return _main(parser, ns)
    except Terminated as exc:
        print(f"envlayers: stopped by signal {exc.signum}", file=sys.stderr)
        return exc.exit_code


def _options(ns: argparse.Namespace) -> Options:
    wire = getattr(ns, "request", None)
    if isinstance(wire, dict):
        return Options.from_json(wire)
    from envlayers.cliparse import options_of

    return options_of(ns)


def _main(parser: argparse.ArgumentParser | None, ns: argparse.Namespace) -> int:
    if ns.command == "serve":
        from envlayers.lsp.server import serve

        host = port = None
        mode = "stdio"
        if ns.tcp:
            mode = "tcp"
            host, _, port_text = ns.tcp.rpartition(":")
            if (not host or not port_text.isdigit()) and parser is not None:
                parser.error(f"--tcp wants HOST:PORT, not {ns.tcp!r}")
            port = int(port_text)
        serve(mode, host, port, ns.log_file, bool(ns.verbose))
        return 0
    verbosity = int(getattr(ns, "verbose", 0) or 0)
    progress = _progress(ns)
    try:
        _setup_logging(verbosity, progress)
        return _dispatch(ns, progress)
    except EnvlayersError as exc:
        _stop(progress)
        sys.stdout.flush()
        print(f"envlayers: error: {_error_text(exc, verbosity)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        _stop(progress)
        print("envlayers: interrupted", file=sys.stderr)
        return 130
    finally:
        _stop(progress)


def _dispatch(ns: argparse.Namespace, progress: Progress | None = None) -> int:
    from envlayers.core.engine import Engine
    from envlayers.core.proc import CancelToken
    from envlayers.core.report import render

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
        options, argv = _script_run(_options(ns), argv)
        if not argv:
            raise InvalidInput("envlayers run needs a command after --")
        if not options.script:
            # No layer options: run in the active composition (and leave it active), like `report`.
            options = engine.active_options(Path(ns.project), options)
        report = engine.compose(Path(ns.project), options, on_line=on_line, cancel=cancel)
        _stop(progress)
        if options.script and argv[0] == options.script:
            argv = [report.interpreter, *argv]  # `envlayers run script.py ARGS`
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
        _print(ns.format, result, _kernel_text)
        return 0
    if cmd == "debug-config":
        options = _options(ns)
        program = ns.program or (options.script if not ns.module else None)
        config = engine.debug_configuration(
            Path(ns.project), options, program=program, module=ns.module, cwd=Path.cwd()
        )
        _print(ns.format, config, _debug_text)
        return 0
    if cmd == "layers":
        return _layers(engine, ns)
    if cmd == "compositions":
        if ns.compositions_command == "remove":
            removed = engine.remove_composition(Path(ns.project), ns.name)
            _print(ns.format, removed, _removed_text, indent=None)
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
    from envlayers.core.engine import Engine

    assert isinstance(engine, Engine)
    if ns.layers_command == "list":
        rows = engine.list_layers()
        if ns.format == "json":
            print(json.dumps(rows, indent=2))
        else:
            print(_layers_table(rows))
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
    result = engine.remove_layer(ns.key, force=ns.force)
    _print(ns.format, result, _removed_text, indent=None)
    return 0


# -- text renderings of the administrative commands ------------------------------------------
def _print(
    fmt: str,
    value: Mapping[str, object],
    text: Callable[[Mapping[str, object]], str],
    indent: int | None = 2,
) -> None:
    print(json.dumps(value, indent=indent) if fmt == "json" else text(value))


def _strs(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns under a header row; the last column is not padded."""
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header) - 1)]
    lines = []
    for row in (header, *rows):
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def _layers_table(rows: Sequence[Mapping[str, object]]) -> str:
    if not rows:
        return "no layers"
    body = []
    for row in rows:
        size = int(str(row.get("sizeBytes", 0))) / 1e6
        key = str(row.get("key")) + ("" if row.get("valid", True) else " (damaged)")
        users = ", ".join(_strs(row.get("usedBy"))) or "-"
        reqs = ", ".join(_strs(row.get("requirements")))
        body.append([key, f"{size:.1f} MB", str(row.get("lastUsed")), users, reqs])
    return _table(["KEY", "SIZE", "LAST USED", "USED BY", "REQUIREMENTS"], body)


def _kernel_text(result: Mapping[str, object]) -> str:
    lines = [
        f"installed kernel {result.get('name')} ({result.get('displayName')})",
        f"  interpreter:  {result.get('interpreter')}",
        f"  kernelspec:   {result.get('path')}",
    ]
    if result.get("userPath"):
        lines.append(f"  user copy:    {result.get('userPath')}")
    if result.get("addedIpykernel"):
        lines.append("  ipykernel was added to the composition")
    return "\n".join(lines)


def _debug_text(config: Mapping[str, object]) -> str:
    env = config.get("env")
    lines = [
        f"{config.get('name')}",
        f"  python:   {config.get('python')}",
        f"  cwd:      {config.get('cwd')}",
    ]
    for key in ("program", "module"):
        if key in config:
            lines.append(f"  {key + ':':<9} {config[key]}")
    for name, value in env.items() if isinstance(env, dict) else ():
        lines.append(f"  env {name}={value}")
    return "\n".join(lines)


def _removed_text(result: Mapping[str, object]) -> str:
    lines = [f"removed {item}" for item in _strs(result.get("removed"))]
    lines += [f"removed kernelspec {path}" for path in _strs(result.get("kernelspecs"))]
    return "\n".join(lines) or "nothing removed"


def _script_run(options: Options, argv: list[str]) -> tuple[Options, list[str]]:
    """`envlayers run` on a single-file script: `run script.py ARGS` (or `run -- python
    script.py ARGS`, when the script has a `# /// script` block) runs it in its own
    composition; `run --script script.py [-- COMMAND]` runs COMMAND (default: the script)
    there. A `.py` file without a block runs in the project's composition."""
    from dataclasses import replace

    from envlayers.core.inline import has_block, read_script

    if options.script:
        return options, argv or [options.script]
    if argv and argv[0].endswith(".py") and os.path.isfile(argv[0]):
        return replace(options, script=argv[0]), argv
    if (
        len(argv) > 1
        and os.path.basename(argv[0]).startswith("python")
        and argv[1].endswith(".py")
        and os.path.isfile(argv[1])
        and has_block(read_script(Path(argv[1])))
    ):
        return replace(options, script=argv[1]), argv
    return options, argv


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
