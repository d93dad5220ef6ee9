"""The facade both fronts call: sync the base, compose layers over it, report the result."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urlparse

from filelock import FileLock
from packaging.utils import parse_sdist_filename, parse_wheel_filename

from envlayers.config import Options
from envlayers.core import interpreter as _interp
from envlayers.core import venv as _venv
from envlayers.core.compose import (
    COMPOSITION_RECORD,
    ComposedEnv,
    base_site_dirs,
    compose_digest,
    ensure_composed,
    load_composed,
    overlay_files,
    static_sys_path,
)
from envlayers.core.errors import EnvlayersError, InvalidInput, OperationFailed
from envlayers.core.fastpath import request_key, stat_all, store
from envlayers.core.fsutil import atomic_write_json, read_json, remove_tree
from envlayers.core.installer import (
    IndexSettings,
    Installer,
    find_uv,
    get_installer,
    local_link_path,
)
from envlayers.core.interpreter import InterpreterInfo
from envlayers.core.inventory import Inventory, site_signature
from envlayers.core.layers import LAYER_META, Layer, LayerCache, LayerInputs, is_valid_key
from envlayers.core.lockfiles import lock_fingerprint, pylock_requirements
from envlayers.core.paths import cache_dir, ensure_cache_dir
from envlayers.core.proc import CancelToken, redact, run
from envlayers.core.project import (
    Project,
    ReqItem,
    find_workspace,
    load_project,
    read_requirements_file,
)
from envlayers.core.report import Report, SyncInfo
from envlayers.core.satisfy import (
    Request,
    check,
    editable_request,
    extraneous,
    find_conflicts,
    parse_request,
)

__all__ = ["Engine", "resolve_workspace"]

log = logging.getLogger(__name__)

LineSink = Callable[[str], None]
_STAMP = ".envlayers-sync.json"
_ACTIVE = "active.json"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KEEP = ("pip", "setuptools", "wheel", "uv")


def resolve_workspace(value: str | os.PathLike[str]) -> Path:
    """A folder URI or path (or a file inside one) -> the workspace folder holding pyproject.toml."""
    text = os.fspath(value)
    if len(text) > 4096:  # PATH_MAX: longer is never a path, and must not be echoed whole
        raise InvalidInput(f"workspace path is too long ({len(text)} characters)")
    if text.startswith("file:"):
        parsed = urlparse(text)
        text = unquote(parsed.path)
    elif "://" in text:
        raise InvalidInput(f"workspace must be a folder path or a file: URI, not {redact(text)!r}")
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    try:
        if not path.exists():
            raise InvalidInput(f"workspace folder does not exist: {path}")
        return find_workspace(path if path.is_dir() else path.parent)
    except OSError as exc:  # a name too long, a loop of links: bad input, not a crash
        raise InvalidInput(f"cannot use workspace {str(path)[:200]!r}: {exc.strerror}") from exc


@dataclass(frozen=True)
class _Stack:
    """One layer's worth of requests, after removing what lower levels already satisfy."""

    requests: tuple[Request, ...]
    label: str


