"""Stage 1, the base: create the workspace environment when it does not match, install what the
project asks for (from its lock file when it has one), and remember the inputs in a stamp so a
no-op sync is a file compare and a folder listing."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path

from envlayers.core import interpreter as _interp
from envlayers.core import venv as _venv
from envlayers.core.baserequests import base_requests
from envlayers.core.basetx import (
    check_requires_python,
    recover_interrupted,
    relocate_venv,
    remove_leftovers,
    rollback_on_failure,
    temporary_sibling,
)
from envlayers.core.compose import base_site_dirs
from envlayers.core.editables import editable_key, restore, store
from envlayers.core.errors import EnvlayersError, InvalidInput, OperationFailed
from envlayers.core.fsutil import (
    atomic_write_json,
    discard,
    make_dir,
    read_json,
    remove_tree,
    swap_in,
)
from envlayers.core.installer import Installer, get_installer
from envlayers.core.interpreter import InterpreterInfo
from envlayers.core.inventory import Inventory, site_signature
from envlayers.core.lockcheck import settle_lock, stale_reason
from envlayers.core.lockfiles import lock_fingerprint
from envlayers.core.owned import check_removable
from envlayers.core.paths import CacheLayout
from envlayers.core.plan import BasePlan
from envlayers.core.proc import CancelToken
from envlayers.core.project import Project
from envlayers.core.report import SyncInfo
from envlayers.core.requests import editable_arg, installable, strs
from envlayers.core.satisfy import Request, check, extraneous
from envlayers.core.uvworkspace import workspace_digest

__all__ = [
    "SYNC_STAMP",
    "base_requests",
    "probe_base",
    "recreate_base",
    "sync_base",
    "sync_info",
]

log = logging.getLogger(__name__)

LineSink = Callable[[str], None]
SYNC_STAMP = ".envlayers-sync.json"
_KEEP = ("pip", "setuptools", "wheel", "uv")


def sync_base(
    plan: BasePlan,
    layout: CacheLayout,
    *,
    on_line: LineSink | None,
    cancel: CancelToken | None,
) -> SyncInfo:
    """Bring the base to the plan: a no-op when the stamp still vouches for it.

    A transaction: the interpreter, `requires-python`, the lock and the requests are checked
    before the first write; a base that must be recreated is built aside and swapped in only
    once its install succeeded; a failed install into the existing base is undone.
    """
    project, selection, prefix = plan.project, plan.selection, plan.prefix
    recover_interrupted(prefix, plan.anchor)
    python = _venv.venv_python(prefix)
    exe: str | None = None
    if python.exists() and _interp.venv_python_matches(
        prefix, plan.python_request, project.requires_python
    ):
        target = _interp.probe(python, cache_dir=layout.root)
        noop = _noop(plan, python, target)
        if noop is not None:
            return noop  # a file compare and a folder listing: no installer, no process
    else:
        exe = _interp.find_interpreter(
            plan.python_request, requires_python=project.requires_python, cache_dir=layout.root
        )
        target = _interp.probe(exe, cache_dir=layout.root)
    # Everything that can be checked is checked before anything is written.
    check_requires_python(project, target, plan.python_request)
    problem = settle_lock(
        project,
        selection,
        plan.index,
        target.marker_env,
        locked=plan.locked,
        on_line=on_line,
        cancel=cancel,
    )
    requests, pinned = base_requests(project, selection, target)
    if exe is None:
        # A failed install (or a cancel) puts the base back exactly as it was.
        sites = base_site_dirs(target)
        work = _Work(plan, layout, python, sites, target.marker_env, on_line, cancel)
        info = _apply(
            work, requests, pinned, guard=lambda: rollback_on_failure(prefix, plan.anchor)
        )
    else:
        info = recreate_base(
            plan, layout, exe, target, requests, pinned, on_line=on_line, cancel=cancel
        )
    sites = base_site_dirs(_interp.probe(python, cache_dir=layout.root))
    digest = inputs_digest(project, selection, python)
    _write_stamp(prefix / SYNC_STAMP, digest, sites, selection, list(info.extraneous), problem)
    if problem is None:
        return info
    return replace(info, state="out-of-sync", warnings=(_frozen_warning(problem),))


def _frozen_warning(problem: str) -> str:
    return f"{problem}; installed as it is (--frozen): run `envlayers sync` to re-lock"


def _noop(plan: BasePlan, python: Path, base: InterpreterInfo) -> SyncInfo | None:
    """The stamp's verdict when nothing changed since the last sync, else None."""
    stamp = read_json(plan.prefix / SYNC_STAMP)
    if (
        stamp is None
        or stamp.get("inputs") != inputs_digest(plan.project, plan.selection, python)
        or stamp.get("siteSignature") != site_signature(base_site_dirs(base))
    ):
        return None
    extra = tuple(strs(stamp.get("extraneous")))
    problem = stamp.get("lockProblem")
    if isinstance(problem, str):  # a stale lock installed with --frozen stays out of sync
        return SyncInfo("out-of-sync", extraneous=extra, warnings=(_frozen_warning(problem),))
    return SyncInfo("in-sync", extraneous=extra)


