"""The no-op fast path: a repeated `env` / `sync` whose inputs did not change is a file compare.

After each compose or sync the engine stores the report with the `stat` of every file and
folder it was computed from (`<workspace>/.envlayers/report-cache.json`). A later identical
request whose stats all match prints that report without importing the engine, probing an
interpreter or starting a process. Only `os`, `json` and `hashlib` are imported here: this
module (and the shell/dotenv renderings it shares with `report`) is on the hot path.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "composed_env",
    "dotenv_lines",
    "find_root",
    "json_text",
    "lookup",
    "request_key",
    "shell_lines",
    "stat_all",
    "store",
    "text_lines",
]

CACHE_NAME = "report-cache.json"
_FORMAT = 2
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


def _read(path: Path) -> dict[str, object] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def lookup(root: Path, key: str) -> dict[str, object] | None:
    """The stored report for `key` when nothing it was computed from has changed."""
    data = _read(root / ".envlayers" / CACHE_NAME)
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
    """Remember `report` (its keys in `Report.to_json` order) for `key`."""
    from envlayers.core.fsutil import atomic_write_text

    target = root / ".envlayers" / CACHE_NAME
    data = _read(target) or {}
    entries = data.get("entries") if data.get("format") == _FORMAT else None
    kept = dict(entries) if isinstance(entries, dict) else {}
    kept.pop(key, None)
    while len(kept) >= _MAX_ENTRIES:
        kept.pop(next(iter(kept)))
    kept[key] = {"paths": list(paths), "stats": list(stats), "report": dict(report)}
    try:  # a cache that cannot be written only costs speed
        atomic_write_text(target, json.dumps({"format": _FORMAT, "entries": kept}))
    except OSError:
        return


# -- renderings shared with `report` -----------------------------------------------------------
def composed_env(
    virtual_env: str, path_prefix: Sequence[str], inherited_path: str | None = None
) -> dict[str, str]:
    """VIRTUAL_ENV and PATH for a terminal, task or debugger; never PYTHONPATH."""
    current = os.environ.get("PATH", "") if inherited_path is None else inherited_path
    parts = list(path_prefix)
    parts += [p for p in current.split(os.pathsep) if p and p not in parts]
    return {"VIRTUAL_ENV": virtual_env, "PATH": os.pathsep.join(parts)}


def json_text(data: Mapping[str, object]) -> str:
    """The JSON report: the stored fields with `env` computed now, after `pathPrefix`."""
    out: dict[str, object] = {}
    for key, value in data.items():
        if key == "env":
            continue
        out[key] = value
        if key == "pathPrefix":
            prefix = value if isinstance(value, list) else []
            out["env"] = composed_env(str(data.get("virtualEnv", "")), [str(p) for p in prefix])
    return json.dumps(out, indent=2)


def shell_lines(env: Mapping[str, str]) -> str:
    import shlex

    lines = [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
    lines.append("unset PYTHONHOME PYTHONPATH")
    return "\n".join(lines)


def dotenv_lines(env: Mapping[str, str]) -> str:
    return "\n".join(f"{k}={_dotenv_quote(v)}" for k, v in env.items())


def _dotenv_quote(value: str) -> str:
    if value and all(c.isalnum() or c in "/._-:+,@%=" for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _strs(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def text_lines(data: Mapping[str, object]) -> str:
    """The human-readable report, from its JSON form."""
    sync = data.get("sync")
    sync = sync if isinstance(sync, dict) else {}
    lines = [
        f"workspace:    {data.get('workspace')}",
        f"composition:  {data.get('name') or '(base only)'}",
        f"interpreter:  {data.get('interpreter')}",
        f"python:       {data.get('pythonVersion')}",
        f"base:         {data.get('baseInterpreter')} ({sync.get('state')})",
    ]
    layers = data.get("layers")
    if isinstance(layers, list) and layers:
        lines.append("layers (top first):")
        for layer in layers:
            if not isinstance(layer, dict):
                continue
            pkgs = layer.get("packages")
            reused = "reused" if layer.get("reused") else "built"
            shown = ", ".join(_strs(layer.get("requirements")))
            lines.append(f"  {layer.get('key')}  [{reused}]  {shown}")
            if isinstance(pkgs, dict):
                lines.append("    " + ", ".join(f"{k} {v}" for k, v in sorted(pkgs.items())))
    else:
        lines.append("layers:       none")
    if satisfied := _strs(data.get("satisfiedByBase")):
        lines.append("satisfied by the base: " + ", ".join(satisfied))
    conflicts = data.get("conflicts")
    for c in conflicts if isinstance(conflicts, list) else []:
        if not isinstance(c, dict):
            continue
        shadows = c.get("shadows")
        shadow_txt = ", ".join(
            f"{s.get('version')} from {s.get('source')}"
            for s in (shadows if isinstance(shadows, list) else [])
            if isinstance(s, dict)
        )
        lines.append(
            f"conflict: {c.get('name')} {c.get('version')} from {c.get('source')} shadows {shadow_txt}"
        )
        lines += [f"  breaks: {b}" for b in _strs(c.get("breaks"))]
    for label, key in (
        ("installed:   ", "installed"),
        ("removed:     ", "removed"),
        ("extraneous:  ", "extraneous"),
    ):
        if items := _strs(sync.get(key)):
            lines.append(f"{label} " + ", ".join(items))
    lines += [f"warning: {w}" for w in _strs(data.get("warnings"))]
    return "\n".join(lines)


def render(data: Mapping[str, object], fmt: str) -> str | None:
    """A stored report in `fmt`, or None for formats only the full `report.render` knows."""
    if fmt == "json":
        return json_text(data)
    if fmt == "text":
        return text_lines(data)
    if fmt in ("shell", "dotenv"):
        prefix = data.get("pathPrefix")
        env = composed_env(
            str(data.get("virtualEnv", "")),
            [str(p) for p in prefix] if isinstance(prefix, list) else [],
        )
        return shell_lines(env) if fmt == "shell" else dotenv_lines(env)
    return None
