"""What debuggers and Jupyter need from a composition, on top of the engine: a launch
configuration, and `install_kernel`, which composes (adding `ipykernel` when nothing provides
it) and writes the kernelspec files (`kernelspecs`)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from envlayers.config import Options
from envlayers.core import interpreter as _interp
from envlayers.core.active import read_active
from envlayers.core.errors import InvalidInput, OperationFailed
from envlayers.core.inventory import Inventory
from envlayers.core.kernelspecs import (
    IPYKERNEL,
    env_kernels_dir,
    kernel_logos,
    kernel_name,
    kernelspec,
    user_kernels_dir,
    write_kernel_dir,
)
from envlayers.core.proc import CancelToken
from envlayers.core.render import launch_env
from envlayers.core.report import Report
from envlayers.core.satisfy import check, parse_request

__all__ = ["Composer", "debug_configuration", "install_kernel", "stack_options"]

log = logging.getLogger(__name__)

_KERNEL_NAME_RE = re.compile(r"^[a-z0-9._-]{1,128}$")


class Composer(Protocol):
    """The part of the engine that `install_kernel` drives."""

    @property
    def cache_root(self) -> Path: ...

    def compose(
        self,
        workspace: Path,
        options: Options = ...,
        *,
        on_line: Callable[[str], None] | None = ...,
        cancel: CancelToken | None = ...,
    ) -> Report: ...


def debug_configuration(
    report: Report,
    *,
    program: str | None = None,
    module: str | None = None,
    cwd: Path | None = None,
) -> dict[str, object]:
    """A `debugpy` launch configuration that runs under the composition.

    The launch runs in the workspace folder, so a relative `program` that names a file in `cwd`
    (the caller's folder: the CLI's working directory) is made absolute; any other relative
    `program` is kept as written, which the launch reads relative to the workspace."""
    if program and module:
        raise InvalidInput("give either a program or a module, not both")
    label = report.name or "base"
    config: dict[str, object] = {
        "type": "debugpy",
        "request": "launch",
        "name": f"Python: envlayers ({label})",
        "python": report.interpreter,
        # A script's workspace is its folder in the cache: it runs beside its own file.
        "cwd": os.path.dirname(report.script) if report.script else report.workspace,
        "env": launch_env(report.virtual_env, report.path_prefix),  # PATH: `${env:PATH}`
        "justMyCode": True,
        "console": "integratedTerminal",
    }
    if program:
        config["program"] = _program_path(program, cwd)
    if module:
        config["module"] = module
    return config


def _program_path(program: str, cwd: Path | None) -> str:
    path = Path(program).expanduser()
    if path.is_absolute() or cwd is None:
        return str(path)
    mine = Path(cwd) / path
    return os.path.normpath(mine) if mine.is_file() else program


def _has_ipykernel(report: Report, cache_root: Path) -> bool:
    """Whether `ipykernel` and its whole closure are visible to the composition (no process)."""
    if not report.sys_path or not report.base_interpreter:
        return False
    inventory = Inventory.scan(list(report.sys_path))
    if IPYKERNEL not in inventory:
        return False
    marker_env = _interp.probe(report.base_interpreter, cache_dir=cache_root).marker_env
    return check([parse_request(IPYKERNEL)], inventory, marker_env).ok


def stack_options(workspace: Path, options: Options) -> Options:
    """`options`, or, when they ask for no layers, the active composition's stack with them."""
    if options.has_layers:
        return options
    active = read_active(workspace) or {}
    try:
        previous = Options.from_json(active.get("request"))
    except InvalidInput:
        log.warning("ignoring the unreadable request of the active composition of %s", workspace)
        return options
    return replace(
        options,
        with_=previous.with_,
        with_requirements=previous.with_requirements,
        with_editable=previous.with_editable,
        profile=previous.profile,
    )


def install_kernel(
    engine: Composer,
    workspace: Path,
    options: Options,
    *,
    name: str | None,
    display_name: str | None,
    user: bool,
    on_line: Callable[[str], None] | None,
    cancel: CancelToken | None,
) -> dict[str, object]:
    """Compose (adding an `ipykernel` layer when nothing provides it) and write the kernelspec."""
    if name is not None and not _KERNEL_NAME_RE.match(name):
        raise InvalidInput(
            f"invalid kernel name {name!r}: use 1-128 lowercase letters, digits, '.', '_' or '-'"
        )
    opts = stack_options(workspace, options)
    report = engine.compose(workspace, opts, on_line=on_line, cancel=cancel)
    added = False
    if not _has_ipykernel(report, engine.cache_root):
        opts = replace(opts, with_=(*opts.with_, IPYKERNEL), no_sync=True)
        report = engine.compose(workspace, opts, on_line=on_line, cancel=cancel)
        added = True
        if not _has_ipykernel(report, engine.cache_root):
            raise OperationFailed(f"{IPYKERNEL} is still not importable in {report.interpreter}")
    kname = name or kernel_name(report)
    spec = kernelspec(report, display_name=display_name)
    logos = kernel_logos(report)
    env_dir = env_kernels_dir(Path(report.virtual_env))
    path = write_kernel_dir(env_dir, kname, spec, logos)
    user_path: Path | None = None
    if user:
        user_path = write_kernel_dir(user_kernels_dir(), kname, spec, logos)
    log.info("installed the Jupyter kernel %s for %s", kname, report.interpreter)
    return {
        "name": kname,
        "displayName": spec["display_name"],
        "path": str(path),
        "userPath": str(user_path) if user_path is not None else None,
        "argv": spec["argv"],
        "interpreter": report.interpreter,
        "composition": report.name,
        "addedIpykernel": added,
    }