def recreate_base(
    plan: BasePlan,
    layout: CacheLayout,
    exe: str,
    target: InterpreterInfo,
    requests: list[Request],
    pinned: bool,
    *,
    on_line: LineSink | None,
    cancel: CancelToken | None,
) -> SyncInfo:
    """A new base for `exe`: built and installed aside, then swapped in whole. Until the swap
    the old base (if any) is untouched; when the install fails it is all that remains."""
    prefix, roots = plan.prefix, [plan.anchor]
    check_removable(prefix, "base", roots=roots)  # refuse before anything is created
    remove_leftovers(prefix)
    built = temporary_sibling(prefix, "tmp")
    log.info("creating the workspace environment %s with %s", prefix, exe)
    try:
        make_dir(built, "base")
        _venv.create_venv(built, exe, base=target)
        sites = [str(_venv.site_packages(built, target.version_info))]
        python = _venv.venv_python(built)
        fresh = target.base_executable  # the venv is new: see Installer.install
        work = _Work(plan, layout, python, sites, target.marker_env, on_line, cancel, fresh)
        info = _apply(work, requests, pinned, guard=contextlib.nullcontext)
        relocate_venv(built, prefix)
        swap_in(built, prefix, kind="base", roots=roots)
    except BaseException:
        discard(built, kind="base", roots=roots)
        raise
    return info


@dataclass(frozen=True)
class _Work:
    """Where one install goes: the venv's python, its site dirs and markers, the sinks."""

    plan: BasePlan
    layout: CacheLayout
    python: Path
    sites: list[str]
    marker_env: Mapping[str, str]
    on_line: LineSink | None
    cancel: CancelToken | None
    fresh_from: str | None = None  # a venv just made from this interpreter: nothing in it yet


def _apply(
    work: _Work,
    requests: list[Request],
    pinned: bool,
    *,
    guard: Callable[[], AbstractContextManager[object]],
) -> SyncInfo:
    """Install what `requests` miss into the venv (and remove what nothing asks for, with
    `exact`), inside `guard` when anything is written; raises when the result still does not
    satisfy them."""
    plan, sites, env = work.plan, work.sites, work.marker_env
    before = Inventory.scan(sites)
    keep = (*_KEEP, *([plan.project.name] if plan.project.name else []))
    exact = bool(plan.selection.get("exact"))
    first = check(requests, before, env)
    extra = extraneous(before, first.visited, keep=keep)
    if first.ok and not before.broken and not (exact and extra):
        return SyncInfo("in-sync", extraneous=tuple(extra))  # nothing to write
    with guard():
        before = _drop_broken(before, sites)
        after, removed = _install_and_prune(work, requests, pinned, before, keep)
    old, new = before.versions(), after.versions()
    installed = [f"{n}=={v}" for n, v in sorted(new.items()) if old.get(n) != v]
    if not removed:
        removed = [f"{n}=={v}" for n, v in sorted(old.items()) if n not in new]
    verify = check(requests, after, env)
    extra = [] if exact else extraneous(after, verify.visited, keep=keep)
    return SyncInfo("in-sync", tuple(installed), tuple(removed), tuple(extra))


