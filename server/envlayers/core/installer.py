"""pip and uv behind one interface: the one place that runs installers.

Both install into *another* interpreter's environment (`pip --python`, `uv pip --python`), so
the environments we create need no pip of their own.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Protocol

from envlayers.core import proc
from envlayers.core.errors import EnvlayersError, InstallFailed, InvalidInput, OperationFailed
from envlayers.core.fsutil import private_tempdir
from envlayers.core.index import IndexSettings, check_arg, local_link_path
from envlayers.core.paths import CacheLayout
from envlayers.core.proc import CancelToken, redact
from envlayers.core.redact import reveal
from envlayers.core.scripts import retarget_scripts
from envlayers.core.trust import rerecord
from envlayers.core.uvrefresh import Refresh, UvRefresh, local_files, unvouched
from envlayers.core.venvfiles import WRITER_KEY, WRITER_LAYOUT, read_pyvenv_cfg, venv_sites

__all__ = [
    "UV_ENV",
    "IndexSettings",
    "Installer",
    "PipInstaller",
    "UvInstaller",
    "find_uv",
    "get_installer",
    "local_link_path",
]

log = logging.getLogger(__name__)

# How many of the installer's last stderr lines an InstallFailed carries.
_TAIL_LINES = 25


class Installer(Protocol):
    name: str

    def install(
        self,
        python: str,
        requirements: Sequence[str],
        *,
        editables: Sequence[str] = (),
        constraints: Sequence[str] = (),
        no_deps: bool = False,
        reinstall: bool = False,
        index: IndexSettings = IndexSettings(),
        cwd: Path | None = None,
        on_line: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
        base_python: str | None = None,
    ) -> None: ...

    def uninstall(
        self,
        python: str,
        names: Sequence[str],
        *,
        on_line: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> None: ...


def _write_private(path: Path, lines: Sequence[str]) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("".join(f"{line}\n" for line in lines))
    return str(path)


def _file_args(
    folder: Path, requirements: Sequence[str], constraints: Sequence[str]
) -> tuple[list[str], list[str]]:
    """`(flags, plain requirements)`: constraints go in a file; so do requirements whose URL
    carries credentials (revealed only there, in a file only we can read)."""
    flags: list[str] = []
    lines = [check_arg(c.strip(), "constraint") for c in constraints]
    if lines:
        flags += ["--constraint", _write_private(folder / "constraints.txt", lines)]
    plain: list[str] = []
    secret: list[str] = []
    for r in requirements:
        full = reveal(r)
        if full == r:
            plain.append(r)
        else:
            secret.append(full)
    if secret:
        flags += ["--requirement", _write_private(folder / "requirements.txt", secret)]
    return flags, plain


def _tail(result: proc.ProcResult) -> str:
    text = result.stderr if result.stderr.strip() else result.stdout
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-_TAIL_LINES:])


class _Base:
    name: str = ""

    def _install_cmd(self, python: str, base_python: str | None) -> list[str]:
        raise NotImplementedError

    def _installed(self, python: str, base_python: str | None) -> None:
        """After a successful install."""

    def _uninstall_cmd(self, python: str) -> list[str]:
        raise NotImplementedError

    def _reinstall_flag(self) -> str:
        raise NotImplementedError

    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return proc.child_env(extra)

    def _refresh(self, python: str, index: IndexSettings) -> Refresh:
        """How the installer's cache of local find-links files is kept true."""
        return Refresh()

    def _redo(self, name: str) -> list[str]:
        return []

    def install(
        self,
        python: str,
        requirements: Sequence[str],
        *,
        editables: Sequence[str] = (),
        constraints: Sequence[str] = (),
        no_deps: bool = False,
        reinstall: bool = False,
        index: IndexSettings = IndexSettings(),
        cwd: Path | None = None,
        on_line: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
        base_python: str | None = None,
    ) -> None:
        """Install into the environment of `python`. `base_python`: the interpreter a venv
        just made (nothing installed yet) was made from; an installer may install with it
        into the venv's prefix instead (the result is the same, scripts included)."""
        reqs = [check_arg(r, "requirement") for r in requirements]
        edits = [check_arg(e, "editable") for e in editables]
        if not reqs and not edits:
            return
        check_arg(python, "interpreter")
        index_args, index_env = index.for_installer(self.name)
        with private_tempdir("envlayers-install-") as folder:
            files, plain = _file_args(folder, reqs, constraints)
            refresh = self._refresh(python, index)
            cmd = [*self._install_cmd(python, base_python), *index_args, *refresh.flags]
            if no_deps:
                cmd.append("--no-deps")
            if reinstall:
                cmd.append(self._reinstall_flag())
            cmd += files
            for e in edits:
                cmd += ["--editable", e]
            cmd += plain
            what = f"{self.name} could not install {', '.join([*reqs, *edits])}"
            run = partial(self._run, what=what, cwd=cwd, on_line=on_line, cancel=cancel)
            run(cmd, env=index_env)
            again = refresh.stale()
            if again:
                log.info("%s served a stale copy of %s; installing again", self.name, again)
                redo = [f for n in again for f in ("--refresh-package", n, *self._redo(n))]
                run([*cmd, *redo], env=index_env)
        self._installed(python, base_python)
        refresh.done()

    def uninstall(
        self,
        python: str,
        names: Sequence[str],
        *,
        on_line: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        items = [check_arg(n, "package name") for n in names]
        if not items:
            return
        check_arg(python, "interpreter")
        cmd = [*self._uninstall_cmd(python), *items]
        what = f"{self.name} could not uninstall {', '.join(items)}"
        self._run(cmd, what=what, cwd=None, on_line=on_line, cancel=cancel)

    def _run(
        self,
        cmd: list[str],
        *,
        what: str,
        cwd: Path | None,
        on_line: Callable[[str], None] | None,
        cancel: CancelToken | None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        full = self._env(env)
        result = proc.run(cmd, env=full, cwd=cwd, on_line=on_line, cancel=cancel)
        if result.returncode != 0:
            raise InstallFailed(result.cmd, result.returncode, _tail(result), what=redact(what))


class PipInstaller(_Base):
    """`<our python> -m pip --python <target> ...`: pip >= 22.3 installs into another env."""

    name = "pip"

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable or sys.executable

    def _pip(self, python: str) -> list[str]:
        version = _target_version(python)
        if version is None or _our_pip_supports(version):
            return [self.executable, "-m", "pip", "--python", python]
        # Our pip refuses older targets; virtualenv bundles a pip wheel for each, and pip runs
        # from its wheel (`python pip.whl/pip`), so the env still needs no pip of its own.
        wheel = _bundled_pip_wheel(version)
        if wheel is None:
            raise OperationFailed(
                f"pip cannot install into Python {version[0]}.{version[1]} ({python}); "
                "use the uv installer or a newer Python"
            )
        return [python, f"{wheel}/pip"]

    def _install_cmd(self, python: str, base_python: str | None) -> list[str]:
        return [*self._pip(python), "install", "--no-input", "--disable-pip-version-check"]

    def _uninstall_cmd(self, python: str) -> list[str]:
        return [
            *self._pip(python),
            "uninstall",
            "--yes",
            "--no-input",
            "--disable-pip-version-check",
        ]

    def _reinstall_flag(self) -> str:
        return "--force-reinstall"

    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        # We decode the child's output as UTF-8; say so, so pip does not pick the locale's.
        return proc.child_env({"PYTHONIOENCODING": "utf-8", **(extra or {})})


class UvInstaller(_Base):
    """`uv pip install --python <target> ...`."""

    name = "uv"

    def __init__(self, uv: str | None = None, *, record: Path | None = None) -> None:
        """`record`: where `core.uvrefresh` keeps what uv has read of find-links folders."""
        self.record = record
        found = uv or find_uv()
        if found is None:
            raise OperationFailed(
                "uv is not installed: install it (`pip install uv`) or use --installer pip"
            )
        self.uv = found

    def _install_cmd(self, python: str, base_python: str | None) -> list[str]:
        prefix = _fresh_prefix(python, base_python)
        if prefix is None or base_python is None:
            return [self.uv, "pip", "install", "--python", python, *_UV_QUIET]
        # uv queries an interpreter it has not seen (a new venv's: 50-80 ms, a process); the
        # base's answer is in its cache, and `--prefix` lays the venv's files out the same.
        where = ["--python", base_python, "--prefix", str(prefix)]
        return [self.uv, "pip", "install", *where, *_UV_QUIET]

    def _installed(self, python: str, base_python: str | None) -> None:
        prefix = _fresh_prefix(python, base_python)
        if prefix is None or base_python is None:
            return
        # The scripts name the interpreter uv ran with: point them at the venv's, as an
        # install with `--python <venv>` would have, and keep RECORD true.
        changed = retarget_scripts(Path(python).parent, old_python=base_python, new_python=python)
        for site in venv_sites(prefix):
            rerecord(site, changed)

    def _uninstall_cmd(self, python: str) -> list[str]:
        return [self.uv, "pip", "uninstall", "--python", python, *_UV_QUIET]

    def _reinstall_flag(self) -> str:
        return "--reinstall"

    def _redo(self, name: str) -> list[str]:
        return ["--reinstall-package", name]

    def _refresh(self, python: str, index: IndexSettings) -> Refresh:
        # uv caches a find-links file by its name, so a wheel rebuilt in place under the same
        # version would be served stale (`core.uvrefresh`). uv refuses to revalidate offline;
        # then its cache decides.
        if os.environ.get("UV_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
            return Refresh()
        files = unvouched(local_files(index.find_links), self.record)
        if not files:
            return Refresh()
        return UvRefresh(files, venv_sites(Path(python).parent.parent), self.record)


def _fresh_prefix(python: str, base_python: str | None) -> Path | None:
    """The venv of `python` when an install may go into its prefix with `base_python`: a
    POSIX venv our writer made from that very interpreter, without system site packages."""
    if base_python is None or os.name == "nt":
        return None
    exe = Path(python)
    if exe.parent.name != "bin":
        return None
    cfg = read_pyvenv_cfg(exe.parent.parent)
    if cfg.get(WRITER_KEY) != WRITER_LAYOUT or cfg.get("base-executable") != base_python:
        return None
    if cfg.get("include-system-site-packages", "false").lower() != "false":
        return None  # uv would not see the base's packages there: let it query the venv
    return exe.parent.parent


def _target_version(python: str) -> tuple[int, int] | None:
    """The target's X.Y: from its venv's pyvenv.cfg when there is one, else a (cached) probe."""
    from envlayers.core.interpreter import probe

    cfg = read_pyvenv_cfg(Path(python).parent.parent)
    parts = (cfg.get("version_info") or cfg.get("version") or "").split(".")
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
        return int(parts[0]), int(parts[1])
    try:
        vi = probe(python).version_info
    except EnvlayersError:
        return None  # pip will say what is wrong with it
    return vi[0], vi[1]


@functools.cache
def _our_pip_requires() -> str:
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        values = metadata("pip").get_all("Requires-Python")
    except PackageNotFoundError:
        return ""
    return values[0] if values else ""


def _our_pip_supports(version: tuple[int, int]) -> bool:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        spec = SpecifierSet(_our_pip_requires())
    except InvalidSpecifier:
        return True
    return spec.contains(f"{version[0]}.{version[1]}", prereleases=True)


def _bundled_pip_wheel(version: tuple[int, int]) -> Path | None:
    try:
        from virtualenv.seed.wheels.embed import BUNDLE_FOLDER, BUNDLE_SUPPORT
    except ImportError:
        return None
    name = BUNDLE_SUPPORT.get(f"{version[0]}.{version[1]}", {}).get("pip")
    if not name:
        return None
    wheel = Path(BUNDLE_FOLDER) / name
    return wheel if wheel.is_file() else None


# No colour codes or spinners in the lines we forward and report.
_UV_QUIET = ("--color", "never", "--no-progress")


UV_ENV = "ENVLAYERS_UV"


def find_uv() -> str | None:
    """The uv binary: `$ENVLAYERS_UV` (an editor that found one), the `uv` package's when
    importable, else the first on PATH."""
    given = os.environ.get(UV_ENV, "").strip()
    if given:
        if os.path.isfile(given) and os.access(given, os.X_OK):
            return given
        log.warning("%s=%s is not an executable file; looking for uv elsewhere", UV_ENV, given)
    try:
        from uv import find_uv_bin
    except ImportError:
        pass
    else:
        try:
            return str(find_uv_bin())
        except (FileNotFoundError, OSError):
            log.debug("the uv package is installed but its binary is missing")
    return shutil.which("uv")


_CHOICES = ("auto", "pip", "uv")


def get_installer(choice: str = "auto", *, cache: CacheLayout | None = None) -> Installer:
    """`auto` (uv when found, else pip), `uv` (an error when uv is missing) or `pip`."""
    if choice not in _CHOICES:
        raise InvalidInput(f"unknown installer {choice!r}: use one of {', '.join(_CHOICES)}")
    if choice == "pip":
        return PipInstaller()
    uv = find_uv()
    if uv is not None:
        return UvInstaller(uv, record=None if cache is None else cache.uv_refresh)
    if choice == "uv":
        raise OperationFailed(
            "installer 'uv' was requested but uv is not installed: "
            "install it (`pip install uv`) or use --installer pip"
        )
    return PipInstaller()
