"""What the base must satisfy: the project's selected requirements, or the pins of its lock
file (`pylock.toml` read directly, `uv.lock` through `uv export`), plus the project itself (or
a uv workspace's members) installed editable."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path

from envlayers.core.errors import InvalidInput
from envlayers.core.fsutil import remove_tree
from envlayers.core.installer import find_uv
from envlayers.core.interpreter import InterpreterInfo
from envlayers.core.lockfiles import pylock_requirements
from envlayers.core.owned import mark
from envlayers.core.proc import run
from envlayers.core.project import Project
from envlayers.core.requests import request_from_item, strs
from envlayers.core.satisfy import Request, editable_request, parse_request
from envlayers.core.uvworkspace import (
    workspace_editables,
    workspace_export_args,
    workspace_requests,
)

__all__ = ["base_requests"]

log = logging.getLogger(__name__)


def base_requests(
    project: Project, selection: Mapping[str, object], base: InterpreterInfo
) -> tuple[list[Request], bool]:
    """What the base must satisfy, and whether it comes pinned from a lock file."""
    lock = project.pylock
    exported: Path | None = None
    if lock is None and project.uv_lock is not None:
        exported = _export_uv_lock(project, selection)
        lock = exported
    where = str(project.uv_lock if exported is not None else lock)
    try:
        if lock is not None:
            try:
                pins = pylock_requirements(
                    lock,
                    base.marker_env,
                    extras=strs(selection.get("extras")) if exported is None else (),
                )
            except InvalidInput as exc:  # name the user's file, not our temporary export
                raise InvalidInput(exc.detail, file=where) from exc
            requests = [parse_request(p, file=where) for p in pins]
        else:
            requests = _project_requests(project, selection)
    finally:
        if exported is not None:
            remove_tree(exported.parent, kind="build", roots=[exported.parent.parent])
    if selection.get("packages") is not None:  # a uv workspace: its members, editable
        requests += workspace_editables(project, selection)
    elif project.has_build_system and project.name:
        requests.append(editable_request(project.root, project.name))
    return requests, lock is not None


def _project_requests(project: Project, selection: Mapping[str, object]) -> list[Request]:
    if selection.get("frozen"):
        raise InvalidInput(f"--frozen needs a pylock.toml or uv.lock beside {project.pyproject}")
    if selection.get("packages") is not None:
        return workspace_requests(project, selection)
    items = project.select(
        groups=strs(selection.get("groups")),
        no_dev=bool(selection.get("noDev")),
        all_groups=bool(selection.get("allGroups")),
        extras=strs(selection.get("extras")),
        all_extras=bool(selection.get("allExtras")),
    )
    return [request_from_item(item, project.root) for item in items]


def _export_uv_lock(project: Project, selection: Mapping[str, object]) -> Path | None:
    """uv.lock is uv's own format: let uv turn it into a PEP 751 lock we can read."""
    uv = find_uv()
    if uv is None:
        log.warning(
            "%s is ignored: uv is not installed; syncing from pyproject.toml", project.uv_lock
        )
        return None
    out_dir = Path(tempfile.mkdtemp(prefix="envlayers-uvlock-"))
    mark(out_dir, "build")
    out = out_dir / "pylock.toml"
    cmd = [uv, "export", "--frozen", "--format", "pylock.toml", "--no-emit-project", "--quiet"]
    cmd += workspace_export_args(selection)
    cmd += ["--output-file", str(out), "--project", str(project.root)]
    for group in strs(selection.get("groups")):
        cmd += ["--group", group]
    for extra in strs(selection.get("extras")):
        cmd += ["--extra", extra]
    for key, flag in (("noDev", "--no-dev"), ("allGroups", "--all-groups")):
        if selection.get(key):
            cmd.append(flag)
    if selection.get("allExtras"):
        cmd.append("--all-extras")
    result = run(cmd, cwd=project.root)
    if result.returncode != 0 or not out.is_file():
        remove_tree(out_dir, kind="build", roots=[out_dir.parent])
        tail = "\n".join(result.stderr.strip().splitlines()[-10:])
        raise InvalidInput(f"cannot read {project.uv_lock} with `uv export`: {tail}")
    return out