class Engine:
    """One per process. Thread-safe; operations on one workspace are serialised by a lock file."""

    def __init__(self, *, cache_dir: Path | None = None) -> None:
        self._cache_dir = cache_dir
        self._projects: dict[Path, tuple[tuple[int, int], Project]] = {}
        self._reports: dict[Path, tuple[tuple[str, ...], list[object], Report]] = {}
        self._lock = threading.Lock()

    # -- shared plumbing ------------------------------------------------------------
    @property
    def cache_root(self) -> Path:
        return self._cache_dir if self._cache_dir is not None else cache_dir()

    @property
    def layers(self) -> LayerCache:
        return LayerCache(self.cache_root / "layers" / "v1")

    def project(self, root: Path) -> Project:
        """`load_project`, memoised by the file's size and mtime (the report's hot path)."""
        path = root / "pyproject.toml"
        try:
            st = path.stat()
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}") from exc
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._projects.get(root)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        project = load_project(root)
        with self._lock:
            self._projects[root] = (stamp, project)
        return project

    def _ws_lock(self, root: Path) -> FileLock:
        d = root / ".envlayers"
        d.mkdir(parents=True, exist_ok=True)
        ignore = d / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n", encoding="utf-8")
        return FileLock(str(d / ".lock"), timeout=3600)

    @staticmethod
    def venv_prefix(project: Project) -> Path:
        venv = Path(project.settings.venv)
        return venv if venv.is_absolute() else project.root / venv

    @staticmethod
    def _index(project: Project, options: Options) -> IndexSettings:
        s = project.settings
        find_links = tuple(_abs_link(project.root, f) for f in (*s.find_links, *options.find_links))
        return IndexSettings(
            index_url=options.index_url or s.index_url,
            extra_index_urls=(*s.extra_index_urls, *options.extra_index_urls),
            find_links=find_links,
            no_index=s.no_index if options.no_index is None else options.no_index,
        )

    @staticmethod
    def _installer(project: Project, options: Options) -> Installer:
        return get_installer(options.installer or project.settings.installer)

    # -- sync -----------------------------------------------------------------------
    def sync(
        self,
        workspace: Path,
        options: Options = Options(),
        *,
        on_line: LineSink | None = None,
        cancel: CancelToken | None = None,
    ) -> Report:
        root = resolve_workspace(workspace)
        with self._ws_lock(root):
            project = self.project(root)
            inputs = self._input_paths(project, options, [])
            before = stat_all(inputs or [])
            info = self._sync_locked(project, options, on_line=on_line, cancel=cancel)
            self._refresh_active(project)
            report = self._report(project, sync_override=info)
            self._remember("sync", options, project, report, inputs, before)
            return report

    def _selection(self, project: Project, options: Options) -> dict[str, object]:
        return {
            "groups": list(options.groups),
            "noDev": options.no_dev,
            "allGroups": options.all_groups,
            "extras": list(options.extras),
            "allExtras": options.all_extras,
            "exact": project.settings.exact if options.exact is None else options.exact,
            "frozen": options.frozen,
        }

    def _requests(
        self, project: Project, selection: Mapping[str, object], base: InterpreterInfo
    ) -> tuple[list[Request], bool]:
        """What the base must satisfy, and whether it comes pinned from a lock file."""
        lock = project.pylock
        exported: Path | None = None
        if lock is None and project.uv_lock is not None:
            exported = _export_uv_lock(project, selection)
            lock = exported
        locked = lock is not None
        try:
            if lock is not None:
                pins = pylock_requirements(
                    lock,
                    base.marker_env,
                    extras=_strs(selection.get("extras")) if exported is None else (),
                )
                where = str(project.uv_lock if exported is not None else lock)
                requests = [parse_request(p, file=where) for p in pins]
            else:
                if selection.get("frozen"):
                    raise InvalidInput(
                        f"--frozen needs a pylock.toml or uv.lock beside {project.pyproject}"
                    )
                items = project.select(
                    groups=_strs(selection.get("groups")),
                    no_dev=bool(selection.get("noDev")),
                    all_groups=bool(selection.get("allGroups")),
                    extras=_strs(selection.get("extras")),
                    all_extras=bool(selection.get("allExtras")),
                )
                requests = [_request_from_item(item, project.root) for item in items]
        finally:
            if exported is not None:
                remove_tree(exported.parent)
        if project.has_build_system and project.name:
            requests.append(editable_request(project.root, project.name))
        return requests, locked

    def _inputs_digest(
        self, project: Project, selection: Mapping[str, object], python: Path
    ) -> str:
        parts = {
            "pyproject": project.sha256,
            "pylock": lock_fingerprint(project.pylock) if project.pylock else None,
            "uvlock": lock_fingerprint(project.uv_lock) if project.uv_lock else None,
            "pythonVersion": project.python_version_file,
            "selection": dict(selection),
            "interpreter": _interp.executable_identity(python) if python.exists() else None,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def _ensure_base(self, project: Project, options: Options) -> Path:
        """The base venv's python, creating or recreating the venv when it does not match."""
        prefix = self.venv_prefix(project)
        request = options.python or project.settings.python or project.python_version_file
        python = _venv.venv_python(prefix)
        if python.exists() and _interp.venv_python_matches(
            prefix, request, project.requires_python
        ):
            return python
        exe = _interp.find_interpreter(request, requires_python=project.requires_python)
        # We hold the workspace lock: any temporary sibling is a dead sync's leftover.
        for stale in prefix.parent.glob(f".{prefix.name}.tmp-*"):
            remove_tree(stale)
        for stale in prefix.parent.glob(f".{prefix.name}.old-*"):
            remove_tree(stale)
        tmp = prefix.with_name(f".{prefix.name}.tmp-{uuid.uuid4().hex[:8]}")
        log.info("creating the workspace environment %s with %s", prefix, exe)
        try:
            _venv.create_venv(tmp, exe)
            if prefix.exists() or prefix.is_symlink():
                old = prefix.with_name(f".{prefix.name}.old-{uuid.uuid4().hex[:8]}")
                os.replace(prefix, old)
                os.replace(tmp, prefix)
                remove_tree(old)
            else:
                os.replace(tmp, prefix)
        except BaseException:
            remove_tree(tmp)
            raise
        return _venv.venv_python(prefix)

    def _sync_locked(
        self,
        project: Project,
        options: Options,
        *,
        on_line: LineSink | None,
        cancel: CancelToken | None,
    ) -> SyncInfo:
        selection = self._selection(project, options)
        python = self._ensure_base(project, options)
        prefix = self.venv_prefix(project)
        stamp_path = prefix / _STAMP
        digest = self._inputs_digest(project, selection, python)
        base = _interp.probe(python)
        sites = base_site_dirs(base)
        stamp = read_json(stamp_path)
        if (
            stamp is not None
            and stamp.get("inputs") == digest
            and stamp.get("siteSignature") == site_signature(sites)
        ):
            # The no-op path: a file compare and a folder listing, no installer, no process.
            return SyncInfo("in-sync", extraneous=tuple(_strs(stamp.get("extraneous"))))
        requests, locked = self._requests(project, selection, base)
        before = Inventory.scan(sites)
        result = check(requests, before, base.marker_env)
        exact = bool(selection.get("exact"))
        installer: Installer | None = None
        if not result.ok:
            installer = self._installer(project, options)
            editables = [r.editable for r in requests if r.editable]
            reqs = [_installable(r) for r in requests if not r.editable]
            log.info("syncing %s with %s", prefix, installer.name)
            installer.install(
                str(python),
                reqs,
                editables=editables,
                no_deps=locked,
                index=self._index(project, options),
                cwd=project.root,
                on_line=on_line,
                cancel=cancel,
            )
        after = Inventory.scan(sites)
        verify = check(requests, after, base.marker_env)
        if not verify.ok:
            first = verify.unsatisfied[0]
            raise OperationFailed(
                f"the workspace environment still does not satisfy {first.request}: {first.message or first.reason}"
            )
        extra = extraneous(
            after, verify.visited, keep=(*_KEEP, *([project.name] if project.name else []))
        )
        removed: list[str] = []
        if exact and extra:
            installer = installer or self._installer(project, options)
            installer.uninstall(str(python), extra, on_line=on_line, cancel=cancel)
            removed = [
                f"{n}=={before.versions().get(n, after.versions().get(n, '?'))}" for n in extra
            ]
            after = Inventory.scan(sites)
            extra = []
        old, new = before.versions(), after.versions()
        installed = [f"{n}=={v}" for n, v in sorted(new.items()) if old.get(n) != v]
        if not removed:
            removed = [f"{n}=={v}" for n, v in sorted(old.items()) if n not in new]
        atomic_write_json(
            stamp_path,
            {
                "format": 1,
                "inputs": digest,
                "siteSignature": site_signature(sites),
                "selection": selection,
                "extraneous": extra,
                "synced": time.time(),
            },
        )
        return SyncInfo("in-sync", tuple(installed), tuple(removed), tuple(extra))

    def sync_state(self, workspace: Path) -> str:
        """in-sync | out-of-sync | missing, without an installer (a probe at most once)."""
        root = resolve_workspace(workspace)
        return self._sync_info(self.project(root)).state

    def _sync_info(self, project: Project) -> SyncInfo:
        prefix = self.venv_prefix(project)
        python = _venv.venv_python(prefix)
        if not python.exists():
            return SyncInfo("missing")
        stamp = read_json(prefix / _STAMP)
        if stamp is None:
            return SyncInfo("out-of-sync")
        selection = stamp.get("selection")
        if not isinstance(selection, dict):
            return SyncInfo("out-of-sync")
        extra = tuple(_strs(stamp.get("extraneous")))
        try:
            digest = self._inputs_digest(project, selection, python)
        except OSError:
            return SyncInfo("out-of-sync")
        if digest != stamp.get("inputs"):
            return SyncInfo("out-of-sync")
        base = _interp.probe(python)
        sites = base_site_dirs(base)
        if stamp.get("siteSignature") == site_signature(sites):
            return SyncInfo("in-sync", extraneous=extra)
        # Something changed the env by hand: decide from what is installed (pure check).
        try:
            requests, _ = self._requests(project, selection, base)
        except EnvlayersError:
            return SyncInfo("out-of-sync")
        ok = check(requests, Inventory.scan(sites), base.marker_env).ok
        return SyncInfo("in-sync" if ok else "out-of-sync", extraneous=extra)

    # -- compose --------------------------------------------------------------------
    def compose(
        self,
        workspace: Path,
        options: Options = Options(),
        *,
        on_line: LineSink | None = None,
        cancel: CancelToken | None = None,
    ) -> Report:
        root = resolve_workspace(workspace)
        project = self.project(root)
        stacks_spec = self._stack_spec(project, options)  # validate input before any work
        with self._ws_lock(root):
            inputs = self._input_paths(project, options, stacks_spec)
            before = stat_all(inputs or [])
            sync: SyncInfo | None = None
            if not options.no_sync:
                sync = self._sync_locked(
                    project, options.without_layers(), on_line=on_line, cancel=cancel
                )
            python = _venv.venv_python(self.venv_prefix(project))
            if not python.exists():
                raise InvalidInput(
                    f"the workspace environment {self.venv_prefix(project)} does not exist; "
                    "run `envlayers sync` first (or drop --no-sync)"
                )
            base = _interp.probe(python)
            layers, satisfied = self._build_layers(
                project, options, stacks_spec, base, on_line=on_line, cancel=cancel
            )
            if cancel is not None:
                cancel.raise_if_cancelled()
            name: str | None = None
            composed: ComposedEnv | None = None
            if layers:
                name = (
                    options.profile
                    if options.profile and not _adhoc(options)
                    else _adhoc_name(stacks_spec)
                )
                composed = ensure_composed(root, name, base=base, layers=layers)
                self._register_use(composed)
            self._write_active(root, name, options, satisfied, layers)
            reused = {layer.key: layer.reused for layer in layers}
            report = self._report(project, sync_override=sync, reused=reused)
            self._remember("env", options, project, report, inputs, before)
            return report

    def _input_paths(
        self, project: Project, options: Options, stacks: Sequence[tuple[str, Sequence[Request]]]
    ) -> list[str] | None:
        """Files a request reads besides the workspace's own: None when they cannot all be known."""
        if options.with_requirements or (
            options.profile
            and (p := project.settings.profiles.get(options.profile)) is not None
            and p.with_requirements
        ):
            return None  # `-r` includes are only known after reading: no fast path
        paths: list[str] = []
        for _label, requests in stacks:
            for path, _digest in _fingerprints(requests):
                target = Path(path)
                if target.is_dir():
                    paths += [str(target / n) for n in ("pyproject.toml", "setup.cfg", "setup.py")]
                else:
                    paths.append(str(target))
        for link in self._index(project, options).find_links:
            folder = local_link_path(link)
            if folder is None:
                continue
            paths.append(folder)  # watched even before it exists
            with contextlib.suppress(OSError):
                paths += sorted(str(e) for e in Path(folder).iterdir())
        return paths

    def _remember(
        self,
        command: str,
        options: Options,
        project: Project,
        report: Report,
        inputs: list[str] | None,
        before: list[object],
    ) -> None:
        """Store the report for the CLI's no-op fast path (see `fastpath`)."""
        if inputs is None or options.refresh:
            return
        outputs = list(self._watch_paths(project, report))
        quiet = replace(
            report,
            sync=replace(report.sync, installed=(), removed=()),
            layers=tuple({**layer, "reused": True} for layer in report.layers),
        )
        data = quiet.to_json()
        data.pop("env", None)
        # The stored file lives in the workspace: its folder is implied; cwd is not.
        key = request_key(command, {**options.to_json(), "cwd": os.getcwd()})
        store(str(project.root), key, [*inputs, *outputs], [*before, *stat_all(outputs)], data)

    def _stack_spec(self, project: Project, options: Options) -> list[tuple[str, list[Request]]]:
        """The requested stack, bottom first: the profile's layer, then the ad-hoc one."""
        stacks: list[tuple[str, list[Request]]] = []
        if options.profile:
            if not _NAME_RE.match(options.profile):
                raise InvalidInput(f"invalid profile name {options.profile!r}")
            profile = project.settings.profiles.get(options.profile)
            if profile is None:
                known = ", ".join(sorted(project.settings.profiles)) or "none"
                raise InvalidInput(
                    f"unknown profile {options.profile!r} (profiles in {project.pyproject}: {known})"
                )
            reqs = [_request_from_item(i, project.root) for i in profile.with_]
            reqs += self._files_and_editables(
                project, profile.with_requirements, profile.with_editable
            )
            stacks.append((f"profile:{profile.name}", reqs))
        if _adhoc(options):
            reqs = [_request_from_text(t, project.root) for t in options.with_]
            reqs += self._files_and_editables(
                project, options.with_requirements, options.with_editable
            )
            stacks.append(("with", reqs))
        return stacks

    def _files_and_editables(
        self, project: Project, files: Sequence[str], editables: Sequence[str]
    ) -> list[Request]:
        out: list[Request] = []
        for f in files:
            path = Path(f) if Path(f).is_absolute() else Path.cwd() / f
            if not path.is_file():
                path = project.root / f
            items, edits = read_requirements_file(path)
            out += [_request_from_item(i, project.root) for i in items]
            out += [_editable(e, path.parent) for e in edits]
        for e in editables:
            out.append(_editable(e, project.root))
        return out

    def _build_layers(
        self,
        project: Project,
        options: Options,
        stacks: list[tuple[str, list[Request]]],
        base: InterpreterInfo,
        *,
        on_line: LineSink | None,
        cancel: CancelToken | None,
    ) -> tuple[list[Layer], list[str]]:
        """Build or reuse each layer, bottom first; return them top first."""
        if not stacks:
            return [], []
        ensure_cache_dir(self.cache_root)
        base_dirs = base_site_dirs(base)
        below: list[Layer] = []
        satisfied: list[str] = []
        index = self._index(project, options)
        installer: Installer | None = None
        identity = _interp.executable_identity(base.base_executable)
        for _label, requests in stacks:
            inventory = Inventory.scan(
                [str(la.site_packages) for la in reversed(below)] + base_dirs
            )
            result = check(requests, inventory, base.marker_env)
            ok = set(result.satisfied)
            satisfied += [r.text for r in requests if r.text in ok]
            todo = [r for r in requests if r.text not in ok]
            if not todo:
                continue
            reqs = sorted({_installable(r) for r in todo if not r.editable})
            edits = sorted({r.editable for r in todo if r.editable})
            inputs = LayerInputs(
                requirements=tuple(reqs),
                editables=tuple(edits),
                files=tuple(_fingerprints(todo)),
                interpreter=(base.base_executable, base.version, base.implementation, identity),
                index=index.fingerprint(),
            )
            installer = installer or self._installer(project, options)
            build = partial(
                self.layers.ensure,
                inputs,
                base=base,
                installer=installer,
                index=index,
                requirements=reqs,
                editables=edits,
                preferences=Inventory.scan(base_dirs).versions(),
                on_line=on_line,
                cancel=cancel,
            )
            layer = build(refresh=options.refresh)
            # A layer we have just built is whole; one found in the cache is checked.
            damage = self.layers.verify(layer) if layer.reused else None
            if damage is not None:
                log.warning("%s; rebuilding it", damage)
                layer = build(refresh=True)
            below.append(layer)
        return list(reversed(below)), satisfied

    def _write_active(
        self,
        root: Path,
        name: str | None,
        options: Options,
        satisfied: Sequence[str],
        layers: Sequence[Layer],
    ) -> None:
        active = {
            "format": 1,
            "name": name,
            # What the composition is, not how this call ran (--no-sync, --refresh).
            "request": _redacted_request(replace(options, no_sync=False, refresh=False)),
            "satisfiedByBase": list(satisfied),
            "layers": [la.key for la in layers],
        }
        # Unchanged: keep the file (and its stat, which the CLI's stored reports watch).
        if read_json(root / ".envlayers" / _ACTIVE) != active:
            atomic_write_json(root / ".envlayers" / _ACTIVE, active)

    def _register_use(self, composed: ComposedEnv) -> None:
        reg = self.cache_root / "compositions" / "v1"
        digest = hashlib.sha256(str(composed.path).encode()).hexdigest()[:24]
        with contextlib.suppress(OSError):
            atomic_write_json(
                reg / f"{digest}.json",
                {"path": str(composed.path), "layers": list(composed.layer_keys)},
            )

    def _refresh_active(self, project: Project) -> None:
        """After a sync, bring the active composed env up to date (no installer runs)."""
        active = read_json(project.root / ".envlayers" / _ACTIVE)
        if not active or not isinstance(active.get("name"), str):
            return
        keys = _strs(active.get("layers"))
        layers = [self.layers.load(k) for k in keys]
        if any(la is None for la in layers):
            return
        python = _venv.venv_python(self.venv_prefix(project))
        if python.exists():
            ensure_composed(
                project.root,
                str(active["name"]),
                base=_interp.probe(python),
                layers=[la for la in layers if la],
            )

    # -- report ---------------------------------------------------------------------
    def report(self, workspace: Path) -> Report:
        """The active composition's report: no installer, no process (probes are cached).

        Memoised per workspace until one of the files it was computed from changes (a few
        `stat` calls decide), so an editor asking on every start or keystroke pays microseconds.
        """
        root = resolve_workspace(workspace)
        fresh = self.fresh_report(root)
        if fresh is not None:
            return fresh
        with self._lock:
            hit = self._reports.get(root)
        project = self.project(root)
        previous = hit[0] if hit is not None else ()
        before = stat_all(previous)
        report = self._report(project)
        paths = self._watch_paths(project, report)
        if paths == previous and stat_all(paths) != before:
            return report  # something changed while we computed: do not memoise
        with self._lock:
            self._reports[root] = (paths, stat_all(paths), report)
        return report

    def fresh_report(self, root: Path) -> Report | None:
        """The memoised report of the workspace folder `root` when still current, else None.

        A handful of `stat` calls: cheap enough for an event loop to call inline.
        """
        with self._lock:
            hit = self._reports.get(root)
        if hit is not None and stat_all(hit[0]) == hit[1]:
            return hit[2]
        return None

    def _watch_paths(self, project: Project, report: Report) -> tuple[str, ...]:
        """Every file and folder whose change could change `report`."""
        root = project.root
        prefix = self.venv_prefix(project)
        paths = [
            project.pyproject,
            root / "pylock.toml",
            root / "uv.lock",
            root / ".python-version",
            root / ".envlayers" / _ACTIVE,
            prefix / "pyvenv.cfg",
            prefix / _STAMP,
            _venv.venv_python(prefix),
            _venv.venv_scripts(prefix),
        ]
        paths += [Path(d) for d in report.sys_path]
        for layer in report.layers:
            folder = Path(str(layer.get("path")))
            paths += [folder, folder / LAYER_META, _venv.venv_scripts(folder)]
        if report.name is not None:
            composed = Path(report.virtual_env)
            paths += [composed / COMPOSITION_RECORD, _venv.venv_python(composed)]
            version = tuple(int(x) for x in report.python_version.split(".")[:2])
            site = _venv.site_packages(composed, (version[0], version[1]))
            paths += [site] + [site / name for name in overlay_files(())]
        return tuple(str(p) for p in paths)

    def _report(
        self,
        project: Project,
        *,
        sync_override: SyncInfo | None = None,
        reused: Mapping[str, bool] | None = None,
    ) -> Report:
        root = project.root
        prefix = self.venv_prefix(project)
        python = _venv.venv_python(prefix)
        sync = sync_override or self._sync_info(project)
        warnings: list[str] = []
        if not python.exists():
            return Report(
                workspace=str(root),
                interpreter=str(python),
                base_interpreter=str(python),
                python_version="",
                virtual_env=str(prefix),
                sys_path=(),
                path_prefix=(),
                layers=(),
                satisfied_by_base=(),
                conflicts=(),
                sync=SyncInfo("missing"),
                warnings=(
                    f"the workspace environment {prefix} does not exist; run `envlayers sync`",
                ),
            )
        base = _interp.probe(python)
        base_dirs = base_site_dirs(base)
        active = read_json(root / ".envlayers" / _ACTIVE) or {}
        raw_name = active.get("name")
        name: str | None = raw_name if isinstance(raw_name, str) else None
        satisfied = tuple(_strs(active.get("satisfiedByBase")))
        layers: list[Layer] = []
        composed_path: Path | None = None
        if name is not None:
            path = root / ".envlayers" / str(name)
            record = load_composed(path)
            loaded = [self.layers.load(k) for k in _strs(active.get("layers"))]
            # A layer that lost files is never offered as is (compose rebuilds it).
            damage = [d for la in loaded if la is not None and (d := self.layers.verify(la))]
            if record is None or any(la is None for la in loaded) or damage:
                why = f" ({damage[0]})" if damage else ""
                warnings.append(
                    f"the composition {name!r} is missing or damaged{why}; run `envlayers env` to rebuild it"
                )
            else:
                layers = [la for la in loaded if la is not None]
                digest = compose_digest(
                    layers=layers,
                    base=base,
                    base_dirs=base_dirs,
                    system_site=base.include_system_site_packages,
                )
                if record.get("digest") != digest:
                    warnings.append(
                        f"the composition {name!r} is out of date; run `envlayers env` to refresh it"
                    )
                composed_path = path
        if composed_path is not None:
            interpreter = _venv.venv_python(composed_path)
            virtual_env = composed_path
            dirs = [str(la.site_packages) for la in layers] + base_dirs
            path_prefix = [str(_venv.venv_scripts(composed_path))]
        else:
            interpreter, virtual_env = python, prefix
            dirs = base_dirs
            path_prefix = []
            name = None
        path_prefix += [str(la.scripts) for la in layers] + [base.scripts]
        sources = [(la.key, Inventory.scan([la.site_packages])) for la in layers]
        conflicts = []
        if sources:
            sources.append(("workspace", Inventory.scan(base_dirs)))
            conflicts = [c.to_json() for c in find_conflicts(sources, base.marker_env)]
        layer_json = []
        for la in layers:
            entry = la.to_json()
            entry["reused"] = True if reused is None else reused.get(la.key, True)
            layer_json.append(entry)
        if sync.state != "in-sync":
            warnings.append(f"the workspace environment is {sync.state}; run `envlayers sync`")
        return Report(
            workspace=str(root),
            interpreter=str(interpreter),
            base_interpreter=str(python),
            python_version=base.version,
            virtual_env=str(virtual_env),
            sys_path=tuple(static_sys_path(dirs)),
            path_prefix=tuple(dict.fromkeys(path_prefix)),
            layers=tuple(layer_json),
            satisfied_by_base=satisfied,
            conflicts=tuple(conflicts),
            sync=sync,
            name=name,
            warnings=tuple(warnings),
        )

    # -- consumers ------------------------------------------------------------------
    def debug_configuration(
        self,
        workspace: Path,
        options: Options | None = None,
        *,
        program: str | None = None,
        module: str | None = None,
    ) -> dict[str, object]:
        from envlayers.core.consumers import debug_configuration

        report = (
            self.compose(workspace, options)
            if options is not None and options.has_layers
            else self.report(workspace)
        )
        return debug_configuration(report, program=program, module=module)

    def install_kernel(
        self,
        workspace: Path,
        options: Options | None = None,
        *,
        name: str | None = None,
        display_name: str | None = None,
        user: bool = False,
        on_line: LineSink | None = None,
        cancel: CancelToken | None = None,
    ) -> dict[str, object]:
        from envlayers.core.consumers import install_kernel

        return install_kernel(
            self,
            resolve_workspace(workspace),
            options or Options(),
            name=name,
            display_name=display_name,
            user=user,
            on_line=on_line,
            cancel=cancel,
        )

    # -- the layer cache ------------------------------------------------------------
    def _users(self) -> dict[str, list[str]]:
        users: dict[str, list[str]] = {}
        reg = self.cache_root / "compositions" / "v1"
        try:
            entries = list(reg.iterdir())
        except OSError:
            return users
        for entry in entries:
            data = read_json(entry)
            if not data:
                continue
            path = Path(str(data.get("path")))
            record = load_composed(path)
            if record is None:
                with contextlib.suppress(OSError):
                    entry.unlink()
                continue
            for key in _strs(record.get("layers")):
                users.setdefault(key, []).append(str(path))
        return users

    def list_layers(self) -> list[dict[str, object]]:
        cache = self.layers
        users = self._users()
        return [cache.describe(k, users.get(k, ())) for k in cache.published_keys()]

    def prune_layers(
        self, *, older_than_days: float | None = None, all: bool = False
    ) -> dict[str, object]:
        cache = self.layers
        users = self._users()
        horizon = time.time() - 86400 * (
            30.0 if older_than_days is None else float(older_than_days)
        )
        removed: list[str] = []
        freed = 0
        for key in cache.published_keys():
            if not all and (key in users or cache.last_used(key) > horizon):
                continue
            size = int(cache.describe(key)["sizeBytes"])  # type: ignore[call-overload]
            if cache.remove(key):
                removed.append(key)
                freed += size
        cache.remove_leftovers(time.time() - 3600)
        return {"removed": removed, "freedBytes": freed}

    # -- compositions ---------------------------------------------------------------
    def list_compositions(self, workspace: Path) -> list[dict[str, object]]:
        """The composed envs of a workspace, the active one marked."""
        root = resolve_workspace(workspace)
        active = read_json(root / ".envlayers" / _ACTIVE) or {}
        out: list[dict[str, object]] = []
        try:
            entries = sorted((root / ".envlayers").iterdir())
        except OSError:
            return out
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            record = load_composed(entry)
            out.append(
                {
                    "name": entry.name,
                    "path": str(entry),
                    "interpreter": str(_venv.venv_python(entry)),
                    "layers": _strs(record.get("layers")) if record else [],
                    "active": active.get("name") == entry.name,
                    "valid": record is not None,
                }
            )
        return out

    def remove_composition(self, workspace: Path, name: str) -> dict[str, object]:
        """Delete a composed env and the Jupyter kernelspecs written for it; the workspace
        falls back to its base when it was the active one."""
        from envlayers.core.consumers import remove_kernelspecs

        if not _NAME_RE.match(name):
            raise InvalidInput(f"invalid composition name {name!r}")
        root = resolve_workspace(workspace)
        path = root / ".envlayers" / name
        if not path.is_dir():
            raise InvalidInput(f"no composition {name!r} in {root / '.envlayers'}")
        with self._ws_lock(root):
            kernels = remove_kernelspecs(path)
            remove_tree(path)
            active = read_json(root / ".envlayers" / _ACTIVE)
            if active is not None and active.get("name") == name:
                (root / ".envlayers" / _ACTIVE).unlink(missing_ok=True)
        return {"removed": [name], "kernelspecs": kernels}

    def remove_layer(self, key: str) -> dict[str, object]:
        if not is_valid_key(key):
            raise InvalidInput(f"not a layer key: {key!r}")
        if not self.layers.remove(key):
            raise InvalidInput(f"no layer {key} in {self.layers.root}")
        return {"removed": [key]}


# -- helpers ------------------------------------------------------------------------------
def _strs(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _adhoc(options: Options) -> bool:
    return bool(options.with_ or options.with_requirements or options.with_editable)


def _adhoc_name(stacks: Sequence[tuple[str, Sequence[Request]]]) -> str:
    blob = json.dumps(
        [
            [label, sorted(_installable(r) if not r.editable else f"-e {r.editable}" for r in reqs)]
            for label, reqs in stacks
        ],
        sort_keys=True,
    )
    return "with-" + hashlib.sha256(blob.encode()).hexdigest()[:8]


def _redacted_request(options: Options) -> dict[str, object]:
    data = replace(
        options,
        index_url=redact(options.index_url) if options.index_url else None,
        extra_index_urls=tuple(redact(u) for u in options.extra_index_urls),
    ).to_json()
    return data


def _abs_link(root: Path, link: str) -> str:
    if "://" in link:
        return link
    p = Path(link).expanduser()
    return str(p if p.is_absolute() else (root / p).resolve())


def _request_from_item(item: ReqItem, root: Path) -> Request:
    span = item.span
    return _request_from_text(
        item.text, root, file=span.file if span else None, line=span.line if span else None
    )


def _request_from_text(
    text: str, root: Path, *, file: str | None = None, line: int | None = None
) -> Request:
    """A requirement string, or a path to a wheel / sdist / project folder (made `name @ file:`)."""
    stripped = text.strip()
    looks_like_path = stripped.startswith((".", "/", "~")) or stripped.endswith(
        (".whl", ".tar.gz", ".zip")
    )
    if looks_like_path and "@" not in stripped and ";" not in stripped:
        path = Path(stripped).expanduser()
        if not path.is_absolute():
            path = (Path.cwd() / path) if (Path.cwd() / path).exists() else (root / path)
        if not path.exists():
            where = f"{file}:{line}: " if file and line else ""
            raise InvalidInput(f"{where}no such file or folder: {stripped!r}")
        name = _name_of_path(path)
        req = parse_request(f"{name} @ {path.resolve().as_uri()}", file=file, line=line)
        return Request(text=text, requirement=req.requirement, editable=None)
    return parse_request(text, file=file, line=line)


def _name_of_path(path: Path) -> str:
    if path.name.endswith(".whl"):
        return str(parse_wheel_filename(path.name)[0])
    if path.name.endswith((".tar.gz", ".zip")):
        return str(parse_sdist_filename(path.name)[0])
    if path.is_dir():
        name = _project_name(path)
        if name:
            return name
    raise InvalidInput(f"cannot tell the distribution name of {str(path)!r}")


def _project_name(path: Path) -> str | None:
    try:
        with open(path / "pyproject.toml", "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return None
    project = data.get("project")
    name = project.get("name") if isinstance(project, dict) else None
    return name if isinstance(name, str) else None


def _editable(path_text: str, base: Path) -> Request:
    path = Path(path_text).expanduser()
    if not path.is_absolute():
        path = (Path.cwd() / path) if (Path.cwd() / path).is_dir() else base / path
    path = path.resolve()
    if not path.is_dir():
        raise InvalidInput(f"editable path is not a folder: {path_text!r}")
    name = _project_name(path) or path.name
    return editable_request(path, name)


def _installable(request: Request) -> str:
    return str(request.requirement)


def _fingerprints(requests: Sequence[Request]) -> list[tuple[str, str]]:
    """Content digests of the local files and folders that requests name."""
    out: list[tuple[str, str]] = []
    for r in requests:
        target: Path | None = None
        if r.editable:
            target = Path(r.editable)
        elif r.requirement.url and r.requirement.url.startswith("file:"):
            target = Path(unquote(urlparse(r.requirement.url).path))
        if target is None:
            continue
        out.append((str(target), _digest_path(target)))
    return sorted(out)


def _digest_path(path: Path) -> str:
    h = hashlib.sha256()
    if path.is_file():
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    # A project folder: its metadata files decide what gets installed.
    for name in ("pyproject.toml", "setup.cfg", "setup.py"):
        with contextlib.suppress(OSError):
            h.update(name.encode() + b"\0" + (path / name).read_bytes())
    return h.hexdigest()


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
    cmd += ["--output-file", str(out), "--project", str(project.root)]
    for group in _strs(selection.get("groups")):
        cmd += ["--group", group]
    for extra in _strs(selection.get("extras")):
        cmd += ["--extra", extra]
    if selection.get("noDev"):
        cmd.append("--no-dev")
    if selection.get("allGroups"):
        cmd.append("--all-groups")
    if selection.get("allExtras"):
        cmd.append("--all-extras")
    result = run(cmd, cwd=project.root)
    if result.returncode != 0 or not out.is_file():
        remove_tree(out_dir)
        tail = "\n".join(result.stderr.strip().splitlines()[-10:])
        raise InvalidInput(f"cannot read {project.uv_lock} with `uv export`: {tail}")
    return out
