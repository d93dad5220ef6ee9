"""Stage 1, the base: create the workspace environment when it does not match, install what the
project asks for (from its lock file when it has one), and remember the inputs in a stamp so a
no-op sync is a file compare and a folder listing."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from envlayers.core import interpreter as _interp
from envlayers.core import venv as _venv
from envlayers.core.compose import base_site_dirs
from envlayers.core.errors import EnvlayersError, InvalidInput, OperationFailed
from envlayers.core.fsutil import atomic_write_json, read_json, remove_tree, swap_in
from envlayers.core.installer import Installer, find_uv, get_installer
from envlayers.core.interpreter import InterpreterInfo
from envlayers.core.inventory import Inventory, site_signature
from envlayers.core.lockfiles import lock_fingerprint, pylock_requirements
from envlayers.core.paths import CacheLayout
from envlayers.core.plan import BasePlan
from envlayers.core.proc import CancelToken, run
from envlayers.core.project import Project
from envlayers.core.report import SyncInfo
from envlayers.core.requests import editable_arg, installable, request_from_item, strs
from envlayers.core.satisfy import Request, check, editable_request, extraneous, parse_request
from envlayers.core.uvworkspace import (
    workspace_digest,
    workspace_editables,
    workspace_export_args,
    workspace_requests,
)

__all__ = ["SYNC_STAMP", "base_requests", "ensure_base", "probe_base", "sync_base", "sync_info"]

log = logging.getLogger(__name__)

LineSink = Callable[[str], None]
SYNC_STAMP = ".envlayers-sync.json"
_KEEP = ("pip", "setuptools", "wheel", "uv")


def ensure_base(plan: BasePlan, layout: CacheLayout) -> Path:
    """The base venv's python, creating or recreating the venv when it does not match."""
    project, prefix = plan.project, plan.prefix
    python = _venv.venv_python(prefix)
    if python.exists() and _interp.venv_python_matches(
        prefix, plan.python_request, project.requires_python
    ):
        return python
    exe = _interp.find_interpreter(
        plan.python_request, requires_python=project.requires_python, cache_dir=layout.root
    )
    # We hold the workspace lock: any temporary sibling is a dead sync's leftover.
    for pattern in (f".{prefix.name}.tmp-*", f".{prefix.name}.old-*", f".old-{prefix.name}-*"):
        for stale in prefix.parent.glob(pattern):
            remove_tree(stale)
    tmp = prefix.with_name(f".{prefix.name}.tmp-{uuid.uuid4().hex[:8]}")
    log.info("creating the workspace environment %s with %s", prefix, exe)
    try:
        _venv.create_venv(tmp, exe)
        swap_in(tmp, prefix)
    except BaseException:
        remove_tree(tmp)
        raise
    return _venv.venv_python(prefix)


def sync_base(
    plan: BasePlan,
    layout: CacheLayout,
    *,
    on_line: LineSink | None,
    cancel: CancelToken | None,
) -> SyncInfo:
    """Bring the base to the plan: a no-op when the stamp still vouches for it."""
    project, selection = plan.project, plan.selection
    python = ensure_base(plan, layout)
    stamp_path = plan.prefix / SYNC_STAMP
    digest = inputs_digest(project, selection, python)
    base = _interp.probe(python, cache_dir=layout.root)
    sites = base_site_dirs(base)
    stamp = read_json(stamp_path)
    if (
        stamp is not None
        and stamp.get("inputs") == digest
        and stamp.get("siteSignature") == site_signature(sites)
    ):
        # The no-op path: a file compare and a folder listing, no installer, no process.
        return SyncInfo("in-sync", extraneous=tuple(strs(stamp.get("extraneous"))))
    requests, locked = base_requests(project, selection, base)
    before = _drop_broken(Inventory.scan(sites), sites)
    installer = _Installers(plan)
    if not check(requests, before, base.marker_env).ok:
        log.info("syncing %s with %s", plan.prefix, installer.get().name)
        _install(plan, installer.get(), python, requests, locked, on_line, cancel)
    after = Inventory.scan(sites)
    verify = check(requests, after, base.marker_env)
    if not verify.ok:
        first = verify.unsatisfied[0]
        raise OperationFailed(
            f"the workspace environment still does not satisfy {first.request}: {first.message or first.reason}"
        )
    keep = (*_KEEP, *([project.name] if project.name else []))
    extra = extraneous(after, verify.visited, keep=keep)
    removed: list[str] = []
    if bool(selection.get("exact")) and extra:
        installer.get().uninstall(str(python), extra, on_line=on_line, cancel=cancel)
        removed = [f"{n}=={before.versions().get(n, after.versions().get(n, '?'))}" for n in extra]
        after = Inventory.scan(sites)
        extra = []
    old, new = before.versions(), after.versions()
    installed = [f"{n}=={v}" for n, v in sorted(new.items()) if old.get(n) != v]
    if not removed:
        removed = [f"{n}=={v}" for n, v in sorted(old.items()) if n not in new]
    _write_stamp(stamp_path, digest, sites, selection, extra)
    return SyncInfo("in-sync", tuple(installed), tuple(removed), tuple(extra))


