"""Probe an interpreter (`_probe.py` run inside it) and cache the answer in memory and on disk.

The cache key is the executable's path and its stat-only *identity* (plus the probe script's
digest and a format number), so an unchanged interpreter is never run twice and an upgraded
one is probed afresh. The disk cache lives under `<cache root>/probes/v1`; the root is the
`cache_dir` argument, else the global default (`paths.cache_dir()`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from envlayers.core import proc
from envlayers.core.errors import EnvlayersError, InterpreterNotFound
from envlayers.core.fsutil import atomic_write_text
from envlayers.core.paths import CacheLayout, ensure_cache_dir
from envlayers.core.pyinfo import InterpreterInfo
from envlayers.core.venvfiles import WRITER_KEY, direct_layout, read_pyvenv_cfg

__all__ = [
    "InterpreterInfo",
    "clear_probe_cache",
    "executable_identity",
    "probe",
    "remember_interpreter",
]

log = logging.getLogger(__name__)

_PROBE_SCRIPT = Path(__file__).resolve().parent.parent / "_probe.py"
_PROBE_MARKER = "ENVLAYERS-PROBE:"
PROBE_TIMEOUT = 60.0
# Bump when InterpreterInfo's JSON changes shape; the probe script's own hash is in the key too.
_CACHE_FORMAT = 1


# --------------------------------------------------------------------------- identity


def _stat_part(path: str) -> str:
    st = os.stat(path)
    return f"{path}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}"


def executable_identity(executable: str | Path) -> str:
    """A digest of the resolved binary's stat (and the venv's `pyvenv.cfg`), without a process.

    Raises `InterpreterNotFound` when the executable does not exist.
    """
    exe = os.path.abspath(os.fspath(executable))
    real = os.path.realpath(exe)
    try:
        parts = [_stat_part(real)]
    except OSError as exc:
        raise InterpreterNotFound(exe, f"cannot read it: {exc.strerror or exc}") from exc
    # bin/python -> <prefix>/pyvenv.cfg: a venv's identity also covers its configuration.
    cfg = os.path.join(os.path.dirname(os.path.dirname(exe)), "pyvenv.cfg")
    with contextlib.suppress(OSError):
        parts.append(_stat_part(cfg))
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


# --------------------------------------------------------------------------- probe

_memory: dict[tuple[str, str], InterpreterInfo] = {}
_memory_lock = threading.Lock()
_probe_digest: str | None = None


def clear_probe_cache() -> None:
    """Forget the in-memory probes (the disk cache stays; it is keyed by identity)."""
    with _memory_lock:
        _memory.clear()
        _templates.clear()


def _script_digest() -> str:
    global _probe_digest
    if _probe_digest is None:
        _probe_digest = hashlib.sha256(_PROBE_SCRIPT.read_bytes()).hexdigest()[:16]
    return _probe_digest


def _probes_folder(cache_dir: Path | None) -> Path:
    return CacheLayout.at(cache_dir).probes


def _disk_path(exe: str, identity: str, cache_dir: Path | None) -> Path:
    key = f"{_CACHE_FORMAT}\n{_script_digest()}\n{exe}\n{identity}"
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
    return _probes_folder(cache_dir) / f"{digest}.json"


def probe(executable: str | Path, *, cache_dir: Path | None = None) -> InterpreterInfo:
    """Describe the interpreter at `executable`; runs it only when no cache entry matches.

    `cache_dir` is the cache root whose `probes/` folder holds the disk cache (None: the
    global default). Raises `InterpreterNotFound` when it is missing or does not run.
    """
    exe = os.path.abspath(os.fspath(executable))
    if not os.path.exists(exe):
        raise InterpreterNotFound(exe, "the file does not exist")
    identity = executable_identity(exe)
    with _memory_lock:
        hit = _memory.get((exe, identity))
    if hit is not None:
        return hit
    disk = _disk_path(exe, identity, cache_dir)
    info = _read_disk(disk)
    if info is None:
        info = _written_venv(exe, identity) or _run_probe(exe, identity)
        _write_disk(disk, info, cache_dir)
    with _memory_lock:
        _memory[(exe, identity)] = info
    return info


# realpath of an interpreter -> (its stat, a probe of it or of a venv of it): what a venv that
# `venv.create_venv` wrote for it is described from, without running the venv's python.
_templates: dict[str, tuple[str, InterpreterInfo]] = {}


def remember_interpreter(info: InterpreterInfo) -> None:
    """Keep `info` as the description of `info.base_executable` for the venvs written for it."""
    with contextlib.suppress(OSError):
        part = _stat_part(info.base_executable)
        with _memory_lock:
            _templates[info.base_executable] = (part, info)


def _written_venv(exe: str, identity: str) -> InterpreterInfo | None:
    """The probe of a venv our direct writer made, from its interpreter's, or None."""
    prefix = os.path.dirname(os.path.dirname(exe))
    if os.path.realpath(prefix) != prefix or os.path.basename(exe) != "python":
        return None  # a path through links: let the interpreter say what its prefix is
    cfg = read_pyvenv_cfg(Path(prefix))
    base = cfg.get("base-executable", "")
    if not cfg.get(WRITER_KEY) or os.path.realpath(exe) != base:
        return None
    with _memory_lock:
        known = _templates.get(base)
    try:
        if known is None or _stat_part(base) != known[0]:
            return None
    except OSError:
        return None
    template = known[1]
    layout = direct_layout(template)
    if layout is None or layout.get("lib64") or cfg.get("version") != template.version:
        return None
    site = os.path.join(prefix, str(layout["site"]))
    if not os.path.isdir(site):
        return None
    log.debug("described %s from its interpreter %s", exe, base)
    return replace(
        template,
        executable=exe,
        base_executable=base,
        prefix=prefix,
        is_venv=True,
        purelib=site,
        platlib=site,
        scripts=os.path.join(prefix, "bin"),
        site_packages=(site,),
        identity=identity,
        include_system_site_packages=cfg.get("include-system-site-packages") == "true",
    )


