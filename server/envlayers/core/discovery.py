"""Find an interpreter for a request: a path, a name on `PATH`, or a version (python-discovery).

pyenv installs are asked directly (their shims only reach the active version), and
`requires-python` breaks ties among the interpreters that fit the request.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from envlayers.core import proc
from envlayers.core.errors import EnvlayersError, InterpreterNotFound
from envlayers.core.paths import CacheLayout
from envlayers.core.probe import PROBE_TIMEOUT, probe
from envlayers.core.pyrequest import (
    MIN_PYTHON,
    accepts,
    is_version_request,
    looks_like_path,
    pyenv_roots,
    specifier,
    version_key,
)

__all__ = ["find_interpreter"]

log = logging.getLogger(__name__)


def _pyenv_candidates() -> list[str]:
    """`<pyenv>/versions/*/bin/python3`, newest version first (shims may point elsewhere)."""
    found: list[tuple[tuple[int, ...], str]] = []
    for root in pyenv_roots():
        for exe in glob.glob(os.path.join(root, "versions", "*", "bin", "python3")):
            name = os.path.basename(os.path.dirname(os.path.dirname(exe)))
            if os.access(exe, os.X_OK):
                found.append((version_key(name), exe))
    found.sort(key=lambda item: item[0], reverse=True)
    return [exe for _, exe in found]


def _discovery_env() -> dict[str, str]:
    """Our child env, plus every pyenv version in `PYENV_VERSION` (active ones first).

    python-discovery resolves a pyenv shim statically through `PYENV_VERSION`; without it each
    shim of an inactive version is run, fails, and costs most of a second.
    """
    env = proc.child_env()
    roots = pyenv_roots()
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
            os.listdir(os.path.join(root, "versions")), key=version_key, reverse=True
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


def _discovery_cache(cache_dir: Path | None) -> Any:
    from python_discovery import DiskCache

    try:
        layout = CacheLayout.at(cache_dir)
        layout.ensure()
        return DiskCache(layout.discovery)
    except OSError as exc:
        log.debug("no discovery cache: %s", exc)
        return None


def _known_versions() -> str:
    names = {os.path.basename(os.path.dirname(os.path.dirname(p))) for p in _pyenv_candidates()}
    names.add(".".join(map(str, sys.version_info[:3])))
    return ", ".join(sorted(names, key=version_key))


def find_interpreter(
    request: str | None,
    *,
    requires_python: str | None = None,
    cache_dir: Path | None = None,
) -> str:
    """The absolute path of an interpreter for `request`.

    `request` is None, a version (`3.12`, `3.11.7`, `cpython3.12`), a range (`>=3.10,<3.13`),
    a path (relative ones against the current directory) or a name on `PATH`. With None, the
    interpreter running us wins when it satisfies `requires_python`; otherwise the first one
    found that does. For a version request `requires_python` only breaks ties. `cache_dir` is
    the cache root for probes (None: the global default). Raises `InterpreterNotFound` with
    the reason and the versions we know of.
    """
    text = (request or "").strip()
    if not text:
        return _find_default(requires_python, cache_dir)
    if looks_like_path(text):
        path = os.path.abspath(os.path.expanduser(text))
        probe(
            path, cache_dir=cache_dir
        )  # raises InterpreterNotFound when missing or not a working Python
        return path
    if not is_version_request(text):
        found = shutil.which(text)
        if found is not None:
            return _resolve_name(text, found)
    return _discover(text, requires_python, cache_dir)


def _find_default(requires_python: str | None, cache_dir: Path | None) -> str:
    if accepts(sys.version_info[:3], requires_python):
        return _current_base()
    assert requires_python is not None
    if specifier(requires_python.strip()) is None:
        raise InterpreterNotFound("", f"requires-python {requires_python!r} is not a version range")
    try:
        return _discover(requires_python.strip(), requires_python, cache_dir)
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
            timeout=PROBE_TIMEOUT,
        )
    except EnvlayersError as exc:
        raise InterpreterNotFound(name, f"{found} does not run: {exc.message}") from exc
    exe = result.stdout.strip()
    if result.returncode != 0 or not exe or not os.path.isabs(exe):
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or [""]
        raise InterpreterNotFound(name, f"{found} does not run: {tail[0]}".rstrip(": "))
    return exe


def _discover(text: str, requires_python: str | None, cache_dir: Path | None) -> str:
    try:
        from python_discovery import PythonSpec, get_interpreter

        PythonSpec.from_string_spec(text)  # a malformed range fails here, not deep in discovery
    except ValueError as exc:
        raise InterpreterNotFound(text, f"not a valid interpreter request: {exc}") from exc
    cache = _discovery_cache(cache_dir)
    env = _discovery_env()

    def supported(info: Any) -> bool:
        return tuple(info.version_info[:2]) >= MIN_PYTHON

    def both(info: Any) -> bool:
        return supported(info) and accepts(tuple(info.version_info[:3]), requires_python)

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
    if not is_version_request(text):
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
