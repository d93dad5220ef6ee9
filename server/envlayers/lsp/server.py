"""`envlayers serve`: the core behind pygls. Handlers decode, call the Engine, encode.

Threading: the event loop only decodes, answers and schedules; every Engine call runs on a
thread pool (`_work` for installs, `_read` for report / list so they never queue behind an
install). Installing commands of one workspace are serialised by an asyncio lock per
workspace; an identical request that arrives while one is pending joins it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import from_fs_path, to_fs_path

from envlayers.config import Options
from envlayers.core.errors import Cancelled, EnvlayersError, InvalidInput
from envlayers.core.proc import CancelToken
from envlayers.core.project import PYPROJECT, check_project
from envlayers.core.redact import scrub_record
from envlayers.core.workspace import Engine, resolve_workspace
from envlayers.lsp import args as _args
from envlayers.lsp.diagnostics import Findings, build_diagnostics, sync_actions
from envlayers.lsp.errors import to_jsonrpc
from envlayers.lsp.logforward import LogForwarder
from envlayers.lsp.settings import SECTION, Settings, apply_settings, decode_settings

__all__ = ["COMMANDS", "ENVIRONMENT_CHANGED", "EnvlayersServer", "build_server", "serve"]

log = logging.getLogger(__name__)

ENVIRONMENT_CHANGED = "envlayers/environmentChanged"
COMMANDS = (
    "envlayers.sync",
    "envlayers.compose",
    "envlayers.report",
    "envlayers.debugConfiguration",
    "envlayers.installKernel",
    "envlayers.listLayers",
    "envlayers.pruneLayers",
    "envlayers.removeLayer",
)
WATCHED = ("pyproject.toml", "pylock.toml", "uv.lock", ".python-version")
_WATCH_ID = "envlayers-watch"
_PROGRESS_INTERVAL = 0.1  # seconds between two progress reports: installers print fast
_REFRESH_DELAY = 0.15  # coalesce bursts of file events into one recomputation
_SHUTDOWN_GRACE = 15.0
_pkg = "envlayers"

T = TypeVar("T")
Work = Callable[[Callable[[str], None], CancelToken], T]


@dataclass
class _Job:
    """One running install-type operation; identical requests share it."""

    token: CancelToken
    task: asyncio.Task[Any] | None = None
    waiters: int = 0


@dataclass
class _WorkspaceState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    jobs: dict[tuple[object, ...], _Job] = field(default_factory=dict)
    refresh: asyncio.TimerHandle | None = None
    notify_pending: bool = False


class EnvlayersProtocol(LanguageServerProtocol):
    """Routes `$/cancelRequest` for running installs to their CancelToken, and forgets the
    futures of finished handler steps."""

    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        # pygls 2.1 files each step of a generator handler (executeCommand is one) under a fresh
        # uuid in `_request_futures` and never removes it: every command leaked its result.
        def done(future: Any) -> None:
            self._request_futures.pop(msg_id, None)
            callback(future)

        super()._execute_handler(msg_id, handler, done, args, kwargs)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        server = self._server
        if isinstance(server, EnvlayersServer) and server.cancel_client_request(msg_id):
            return
        super()._handle_cancel_notification(msg_id)


class EnvlayersServer(LanguageServer):
    def __init__(self, *, verbose: bool = False) -> None:
        super().__init__(
            "envlayers",
            _version(),
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=EnvlayersProtocol,
        )
        self._engine: Engine | None = None
        self._engine_cache: str | None = None
        self._init_raw: Mapping[str, object] = {}
        self._global = Settings()
        self._folder_settings: dict[Path, Settings] = {}
        self._states: dict[Path, _WorkspaceState] = {}
        self._request_cancels: dict[object, asyncio.Event] = {}
        self._progress_cancels: dict[str, CancelToken] = {}
        self._tokens: set[CancelToken] = set()
        self._work = ThreadPoolExecutor(max_workers=8, thread_name_prefix="envlayers-work")
        self._read = ThreadPoolExecutor(max_workers=4, thread_name_prefix="envlayers-read")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._pending_warnings: list[str] = []
        self.forwarder = LogForwarder(
            self.window_log_message, logging.DEBUG if verbose else logging.INFO
        )
        logging.getLogger(_pkg).addHandler(self.forwarder)

    # -- state ----------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        wanted = self._global.cache_dir
        if self._engine is None or wanted != self._engine_cache:
            self._engine = Engine(cache_dir=Path(wanted).expanduser() if wanted else None)
            self._engine_cache = wanted
        return self._engine

    def attach_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self.forwarder.attach(loop)
        return loop

    def state(self, root: Path) -> _WorkspaceState:
        st = self._states.get(root)
        if st is None:
            st = self._states[root] = _WorkspaceState()
        return st

    def settings_for(self, root: Path) -> Settings:
        best: tuple[int, Settings] | None = None
        for folder, settings in self._folder_settings.items():
            if root == folder or folder in root.parents:
                depth = len(folder.parts)
                if best is None or depth > best[0]:
                    best = (depth, settings)
        return best[1] if best else self._global

    def resolve(self, arg: Mapping[str, object]) -> Path:
        """The `workspace` argument (URI or path); alone in the window it may be left out."""
        value = arg.get("workspace")
        if value is None:
            folders = (
                [f.uri for f in self.workspace.folders.values()] if self._has_workspace() else []
            )
            if len(folders) != 1:
                raise InvalidInput(
                    f"the 'workspace' argument is required (the window has {len(folders)} folders)"
                )
            value = folders[0]
        if not isinstance(value, str) or not value or "\x00" in value:
            raise InvalidInput("'workspace' must be a folder URI or path")
        return resolve_workspace(value)

    def _has_workspace(self) -> bool:
        try:
            _ = self.workspace
        except RuntimeError:
            return False
        return True

    # -- threads ----------------------------------------------------------------------
    async def in_read(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._read, fn)

    # -- install-type jobs -------------------------------------------------------------
    async def run_job(self, root: Path, key: tuple[object, ...], title: str, work: Work[T]) -> T:
        """Run `work` under the workspace lock with progress; identical keys share one run."""
        loop = self.attach_loop()
        if self._stopping:
            raise Cancelled("the server is shutting down")
        st = self.state(root)
        job = st.jobs.get(key)
        if job is None or job.token.cancelled:
            job = _Job(CancelToken())
            job.task = loop.create_task(self._run_locked(root, st, job, title, work))
            st.jobs[key] = job
            self._tokens.add(job.token)
            job.task.add_done_callback(functools.partial(self._job_done, st, key, job))
        job.waiters += 1
        assert job.task is not None
        cancelled = asyncio.Event()
        msg_id = self.protocol.msg_id
        if msg_id is not None:
            self._request_cancels[msg_id] = cancelled
        waiter = loop.create_task(cancelled.wait())
        try:
            done, _ = await asyncio.wait({job.task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if job.task in done:
                result: T = job.task.result()
                return result
            job.waiters -= 1
            if job.waiters == 0:
                job.token.cancel()
                # Answer only once the installer is stopped and its leftovers are gone.
                await asyncio.wait({job.task})
            raise Cancelled("cancelled by the client")
        finally:
            waiter.cancel()
            if msg_id is not None:
                self._request_cancels.pop(msg_id, None)

    def _job_done(
        self, st: _WorkspaceState, key: tuple[object, ...], job: _Job, task: asyncio.Task[Any]
    ) -> None:
        if st.jobs.get(key) is job:
            del st.jobs[key]
        self._tokens.discard(job.token)
        if not task.cancelled():
            task.exception()  # retrieved here: a waiter may have left before it ended

    async def _run_locked(
        self, root: Path, st: _WorkspaceState, job: _Job, title: str, work: Work[T]
    ) -> T:
        async with st.lock:
            job.token.raise_if_cancelled()
            progress = await _Progress.start(self, title, root, job.token)
            outcome = "failed"
            try:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(
                    self._work, functools.partial(work, progress.on_line, job.token)
                )
                outcome = "done"
                return result
            except Cancelled:
                outcome = "cancelled"
                raise
            finally:
                progress.end(outcome)

    def cancel_client_request(self, msg_id: object) -> bool:
        event = self._request_cancels.get(msg_id)
        if event is None:
            return False
        event.set()
        return True

    def cancel_progress(self, token: str) -> None:
        cancel = self._progress_cancels.get(token)
        if cancel is not None:
            cancel.cancel()

    def stop_all(self) -> None:
        """Shutdown / exit / lost client: stop every running installer."""
        self._stopping = True
        for token in list(self._tokens):
            token.cancel()

    async def drain(self, timeout: float = _SHUTDOWN_GRACE) -> None:
        tasks = [j.task for st in self._states.values() for j in st.jobs.values() if j.task]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    def close_pools(self) -> None:
        self._work.shutdown(wait=True, cancel_futures=True)
        self._read.shutdown(wait=True, cancel_futures=True)
        self.forwarder.detach()
        logging.getLogger(_pkg).removeHandler(self.forwarder)

    # -- notifications -------------------------------------------------------------------
    def environment_changed(self, root: Path, report: Mapping[str, object] | None) -> None:
        self.protocol.notify(ENVIRONMENT_CHANGED, {"workspace": str(root), "report": report})

    def show(self, kind: types.MessageType, message: str) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def pyproject_uri(self, root: Path) -> str:
        target = root / PYPROJECT
        if self._has_workspace():
            for uri in self.workspace.text_documents:
                path = to_fs_path(uri)
                if path is not None and Path(path) == target:
                    return str(uri)
        return str(from_fs_path(str(target)))

    def schedule_refresh(self, root: Path, *, notify: bool) -> None:
        """Recompute diagnostics (and tell the client) soon, once per burst of events."""
        loop = self.attach_loop()
        st = self.state(root)
        st.notify_pending = st.notify_pending or notify
        if st.refresh is not None:
            st.refresh.cancel()

        def fire() -> None:
            st.refresh = None
            pending, st.notify_pending = st.notify_pending, False
            task = loop.create_task(self.refresh(root, notify=pending))
            task.add_done_callback(_log_failure)

        st.refresh = loop.call_later(_REFRESH_DELAY, fire)

    async def refresh(
        self, root: Path, *, notify: bool, report: Mapping[str, object] | None = None
    ) -> None:
        """Publish diagnostics for the workspace's pyproject.toml; optionally notify."""
        uri = self.pyproject_uri(root)
        text: str | None = None
        if self._has_workspace() and uri in self.workspace.text_documents:
            text = self.workspace.get_text_document(uri).source
        findings, text, fresh = await self.in_read(functools.partial(self._inspect, root, text))
        if text is None:
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )
        else:
            codec = self.workspace.position_codec if self._has_workspace() else None
            diags = build_diagnostics(findings, text, codec)
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=diags)
            )
        if notify:
            self.environment_changed(root, report if report is not None else fresh)

    def _inspect(
        self, root: Path, text: str | None
    ) -> tuple[Findings, str | None, dict[str, object] | None]:
        """Everything the diagnostics need, without an installer (runs on a thread)."""
        pyproject = root / PYPROJECT
        if text is None:
            try:
                text = pyproject.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return Findings(root), None, None
        problems = check_project(pyproject, text)
        engine = self.engine
        state: str | None = None
        report_json: dict[str, object] | None = None
        requires_python: str | None = None
        version: str | None = None
        conflicts: list[Mapping[str, object]] = []
        if not any(p.severity == "error" for p in problems):
            try:
                requires_python = engine.project(root).requires_python
                state = engine.sync_state(root)
                report = engine.report(root)
                report_json = report.to_json()
                version = report.python_version or None
                conflicts = [dict(c) for c in report.conflicts]
            except EnvlayersError as exc:
                log.info("cannot inspect %s: %s", root, exc)
        findings = Findings(
            root,
            problems=problems,
            sync_state=state,
            requires_python=requires_python,
            python_version=version,
            conflicts=conflicts,
        )
        return findings, text, report_json


