"""Which workspace a request names, and its lock: the front door of every engine call."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from envlayers.core.errors import InvalidInput, OperationFailed
from envlayers.core.flock import FileLock
from envlayers.core.fsutil import atomic_write_text
from envlayers.core.locate import find_project_str, find_workspace
from envlayers.core.redact import redact

__all__ = ["resolve_member", "resolve_workspace", "workspace_lock"]

log = logging.getLogger(__name__)


def resolve_workspace(value: str | os.PathLike[str]) -> Path:
    """A folder URI or path (or a file inside one) -> the workspace folder holding pyproject.toml
    (a uv workspace's root for a path inside one of its members)."""
    path = _start_path(value)
    try:
        return find_workspace(path if path.is_dir() else path.parent)
    except OSError as exc:  # a name too long, a loop of links: bad input, not a crash
        raise InvalidInput(f"cannot use workspace {str(path)[:200]!r}: {exc.strerror}") from exc


def resolve_member(value: str | os.PathLike[str], root: Path) -> Path | None:
    """The uv workspace member folder that `value` is in, when that is not `root` itself."""
    path = _start_path(value)
    found = find_project_str(str(path if path.is_dir() else path.parent))
    return Path(found) if found is not None and Path(found) != root else None


def _start_path(value: str | os.PathLike[str]) -> Path:
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
    except OSError as exc:
        raise InvalidInput(f"cannot use workspace {str(path)[:200]!r}: {exc.strerror}") from exc
    return path


def workspace_lock(root: Path) -> FileLock:
    """The lock that serialises operations on the workspace `root` (across processes)."""
    d = root / ".envlayers"
    if d.is_symlink() or (os.path.lexists(d) and not d.is_dir()):
        # A repository can commit `.envlayers` as a link: everything envlayers writes and
        # replaces there would land wherever it points.
        raise OperationFailed(
            f"{d} is a symbolic link or not a folder: envlayers keeps its state there and "
            "does not follow it out of the workspace; remove it and run again"
        )
    d.mkdir(exist_ok=True)
    ignore = d / ".gitignore"
    if not ignore.exists():
        atomic_write_text(ignore, "*\n", durable=False)
    return FileLock(
        str(d / ".lock"),
        timeout=3600,
        on_wait=lambda: log.info("waiting for another envlayers command on %s to finish", root),
    )
