"""Forward the core's log records to the editor (`window/logMessage`); never to stdout."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from lsprotocol import types

__all__ = ["LogForwarder"]

_LEVELS = (
    (logging.ERROR, types.MessageType.Error),
    (logging.WARNING, types.MessageType.Warning),
    (logging.INFO, types.MessageType.Info),
)


class LogForwarder(logging.Handler):
    """Sends records through `send` on the server's event loop, from any thread."""

    def __init__(self, send: Callable[[types.LogMessageParams], None], level: int) -> None:
        super().__init__(level)
        self._send = send
        self._loop: asyncio.AbstractEventLoop | None = None
        self._busy = threading.local()
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def detach(self) -> None:
        self._loop = None

    def emit(self, record: logging.LogRecord) -> None:
        loop = self._loop
        # Records sent while sending one would recurse through the protocol's own logging.
        if loop is None or loop.is_closed() or getattr(self._busy, "on", False):
            return
        if not getattr(record, "forward", True):  # e.g. a failed send: not sent again
            return
        self._busy.on = True
        try:
            kind = next((t for lvl, t in _LEVELS if record.levelno >= lvl), types.MessageType.Log)
            params = types.LogMessageParams(type=kind, message=self.format(record))
            loop.call_soon_threadsafe(self._send, params)
        except RuntimeError:
            pass  # the loop closed between the check and the call: the client is gone
        except Exception:
            self.handleError(record)
        finally:
            self._busy.on = False
