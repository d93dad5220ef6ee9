"""The no-op fast path: a repeated `env` / `sync` whose inputs did not change is a file compare.

After each compose or sync the engine stores the report with a `Snapshot` (the `stat`) of every
file and folder it was computed from (`<workspace>/.envlayers/report-cache.bin`). A later
identical request whose snapshot is unchanged prints that report (`core.render`) without
importing the engine, probing an interpreter or starting a process. Only builtin modules, `os`
and the stdlib-only `redact`, `render` and `snapshot` are imported here: it reads a `marshal`
file (a builtin module) and never imports `json`, `re`, `hashlib` or `pathlib`, which would cost
more than the rest of the work together.
"""

from __future__ import annotations

import marshal
import os
import sys

from envlayers.core.locate import find_project_str, find_workspace_str
from envlayers.core.redact import redact
from envlayers.core.snapshot import Snapshot, stat_all

# Not `typing.TYPE_CHECKING`: importing typing costs milliseconds on the hot path.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["CACHE_NAME", "find_root", "lookup", "member_key", "request_key", "stat_all", "store"]

CACHE_NAME = "report-cache.bin"
_FORMAT = 3
# marshal's format belongs to the Python that wrote it: the header names both.
_HEADER = f"envlayers-fast {_FORMAT} {sys.version}\n".encode()
_MAX_ENTRIES = 16


def request_key(command: str, options: Mapping[str, object]) -> str:
    """A canonical text of the request, credentials redacted (no hashing: `hashlib` alone
    costs 5 ms to import)."""
    items = sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items())
    return redact(repr((_FORMAT, command, items, os.environ.get("ENVLAYERS_CACHE_DIR", ""))))


def find_root(start: str) -> str | None:
    """The workspace folder of `start`: `locate.find_workspace_str` (the one walk, a uv
    workspace's root for its members), with `os.path` only."""
    return find_workspace_str(os.path.expanduser(start))


def member_key(start: str, root: str) -> dict[str, str]:
    """What a request from inside a uv workspace member adds to its key: the member folder
    (its default package), so two members of one workspace never share a stored report."""
    member = find_project_str(os.path.expanduser(start))
    return {"member": member} if member is not None and member != root else {}


def _read(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except OSError:
        return None
    if not blob.startswith(_HEADER):
        return None
    try:
        data = marshal.loads(blob[len(_HEADER) :])
    except (ValueError, EOFError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def lookup(root: str, key: str) -> dict[str, Any] | None:
    """The stored entry for `key` when nothing it was computed from has changed."""
    entries = _read(os.path.join(root, ".envlayers", CACHE_NAME))
    entry = entries.get(key) if entries is not None else None
    if not isinstance(entry, dict):
        return None
    paths, stats = entry.get("paths"), entry.get("stats")
    if not (isinstance(paths, list) and isinstance(stats, list)):
        return None
    # An entry must vouch for this workspace's pyproject.toml: its inode and mtime in
    # nanoseconds cannot be guessed, so a crafted file (a committed `.envlayers/`) never matches.
    if os.path.join(root, "pyproject.toml") not in paths:
        return None
    try:
        if Snapshot(paths, stats).changed():
            return None
    except ValueError:  # not one stat per path: not ours
        return None
    return entry


def store(
    root: str,
    key: str,
    paths: Sequence[str],
    stats: Sequence[object],
    report: Mapping[str, object],
) -> None:
    """Remember `report` (its keys in `Report.to_json` order, without `env`) for `key`."""
    import json

    from envlayers.core.fsutil import atomic_write_bytes

    target = os.path.join(root, ".envlayers", CACHE_NAME)
    kept = _read(target) or {}
    kept.pop(key, None)
    while len(kept) >= _MAX_ENTRIES:
        kept.pop(next(iter(kept)))
    # The JSON rendering, split where `env` (which depends on the caller's PATH) goes.
    marker = "\x00env\x00"
    text = json.dumps(_with_env(report, marker), indent=2)
    before, _, after = text.partition(json.dumps(marker))
    kept[key] = {
        "paths": list(paths),
        "stats": list(stats),
        "report": _plain(report),
        "json": (before, after),
    }
    try:  # a cache that cannot be written only costs speed
        atomic_write_bytes(target, _HEADER + marshal.dumps(kept))
    except (OSError, ValueError):
        return


def _plain(value: object) -> Any:
    """Only marshal's own types (dicts, lists, str, numbers, bools, None)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _with_env(report: Mapping[str, object], env: object) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in report.items():
        if key == "env":
            continue
        out[key] = value
        if key == "pathPrefix":
            out["env"] = env
    return out
