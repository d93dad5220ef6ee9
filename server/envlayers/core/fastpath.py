"""The no-op fast path: a repeated `env` / `sync` whose inputs did not change is a file compare.

After each compose or sync the engine stores the report with the `stat` of every file and
folder it was computed from (`<workspace>/.envlayers/report-cache.bin`). A later identical
request whose stats all match prints that report without importing the engine, probing an
interpreter or starting a process. Only builtin modules and `os` are imported here: this
module (and the renderings it shares with `report`) is on the hot path: it reads a `marshal`
file (a builtin module) and never imports `json`, `hashlib` or `pathlib`, which would cost
more than the rest of the work together.
"""

from __future__ import annotations

import marshal
import os
import sys

# Not `typing.TYPE_CHECKING`: importing typing costs milliseconds on the hot path.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

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

CACHE_NAME = "report-cache.bin"
_FORMAT = 3
# marshal's format belongs to the Python that wrote it: the header names both.
_HEADER = f"envlayers-fast {_FORMAT} {sys.version}\n".encode()
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
        out.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return out


def request_key(command: str, options: Mapping[str, object]) -> str:
    """A canonical text of the request, credentials scrubbed (no hashing: `hashlib` alone
    costs 5 ms to import, and no `re`: see `_scrub`)."""
    items = sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items())
    return _scrub(repr((_FORMAT, command, items, os.environ.get("ENVLAYERS_CACHE_DIR", ""))))


def _scrub(text: str) -> str:
    """`scheme://user:token@host` -> `scheme://****@host`, with string methods only."""
    out, start = [], 0
    while (i := text.find("://", start)) >= 0:
        head = i + 3
        end = len(text)
        for stop in "/?#'\" ,)":
            j = text.find(stop, head)
            if 0 <= j < end:
                end = j
        at = text.rfind("@", head, end)
        out.append(text[start:head])
        if at >= 0:
            out.append("****")
            start = at
        else:
            start = head
    out.append(text[start:])
    return "".join(out)


def find_root(start: str) -> str | None:
    """The folder holding pyproject.toml at or above `start` (no other checks)."""
    path = os.path.abspath(os.path.expanduser(start))
    if os.path.isfile(path):
        path = os.path.dirname(path)
    while True:
        if os.path.isfile(os.path.join(path, "pyproject.toml")):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


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
    if stat_all(paths) != stats:
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


# -- renderings shared with `report` -----------------------------------------------------------
def composed_env(
    virtual_env: str, path_prefix: Sequence[str], inherited_path: str | None = None
) -> dict[str, str]:
    """VIRTUAL_ENV and PATH for a terminal, task or debugger; never PYTHONPATH."""
    current = os.environ.get("PATH", "") if inherited_path is None else inherited_path
    parts = list(path_prefix)
    parts += [p for p in current.split(os.pathsep) if p and p not in parts]
    return {"VIRTUAL_ENV": virtual_env, "PATH": os.pathsep.join(parts)}


def _jstr(text: str) -> str:
    """`json.dumps` of one string (ASCII-only output, as json's default), without json."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = []
    for ch in text:
        code = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif ch in _SHORT:
            out.append(_SHORT[ch])
        elif code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return '"' + "".join(out) + '"'


_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def json_text(entry: Mapping[str, Any]) -> str:
    """The JSON report: the stored rendering with `env` computed now, after `pathPrefix`."""
    before, after = entry["json"]
    report = entry["report"]
    prefix = report.get("pathPrefix")
    env = composed_env(
        str(report.get("virtualEnv", "")),
        [str(p) for p in prefix] if isinstance(prefix, list) else [],
    )
    inner = ",\n".join(f"    {_jstr(k)}: {_jstr(v)}" for k, v in env.items())
    return f"{before}{{\n{inner}\n  }}{after}"


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


def render(entry: Mapping[str, Any], fmt: str) -> str | None:
    """A stored entry in `fmt`, or None for formats only the full `report.render` knows."""
    data = entry["report"]
    if fmt == "json":
        return json_text(entry)
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
