"""A single-file script (PEP 723) as the engine's stages see it.

A script with a `# /// script` block gets its own folder in the cache,
`<cache>/scripts/v1/<hash of the script's real path>/`: a bare base venv there (`.venv`, for
the interpreter the script's `requires-python` picks, or `--python`), and its compositions
under `.envlayers/`, like a workspace's. So the path of its interpreter is stable across runs
(an editor setting stays valid) and nothing of a surrounding project is seen. The block's
`dependencies` are the bottom layer (label `script`, a cached layer like any other: same key
rules, shared with any script or project asking the same over the same interpreter); `--with`
stacks on top. A lock beside the script (`<script>.lock`, written by `uv lock --script`) is
exported by uv and its exact pins are the script layer.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from envlayers.config import Options
from envlayers.core.errors import InstallFailed, InterpreterNotFound, InvalidInput
from envlayers.core.fsutil import atomic_write_json, private_tempdir, read_json
from envlayers.core.inline import ScriptMetadata, load_script, read_script
from envlayers.core.installer import IndexSettings, find_uv
from envlayers.core.interpreter import InterpreterInfo
from envlayers.core.lockfiles import pylock_requirements
from envlayers.core.paths import CacheLayout
from envlayers.core.plan import LayerSpec, Plan
from envlayers.core.proc import CancelToken, child_env, run
from envlayers.core.project import Project
from envlayers.core.report import Report
from envlayers.core.requests import abs_link, request_from_item
from envlayers.core.resolve import resolve_workspace
from envlayers.core.satisfy import parse_request

__all__ = [
    "SCRIPT_LAYER",
    "SCRIPT_NAME",
    "ScriptTarget",
    "load_target",
    "project_of",
    "remember_script",
    "script_errors",
    "script_layer",
    "script_lock",
    "script_of",
    "script_options",
    "script_plan",
    "script_report",
    "script_root",
]

log = logging.getLogger(__name__)

SCRIPT_LAYER = "script"  # the label of the script's own layer
SCRIPT_NAME = "script"  # the composition's name when no `--with` stacks on it
_RECORD = "script.json"


@dataclass(frozen=True)
class ScriptTarget:
    """A script with inline metadata, and the cache folder that plays its workspace."""

    script: Path  # absolute
    meta: ScriptMetadata
    root: Path  # <cache>/scripts/v1/<hash>/
    project: Project  # the stand-in workspace: no dependencies of its own
    lock: Path | None  # <script>.lock, when there is one


def script_root(layout: CacheLayout, script: Path) -> Path:
    """The script's folder in the cache: a hash of its real path, so it stays put."""
    digest = hashlib.sha256(os.path.realpath(script).encode()).hexdigest()[:16]
    return layout.scripts / digest


def script_lock(script: Path) -> Path | None:
    lock = script.with_name(script.name + ".lock")
    return lock if lock.is_file() else None


def load_target(script: Path, layout: CacheLayout) -> ScriptTarget | None:
    """The script's target, None when it has no `# /// script` block; a malformed block is
    an `InvalidInput` naming the script's file and line."""
    script = Path(os.path.abspath(script))
    if not script.is_file():
        raise InvalidInput(f"the script {script} does not exist")
    meta = load_script(script, read_script(script))
    if meta is None:
        return None
    root = script_root(layout, script)
    settings = replace(meta.settings, venv=".venv", profiles=MappingProxyType({}))
    stand_in = Project(
        root=root,
        pyproject=script,
        text=meta.block.toml,
        # The base is a bare venv: only the interpreter choice is part of its inputs.
        sha256=hashlib.sha256(f"script-base:{meta.requires_python}".encode()).hexdigest(),
        name=None,
        version=None,
        dependencies=(),
        optional_dependencies=MappingProxyType({}),
        dependency_groups=MappingProxyType({}),
        requires_python=meta.requires_python,
        has_build_system=False,
        settings=settings,
        python_version_file=None,
        pylock=None,
        uv_lock=None,
    )
    return ScriptTarget(script, meta, root, stand_in, script_lock(script))


def remember_script(target: ScriptTarget) -> None:
    """`script.json` in the script's cache folder: which script it belongs to (for people
    and for `report`)."""
    record = target.root / _RECORD
    data = {"format": 1, "script": str(target.script)}
    if read_json(record) != data:
        target.root.mkdir(parents=True, exist_ok=True)
        atomic_write_json(record, data)


def script_options(options: Options, script: Path) -> Options:
    """`options` with relative paths made absolute against the script's folder (the stand-in
    workspace is a cache folder); `--frozen` is about the script's lock, not the bare base."""
    folder = script.parent

    def path(text: str) -> str:
        return abs_link(folder, text) if text.startswith((".", "~")) else text

    return replace(
        options,
        frozen=False,
        find_links=tuple(abs_link(folder, f) for f in options.find_links),
        with_=tuple(path(t) for t in options.with_),
        with_requirements=tuple(abs_link(folder, f) for f in options.with_requirements),
        with_editable=tuple(abs_link(folder, f) for f in options.with_editable),
    )


