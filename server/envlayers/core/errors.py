"""Errors are values with fields; the CLI and the server map them to exit codes and
JSON-RPC errors once, at the edge."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "Cancelled",
    "ConfigError",
    "EnvlayersError",
    "InstallFailed",
    "InterpreterNotFound",
    "InvalidInput",
    "InvalidRequirement",
    "OperationFailed",
]


class EnvlayersError(Exception):
    """Base of every error the core raises on purpose."""

    kind: str = "install-failed"
    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(EnvlayersError):
    """The user gave something we cannot use: exit 2, `invalid-input`."""

    kind = "invalid-input"
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        where = ""
        if file is not None:
            where = file if line is None else f"{file}:{line}"
            if line is not None and column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {message}" if where else message)
        self.detail = message
        self.file = file
        self.line = line
        self.column = column


class InvalidRequirement(InvalidInput):
    """A requirement string that does not parse (or is not allowed)."""

    def __init__(
        self,
        text: str,
        reason: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(
            f"invalid requirement {text!r}: {reason}", file=file, line=line, column=column
        )
        self.text = text
        self.reason = reason


class ConfigError(InvalidInput):
    """A bad key or value in `[tool.envlayers]` (or another table we read)."""

    def __init__(
        self,
        key: str,
        reason: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(f"{key}: {reason}", file=file, line=line, column=column)
        self.key = key
        self.reason = reason


class InterpreterNotFound(EnvlayersError):
    """No interpreter matches the request."""

    kind = "interpreter-not-found"
    exit_code = 1

    def __init__(self, request: str, reason: str = "") -> None:
        msg = f"no Python interpreter found for {request!r}"
        super().__init__(f"{msg}: {reason}" if reason else msg)
        self.request = request


class OperationFailed(EnvlayersError):
    """Something we ran or wrote failed (disk, permissions, a corrupt cache entry)."""


class InstallFailed(EnvlayersError):
    """An installer exited non-zero; `stderr_tail` holds its last lines (credentials redacted)."""

    kind = "install-failed"

    def __init__(
        self, cmd: Sequence[str], returncode: int, stderr_tail: str, *, what: str = ""
    ) -> None:
        shown = " ".join(cmd)
        head = f"{what}: " if what else ""
        tail = f"\n{stderr_tail.rstrip()}" if stderr_tail.strip() else ""
        super().__init__(f"{head}installer failed (exit {returncode}): {shown}{tail}")
        self.cmd = tuple(cmd)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class Cancelled(EnvlayersError):
    """The caller cancelled the operation; nothing half-built is left in use."""

    kind = "cancelled"
    exit_code = 1

    def __init__(self, message: str = "operation cancelled") -> None:
        super().__init__(message)
