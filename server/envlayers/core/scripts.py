"""Console scripts: rewrite their shebangs so they run under another interpreter.

Handles `#!/abs/python`, `#!/usr/bin/env python3`, pip/distlib's `/bin/sh` + `'''exec'` long
form and uv's relocatable form (left alone: it finds `python` next to itself). Binary,
non-UTF-8 and unreadable files are never rewritten.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from envlayers.core.fsutil import atomic_write_text, remove_file

__all__ = [
    "link_scripts",
    "relocate_scripts",
    "retarget_scripts",
    "rewrite_shebang",
    "shebang_for",
    "shebang_python",
]

log = logging.getLogger(__name__)

# Linux rejects longer shebang lines; pip and uv switch to the /bin/sh form past it.
_MAX_SHEBANG = 127
_PY_NAME = re.compile(r"^python(?:w)?(?:\d+(?:\.\d+)?)?(?:\.exe)?$")
_SH_EXEC = re.compile(r"^'''exec' (\"[^\"]*\"|'[^']*'|\S+)( .*)$")
_SKIP = re.compile(
    r"^(?:python(?:w)?(?:\d+(?:\.\d+)?)?(?:\.exe)?|activate.*|deactivate.*|pydoc.*)$"
)


def shebang_for(python: str) -> str:
    """The shebang text (without trailing newline) that runs `python`."""
    line = f"#!{python}"
    if len(line) <= _MAX_SHEBANG and " " not in python:
        return line
    quoted = "'" + python.replace("'", "'\"'\"'") + "'"
    return f"#!/bin/sh\n'''exec' {quoted} \"$0\" \"$@\"\n' '''"


def _is_python(command: str) -> bool:
    return bool(_PY_NAME.match(os.path.basename(command)))


def rewrite_shebang(text: str, python: str) -> str | None:
    """`text` with its Python shebang pointing at `python`; None when it is not a Python script."""
    if not text.startswith("#!"):
        return None
    first, _, rest = text.partition("\n")
    cmd = first[2:].strip()
    parts = cmd.split()
    if not parts:
        return None
    if parts[0] == "/bin/sh" and len(parts) == 1:
        second, _, tail = rest.partition("\n")
        m = _SH_EXEC.match(second)
        if m is None:
            return None
        target = m.group(1).strip("\"'")
        if "$(" in target or "`" in target or not _is_python(target):
            # uv's relocatable form resolves `python` beside the script: already right.
            return None
        after = tail.partition("\n")
        # Drop the `' '''` line that closes the sh form; shebang_for adds its own.
        body = after[2] if after[0].strip() == "' '''" else tail
        return shebang_for(python) + "\n" + body
    if os.path.basename(parts[0]) == "env" and len(parts) >= 2:
        if not _is_python(parts[-1]):
            return None
    elif not _is_python(parts[0]):
        return None
    return shebang_for(python) + "\n" + rest


def _read_script(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            if head != b"#!":
                return None
            data = head + fh.read()
    except OSError:
        return None
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def relocate_scripts(scripts_dir: Path, *, old_prefix: Path, new_prefix: Path) -> list[Path]:
    """Point scripts that name `old_prefix`'s interpreter at the same path under `new_prefix`;
    returns the scripts it rewrote."""
    changed: list[Path] = []
    if not scripts_dir.is_dir():
        return changed
    old, new = str(old_prefix), str(new_prefix)
    for entry in scripts_dir.iterdir():
        if entry.is_symlink() or not entry.is_file():
            continue
        text = _read_script(entry)
        if text is None or old not in text.partition("\n")[0] + text[:512]:
            continue
        first_lines = text.split("\n", 3)
        head = "\n".join(first_lines[:3])
        fixed = head.replace(old, new) + ("\n" + first_lines[3] if len(first_lines) > 3 else "")
        _write_like(entry, fixed)
        changed.append(entry)
    return changed


def shebang_python(text: str) -> str | None:
    """The interpreter a script's shebang runs directly: `#!/abs/python` or the `/bin/sh`
    exec long form; None for `env`, uv's relocatable form and what is not a shebang."""
    if not text.startswith("#!"):
        return None
    first, _, rest = text.partition("\n")
    cmd = first[2:].strip()
    if cmd == "/bin/sh":
        m = _SH_EXEC.match(rest.partition("\n")[0])
        if m is None or "$(" in m.group(1) or "`" in m.group(1):
            return None
        quoted = m.group(1)
        if quoted.startswith("'"):
            return quoted[1:-1].replace("'\"'\"'", "'")
        return quoted.strip('"')
    return cmd if cmd and " " not in cmd else None


def retarget_scripts(scripts_dir: Path, *, old_python: str, new_python: str) -> list[Path]:
    """Point the scripts whose shebang runs exactly `old_python` at `new_python` (an install
    made with the base interpreter into a venv's prefix names the base); returns those."""
    changed: list[Path] = []
    if not scripts_dir.is_dir():
        return changed
    for entry in sorted(scripts_dir.iterdir()):
        if entry.is_symlink() or not entry.is_file():
            continue
        text = _read_script(entry)
        if text is None or shebang_python(text) != old_python:
            continue
        fixed = rewrite_shebang(text, new_python)
        if fixed is not None and fixed != text:
            _write_like(entry, fixed)
            changed.append(entry)
    return changed


def link_scripts(sources: Sequence[Path], dest: Path, python: str) -> list[str]:
    """Fill `dest` with the scripts of `sources` (first wins), shebangs rewritten to `python`.

    Text scripts are copied (Python ones with their shebang rewritten); binaries and files we
    cannot read as UTF-8 are symlinked as they are; unreadable files are skipped. Returns the names placed.
    """
    dest.mkdir(parents=True, exist_ok=True)
    taken = {e.name for e in dest.iterdir()}
    placed: list[str] = []
    for src_dir in sources:
        try:
            entries = sorted(src_dir.iterdir(), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if name in taken or _SKIP.match(name) or name.startswith("."):
                continue
            try:
                if not entry.is_file():
                    continue
                readable = os.access(entry, os.R_OK)
            except OSError:
                continue
            if not readable:
                log.debug("skipping unreadable script %s", entry)
                continue
            target = dest / name
            text = _read_script(entry)
            rewritten = rewrite_shebang(text, python) if text is not None else None
            try:
                if text is not None:
                    # Copied even when not rewritten: uv's relocatable scripts find `python`
                    # next to their real path, which must be ours, not the source's.
                    target.write_text(
                        rewritten if rewritten is not None else text, encoding="utf-8"
                    )
                    shutil.copymode(entry, target)
                else:
                    os.symlink(entry, target)
            except OSError as exc:
                log.warning("could not place script %s: %s", entry, exc)
                with contextlib.suppress(OSError):
                    remove_file(target, roots=[target.parent])
                continue
            taken.add(name)
            placed.append(name)
    return placed


def _write_like(path: Path, text: str) -> None:
    atomic_write_text(path, text, mode=path.stat().st_mode, durable=False)