class _Progress:
    """Server-created work-done progress fed by the installer's lines (throttled)."""

    def __init__(self, server: EnvlayersServer, token: str | None) -> None:
        self._server = server
        self._token = token
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._last = 0.0
        self._pending: str | None = None

    @classmethod
    async def start(
        cls, server: EnvlayersServer, title: str, root: Path, cancel: CancelToken
    ) -> _Progress:
        caps = server.client_capabilities.window
        if caps is None or not caps.work_done_progress:
            return cls(server, None)
        token = f"envlayers-{uuid.uuid4().hex}"
        try:
            await server.work_done_progress.create_async(token)
        except Exception as exc:  # the client refused: carry on without a progress bar
            log.info("no progress for %s: %s", title, exc)
            return cls(server, None)
        server._progress_cancels[token] = cancel
        server.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=title, message=root.name, cancellable=True)
        )
        return cls(server, token)

    def on_line(self, line: str) -> None:
        """Called from the installer's thread for every line it prints."""
        line = line.rstrip()
        if self._token is None or not line:
            return
        now = time.monotonic()
        with self._lock:
            if now - self._last < _PROGRESS_INTERVAL:
                self._pending = line
                return
            self._last, self._pending = now, None
        self._post(line)

    def _post(self, line: str) -> None:
        token = self._token
        if token is None:
            return
        value = types.WorkDoneProgressReport(message=line[:500])
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._server.work_done_progress.report, token, value)

    def end(self, outcome: str) -> None:
        token = self._token
        if token is None:
            return
        with self._lock:
            pending, self._pending = self._pending, None
        progress = self._server.work_done_progress
        if pending:
            progress.report(token, types.WorkDoneProgressReport(message=pending[:500]))
        progress.end(token, types.WorkDoneProgressEnd(message=outcome))
        # pygls never forgets ended tokens (pygls #607).
        progress.tokens.pop(token, None)
        self._server._progress_cancels.pop(token, None)
        self._token = None


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("background refresh failed: %s", exc, exc_info=exc)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("envlayers")
    except Exception:  # running from a source tree without metadata
        return "0+unknown"


