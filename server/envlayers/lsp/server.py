"""`envlayers serve`: the core behind pygls. Handlers decode, call the Engine, encode.

The pieces around the handlers live beside this module: `jobs` (the per-workspace queue,
shared builds, cancellation), `progress` (work-done progress), `refresh` (debounced
diagnostics), `settings` (editor settings) and `_pygls_compat` (every reliance on pygls'
private behaviour).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import FeatureRequestError, JsonRpcInternalError
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import PositionCodec

from envlayers.config import Options
from envlayers.core.engine import Engine, resolve_workspace
from envlayers.core.errors import EnvlayersError, InvalidInput
from envlayers.core.inline import has_block
from envlayers.core.proc import CancelToken
from envlayers.core.project import PYPROJECT
from envlayers.core.redact import scrub_record
from envlayers.lsp import args as _args
from envlayers.lsp import scripts as _scripts
from envlayers.lsp._pygls_compat import (
    CancelRouter,
    EnvlayersProtocol,
    GuardedInput,
    is_expected_error_record,
)
from envlayers.lsp.diagnostics import sync_actions
from envlayers.lsp.errors import to_jsonrpc
from envlayers.lsp.jobs import Scheduler, Work
from envlayers.lsp.logforward import LogForwarder
from envlayers.lsp.progress import ProgressReporter
from envlayers.lsp.refresh import Refresher
from envlayers.lsp.settings import SECTION, ServerSettings, apply_settings, decode_settings

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
    "envlayers.listCompositions",
    "envlayers.listProfiles",
)
WATCHED = ("pyproject.toml", "pylock.toml", "uv.lock", ".python-version")
_WATCH_ID = "envlayers-watch"
_pkg = "envlayers"

T = TypeVar("T")


class EnvlayersServer(LanguageServer, CancelRouter):
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
        self._global = ServerSettings()
        self._folder_settings: dict[Path, ServerSettings] = {}
        self.progress_bars = ProgressReporter(self)
        self.jobs = Scheduler(self.progress_bars.start)
        self.refresher = Refresher(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending_warnings: list[str] = []
        self.shutdown_received = False
        self.script_uris: set[str] = set()  # scripts whose block diagnostics were published
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

    def settings_for(self, root: Path) -> ServerSettings:
        best: tuple[int, ServerSettings] | None = None
        for folder, settings in self._folder_settings.items():
            if root == folder or folder in root.parents:
                depth = len(folder.parts)
                if best is None or depth > best[0]:
                    best = (depth, settings)
        return best[1] if best else self._global

    def folder_uris(self) -> list[str]:
        """The window's folders; a client with only `rootUri` / `rootPath` has that one."""
        if not self._has_workspace():
            return []
        folders = [f.uri for f in self.workspace.folders.values()]
        root = self.workspace.root_uri
        return folders if folders or not root else [root]

    def resolve(self, arg: Mapping[str, object]) -> Path:
        """The `workspace` argument (URI or path); alone in the window it may be left out."""
        value = arg.get("workspace")
        if value is None:
            folders = self.folder_uris()
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

    # -- jobs -------------------------------------------------------------------------
    async def in_read(self, fn: Callable[[], T]) -> T:
        return await self.jobs.in_read(fn)

    async def run_job(self, root: Path, key: tuple[object, ...], title: str, work: Work[T]) -> T:
        """Run `work` in the workspace's queue with progress; identical keys share one run."""
        self.attach_loop()
        return await self.jobs.run(root, key, title, work, self.protocol.msg_id)

    def cancel_client_request(self, msg_id: object) -> bool:
        return self.jobs.cancel_request(msg_id)

    def stop_all(self) -> None:
        """Shutdown / exit / lost client: stop every running installer."""
        self.jobs.stop_all()

    def close_pools(self) -> None:
        self.jobs.close()
        self.forwarder.detach()
        logging.getLogger(_pkg).removeHandler(self.forwarder)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Errors outside a request go to the log (and the editor's log), not a pop-up."""
        if source is FeatureRequestError:
            return  # already the request's error response
        # A failed send is not told to the client through another send.
        forward = source is not JsonRpcInternalError
        log.error("%s", error, exc_info=error, extra={"forward": forward})

    # -- what a refresh needs ------------------------------------------------------------
    def open_document(self, uri: str) -> str | None:
        if self._has_workspace() and unquote(uri) in self.workspace.text_documents:
            return self.workspace.get_text_document(uri).source
        return None

    def position_codec(self) -> PositionCodec | None:
        return self.workspace.position_codec if self._has_workspace() else None

    def publish(self, params: types.PublishDiagnosticsParams) -> None:
        self.text_document_publish_diagnostics(params)

    def schedule_refresh(self, root: Path, *, notify: bool) -> None:
        self.refresher.schedule(root, notify=notify)

    async def refresh(
        self, root: Path, *, notify: bool, report: Mapping[str, object] | None = None
    ) -> None:
        await self.refresher.refresh(root, notify=notify, report=report)

    # -- notifications -------------------------------------------------------------------
    def environment_changed(self, root: Path, report: Mapping[str, object] | None) -> None:
        self.protocol.notify(ENVIRONMENT_CHANGED, {"workspace": str(root), "report": report})

    def script_changed(self, script: Path, report: Mapping[str, object] | None) -> None:
        """`environmentChanged` for a single-file script's composition."""
        workspace = report.get("workspace") if report else None
        self.protocol.notify(
            ENVIRONMENT_CHANGED,
            {"workspace": str(workspace or script.parent), "script": str(script), "report": report},
        )

    def schedule_script(self, script: Path, *, notify: bool) -> None:
        self.refresher.schedule(
            script, notify=notify, job=lambda n: _scripts.script_refresh(self, script, notify=n)
        )

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


def _target(
    ls: EnvlayersServer, command: str, args: tuple[Any, ...]
) -> tuple[Mapping[str, object], Path, Path | None]:
    """(argument, queue root, script): a `script` argument stands in for `workspace`."""
    arg, script = _scripts.script_arg(_args.one_object(command, args))
    return arg, (script if script is not None else ls.resolve(arg)), script


def _job_options(ls: EnvlayersServer, root: Path, arg: Mapping[str, object]) -> Options:
    return apply_settings(_args.options_of(arg), ls.settings_for(root))


async def _after_change(ls: EnvlayersServer, root: Path, report: dict[str, object]) -> None:
    ls.environment_changed(root, report)
    await ls.refresh(root, notify=False)


async def _sync_or_compose(ls: EnvlayersServer, command: str, args: tuple[Any, ...]) -> object:
    """The shared body of `envlayers.sync` and `envlayers.compose`: a job with progress, then
    `environmentChanged`."""
    arg, root, script = _target(ls, command, args)
    options = _job_options(ls, root, arg)
    action = "sync" if command == "envlayers.sync" else "compose"
    if script is not None and action == "sync":
        raise InvalidInput("envlayers.sync takes no 'script': compose a script's environment")
    run = ls.engine.sync if action == "sync" else ls.engine.compose

    def work(on_line: Callable[[str], None], cancel: CancelToken) -> dict[str, object]:
        return run(root, options, on_line=on_line, cancel=cancel).to_json()

    result = await ls.run_job(root, (action, options), f"envlayers: {action}", work)
    if script is not None:
        ls.script_changed(script, result)
        ls.schedule_script(script, notify=False)
        return result
    await _after_change(ls, root, result)
    return result


async def cmd_sync(ls: EnvlayersServer, *args: Any) -> object:
    return await _sync_or_compose(ls, "envlayers.sync", args)


async def cmd_compose(ls: EnvlayersServer, *args: Any) -> object:
    return await _sync_or_compose(ls, "envlayers.compose", args)


async def cmd_report(ls: EnvlayersServer, *args: Any) -> object:
    arg, root, script = _target(ls, "envlayers.report", args)
    _args.reject_unknown("envlayers.report", arg)
    engine = ls.engine
    if script is not None:
        return await ls.in_read(lambda: engine.report(script, script=script).to_json())
    fresh = engine.fresh_report(root)  # a few stats: answered without a thread hop
    if fresh is not None:
        return fresh.to_json()
    return await ls.in_read(lambda: engine.report(root).to_json())


async def cmd_debug_configuration(ls: EnvlayersServer, *args: Any) -> object:
    arg, root, script = _target(ls, "envlayers.debugConfiguration", args)
    options = _job_options(ls, root, arg)
    program, module = _args.opt_str(arg, "program"), _args.opt_str(arg, "module")
    if script is not None and module is None:
        program = program or str(script)  # a script's launch runs the script
    engine = ls.engine
    if not options.has_layers and script is None:
        return await ls.in_read(
            lambda: engine.debug_configuration(root, None, program=program, module=module)
        )

    def work(on_line: Callable[[str], None], cancel: CancelToken) -> dict[str, object]:
        return engine.debug_configuration(root, options, program=program, module=module)

    key = ("debugConfiguration", options, program, module)
    return await ls.run_job(root, key, "envlayers: debug configuration", work)


async def cmd_install_kernel(ls: EnvlayersServer, *args: Any) -> object:
    arg, root, _script = _target(ls, "envlayers.installKernel", args)
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
    result = await ls.run_job(root, key, "envlayers: install kernel", work)
    # Installing a kernel composes (an ipykernel layer may be added) and makes that the
    # active composition: the editor's status bar and interpreter follow it.
    report = await ls.in_read(lambda: engine.report(root).to_json())
    await _after_change(ls, root, report)
    return result


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
    return await ls.jobs.in_work(lambda: engine.prune_layers(older_than_days=days, all=everything))


async def cmd_remove_layer(ls: EnvlayersServer, *args: Any) -> object:
    arg = _args.one_object("envlayers.removeLayer", args)
    _args.reject_unknown("envlayers.removeLayer", arg)
    key = _args.opt_str(arg, "key")
    if key is None:
        raise InvalidInput("envlayers.removeLayer needs the option 'key'")
    force = _args.opt_bool(arg, "force")
    engine = ls.engine
    return await ls.jobs.in_work(lambda: engine.remove_layer(key, force=force))


async def cmd_list_compositions(ls: EnvlayersServer, *args: Any) -> object:
    arg = _args.one_object("envlayers.listCompositions", args)
    _args.reject_unknown("envlayers.listCompositions", arg)
    root = ls.resolve(arg)
    engine = ls.engine
    return await ls.in_read(lambda: engine.list_compositions(root))


async def cmd_list_profiles(ls: EnvlayersServer, *args: Any) -> object:
    arg = _args.one_object("envlayers.listProfiles", args)
    _args.reject_unknown("envlayers.listProfiles", arg)
    root = ls.resolve(arg)
    engine = ls.engine
    project = await ls.in_read(lambda: engine.project(root))
    return [
        {
            "name": profile.name,
            "with": [item.text for item in profile.with_],
            "withRequirements": list(profile.with_requirements),
            "withEditable": list(profile.with_editable),
        }
        for profile in project.settings.profiles.values()
    ]


_HANDLERS: dict[str, Handler] = {
    "envlayers.sync": cmd_sync,
    "envlayers.compose": cmd_compose,
    "envlayers.report": cmd_report,
    "envlayers.debugConfiguration": cmd_debug_configuration,
    "envlayers.installKernel": cmd_install_kernel,
    "envlayers.listLayers": cmd_list_layers,
    "envlayers.pruneLayers": cmd_prune_layers,
    "envlayers.removeLayer": cmd_remove_layer,
    "envlayers.listCompositions": cmd_list_compositions,
    "envlayers.listProfiles": cmd_list_profiles,
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
    for uri in ls.folder_uris():
        path = to_fs_path(uri)
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

    def merged(value: object) -> ServerSettings:
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


def _script_document(ls: EnvlayersServer, uri: str, text: str | None) -> None:
    """A Python document with a `# /// script` block (or that had one): re-check it."""
    script = _scripts.script_of_uri(uri)
    if script is None:
        return
    if text is None:
        text = ls.open_document(uri)
    if uri in ls.script_uris or (text is not None and has_block(text)):
        ls.schedule_script(script, notify=False)


def on_did_open(ls: EnvlayersServer, params: types.DidOpenTextDocumentParams) -> None:
    _script_document(ls, params.text_document.uri, params.text_document.text)
    root = _document_root(params.text_document.uri)
    if root is not None:
        ls.schedule_refresh(root, notify=False)


def on_did_change(ls: EnvlayersServer, params: types.DidChangeTextDocumentParams) -> None:
    _script_document(ls, params.text_document.uri, None)
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
    _script_document(ls, params.text_document.uri, "")
    root = _document_root(params.text_document.uri)
    if root is not None:
        ls.schedule_refresh(root, notify=False)


def on_code_action(
    ls: EnvlayersServer, params: types.CodeActionParams
) -> list[types.CodeAction] | None:
    uri = params.text_document.uri
    if _scripts.script_of_uri(uri) is not None:
        text = ls.open_document(uri)
        return _scripts.script_actions(uri, text, params.range) or None if text else None
    if _document_root(uri) is None:
        return None
    return sync_actions(params.text_document.uri, params.context.diagnostics) or None


def on_progress_cancel(ls: EnvlayersServer, params: types.WorkDoneProgressCancelParams) -> None:
    ls.progress_bars.cancel(str(params.token))


async def on_shutdown(ls: EnvlayersServer, params: None) -> None:
    ls.shutdown_received = True
    ls.stop_all()
    await ls.jobs.drain()


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
    handler.addFilter(lambda record: not is_expected_error_record(record))
    handler.addFilter(scrub_record)  # last: credentials never reach the log (core.redact)
    level = logging.DEBUG if verbose else logging.WARNING
    handler.setLevel(level)
    for name in (_pkg, "pygls"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    # pygls logs every message it sends at INFO: keep that out of the editor's log.
    logging.getLogger("pygls").setLevel(logging.DEBUG if verbose and log_file else logging.WARNING)


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
    """Run the server until the client says exit (stdio) or disconnects (tcp).

    Over stdio the process exits with 1 (SystemExit) when the client ends it (`exit` or end of
    input) without `shutdown` first, as LSP says.
    """
    _configure_logging(log_file, verbose)
    server = build_server(verbose=verbose)
    try:
        if mode == "tcp":
            server.start_tcp(host or "127.0.0.1", port if port is not None else 2087)
        elif mode == "stdio":
            stdin, stdout = _claim_stdio()
            guarded = cast(BinaryIO, GuardedInput(stdin, cast(EnvlayersProtocol, server.protocol)))
            server.start_io(guarded, stdout)
            if not server.shutdown_received:
                raise SystemExit(1)
        else:
            raise InvalidInput(f"unknown server mode {mode!r} (stdio or tcp)")
    finally:
        server.stop_all()
        server.close_pools()
