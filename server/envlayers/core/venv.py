"""Create and inspect virtual environments.

A venv is a `pyvenv.cfg`, links to the interpreter and empty site dirs: `create_venv()` writes
those itself from the interpreter's probe (a few file operations, no process once the probe is
cached). virtualenv (imported lazily: its import alone takes about 0.3 s) is kept for what only
it does: an interpreter the direct writer does not know how to lay out (not CPython, or
Windows without the stdlib's venv launcher) or a request that is not a path.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from envlayers.core.errors import EnvlayersError, InterpreterNotFound, OperationFailed
from envlayers.core.fsutil import remove_tree
from envlayers.core.proc import child_env
from envlayers.core.venvfiles import (
    WRITER_KEY,
    WRITER_LAYOUT,
    check_entries,
    direct_layout,
    is_threaded,
    read_pyvenv_cfg,
    site_packages,
    venv_python,
    venv_scripts,
    write_pyvenv_cfg,
)

if TYPE_CHECKING:
    from envlayers.core.pyinfo import InterpreterInfo

__all__ = [
    "WRITER_KEY",
    "create_venv",
    "direct_layout",
    "read_pyvenv_cfg",
    "site_packages",
    "venv_python",
    "venv_scripts",
    "write_pyvenv_cfg",
]

log = logging.getLogger(__name__)


def _looks_like_path(python: str) -> bool:
    return os.sep in python or (os.altsep is not None and os.altsep in python)


def create_venv(
    dest: Path,
    python: str,
    *,
    system_site_packages: bool = False,
    clear: bool = False,
    base: InterpreterInfo | None = None,
    extra_cfg: Mapping[str, str] | None = None,
) -> None:
    """Create a seedless venv at `dest` for the interpreter `python` (a path or a request).

    `base` is the probe of `python` or of a venv made from it, when the caller has one (then
    nothing is probed); `extra_cfg` adds keys to the new `pyvenv.cfg`.
    """
    extra = dict(extra_cfg or {})
    check_entries(extra)
    if _looks_like_path(python) and not os.path.exists(python):
        raise InterpreterNotFound(python, "the file does not exist")
    if clear:
        remove_tree(dest)
    info = base
    if info is None and _looks_like_path(python):
        from envlayers.core.probe import probe

        try:
            info = probe(python)
        except EnvlayersError as exc:  # virtualenv may still know what to do with it
            log.debug("cannot probe %s (%s); creating %s with virtualenv", python, exc, dest)
    layout = direct_layout(info) if info is not None else None
    if info is not None and layout is not None:
        try:
            _write_direct(dest, info, layout, system_site_packages, extra)
        except OSError as exc:
            raise OperationFailed(
                f"could not create a virtual environment at {dest}: {exc}"
            ) from exc
        from envlayers.core.probe import remember_interpreter

        remember_interpreter(info)
        return
    _virtualenv(dest, python, system_site_packages=system_site_packages, clear=clear)
    if extra:
        write_pyvenv_cfg(dest, extra)


# -- the direct writer ------------------------------------------------------------------------
def _cfg_text(info: InterpreterInfo, system_site_packages: bool, extra: Mapping[str, str]) -> str:
    exe = info.base_executable
    values = {
        # `home` is all CPython itself reads (the folder of the base interpreter).
        "home": os.path.dirname(exe),
        "implementation": "CPython",
        "version_info": info.version,
        "version": info.version,
        "executable": exe,
        "include-system-site-packages": "true" if system_site_packages else "false",
        "base-prefix": info.base_prefix,
        "base-executable": exe,
        WRITER_KEY: WRITER_LAYOUT,
    }
    for key, value in extra.items():
        values.pop(key.strip().lower(), None)
        values[key.strip()] = value
    check_entries(values)
    return "".join(f"{k} = {v}\n" for k, v in values.items())


def _link(target: str, link: Path) -> None:
    if os.path.lexists(link):
        link.unlink()
    os.symlink(target, link)


def _write_direct(
    dest: Path,
    info: InterpreterInfo,
    layout: Mapping[str, object],
    system_site_packages: bool,
    extra: Mapping[str, str],
) -> None:
    exe = info.base_executable
    if not os.path.isfile(exe):
        raise InterpreterNotFound(exe, "the file does not exist")
    log.debug("writing venv %s for %s", dest, exe)
    site = dest / str(layout["site"])
    site.mkdir(parents=True, exist_ok=True)
    scripts = venv_scripts(dest)
    scripts.mkdir(exist_ok=True)
    launchers = layout.get("launchers")
    if isinstance(launchers, dict):  # Windows: copies of the launcher, which reads `home`
        for name, src in launchers.items():
            shutil.copyfile(src, scripts / name)
    else:
        python = scripts / "python"
        _link(exe, python)
        names = {f"python{info.version_info[0]}", f"python{info.major_minor}"}
        names.add(os.path.basename(exe))
        if is_threaded(info):
            names.add(f"python{info.major_minor}t")
        for name in sorted(names - {"python"}):
            _link("python", scripts / name)
        if layout.get("lib64") and not os.path.lexists(dest / "lib64"):
            os.symlink("lib", dest / "lib64")
    # Last: a folder with a pyvenv.cfg is a venv, so it appears only once the rest is there.
    cfg = dest / "pyvenv.cfg"
    with open(cfg, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(_cfg_text(info, system_site_packages, extra))


# -- virtualenv -------------------------------------------------------------------------------
def _virtualenv(dest: Path, python: str, *, system_site_packages: bool, clear: bool) -> None:
    args = [
        os.fspath(dest),
        "--python",
        python,
        "--no-seed",
        "--no-vcs-ignore",
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