# -- command handlers -------------------------------------------------------------------
Handler = Callable[..., Awaitable[object]]


def _edge(command: str) -> Callable[[Handler], Handler]:
    """Map every failure to a JSON-RPC error with data {kind, message}, once."""

    def wrap(fn: Handler) -> Handler:
        @functools.wraps(fn)
        async def run(ls: EnvlayersServer, *args: Any) -> object:
            ls.attach_loop()
            try:
                return await fn(ls, *args)
            except Exception as exc:
                err = to_jsonrpc(exc)
                log.info("%s failed (%s): %s", command, err.kind, err.message)
                raise err from None

        return run

    return wrap


def _job_options(ls: EnvlayersServer, root: Path, arg: Mapping[str, object]) -> Options:
    return apply_settings(_args.options_of(arg), ls.settings_for(root))


async def _after_change(ls: EnvlayersServer, root: Path, report: dict[str, object]) -> None:
    ls.environment_changed(root, report)
    await ls.refresh(root, notify=False)


async def _sync_or_compose(ls: EnvlayersServer, command: str, args: tuple[Any, ...]) -> object:
    """The shared body of `envlayers.sync` and `envlayers.compose`: a job with progress, then
    `environmentChanged`."""
    arg = _args.one_object(command, args)
    root = ls.resolve(arg)
    options = _job_options(ls, root, arg)
    action = "sync" if command == "envlayers.sync" else "compose"
    run = ls.engine.sync if action == "sync" else ls.engine.compose

    def work(on_line: Callable[[str], None], cancel: CancelToken) -> dict[str, object]:
        return run(root, options, on_line=on_line, cancel=cancel).to_json()

    result = await ls.run_job(root, (action, options), f"envlayers: {action}", work)
    await _after_change(ls, root, result)
    return result


