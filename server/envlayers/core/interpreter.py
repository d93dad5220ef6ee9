"""Find interpreters (python-discovery) and probe them (`_probe.py`), with a cache.

A probe runs a stdlib-only script inside the target interpreter; its answer is cached in
memory and on disk, keyed by the executable's path and its stat-only *identity*, so an
unchanged interpreter is never run twice and an upgraded one is probed afresh.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import os
import shutil
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envlayers.core import proc
from envlayers.core.errors import EnvlayersError, InterpreterNotFound
from envlayers.core.paths import ensure_cache_dir, probes_root
from envlayers.core.venv import WRITER_KEY, direct_layout, read_pyvenv_cfg, venv_python

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

__all__ = [
    "MIN_PYTHON",
    "InterpreterInfo",
    "clear_probe_cache",
    "executable_identity",
    "find_interpreter",
    "probe",
    "remember_interpreter",
    "venv_python_matches",
]

log = logging.getLogger(__name__)

_PROBE_SCRIPT = Path(__file__).resolve().parent.parent / "_probe.py"
_PROBE_MARKER = "ENVLAYERS-PROBE:"
_PROBE_TIMEOUT = 60.0
# Bump when InterpreterInfo's JSON changes shape; the probe script's own hash is in the key too.
_CACHE_FORMAT = 1
_WINDOWS = sys.platform == "win32"
# The oldest Python we manage (the probe script's floor).
MIN_PYTHON = (3, 9)


@dataclass(frozen=True)
class InterpreterInfo:
    executable: str
    base_executable: str
    version: str
    version_info: tuple[int, int, int]
    implementation: str
    prefix: str
    base_prefix: str
    is_venv: bool
    purelib: str
    platlib: str
    scripts: str
    site_packages: tuple[str, ...]
    stdlib: tuple[str, ...]
    marker_env: Mapping[str, str] = field(hash=False)
    identity: str
    include_system_site_packages: bool

    @property
    def major_minor(self) -> str:
        return f"{self.version_info[0]}.{self.version_info[1]}"

    def to_json(self) -> dict[str, object]:
        return {
            "executable": self.executable,
            "baseExecutable": self.base_executable,
            "version": self.version,
            "versionInfo": list(self.version_info),
            "implementation": self.implementation,
            "prefix": self.prefix,
            "basePrefix": self.base_prefix,
            "isVenv": self.is_venv,
            "purelib": self.purelib,
            "platlib": self.platlib,
            "scripts": self.scripts,
            "sitePackages": list(self.site_packages),
            "stdlib": list(self.stdlib),
            "markerEnv": dict(self.marker_env),
            "identity": self.identity,
            "includeSystemSitePackages": self.include_system_site_packages,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> InterpreterInfo:
        """Inverse of `to_json`; raises `ValueError` on a malformed mapping."""
        try:
            vi = [int(x) for x in d["versionInfo"]]
            if len(vi) != 3:
                raise ValueError(f"versionInfo must have 3 parts, not {vi!r}")
            return cls(
                executable=_str(d["executable"]),
                base_executable=_str(d["baseExecutable"]),
                version=_str(d["version"]),
                version_info=(vi[0], vi[1], vi[2]),
                implementation=_str(d["implementation"]),
                prefix=_str(d["prefix"]),
                base_prefix=_str(d["basePrefix"]),
                is_venv=bool(d["isVenv"]),
                purelib=_str(d["purelib"]),
                platlib=_str(d["platlib"]),
                scripts=_str(d["scripts"]),
                site_packages=tuple(_str(x) for x in d["sitePackages"]),
                stdlib=tuple(_str(x) for x in d["stdlib"]),
                marker_env={_str(k): _str(v) for k, v in dict(d["markerEnv"]).items()},
                identity=_str(d["identity"]),
                include_system_site_packages=bool(d["includeSystemSitePackages"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed interpreter info: {exc!r}") from exc


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


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


def _disk_path(exe: str, identity: str) -> Path:
    key = f"{_CACHE_FORMAT}\n{_script_digest()}\n{exe}\n{identity}"
    return (
        probes_root() / f"{hashlib.sha256(key.encode('utf-8', 'surrogateescape')).hexdigest()}.json"
    )


def probe(executable: str | Path) -> InterpreterInfo:
    """Describe the interpreter at `executable`; runs it only when no cache entry matches.

    Raises `InterpreterNotFound` when it is missing or does not run.
    """
    exe = os.path.abspath(os.fspath(executable))
    if not os.path.exists(exe):
        raise InterpreterNotFound(exe, "the file does not exist")
    identity = executable_identity(exe)
    with _memory_lock:
        hit = _memory.get((exe, identity))
    if hit is not None:
        return hit
    disk = _disk_path(exe, identity)
    info = _read_disk(disk)
    if info is None:
        info = _written_venv(exe, identity) or _run_probe(exe, identity)
        _write_disk(disk, info)
    with _memory_lock:
        _memory[(exe, identity)] = info
    return info


# realpath of an interpreter -> (its stat, a probe of it or of a venv of it): what a venv that
# `create_venv` wrote for it is described from, without running the venv's python.
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
    return InterpreterInfo(
        executable=exe,
        base_executable=base,
        version=template.version,
        version_info=template.version_info,
        implementation=template.implementation,
        prefix=prefix,
        base_prefix=template.base_prefix,
        is_venv=True,
        purelib=site,
        platlib=site,
        scripts=os.path.join(prefix, "bin"),
        site_packages=(site,),
        stdlib=template.stdlib,
        marker_env=template.marker_env,
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


def _write_disk(path: Path, info: InterpreterInfo) -> None:
    try:
        ensure_cache_dir()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(info.to_json(), sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # a read-only cache only costs a re-probe next time
        log.debug("cannot cache probe of %s: %s", info.executable, exc)


def _run_probe(exe: str, identity: str) -> InterpreterInfo:
    # -I: ignore PYTHON* variables and the user site; -S: see the stdlib's sys.path before site.
    cmd = [exe, "-I", "-S", str(_PROBE_SCRIPT)]
    try:
        result = proc.run(cmd, env=proc.child_env(), timeout=_PROBE_TIMEOUT)
    except EnvlayersError as exc:
        if exc.kind == "cancelled":
            raise InterpreterNotFound(
                exe, f"it did not answer within {_PROBE_TIMEOUT:g} s"
            ) from exc
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
        raw = json.loads(payload)
        vi = raw["version_info"]
        info = InterpreterInfo(
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
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise InterpreterNotFound(exe, f"its probe answered nonsense: {exc!r}") from exc
    log.debug("probed %s: %s %s", exe, info.implementation, info.version)
    return info


# --------------------------------------------------------------------------- discovery


def _looks_like_path(request: str) -> bool:
    return (
        os.path.isabs(request)
        or os.sep in request
        or (os.altsep is not None and os.altsep in request)
        or request.startswith(".")
    )


def _specifier(text: str) -> SpecifierSet | None:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if not text or text[0] not in "<>=!~":
        return None
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


def _is_version_request(request: str) -> bool:
    """`3.12`, `3.11.7`, `cpython3.12`, `py3`, `>=3.10,<3.13`: what python-discovery parses."""
    head = request.lstrip("<>=!~ ")
    stripped = head.lower()
    for impl in ("cpython", "python", "pypy", "graalpy", "py"):
        if stripped.startswith(impl):
            stripped = stripped[len(impl) :]
            break
    return bool(stripped) and (stripped[0].isdigit() or stripped[0] in "<>=!~")


def _pyenv_roots() -> list[str]:
    roots = [os.environ.get("PYENV_ROOT", ""), os.path.expanduser("~/.pyenv")]
    out: list[str] = []
    for r in roots:
        if r and os.path.isdir(r) and os.path.realpath(r) not in {os.path.realpath(x) for x in out}:
            out.append(r)
    return out


def _pyenv_candidates() -> list[str]:
    """`<pyenv>/versions/*/bin/python3`, newest version first (shims may point elsewhere)."""
    found: list[tuple[tuple[int, ...], str]] = []
    for root in _pyenv_roots():
        for exe in glob.glob(os.path.join(root, "versions", "*", "bin", "python3")):
            name = os.path.basename(os.path.dirname(os.path.dirname(exe)))
            if os.access(exe, os.X_OK):
                found.append((_version_key(name), exe))
    found.sort(key=lambda item: item[0], reverse=True)
    return [exe for _, exe in found]


def _discovery_env() -> dict[str, str]:
    """Our child env, plus every pyenv version in `PYENV_VERSION` (active ones first).

    python-discovery resolves a pyenv shim statically through `PYENV_VERSION`; without it each
    shim of an inactive version is run, fails, and costs most of a second.
    """
    env = proc.child_env()
    roots = _pyenv_roots()
    if not roots:
        return env
    root = env.setdefault("PYENV_ROOT", roots[0])
    active = [v for v in env.get("PYENV_VERSION", "").split(":") if v]
    try:
        with open(os.path.join(root, "version"), encoding="utf-8") as fh:
            active += [v.strip() for v in fh if v.strip() and not v.startswith("#")]
    except OSError:
        pass
    try:
        installed = sorted(
            os.listdir(os.path.join(root, "versions")), key=_version_key, reverse=True
        )
    except OSError:
        installed = []
    ordered = list(dict.fromkeys([*active, *installed]))
    if ordered:
        env["PYENV_VERSION"] = ":".join(ordered)
    return env


def _current_base() -> str:
    """The real interpreter behind the one running us (not our own tool venv)."""
    base = getattr(sys, "_base_executable", "") or sys.executable
    return os.path.realpath(base)


def _discovery_cache() -> Any:
    from python_discovery import DiskCache

    try:
        return DiskCache(ensure_cache_dir() / "probes" / "discovery")
    except OSError as exc:
        log.debug("no discovery cache: %s", exc)
        return None


def _known_versions() -> str:
    names = {os.path.basename(os.path.dirname(os.path.dirname(p))) for p in _pyenv_candidates()}
    names.add(".".join(map(str, sys.version_info[:3])))
    return ", ".join(sorted(names, key=_version_key))


def _version_key(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in name.split("."))
    except ValueError:
        return ()


def _accepts(version: tuple[int, ...], requires_python: str | None) -> bool:
    if not requires_python:
        return True
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return True  # the project module reports a bad requires-python; it must not hide Pythons
    return spec.contains(".".join(map(str, version)), prereleases=True)


def find_interpreter(request: str | None, *, requires_python: str | None = None) -> str:
    """The absolute path of an interpreter for `request`.

    `request` is None, a version (`3.12`, `3.11.7`, `cpython3.12`), a range (`>=3.10,<3.13`),
    a path (relative ones against the current directory) or a name on `PATH`. With None, the
    interpreter running us wins when it satisfies `requires_python`; otherwise the first one
    found that does. For a version request `requires_python` only breaks ties. Raises
    `InterpreterNotFound` with the reason and the versions we know of.
    """
    text = (request or "").strip()
    if not text:
        return _find_default(requires_python)
    if _looks_like_path(text):
        path = os.path.abspath(os.path.expanduser(text))
        probe(path)  # raises InterpreterNotFound when missing or not a working Python
        return path
    if not _is_version_request(text):
        found = shutil.which(text)
        if found is not None:
            return _resolve_name(text, found)
    return _discover(text, requires_python)


def _find_default(requires_python: str | None) -> str:
    if _accepts(sys.version_info[:3], requires_python):
        return _current_base()
    assert requires_python is not None
    if _specifier(requires_python.strip()) is None:
        raise InterpreterNotFound("", f"requires-python {requires_python!r} is not a version range")
    try:
        return _discover(requires_python.strip(), requires_python)
    except InterpreterNotFound as exc:
        raise InterpreterNotFound(
            f"requires-python {requires_python}",
            f"none of the Pythons found satisfies it (known: {_known_versions()})",
        ) from exc


def _resolve_name(name: str, found: str) -> str:
    """A name on PATH; version-manager shims are asked which binary they run."""
    try:
        result = proc.run(
            [found, "-I", "-c", "import sys; sys.stdout.write(sys.executable)"],
            timeout=_PROBE_TIMEOUT,
        )
    except EnvlayersError as exc:
        raise InterpreterNotFound(name, f"{found} does not run: {exc.message}") from exc
    exe = result.stdout.strip()
    if result.returncode != 0 or not exe or not os.path.isabs(exe):
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or [""]
        raise InterpreterNotFound(name, f"{found} does not run: {tail[0]}".rstrip(": "))
    return exe


def _discover(text: str, requires_python: str | None) -> str:
    try:
        from python_discovery import PythonSpec, get_interpreter

        PythonSpec.from_string_spec(text)  # a malformed range fails here, not deep in discovery
    except ValueError as exc:
        raise InterpreterNotFound(text, f"not a valid interpreter request: {exc}") from exc
    cache = _discovery_cache()
    env = _discovery_env()

    def supported(info: Any) -> bool:
        return tuple(info.version_info[:2]) >= MIN_PYTHON

    def both(info: Any) -> bool:
        return supported(info) and _accepts(tuple(info.version_info[:3]), requires_python)

    # The request decides; requires-python only picks among the interpreters that fit it.
    attempts: list[tuple[list[str], Any]] = [([], both), ([], supported)]
    pyenv = _pyenv_candidates()
    if pyenv:  # shims on PATH only reach the active pyenv version; ask every install directly
        attempts += [(pyenv, both), (pyenv, supported)]
    if not requires_python:
        attempts = [a for a in attempts if a[1] is supported]
    for first, predicate in attempts:
        try:
            info = get_interpreter(
                text, try_first_with=first, cache=cache, env=env, predicate=predicate
            )
        except (OSError, RuntimeError, ValueError) as exc:
            log.debug("discovery of %r failed: %s", text, exc)
            info = None
        if info is not None:
            exe = str(info.system_executable or info.executable)
            log.debug("interpreter for %r: %s", text, exe)
            return exe
    if not _is_version_request(text):
        raise InterpreterNotFound(
            text,
            "it is neither a path, a name on PATH, nor a version request such as "
            f"'3.12', 'cpython3.12' or '>=3.10,<3.13' (known: {_known_versions()})",
        )
    raise InterpreterNotFound(
        text,
        f"none of the Pythons found matches (known: {_known_versions()}; "
        f"envlayers manages Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} and newer)",
    )


# --------------------------------------------------------------------------- no-process check


def _cfg_version(cfg: Mapping[str, str]) -> tuple[int, ...] | None:
    raw = cfg.get("version_info") or cfg.get("version") or ""
    parts: list[int] = []
    for piece in raw.split(".")[:3]:
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts) if len(parts) >= 2 else None


def _cfg_base(prefix: Path, cfg: Mapping[str, str], version: tuple[int, ...]) -> str | None:
    """The real interpreter a venv runs, from its pyvenv.cfg, if it still exists."""
    candidates = [cfg.get("base-executable", "")]
    home = cfg.get("home", "")
    if home:
        names = (
            ["python.exe"]
            if _WINDOWS
            else [f"python{version[0]}.{version[1]}", f"python{version[0]}", "python"]
        )
        candidates += [os.path.join(home, n) for n in names]
    for c in candidates:
        if c and os.path.isfile(c):
            return os.path.realpath(c)
    return None


def _same_binary(path: str, base: str) -> bool:
    if os.path.realpath(path) == base:
        return True
    # A pyenv shim (a script) runs versions/*/bin/<name>: compare those without running it.
    shim_dir = os.path.dirname(path)
    for root in _pyenv_roots():
        if os.path.realpath(shim_dir) == os.path.realpath(os.path.join(root, "shims")):
            name = os.path.basename(path)
            for exe in glob.glob(os.path.join(root, "versions", "*", "bin", name)):
                if os.path.realpath(exe) == base:
                    return True
    return False


def venv_python_matches(prefix: Path, request: str | None, requires_python: str | None) -> bool:
    """Whether the venv at `prefix` still fits `request`, judged from files alone (no process).

    False when the venv, its `python` or the interpreter behind it has gone, or when its
    version, implementation or binary no longer matches the request or `requires_python`.
    """
    cfg = read_pyvenv_cfg(prefix)
    if not cfg or not os.path.exists(venv_python(prefix)):
        return False
    version = _cfg_version(cfg)
    if version is None:
        return False
    base = _cfg_base(prefix, cfg, version)
    if base is None:
        return False
    if not _accepts(version, requires_python):
        return False
    text = (request or "").strip()
    if not text:
        return True
    if _looks_like_path(text):
        path = os.path.abspath(os.path.expanduser(text))
        if os.path.realpath(path) == os.path.realpath(venv_python(prefix)):
            return True  # the request names this very venv's python
        return _same_binary(path, base)
    spec = _specifier(text)
    if spec is not None:
        return spec.contains(".".join(map(str, version)), prereleases=True)
    if not _is_version_request(text):
        found = shutil.which(text)
        return found is not None and _same_binary(found, base)
    plain = text[len("python") :] if text.startswith("python") else text
    parts = plain.split(".")
    if 1 <= len(parts) <= 3 and all(p.isdigit() for p in parts):
        # The common `3.12` / `3.12.1`: no need to import python-discovery (~0.1 s).
        return all(got == int(want) for got, want in zip(version, parts, strict=False))
    return _matches_version_spec(text, cfg, version)


def _matches_version_spec(text: str, cfg: Mapping[str, str], version: tuple[int, ...]) -> bool:
    try:
        from python_discovery import PythonSpec

        spec = PythonSpec.from_string_spec(text)
    except ValueError:
        return False
    impl = (cfg.get("implementation") or "cpython").lower()
    if spec.implementation is not None and spec.implementation.lower() not in {impl, "python"}:
        return False
    if spec.version_specifier is not None:
        return _specifier(str(spec.version_specifier)) is not None and bool(
            _accepts(version, str(spec.version_specifier))
        )
    wanted = [spec.major, spec.minor, spec.micro]
    for got, want in zip(version, wanted, strict=False):
        if want is not None and got != want:
            return False
    return spec.major is not None