def _install_and_prune(
    work: _Work,
    requests: list[Request],
    pinned: bool,
    before: Inventory,
    keep: tuple[str, ...],
) -> tuple[Inventory, list[str]]:
    plan, python, sites = work.plan, work.python, work.sites
    installer = _Installers(plan, work.layout)
    if not check(requests, before, work.marker_env).ok:
        log.info("syncing %s with %s", plan.prefix, installer.get().name)
        _install(work, installer.get(), requests, pinned)
    after = Inventory.scan(sites)
    verify = check(requests, after, work.marker_env)
    if not verify.ok:
        first = verify.unsatisfied[0]
        raise OperationFailed(
            f"the workspace environment still does not satisfy {first.request}: "
            f"{first.message or first.reason}"
        )
    extra = extraneous(after, verify.visited, keep=keep)
    if not (plan.selection.get("exact") and extra):
        return after, []
    installer.get().uninstall(str(python), extra, on_line=work.on_line, cancel=work.cancel)
    removed = [f"{n}=={before.versions().get(n, after.versions().get(n, '?'))}" for n in extra]
    return Inventory.scan(sites), removed


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
        remove_tree(path, kind="dist-info", roots=[path.parent])  # checked above
    return Inventory.scan(sites)


class _Installers:
    """The plan's installer, looked up only when something must be installed or removed."""

    def __init__(self, plan: BasePlan, layout: CacheLayout) -> None:
        self._name = plan.installer
        self._layout = layout
        self._installer: Installer | None = None

    def get(self) -> Installer:
        if self._installer is None:
            self._installer = get_installer(self._name, cache=self._layout)
        return self._installer


def _install(work: _Work, installer: Installer, requests: list[Request], locked: bool) -> None:
    project, site = work.plan.project, Path(work.sites[0])
    kept = _kept_editable(work, installer, requests)
    restored = kept is not None and restore(work.layout, kept, site, work.python, project.root)
    editables = [r for r in requests if r.editable and not (restored and _is_project(work, r))]
    installer.install(
        str(work.python),
        [installable(r) for r in requests if not r.editable],
        editables=[editable_arg(r) for r in editables],
        no_deps=locked,
        index=work.plan.index,
        cwd=project.root,
        on_line=work.on_line,
        cancel=work.cancel,
        base_python=work.fresh_from,
    )
    if kept is not None and not restored and project.name:
        store(work.layout, kept, site, work.python, project.root, project.name)


def _is_project(work: _Work, request: Request) -> bool:
    root = work.plan.project.root
    return request.editable == str(root) and not request.requirement.extras


def _kept_editable(work: _Work, installer: Installer, requests: list[Request]) -> str | None:
    """The key of the project's editable install in `core.editables`, when a new venv gets
    one (then it may come from, or go to, that cache)."""
    project = work.plan.project
    if work.fresh_from is None or not project.name or len(work.sites) != 1:
        return None
    if not any(_is_project(work, r) for r in requests):
        return None
    return editable_key(
        project.root, project.name, installer.name, work.fresh_from, work.marker_env
    )


def _write_stamp(
    path: Path,
    digest: str,
    sites: list[str],
    selection: Mapping[str, object],
    extra: list[str],
    lock_problem: str | None,
) -> None:
    atomic_write_json(
        path,
        {
            "format": 1,
            "inputs": digest,
            "siteSignature": site_signature(sites),
            "selection": dict(selection),
            "extraneous": extra,
            "lockProblem": lock_problem,  # a stale lock installed as it is (--frozen)
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
    base = _interp.probe(python, cache_dir=layout.root)
    if digest != stamp.get("inputs"):
        return SyncInfo("out-of-sync", warnings=stale_reason(project, selection, base.marker_env))
    problem = stamp.get("lockProblem")
    if isinstance(problem, str):
        return SyncInfo("out-of-sync", extraneous=extra, warnings=(_frozen_warning(problem),))
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