async def cmd_sync(ls: EnvlayersServer, *args: Any) -> object:
    return await _sync_or_compose(ls, "envlayers.sync", args)


async def cmd_compose(ls: EnvlayersServer, *args: Any) -> object:
    return await _sync_or_compose(ls, "envlayers.compose", args)


async def cmd_report(ls: EnvlayersServer, *args: Any) -> object:
    arg = _args.one_object("envlayers.report", args)
    _args.reject_unknown("envlayers.report", arg)
    root = ls.resolve(arg)
    engine = ls.engine
    fresh = engine.fresh_report(root)  # a few stats: answered without a thread hop
    if fresh is not None:
        return fresh.to_json()
    return await ls.in_read(lambda: engine.report(root).to_json())


async def cmd_debug_configuration(ls: EnvlayersServer, *args: Any) -> object:
    arg = _args.one_object("envlayers.debugConfiguration", args)
    root = ls.resolve(arg)
    options = _job_options(ls, root, arg)
    program, module = _args.opt_str(arg, "program"), _args.opt_str(arg, "module")
    engine = ls.engine
    if not options.has_layers:
        return await ls.in_read(
            lambda: engine.debug_configuration(root, None, program=program, module=module)
        )

    def work(on_line: Callable[[str], None], cancel: CancelToken) -> dict[str, object]:
        return engine.debug_configuration(root, options, program=program, module=module)

    key = ("debugConfiguration", options, program, module)
    return await ls.run_job(root, key, "envlayers: debug configuration", work)


