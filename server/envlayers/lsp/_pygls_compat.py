"""Every place envlayers depends on, or overrides, pygls' private behaviour (pygls 2.1).

pygls is pinned to the minor version these were written against (pyproject.toml), and
`tests/unit/test_pygls_compat.py` checks that the private names used here still exist with the
signatures relied on, so an upgrade fails a test instead of the server.

What is overridden, and why:
- `_execute_handler`: pygls files each step of a generator handler (executeCommand is one) under
  a fresh id in `_request_futures` and never removes it; every command leaked its result.
- `_handle_cancel_notification`: `$/cancelRequest` for one of our jobs goes to the job scheduler
  (pygls can only cancel a future that has not started).
- `lsp_shutdown`: pygls iterates `_request_futures` while cancelling them, and a cancelled
  future's done-callback pops from it ("dictionary changed size during iteration").
- `handle_message`: requests before `initialize` get ServerNotInitialized (-32002), requests
  after `shutdown` InvalidRequest (-32600) (pygls serves the first and drops the second), and a
  request whose params do not parse gets InvalidParams (-32602) (pygls answers nothing).
- `structure_message`: a message that does not parse becomes `Unparsable` instead of an
  exception that reaches pygls' read loop ("Error in server" pop-up, no response).
- `lsp_text_document__did_change`: a change to a document that was never opened is logged and
  ignored (pygls raises KeyError).
- `GuardedInput`: the read loop parses with the C json module and `object_hook`, which fails
  with RecursionError on deeply nested JSON: such a message is answered here, before pygls.
- `forget_progress_token`: pygls never forgets ended progress tokens (pygls #607).
(`report_server_error`, a documented public hook, is overridden in `server.py`: errors outside a
request go to the log instead of a `window/showMessage` pop-up.)
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcServerNotInitialized,
)
from pygls.progress import Progress
from pygls.protocol import LanguageServerProtocol, lsp_method

__all__ = [
    "MAX_DEPTH",
    "CancelRouter",
    "EnvlayersProtocol",
    "GuardedInput",
    "Unparsable",
    "forget_progress_token",
    "is_expected_error_record",
]

log = logging.getLogger(__name__)

MAX_DEPTH = 256  # LSP messages nest a dozen levels; nothing legitimate comes near this
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class CancelRouter:
    """What the protocol asks the server: does this `$/cancelRequest` belong to a job?"""

    def cancel_client_request(self, msg_id: object) -> bool:
        return False


@dataclass(frozen=True)
class Unparsable:
    """A message pygls could not structure (or that was too deep to parse)."""

    msg_id: object
    method: str | None
    reason: str
    jsonrpc: str = "2.0"


class EnvlayersProtocol(LanguageServerProtocol):
    """pygls' protocol with the lifecycle and error behaviour JSON-RPC and LSP require."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._initialize_seen = False
        self._rejected: Unparsable | None = None
        self._reject_lock = threading.Lock()

    # -- messages in -------------------------------------------------------------------
    def reject_next(self, rejected: Unparsable) -> None:
        """Called by `GuardedInput` (reader thread) for the message it is about to hand over."""
        with self._reject_lock:
            self._rejected = rejected

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "jsonrpc" not in data:
                raise
            method = data.get("method")
            reason = f"invalid params for {method}" if method else "invalid message"
            cause = exc.__cause__
            if cause is not None:
                reason = f"{reason}: {_first_line(cause)}"
            return Unparsable(data.get("id"), method if isinstance(method, str) else None, reason)

    def handle_message(self, message: Any) -> None:
        with self._reject_lock:
            rejected, self._rejected = self._rejected, None
        if rejected is not None:
            message = rejected
        if isinstance(message, Unparsable):
            if message.msg_id is not None and message.method is not None:
                self._answer_error(message.msg_id, JsonRpcInvalidParams(message.reason))
            else:
                log.warning("ignored a message that does not parse: %s", message.reason)
            return
        method = getattr(message, "method", None)
        msg_id = getattr(message, "id", None) if method is not None else None
        if method == types.INITIALIZE:
            if self._initialize_seen:
                self._answer_error(msg_id, JsonRpcInvalidRequest("initialize was already sent"))
                return
            self._initialize_seen = True
        elif not self._initialize_seen and method is not None and method != types.EXIT:
            if msg_id is not None:
                self._answer_error(msg_id, JsonRpcServerNotInitialized("server not initialized"))
            return
        if self._shutdown and method is not None and method != types.EXIT:
            if msg_id is not None:
                self._answer_error(msg_id, JsonRpcInvalidRequest("the server is shut down"))
            return
        super().handle_message(message)

    def _answer_error(self, msg_id: Any, error: JsonRpcException) -> None:
        self._send_response(msg_id, error=error.to_response_error())

    # -- handlers ------------------------------------------------------------------------
    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        def done(future: Any) -> None:
            self._request_futures.pop(msg_id, None)
            callback(future)

        super()._execute_handler(msg_id, handler, done, args, kwargs)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        server = self._server
        if isinstance(server, CancelRouter) and server.cancel_client_request(msg_id):
            return
        super()._handle_cancel_notification(msg_id)

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current = self.msg_id
        # A snapshot: cancelling a future runs its done-callback, which pops the dict.
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current and not future.done():
                future.cancel()
        self._shutdown = True
        return None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: types.DidChangeTextDocumentParams
    ) -> Generator[Any, Any, None]:
        uri = params.text_document.uri
        if unquote(uri) not in self.workspace.text_documents:
            log.info("ignored didChange for %s: the document was never opened", uri)
            return
        for change in params.content_changes:
            self.workspace.update_text_document(params.text_document, change)
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield user_handler, (params,), None