def _read_disk(path: Path) -> InterpreterInfo | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return InterpreterInfo.from_json(data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError) as exc:
        log.debug("ignoring probe cache %s: %s", path, exc)
        return None


def _write_disk(path: Path, info: InterpreterInfo, cache_dir: Path | None) -> None:
    try:
        ensure_cache_dir(cache_dir)
        atomic_write_text(path, json.dumps(info.to_json(), sort_keys=True))
    except OSError as exc:  # a read-only cache only costs a re-probe next time
        log.debug("cannot cache probe of %s: %s", info.executable, exc)


def _run_probe(exe: str, identity: str) -> InterpreterInfo:
    # -I: ignore PYTHON* variables and the user site; -S: see the stdlib's sys.path before site.
    cmd = [exe, "-I", "-S", str(_PROBE_SCRIPT)]
    try:
        result = proc.run(cmd, env=proc.child_env(), timeout=PROBE_TIMEOUT)
    except EnvlayersError as exc:
        if exc.kind == "cancelled":
            raise InterpreterNotFound(exe, f"it did not answer within {PROBE_TIMEOUT:g} s") from exc
        raise InterpreterNotFound(exe, exc.message) from exc
    payload = None
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(_PROBE_MARKER):
            payload = line[len(_PROBE_MARKER) :]
            break
    if result.returncode != 0 or payload is None:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise InterpreterNotFound(
            exe, f"it is not a working Python 3.9+ (exit {result.returncode}): {tail}".rstrip(": ")
        )
    try:
        info = _from_probe(exe, identity, json.loads(payload))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise InterpreterNotFound(exe, f"its probe answered nonsense: {exc!r}") from exc
    log.debug("probed %s: %s %s", exe, info.implementation, info.version)
    return info


def _from_probe(exe: str, identity: str, raw: Any) -> InterpreterInfo:
    """The probe script's JSON (snake_case keys) as an `InterpreterInfo`."""
    vi = raw["version_info"]
    return InterpreterInfo(
        executable=exe,
        base_executable=str(raw["base_executable"]),
        version=str(raw["version"]),
        version_info=(int(vi[0]), int(vi[1]), int(vi[2])),
        implementation=str(raw["implementation"]),
        prefix=str(raw["prefix"]),
        base_prefix=str(raw["base_prefix"]),
        is_venv=bool(raw["is_venv"]),
        purelib=str(raw["purelib"]),
        platlib=str(raw["platlib"]),
        scripts=str(raw["scripts"]),
        site_packages=tuple(str(p) for p in raw["site_packages"]),
        stdlib=tuple(str(p) for p in raw["stdlib"]),
        marker_env={str(k): str(v) for k, v in raw["marker_env"].items()},
        identity=identity,
        include_system_site_packages=bool(raw["include_system_site_packages"]),
    )