async def cmd_install_kernel(ls: EnvlayersServer, *args: Any) -> object:
    arg = _args.one_object("envlayers.installKernel", args)
    root = ls.resolve(arg)
    options = _job_options(ls, root, arg)
    name, display = _args.opt_str(arg, "name"), _args.opt_str(arg, "displayName")
    user = _args.opt_bool(arg, "user")
    engine = ls.engine

    def work(on_line: Callable[[str], None], cancel: CancelToken) -> dict[str, object]:
        return engine.install_kernel(
            root,
            options,
            name=name,
            display_name=display,
            user=user,
            on_line=on_line,
            cancel=cancel,
        )

    key = ("installKernel", options, name, display, user)
    return await ls.run_job(root, key, "envlayers: install kernel", work)


async def cmd_list_layers(ls: EnvlayersServer, *args: Any) -> object:
    arg = _args.one_object("envlayers.listLayers", args)
    _args.reject_unknown("envlayers.listLayers", arg)
    engine = ls.engine
    return await ls.in_read(engine.list_layers)


async def cmd_prune_layers(ls: EnvlayersServer, *args: Any) -> object:
    arg = _args.one_object("envlayers.pruneLayers", args)
    _args.reject_unknown("envlayers.pruneLayers", arg)
    days, everything = _args.opt_number(arg, "olderThanDays"), _args.opt_bool(arg, "all")
    engine = ls.engine
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        ls._work, lambda: engine.prune_layers(older_than_days=days, all=everything)
    )


async def cmd_remove_layer(ls: EnvlayersServer, *args: Any) -> object:
    arg = _args.one_object("envlayers.removeLayer", args)
    _args.reject_unknown("envlayers.removeLayer", arg)
    key = _args.opt_str(arg, "key")
    if key is None:
        raise InvalidInput("envlayers.removeLayer needs the option 'key'")
    engine = ls.engine
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(ls._work, lambda: engine.remove_layer(key))


_HANDLERS: dict[str, Handler] = {
    "envlayers.sync": cmd_sync,
    "envlayers.compose": cmd_compose,
    "envlayers.report": cmd_report,
    "envlayers.debugConfiguration": cmd_debug_configuration,
    "envlayers.installKernel": cmd_install_kernel,
    "envlayers.listLayers": cmd_list_layers,
    "envlayers.pruneLayers": cmd_prune_layers,
    "envlayers.removeLayer": cmd_remove_layer,
}


# -- lifecycle, configuration, documents --------------------------------------------------
def _is_watched(uri: str) -> Path | None:
    path = to_fs_path(uri)
    if path is None:
        return None
    p = Path(path)
    return p if p.name in WATCHED else None


def _workspace_of(path: Path) -> Path | None:
    try:
        return resolve_workspace(str(path.parent))
    except EnvlayersError:
        return None


