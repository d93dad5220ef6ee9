"""Create and inspect virtual environments; virtualenv does the creating (imported lazily)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from envlayers.core.errors import InterpreterNotFound, InvalidInput, OperationFailed
from envlayers.core.proc import child_env

__all__ = [
    "create_venv",
    "read_pyvenv_cfg",
    "site_packages",
    "venv_python",
    "venv_scripts",
    "write_pyvenv_cfg",
]

log = logging.getLogger(__name__)

_WINDOWS = sys.platform == "win32"


def venv_scripts(prefix: Path) -> Path:
    return prefix / ("Scripts" if _WINDOWS else "bin")


def venv_python(prefix: Path) -> Path:
    return venv_scripts(prefix) / ("python.exe" if _WINDOWS else "python")


def site_packages(prefix: Path, version_info: tuple[int, int] | tuple[int, int, int]) -> Path:
    if _WINDOWS:
        return prefix / "Lib" / "site-packages"
    major, minor = version_info[0], version_info[1]
    lib = prefix / "lib" / f"python{major}.{minor}"
    threaded = prefix / "lib" / f"python{major}.{minor}t"
    # A free-threaded build lays its env out under pythonX.Yt.
    if not lib.is_dir() and threaded.is_dir():
        lib = threaded
    return lib / "site-packages"


def read_pyvenv_cfg(prefix: Path) -> dict[str, str]:
    """The `key = value` pairs of `<prefix>/pyvenv.cfg` (keys lower-cased, as `site` reads them)."""
    try:
        text = (prefix / "pyvenv.cfg").read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as exc:
        log.debug("cannot read %s: %s", prefix / "pyvenv.cfg", exc)
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            values[key.strip().lower()] = value.strip()
    return values


def write_pyvenv_cfg(prefix: Path, values: Mapping[str, str]) -> None:
    """Update or add `values` in `<prefix>/pyvenv.cfg`, keeping the other lines and their order."""
    for key, value in values.items():
        if not key.strip() or "=" in key or any(c in f"{key}{value}" for c in "\r\n"):
            raise InvalidInput(f"invalid pyvenv.cfg entry {key!r} = {value!r}")
    path = prefix / "pyvenv.cfg"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    except OSError as exc:
        raise OperationFailed(f"cannot read {path}: {exc}") from exc
    wanted = {k.strip().lower(): (k.strip(), v) for k, v in values.items()}
    out: list[str] = []
    for line in lines:
        key, sep, _ = line.partition("=")
        norm = key.strip().lower()
        if sep and norm in wanted:
            name, value = wanted.pop(norm)
            out.append(f"{name} = {value}")
        else:
            out.append(line)
    out.extend(f"{name} = {value}" for name, value in wanted.values())
    _atomic_write(path, "".join(f"{line}\n" for line in out))


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OperationFailed(f"cannot write {path}: {exc}") from exc


def create_venv(
    dest: Path, python: str, *, system_site_packages: bool = False, clear: bool = False
) -> None:
    """Create a seedless venv at `dest` for the interpreter `python` (a path or a request)."""
    looks_like_path = os.sep in python or (os.altsep is not None and os.altsep in python)
    if looks_like_path and not os.path.exists(python):
        raise InterpreterNotFound(python, "the file does not exist")
    args = [
        os.fspath(dest),
        "--python",
        python,
        "--no-seed",
        "--no-vcs-ignore",
        # virtualenv 21 writes a PEP 832 `.venv` redirect file beside a pyproject.toml that
        # has none: for our temporary build folders that file would name the wrong folder.
        "--no-venv-redirect",
        "--activators",
        "",
        "--quiet",
    ]
    if system_site_packages:
        args.append("--system-site-packages")
    if clear:
        args.append("--clear")
    log.debug("virtualenv %s", " ".join(args))
    from virtualenv import cli_run  # lazy: importing virtualenv is slow

    # setup_logging=False: virtualenv then only logs (never to stdout, the LSP channel).
    try:
        cli_run(args, setup_logging=False, env=child_env())
    except SystemExit as exc:  # argparse's exit; its message went to stderr
        raise OperationFailed(
            f"could not create a virtual environment at {dest}: "
            f"virtualenv rejected its arguments (exit {exc.code})"
        ) from exc
    except RuntimeError as exc:
        if "failed to find interpreter" in str(exc):
            raise InterpreterNotFound(python, "virtualenv could not use it") from exc
        raise OperationFailed(f"could not create a virtual environment at {dest}: {exc}") from exc
    except Exception as exc:  # virtualenv raises many kinds; each becomes one clear error
        raise OperationFailed(
            f"could not create a virtual environment at {dest}: {type(exc).__name__}: {exc}"
        ) from exc
    if not venv_python(dest).exists():
        raise OperationFailed(f"virtualenv did not create {venv_python(dest)}")
