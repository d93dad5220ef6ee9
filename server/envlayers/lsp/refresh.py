"""Debounced re-checks of a workspace: diagnostics on its pyproject.toml, and optionally the
`envlayers/environmentChanged` notification, once per burst of file events."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from lsprotocol import types
from pygls.workspace import PositionCodec

from envlayers.core.errors import EnvlayersError
from envlayers.core.project import PYPROJECT, check_project
from envlayers.lsp.diagnostics import Findings, build_diagnostics

__all__ = ["DELAY", "RefreshHost", "Refresher"]

log = logging.getLogger(__name__)

DELAY = 0.15  # coalesce bursts of file events into one recomputation
T = TypeVar("T")


class _Engine(Protocol):
    def project(self, root: Path) -> Any: ...

    def sync_state(self, workspace: Path) -> str: ...

    def report(self, workspace: Path) -> Any: ...


class RefreshHost(Protocol):
    """What a refresh needs from the server."""

    @property
    def engine(self) -> _Engine: ...

    def attach_loop(self) -> asyncio.AbstractEventLoop: ...

    async def in_read(self, fn: Callable[[], T]) -> T: ...

    def open_document(self, uri: str) -> str | None: ...

    def position_codec(self) -> PositionCodec | None: ...

    def pyproject_uri(self, root: Path) -> str: ...

    def publish(self, params: types.PublishDiagnosticsParams) -> None: ...

    def environment_changed(self, root: Path, report: Mapping[str, object] | None) -> None: ...


class _Pending:
    def __init__(self) -> None:
        self.timer: asyncio.TimerHandle | None = None
        self.notify = False


class Refresher:
    def __init__(self, host: RefreshHost) -> None:
        self._host = host
        self._pending: dict[Path, _Pending] = {}

    def schedule(
        self,
        root: Path,
        *,
        notify: bool,
        job: Callable[[bool], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        """Recompute diagnostics (and tell the client) soon, once per burst of events;
        `job(notify)` in place of the workspace's re-check (a single-file script's)."""
        loop = self._host.attach_loop()
        st = self._pending.setdefault(root, _Pending())
        st.notify = st.notify or notify
        if st.timer is not None:
            st.timer.cancel()

        def fire() -> None:
            st.timer = None
            pending, st.notify = st.notify, False
            run = job(pending) if job is not None else self.refresh(root, notify=pending)
            task = loop.create_task(run)
            task.add_done_callback(_log_failure)

        st.timer = loop.call_later(DELAY, fire)

    async def refresh(
        self, root: Path, *, notify: bool, report: Mapping[str, object] | None = None
    ) -> None:
        """Publish diagnostics for the workspace's pyproject.toml; optionally notify."""
        host = self._host
        uri = host.pyproject_uri(root)
        text = host.open_document(uri)
        findings, text, fresh = await host.in_read(functools.partial(self._inspect, root, text))
        diags = [] if text is None else build_diagnostics(findings, text, host.position_codec())
        host.publish(types.PublishDiagnosticsParams(uri=uri, diagnostics=diags))
        if notify:
            host.environment_changed(root, report if report is not None else fresh)

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
        engine = self._host.engine
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


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("background refresh failed: %s", exc, exc_info=exc)