async def on_initialize(ls: EnvlayersServer, params: types.InitializeParams) -> None:
    ls.attach_loop()
    raw = params.initialization_options
    ls._init_raw = raw if isinstance(raw, Mapping) else {}
    settings, warnings = decode_settings(raw)
    ls._global = settings
    ls._pending_warnings = warnings


async def on_initialized(ls: EnvlayersServer, params: types.InitializedParams) -> None:
    ls.attach_loop()
    for warning in ls._pending_warnings:
        ls.show(types.MessageType.Warning, warning)
    ls._pending_warnings = []
    caps = ls.client_capabilities.workspace
    watched = caps.did_change_watched_files if caps else None
    if watched is not None and watched.dynamic_registration:
        watchers = [types.FileSystemWatcher(glob_pattern=f"**/{name}") for name in WATCHED]
        registration = types.Registration(
            id=_WATCH_ID,
            method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
            register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers),
        )
        try:
            await ls.client_register_capability_async(
                types.RegistrationParams(registrations=[registration])
            )
        except Exception as exc:  # a client that refuses still gets document events
            log.warning("could not register file watchers: %s", exc)
    await pull_configuration(ls)
    for folder in list(ls.workspace.folders.values()):
        path = to_fs_path(folder.uri)
        root = _workspace_of(Path(path) / PYPROJECT) if path else None
        if root is not None:
            ls.schedule_refresh(root, notify=False)


async def pull_configuration(ls: EnvlayersServer, pushed: object = None) -> None:
    """Settings = initializationOptions, overridden by `workspace/configuration` per folder."""
    caps = ls.client_capabilities.workspace
    inner = ls._init_raw.get(SECTION)
    base = dict(inner) if isinstance(inner, Mapping) else dict(ls._init_raw)
    folders = list(ls.workspace.folders.values())
    results: list[object]
    if caps is not None and caps.configuration:
        items = [types.ConfigurationItem(section=SECTION)] + [
            types.ConfigurationItem(section=SECTION, scope_uri=f.uri) for f in folders
        ]
        try:
            results = list(
                await ls.workspace_configuration_async(types.ConfigurationParams(items=items))
            )
        except Exception as exc:
            log.warning("workspace/configuration failed: %s", exc)
            results = []
    else:
        results = [pushed.get(SECTION) if isinstance(pushed, Mapping) else None]
    warnings: list[str] = []

    def merged(value: object) -> Settings:
        raw = dict(base)
        if isinstance(value, Mapping):
            raw.update(value)
        settings, found = decode_settings(raw)
        warnings.extend(w for w in found if w not in warnings)
        return settings

    ls._global = merged(results[0] if results else None)
    ls._folder_settings = {}
    for folder, value in zip(folders, results[1:], strict=False):
        path = to_fs_path(folder.uri)
        if path is not None:
            ls._folder_settings[Path(path)] = merged(value)
    for warning in warnings:
        ls.show(types.MessageType.Warning, warning)


async def on_did_change_configuration(
    ls: EnvlayersServer, params: types.DidChangeConfigurationParams
) -> None:
    await pull_configuration(ls, params.settings)


def on_did_change_watched_files(
    ls: EnvlayersServer, params: types.DidChangeWatchedFilesParams
) -> None:
    roots: set[Path] = set()
    for change in params.changes:
        path = _is_watched(change.uri)
        root = _workspace_of(path) if path is not None else None
        if root is not None:
            roots.add(root)
    for root in roots:
        ls.schedule_refresh(root, notify=True)


def _document_root(uri: str) -> Path | None:
    path = _is_watched(uri)
    return _workspace_of(path) if path is not None and path.name == PYPROJECT else None


def on_did_open(ls: EnvlayersServer, params: types.DidOpenTextDocumentParams) -> None:
    root = _document_root(params.text_document.uri)
    if root is not None:
        ls.schedule_refresh(root, notify=False)


def on_did_change(ls: EnvlayersServer, params: types.DidChangeTextDocumentParams) -> None:
    root = _document_root(params.text_document.uri)
    if root is not None:
        ls.schedule_refresh(root, notify=False)