def _drop_broken(inventory: Inventory, sites: list[str]) -> Inventory:
    """Remove the half-installed dist-infos of the base (an install cut short) so the
    installer, which would trip over them, installs those distributions again."""
    if not inventory.broken:
        return inventory
    own = {os.path.realpath(s) for s in sites}
    for dist in inventory.broken:
        path = dist.path
        if path.is_symlink() or not path.is_dir() or os.path.realpath(path.parent) not in own:
            continue  # only a real dist-info folder directly in one of the base's site dirs
        log.warning(
            "%s %s is half-installed (no METADATA in %s); installing it again",
            dist.name,
            dist.version,
            path.name,
        )
        remove_tree(path)
    return Inventory.scan(sites)


class _Installers:
    """The plan's installer, looked up only when something must be installed or removed."""

    def __init__(self, plan: BasePlan) -> None:
        self._name = plan.installer
        self._installer: Installer | None = None

    def get(self) -> Installer:
        if self._installer is None:
            self._installer = get_installer(self._name)
        return self._installer


def _install(
    plan: BasePlan,
    installer: Installer,
    python: Path,
    requests: list[Request],
    locked: bool,
    on_line: LineSink | None,
    cancel: CancelToken | None,
) -> None:
    installer.install(
        str(python),
        [installable(r) for r in requests if not r.editable],
        editables=[editable_arg(r) for r in requests if r.editable],
        no_deps=locked,
        index=plan.index,
        cwd=plan.project.root,
        on_line=on_line,
        cancel=cancel,
    )


def _write_stamp(
    path: Path, digest: str, sites: list[str], selection: Mapping[str, object], extra: list[str]
) -> None:
    atomic_write_json(
        path,
        {
            "format": 1,
            "inputs": digest,
            "siteSignature": site_signature(sites),
            "selection": dict(selection),
            "extraneous": extra,
            "synced": time.time(),
        },
    )


def probe_base(plan: BasePlan, layout: CacheLayout) -> InterpreterInfo:
    """The existing base's interpreter (for a compose that does not sync first)."""
    python = _venv.venv_python(plan.prefix)
    if not python.exists():
        raise InvalidInput(
            f"the workspace environment {plan.prefix} does not exist; "
            "run `envlayers sync` first (or drop --no-sync)"
        )
    return _interp.probe(python, cache_dir=layout.root)


def sync_info(project: Project, prefix: Path, layout: CacheLayout) -> SyncInfo:
    """in-sync | out-of-sync | missing, without an installer (a probe at most once)."""
    python = _venv.venv_python(prefix)
    if not python.exists():
        return SyncInfo("missing")
    stamp = read_json(prefix / SYNC_STAMP)
    if stamp is None:
        return SyncInfo("out-of-sync")
    selection = stamp.get("selection")
    if not isinstance(selection, dict):
        return SyncInfo("out-of-sync")
    extra = tuple(strs(stamp.get("extraneous")))
    try:
        digest = inputs_digest(project, selection, python)
    except OSError:
        return SyncInfo("out-of-sync")
    if digest != stamp.get("inputs"):
        return SyncInfo("out-of-sync")
    base = _interp.probe(python, cache_dir=layout.root)
    sites = base_site_dirs(base)
    if stamp.get("siteSignature") == site_signature(sites):
        return SyncInfo("in-sync", extraneous=extra)
    # Something changed the env by hand: decide from what is installed (pure check).
    try:
        requests, _ = base_requests(project, selection, base)
    except EnvlayersError:
        return SyncInfo("out-of-sync")
    ok = check(requests, Inventory.scan(sites), base.marker_env).ok
    return SyncInfo("in-sync" if ok else "out-of-sync", extraneous=extra)


def base_requests(
    project: Project, selection: Mapping[str, object], base: InterpreterInfo
) -> tuple[list[Request], bool]:
    """What the base must satisfy, and whether it comes pinned from a lock file."""
    lock = project.pylock
    exported: Path | None = None
    if lock is None and project.uv_lock is not None:
        exported = _export_uv_lock(project, selection)
        lock = exported
    try:
        if lock is not None:
            pins = pylock_requirements(
                lock,
                base.marker_env,
                extras=strs(selection.get("extras")) if exported is None else (),
            )
            where = str(project.uv_lock if exported is not None else lock)
            requests = [parse_request(p, file=where) for p in pins]
        else:
            requests = _project_requests(project, selection)
    finally:
        if exported is not None:
            remove_tree(exported.parent)
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


def inputs_digest(project: Project, selection: Mapping[str, object], python: Path) -> str:
    parts = {
        "pyproject": project.sha256,
        "pylock": lock_fingerprint(project.pylock) if project.pylock else None,
        "uvlock": lock_fingerprint(project.uv_lock) if project.uv_lock else None,
        "pythonVersion": project.python_version_file,
        "selection": dict(selection),
        "interpreter": _interp.executable_identity(python) if python.exists() else None,
    }
    if selection.get("packages") is not None:
        parts["members"] = workspace_digest(project)
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _export_uv_lock(project: Project, selection: Mapping[str, object]) -> Path | None:
    """uv.lock is uv's own format: let uv turn it into a PEP 751 lock we can read."""
    uv = find_uv()
    if uv is None:
        log.warning(
            "%s is ignored: uv is not installed; syncing from pyproject.toml", project.uv_lock
        )
        return None
    out_dir = Path(tempfile.mkdtemp(prefix="envlayers-uvlock-"))
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
        remove_tree(out_dir)
        tail = "\n".join(result.stderr.strip().splitlines()[-10:])
        raise InvalidInput(f"cannot read {project.uv_lock} with `uv export`: {tail}")
    return out
