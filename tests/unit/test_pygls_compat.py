"""The pygls internals `envlayers.lsp._pygls_compat` relies on still exist as it expects them.

When pygls changes under the overrides, this fails instead of the server: re-check each
override against the new pygls, then move the pin in pyproject.toml.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Callable, Iterator
from importlib.metadata import version
from typing import Any

import pytest
from lsprotocol import types
from packaging.version import Version
from pygls.lsp.server import LanguageServer
from pygls.progress import Progress
from pygls.protocol import JsonRPCProtocol, LanguageServerProtocol
from pygls.workspace import Workspace

from envlayers.lsp import _pygls_compat as compat
from envlayers.lsp.server import EnvlayersServer, build_server


@pytest.fixture
def server() -> Iterator[EnvlayersServer]:
    built = build_server()
    yield built
    built.close_pools()  # also removes its log handler


def _params(fn: Any) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_pygls_is_the_pinned_minor_version() -> None:
    assert Version(version("pygls")).release[:2] == (2, 1)


def test_private_methods_have_the_signatures_overridden() -> None:
    assert _params(JsonRPCProtocol._execute_handler) == [
        "self",
        "msg_id",
        "handler",
        "callback",
        "args",
        "kwargs",
    ]
    assert _params(JsonRPCProtocol._handle_cancel_notification) == ["self", "msg_id"]
    assert _params(JsonRPCProtocol._send_response) == ["self", "msg_id", "result", "error"]
    assert _params(JsonRPCProtocol.structure_message) == ["self", "data"]
    assert _params(JsonRPCProtocol.handle_message) == ["self", "message"]
    assert _params(Workspace.update_text_document) == ["self", "text_doc", "change"]
    # The builtin features replaced by name: pygls registers them by `method_name`.
    shutdown = LanguageServerProtocol.lsp_shutdown
    change = LanguageServerProtocol.lsp_text_document__did_change
    assert getattr(shutdown, "method_name", None) == types.SHUTDOWN
    assert getattr(change, "method_name", None) == types.TEXT_DOCUMENT_DID_CHANGE
    assert inspect.isgeneratorfunction(shutdown) and inspect.isgeneratorfunction(change)


def test_private_state_the_overrides_use(server: EnvlayersServer) -> None:
    protocol = server.protocol
    assert isinstance(protocol, compat.EnvlayersProtocol)
    assert isinstance(protocol._request_futures, dict)
    assert protocol._shutdown is False
    assert isinstance(protocol.fm.features, dict)
    assert isinstance(server.work_done_progress, Progress)
    assert isinstance(server.work_done_progress.tokens, dict)
    # Our overrides are the registered builtins, not pygls' own.
    builtins = protocol.fm.builtin_features
    assert builtins[types.SHUTDOWN].__func__ is compat.EnvlayersProtocol.lsp_shutdown
    assert (
        builtins[types.TEXT_DOCUMENT_DID_CHANGE].__func__
        is compat.EnvlayersProtocol.lsp_text_document__did_change
    )
    # pygls' stdio loop reads with readline() / read(n): GuardedInput provides exactly those.
    source = inspect.getsource(__import__("pygls.io_", fromlist=["StdinAsyncReader"]))
    assert "self.stdin.readline" in source and "self.stdin.read, n" in source
    assert LanguageServer.report_server_error is not type(server).report_server_error


def test_shutdown_pops_nothing_while_iterating(server: EnvlayersServer) -> None:
    """The pygls bug the override fixes: cancelling a future pops `_request_futures`."""
    from concurrent.futures import Future

    protocol = server.protocol
    assert isinstance(protocol, compat.EnvlayersProtocol)
    pending: list[Future[Any]] = []

    def forget(msg_id: str) -> Callable[[Future[Any]], None]:
        def callback(_: Future[Any]) -> None:
            protocol._request_futures.pop(msg_id, None)

        return callback

    for n in range(3):
        future: Future[Any] = Future()
        future.add_done_callback(forget(f"x{n}"))
        protocol._request_futures[f"x{n}"] = future
        pending.append(future)
    gen = protocol.lsp_shutdown()
    next(gen)  # the user's shutdown handler runs first
    with pytest.raises(StopIteration):
        gen.send(None)
    assert all(f.cancelled() for f in pending)
    assert protocol._shutdown is True


def test_cut_deep_keeps_the_top_level() -> None:
    deep = "[" * 1000 + "1" + "]" * 1000
    body = ('{"id": 7, "method": "m", "params": {"a": "[[[", "b": ' + deep + "}}").encode()
    cut = compat._cut_deep(body)
    assert cut is not None and json.loads(cut) == {"id": 7, "method": "m", "params": None}
    assert compat._cut_deep(b'{"id": 1, "params": {"a": [[1]]}}') is None


def test_expected_errors_are_quiet() -> None:
    from envlayers.lsp.errors import EnvlayersRpcError

    err = EnvlayersRpcError("invalid-input", "no")
    record = logging.LogRecord("pygls", logging.ERROR, "", 0, "x", (), (type(err), err, None))
    assert compat.is_expected_error_record(record)
    plain = logging.LogRecord("pygls", logging.ERROR, "", 0, "x", (), None)
    assert not compat.is_expected_error_record(plain)