async def on_did_save(ls: EnvlayersServer, params: types.DidSaveTextDocumentParams) -> None:
    root = _document_root(params.text_document.uri)
    if root is None:
        return
    settings = ls.settings_for(root)
    if not settings.auto_sync:
        ls.schedule_refresh(root, notify=True)
        return
    try:
        await cmd_sync(ls, {"workspace": str(root)})
    except Exception as exc:
        err = to_jsonrpc(exc)
        log.warning("auto-sync of %s failed: %s", root, err.message)
        if settings.show_notifications:
            ls.show(types.MessageType.Error, f"envlayers: sync failed: {err.message}")
        ls.schedule_refresh(root, notify=True)


def on_did_close(ls: EnvlayersServer, params: types.DidCloseTextDocumentParams) -> None:
    root = _document_root(params.text_document.uri)
    if root is not None:
        ls.schedule_refresh(root, notify=False)


def on_code_action(
    ls: EnvlayersServer, params: types.CodeActionParams
) -> list[types.CodeAction] | None:
    if _document_root(params.text_document.uri) is None:
        return None
    return sync_actions(params.text_document.uri, params.context.diagnostics) or None


def on_progress_cancel(ls: EnvlayersServer, params: types.WorkDoneProgressCancelParams) -> None:
    ls.cancel_progress(str(params.token))


async def on_shutdown(ls: EnvlayersServer, params: None) -> None:
    ls.stop_all()
    await ls.drain()


def on_exit(ls: EnvlayersServer, params: None) -> None:
    ls.stop_all()


def build_server(*, verbose: bool = False) -> EnvlayersServer:
    """A server with every command and feature registered (not started)."""
    server = EnvlayersServer(verbose=verbose)
    for name, fn in _HANDLERS.items():
        server.command(name)(_edge(name)(fn))
    server.feature(types.INITIALIZE)(on_initialize)
    server.feature(types.INITIALIZED)(on_initialized)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(on_did_change_configuration)
    server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)(on_did_change_watched_files)
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(on_did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(on_did_change)
    server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))(on_did_save)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(on_did_close)
    server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )(on_code_action)
    server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)(on_progress_cancel)
    server.feature(types.SHUTDOWN)(on_shutdown)
    server.feature(types.EXIT)(on_exit)
    return server


# -- entry point ----------------------------------------------------------------------------
def _configure_logging(log_file: str | None, verbose: bool) -> None:
    handler: logging.Handler
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_quiet_expected)
    handler.addFilter(scrub_record)  # last: credentials never reach the log (core.redact)
    level = logging.DEBUG if verbose else logging.WARNING
    handler.setLevel(level)
    for name in (_pkg, "pygls"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    # pygls logs every message it sends at INFO: keep that out of the editor's log.
    logging.getLogger("pygls").setLevel(logging.DEBUG if verbose and log_file else logging.WARNING)


def _quiet_expected(record: logging.LogRecord) -> bool:
    """pygls logs a traceback for every error response; ours are expected answers."""
    exc = record.exc_info[1] if record.exc_info else None
    data = getattr(exc, "data", None)
    return not (isinstance(data, dict) and "kind" in data)


def _claim_stdio() -> tuple[BinaryIO, BinaryIO]:
    """Keep private copies of stdin/stdout for the protocol; children get /dev/null and stderr."""
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)  # a stray print or an inheriting child now lands on stderr
    sys.stdout = sys.stderr
    return cast(BinaryIO, proto_in), cast(BinaryIO, proto_out)


def serve(
    mode: str, host: str | None, port: int | None, log_file: str | None, verbose: bool
) -> None:
    """Run the server until the client says exit (stdio) or disconnects (tcp)."""
    _configure_logging(log_file, verbose)
    server = build_server(verbose=verbose)
    try:
        if mode == "tcp":
            server.start_tcp(host or "127.0.0.1", port if port is not None else 2087)
        elif mode == "stdio":
            stdin, stdout = _claim_stdio()
            server.start_io(stdin, stdout)
        else:
            raise InvalidInput(f"unknown server mode {mode!r} (stdio or tcp)")
    finally:
        server.stop_all()
        server.close_pools()