def script_plan(plan: Plan, layer: LayerSpec | None) -> Plan:
    """The plan with the script's layer at the bottom of the stack (below `--with`)."""
    if layer is None:
        return plan
    layers = (layer, *plan.layers)
    name = SCRIPT_NAME if len(layers) == 1 else plan.name
    return replace(plan, layers=layers, name=name)


def script_layer(
    target: ScriptTarget,
    base: InterpreterInfo,
    index: IndexSettings,
    *,
    frozen: bool,
    on_line: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> LayerSpec | None:
    """The script's own layer: its dependencies, or the exact pins of its lock."""
    if target.lock is not None:
        pins = _lock_pins(target, base, index, frozen=frozen, on_line=on_line, cancel=cancel)
        where = str(target.lock)
        requests = tuple(parse_request(p, file=where) for p in pins)
    else:
        folder = target.script.parent
        requests = tuple(request_from_item(i, folder) for i in target.meta.dependencies)
    return LayerSpec(SCRIPT_LAYER, requests) if requests else None


def _lock_pins(
    target: ScriptTarget,
    base: InterpreterInfo,
    index: IndexSettings,
    *,
    frozen: bool,
    on_line: Callable[[str], None] | None,
    cancel: CancelToken | None,
) -> list[str]:
    uv = find_uv()
    lock = target.lock
    assert lock is not None
    if uv is None:
        raise InvalidInput(f"{lock}: reading a script's lock needs uv, which is not installed")
    env = child_env({"UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never"})
    folder = target.script.parent
    script = str(target.script)
    if not frozen:
        check = [uv, "lock", "--script", script, "--check", "--offline", *index.args("uv")]
        check += ["--python", base.executable]
        result = run(check, env=env, cwd=folder, cancel=cancel)
        if result.returncode != 0:
            raise InvalidInput(
                f"{lock} does not match the script's metadata ({_uv_reason(result.stderr)}); "
                f"run `uv lock --script {target.script.name}`, or pass --frozen to use it as is",
                file=str(target.script),
                line=target.meta.block.line,
            )
    with private_tempdir("envlayers-uvlock-") as out_dir:
        out = out_dir / "pylock.toml"
        cmd = [uv, "export", "--script", script, "--frozen", "--format", "pylock.toml"]
        cmd += ["--quiet", "--output-file", str(out), "--python", base.executable]
        result = run(cmd, env=env, cwd=folder, on_line=on_line, cancel=cancel)
        if result.returncode != 0 or not out.is_file():
            raise InvalidInput(
                f"cannot read {lock} with `uv export --script`: {_uv_reason(result.stderr)}"
            )
        return pylock_requirements(out, base.marker_env)


@contextlib.contextmanager
def script_errors(target: ScriptTarget) -> Iterator[None]:
    """An interpreter or install failure named after the script's line that asked for it."""
    meta = target.meta
    try:
        yield
    except InterpreterNotFound as exc:
        span = meta.requires_python_span or meta.block.header
        _, _, why = exc.message.partition(f"{exc.request!r}: ")
        where = f"asked for by {span.file}:{span.line}:{span.column}"
        raise InterpreterNotFound(exc.request, f"{where}; {why}" if why else where) from exc
    except InstallFailed as exc:
        what, found, _ = str(exc).partition(": installer failed")
        line = meta.dependencies[0].span if meta.dependencies else None
        where = f"{target.script}:{line.line if line else meta.block.line}"
        raise InstallFailed(
            exc.cmd,
            exc.returncode,
            exc.stderr_tail,
            what=f"{where}: the script's dependencies: {what if found else 'install'}",
        ) from exc


def _uv_reason(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln.removeprefix("error:").strip() for ln in lines if ln.startswith("error:")]
    return (errors or lines or ["uv gave no reason"])[-1 if not errors else 0]


def script_of(root: Path) -> str | None:
    """The script a cache folder belongs to (from `script.json`), or None."""
    data = read_json(root / _RECORD)
    value = data.get("script") if data else None
    return value if isinstance(value, str) else None


def script_report(report: Report, target: ScriptTarget) -> Report:
    """A stand-in workspace's report as the script's: `script` set, and the advice of its
    warnings in terms of the script (`envlayers sync` is not how a script's env is made)."""
    fix = f"envlayers env --script {target.script}"
    warnings = tuple(
        w.replace("run `envlayers sync`", f"run `{fix}`").replace("`envlayers env`", f"`{fix}`")
        for w in report.warnings
    )
    return replace(report, script=str(target.script), warnings=warnings)


def project_of(script: Path) -> Path:
    """The workspace around a script without a `# /// script` block: it runs in the
    project's composition; with no project around it there is nothing to compose."""
    try:
        return resolve_workspace(script)
    except InvalidInput as exc:
        raise InvalidInput(
            f"{script} has no `# /// script` block and is not inside a project: "
            "add inline metadata (e.g. `uv add --script` or a `# /// script` block)"
        ) from exc


def compositions_root(script: Path, layout: CacheLayout) -> Path:
    """Where a script's compositions live (its project's folder when it has no block)."""
    target = load_target(script, layout)
    return target.root if target is not None else project_of(script)
