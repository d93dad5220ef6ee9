"""The no-op fast path: a repeated `env` / `sync` whose inputs did not change is a file compare.

After each compose or sync the engine stores the report with the `stat` of every file and
folder it was computed from (`<workspace>/.envlayers/report-cache.json`). A later identical
request whose stats all match prints that report without importing the engine, probing an
interpreter or starting a process. Stdlib only: this module is imported on the hot path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from envlayers.core.fsutil import atomic_write_json, read_json

__all__ = ["find_root", "lookup", "request_key", "stat_all", "store"]

CACHE_NAME = "report-cache.json"
_FORMAT = 1
_MAX_ENTRIES = 16


def stat_all(paths: Sequence[str]) -> list[object]:
    """(mtime_ns, size, inode) of each path, None where missing: cheap and exact enough."""
    out: list[object] = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            out.append(None)
            continue
        out.append([st.st_mtime_ns, st.st_size, st.st_ino])
    return out


def request_key(command: str, options: Mapping[str, object]) -> str:
    blob = json.dumps(
        [_FORMAT, command, dict(options), os.environ.get("ENVLAYERS_CACHE_DIR", "")],
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def find_root(start: str) -> Path | None:
    """The folder holding pyproject.toml at or above `start` (no other checks)."""
    path = Path(os.path.abspath(os.path.expanduser(start)))
    if path.is_file():
        path = path.parent
    for candidate in (path, *path.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate
    return None


def lookup(root: Path, key: str) -> dict[str, object] | None:
    """The stored report for `key` when nothing it was computed from has changed."""
    data = read_json(root / ".envlayers" / CACHE_NAME)
    if data is None or data.get("format") != _FORMAT:
        return None
    entries = data.get("entries")
    entry = entries.get(key) if isinstance(entries, dict) else None
    if not isinstance(entry, dict):
        return None
    paths, stats, report = entry.get("paths"), entry.get("stats"), entry.get("report")
    if not (isinstance(paths, list) and isinstance(stats, list) and isinstance(report, dict)):
        return None
    if stat_all([str(p) for p in paths]) != stats:
        return None
    return report


def store(
    root: Path,
    key: str,
    paths: Sequence[str],
    stats: Sequence[object],
    report: Mapping[str, object],
) -> None:
    """Remember `report` for `key`; `stats` were taken of `paths` before the inputs were read."""
    target = root / ".envlayers" / CACHE_NAME
    data = read_json(target) or {}
    entries = data.get("entries") if data.get("format") == _FORMAT else None
    kept = dict(entries) if isinstance(entries, dict) else {}
    kept.pop(key, None)
    while len(kept) >= _MAX_ENTRIES:
        kept.pop(next(iter(kept)))
    kept[key] = {"paths": list(paths), "stats": list(stats), "report": dict(report)}
    with contextlib.suppress(OSError):  # a cache that cannot be written only costs speed
        atomic_write_json(target, {"format": _FORMAT, "entries": kept})
