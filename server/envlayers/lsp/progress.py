"""Server-created work-done progress fed by the installer's lines (throttled), cancellable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from envlayers.core.proc import CancelToken
from envlayers.lsp._pygls_compat import forget_progress_token

__all__ = ["INTERVAL", "JobProgress", "ProgressReporter"]

log = logging.getLogger(__name__)

INTERVAL = 0.1  # seconds between two progress reports: installers print fast
_LIMIT = 500


class JobProgress:
    """One job's progress bar (or nothing, when the client has none)."""

    def __init__(self, reporter: ProgressReporter, token: str | None) -> None:
        self._reporter = reporter
        self._token = token
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._last = 0.0
        self._pending: str | None = None

    def on_line(self, line: str) -> None:
        """Called from the installer's thread for every line it prints."""
        line = line.rstrip()
        if self._token is None or not line:
            return
        now = time.monotonic()
        with self._lock:
            if now - self._last < INTERVAL:
                self._pending = line
                return
            self._last, self._pending = now, None
        self._post(line)

    def _post(self, line: str) -> None:
        token = self._token
        if token is None:
            return
        value = types.WorkDoneProgressReport(message=line[:_LIMIT])
        progress = self._reporter.server.work_done_progress
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(progress.report, token, value)

    def end(self, outcome: str) -> None:
        token = self._token
        if token is None:
            return
        with self._lock:
            pending, self._pending = self._pending, None
        progress = self._reporter.server.work_done_progress
        if pending:
            progress.report(token, types.WorkDoneProgressReport(message=pending[:_LIMIT]))
        progress.end(token, types.WorkDoneProgressEnd(message=outcome))
        forget_progress_token(progress, token)
        self._reporter.cancels.pop(token, None)
        self._token = None


class ProgressReporter:
    """Creates progress tokens for jobs and maps `window/workDoneProgress/cancel` to them."""

    def __init__(self, server: LanguageServer) -> None:
        self.server = server
        self.cancels: dict[str, CancelToken] = {}

    async def start(self, title: str, root: Path, cancel: CancelToken) -> JobProgress:
        caps = self.server.client_capabilities.window
        if caps is None or not caps.work_done_progress:
            return JobProgress(self, None)
        token = f"envlayers-{uuid.uuid4().hex}"
        try:
            await self.server.work_done_progress.create_async(token)
        except Exception as exc:  # the client refused: carry on without a progress bar
            log.info("no progress for %s: %s", title, exc)
            return JobProgress(self, None)
        self.cancels[token] = cancel
        self.server.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title=title, message=root.name, cancellable=True)
        )
        return JobProgress(self, token)

    def cancel(self, token: str) -> None:
        cancel = self.cancels.get(token)
        if cancel is not None:
            cancel.cancel()