class GuardedInput:
    """The server's stdin as pygls reads it (`readline`, `read`), which answers a message nested
    deeper than MAX_DEPTH itself: pygls gets the message with its deep values cut to null."""

    def __init__(self, raw: BinaryIO, protocol: EnvlayersProtocol) -> None:
        self._raw = raw
        self._protocol = protocol

    def readline(self) -> bytes:
        return self._raw.readline()

    def read(self, n: int) -> bytes:
        body = self._raw.read(n)
        if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
            return body
        cut = _cut_deep(body)
        if cut is None:
            return body
        try:
            head = json.loads(cut)
        except ValueError:
            return body  # not JSON at all: pygls' own error path
        if isinstance(head, dict):
            method = head.get("method")
            self._protocol.reject_next(
                Unparsable(
                    head.get("id"),
                    method if isinstance(method, str) else None,
                    f"the message is nested deeper than {MAX_DEPTH} levels",
                )
            )
        return cut


def _cut_deep(body: bytes) -> bytes | None:
    """`body` with every value below the top level replaced by null when it nests deeper than
    MAX_DEPTH; None when it does not."""
    depth = deepest = 0
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _TOKENS.finditer(body):
        token = match.group()
        if token.startswith(b'"'):
            continue
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
            if depth == 2:
                start = match.start()
        else:
            if depth == 2:
                spans.append((start, match.end()))
            depth -= 1
    if deepest <= MAX_DEPTH:
        return None
    out, last = [], 0
    for a, b in spans:
        out += [body[last:a], b"null"]
        last = b
    out.append(body[last:])
    return b"".join(out)


def forget_progress_token(progress: Progress, token: str) -> None:
    """Drop an ended token from pygls' table (pygls #607: it keeps every one)."""
    progress.tokens.pop(token, None)


def is_expected_error_record(record: logging.LogRecord) -> bool:
    """pygls logs a traceback for every error response; ours (with `data.kind`) are answers."""
    exc = record.exc_info[1] if record.exc_info else None
    data = getattr(exc, "data", None)
    return isinstance(data, dict) and "kind" in data


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
