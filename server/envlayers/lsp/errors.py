"""Core errors -> JSON-RPC errors, once, at the edge (codes in the server range)."""

from __future__ import annotations

import logging

from pygls.exceptions import JsonRpcException

from envlayers.core.errors import EnvlayersError

__all__ = ["CODES", "INTERNAL", "NOT_AVAILABLE", "EnvlayersRpcError", "to_jsonrpc"]

log = logging.getLogger(__name__)

NOT_AVAILABLE = "not-available"
INTERNAL = "internal-error"
# One code per `kind`, inside -32099..-32000 and clear of -32001/-32002 (used by LSP), except
# `cancelled`: a cancelled request is answered with LSP's RequestCancelled (-32800).
CODES: dict[str, int] = {
    "invalid-input": -32010,
    "install-failed": -32011,
    "interpreter-not-found": -32012,
    "cancelled": -32800,
    NOT_AVAILABLE: -32014,
    INTERNAL: -32099,
}


class EnvlayersRpcError(JsonRpcException):
    """A JSON-RPC error response whose `data` is `{kind, message}`."""

    def __init__(self, kind: str, message: str) -> None:
        code = CODES.get(kind, CODES["install-failed"])
        super().__init__(message=message, code=code, data={"kind": kind, "message": message})
        self.kind = kind


def to_jsonrpc(exc: BaseException) -> EnvlayersRpcError:
    """The error response for `exc` (never a traceback)."""
    if isinstance(exc, EnvlayersRpcError):
        return exc
    if isinstance(exc, EnvlayersError):
        return EnvlayersRpcError(exc.kind, exc.message)
    if isinstance(exc, NotImplementedError):
        return EnvlayersRpcError(NOT_AVAILABLE, str(exc) or "not yet available in this version")
    # A bug, not a user error: log the traceback, answer with the one-line cause.
    log.error("unexpected error", exc_info=exc)
    return EnvlayersRpcError(INTERNAL, f"{type(exc).__name__}: {exc}")
