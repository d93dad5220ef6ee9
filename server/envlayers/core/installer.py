"""pip and uv behind one interface: the one place that runs installers.

Both install into *another* interpreter's environment (`pip --python`, `uv pip --python`), so
the environments we create need no pip of their own.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from packaging.utils import parse_sdist_filename, parse_wheel_filename

from envlayers.core import proc
from envlayers.core.errors import EnvlayersError, InstallFailed, InvalidInput, OperationFailed
from envlayers.core.proc import CancelToken, redact
from envlayers.core.redact import conceal, reveal

__all__ = [
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


def _check_arg(value: str, what: str) -> str:
    # Defence in depth: callers validate, but an item must never be read as an option.
    if not value or value.startswith("-") or "\n" in value or "\r" in value or "\0" in value:
        raise InvalidInput(
            f"refusing {what} {redact(value)!r}: it is empty, starts with '-' or spans lines"
        )
    return value


# Where each installer reads an index setting from its environment, and how a list is joined
# there: (variable, separator); pip splits on whitespace, uv's find-links on commas.
_ENV_NAMES: dict[str, dict[str, tuple[str, str]]] = {
    "pip": {
        "--index-url": ("PIP_INDEX_URL", " "),
        "--extra-index-url": ("PIP_EXTRA_INDEX_URL", " "),
        "--find-links": ("PIP_FIND_LINKS", " "),
    },
    "uv": {
        "--index-url": ("UV_INDEX_URL", " "),
        "--extra-index-url": ("UV_EXTRA_INDEX_URL", " "),
        "--find-links": ("UV_FIND_LINKS", ","),
    },
}


@dataclass(frozen=True)
class IndexSettings:
    """Where packages come from; passed to either installer."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = field(default=())
    no_index: bool = False

    def args(self, installer: str) -> list[str]:
        """The command-line flags for `installer` ("pip" or "uv"); both spell them alike."""
        if installer not in ("pip", "uv"):
            raise InvalidInput(f"unknown installer {installer!r}")
        out: list[str] = []
        if self.index_url:
            out += ["--index-url", _check_arg(self.index_url, "index URL")]
        for url in self.extra_index_urls:
            out += ["--extra-index-url", _check_arg(url, "extra index URL")]
        for link in self.find_links:
            out += ["--find-links", _check_arg(link, "find-links location")]
        if self.no_index:
            out.append("--no-index")
        return out

    def concealed(self) -> IndexSettings:
        """The settings as the engine keeps them: credentials redacted (and remembered, in
        memory, for the installer's call; see `redact.conceal`)."""
        return replace(
            self,
            index_url=None if self.index_url is None else conceal(self.index_url),
            extra_index_urls=tuple(conceal(u) for u in self.extra_index_urls),
            find_links=tuple(conceal(u) for u in self.find_links),
        )

    def for_installer(self, installer: str) -> tuple[list[str], dict[str, str]]:
        """`(argv flags, environment)` for `installer`: a kind of setting that carries
        credentials goes, whole, through the environment (never the command line, which `ps`
        shows); the others stay flags, as `args()` spells them."""
        if installer not in _ENV_NAMES:
            raise InvalidInput(f"unknown installer {installer!r}")
        kinds = (
            ("--index-url", [self.index_url] if self.index_url else [], "index URL"),
            ("--extra-index-url", list(self.extra_index_urls), "extra index URL"),
            ("--find-links", list(self.find_links), "find-links location"),
        )
        args: list[str] = []
        env: dict[str, str] = {}
        for flag, values, what in kinds:
            shown = [_check_arg(v, what) for v in values]
            secret = [reveal(v) for v in shown]
            if secret == shown:
                args += [arg for v in shown for arg in (flag, v)]
                continue
            name, sep = _ENV_NAMES[installer][flag]
            if any(sep in v or (sep == " " and any(c.isspace() for c in v)) for v in secret):
                raise InvalidInput(
                    f"cannot pass {what}s with credentials to {installer} beside one that "
                    f"contains {sep!r}: {', '.join(repr(v) for v in shown)}"
                )
            env[name] = sep.join(secret)
            log.debug("%s gets %s from its environment: %s", installer, flag, " ".join(shown))
        if self.no_index:
            args.append("--no-index")
        return args, env

    def redacted(self) -> IndexSettings:
        return replace(
            self,
            index_url=None if self.index_url is None else redact(self.index_url),
            extra_index_urls=tuple(redact(u) for u in self.extra_index_urls),
            find_links=tuple(redact(u) for u in self.find_links),
        )

    def fingerprint(self) -> str:
        """A digest for layer keys: the settings without credentials (a rotated token must not
        rebuild layers), plus a stat listing of each local find-links folder, so that a
        rebuilt wheel makes a new key."""
        shown = self.redacted()
        data: dict[str, object] = {
            "indexUrl": shown.index_url,
            "extraIndexUrls": list(shown.extra_index_urls),
            "findLinks": [[redact(link), _listing(link)] for link in self.find_links],
            "noIndex": self.no_index,
        }
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def local_link_path(link: str) -> str | None:
    """The folder a find-links entry names on this machine (a path or a `file:` URL), whether
    or not it exists yet; None for a remote URL."""
    if "://" in link:
        parts = urlsplit(link)
        return unquote(parts.path) if parts.scheme == "file" else None
    return os.path.expanduser(link)


def _local_dir(link: str) -> str | None:
    path = local_link_path(link)
    return path if path is not None and os.path.isdir(path) else None


def _listing(link: str) -> list[list[object]]:
    """(name, size, mtime_ns) of each file in a local find-links folder; [] otherwise."""
    folder = _local_dir(link)
    if folder is None:
        return []
    out: list[list[object]] = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                with contextlib.suppress(OSError):
                    if entry.is_file():
                        st = entry.stat()
                        out.append([entry.name, st.st_size, st.st_mtime_ns])
    except OSError as exc:
        log.debug("cannot list find-links folder %s: %s", folder, exc)
    out.sort()
    return out


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
    ) -> None: ...

    def uninstall(
        self,
        python: str,
        names: Sequence[str],
        *,
        on_line: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> None: ...


@contextlib.contextmanager
def _private_dir() -> Iterator[Path]:
    """A folder only we can read (0700, from mkdtemp), removed with what it holds."""
    folder = Path(tempfile.mkdtemp(prefix="envlayers-install-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
    lines = [_check_arg(c.strip(), "constraint") for c in constraints]
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

    def _install_cmd(self, python: str) -> list[str]:
        raise NotImplementedError

    def _uninstall_cmd(self, python: str) -> list[str]:
        raise NotImplementedError

    def _reinstall_flag(self) -> str:
        raise NotImplementedError

    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return proc.child_env(extra)

    def _local_refresh(self, index: IndexSettings) -> list[str]:
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
    ) -> None:
        reqs = [_check_arg(r, "requirement") for r in requirements]
        edits = [_check_arg(e, "editable") for e in editables]
        if not reqs and not edits:
            return
        _check_arg(python, "interpreter")
        index_args, index_env = index.for_installer(self.name)
        with _private_dir() as folder:
            files, plain = _file_args(folder, reqs, constraints)
            cmd = [*self._install_cmd(python), *index_args, *self._local_refresh(index)]
            if no_deps:
                cmd.append("--no-deps")
            if reinstall:
                cmd.append(self._reinstall_flag())
            cmd += files
            for e in edits:
                cmd += ["--editable", e]
            cmd += plain
            what = f"{self.name} could not install {', '.join([*reqs, *edits])}"
            self._run(cmd, what=what, cwd=cwd, on_line=on_line, cancel=cancel, env=index_env)

    def uninstall(
        self,
        python: str,
        names: Sequence[str],
        *,
        on_line: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        items = [_check_arg(n, "package name") for n in names]
        if not items:
            return
        _check_arg(python, "interpreter")
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

    def _install_cmd(self, python: str) -> list[str]:
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

    def __init__(self, uv: str | None = None) -> None:
        found = uv or find_uv()
        if found is None:
            raise OperationFailed(
                "uv is not installed: install it (`pip install uv`) or use --installer pip"
            )
        self.uv = found

    def _install_cmd(self, python: str) -> list[str]:
        return [self.uv, "pip", "install", "--python", python, *_UV_QUIET]

    def _uninstall_cmd(self, python: str) -> list[str]:
        return [self.uv, "pip", "uninstall", "--python", python, *_UV_QUIET]

    def _reinstall_flag(self) -> str:
        return "--reinstall"

    def _local_refresh(self, index: IndexSettings) -> list[str]:
        # uv caches a find-links wheel by its name, so a wheel rebuilt in place under the same
        # version would be served stale: revalidate the packages those folders hold (uv refuses
        # to revalidate offline; then its cache decides).
        if os.environ.get("UV_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
            return []
        names: set[str] = set()
        for link in index.find_links:
            for entry in _listing(link):
                name = str(entry[0])
                with contextlib.suppress(ValueError):
                    if name.endswith(".whl"):
                        names.add(str(parse_wheel_filename(name)[0]))
                    elif name.endswith((".tar.gz", ".zip")):
                        names.add(str(parse_sdist_filename(name)[0]))
        return [arg for n in sorted(names) for arg in ("--refresh-package", n)]


def _target_version(python: str) -> tuple[int, int] | None:
    """The target's X.Y: from its venv's pyvenv.cfg when there is one, else a (cached) probe."""
    from envlayers.core.interpreter import probe
    from envlayers.core.venv import read_pyvenv_cfg

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


def find_uv() -> str | None:
    """The uv binary: the `uv` package's when importable, else the first on PATH."""
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


def get_installer(choice: str = "auto") -> Installer:
    """`auto` (uv when found, else pip), `uv` (an error when uv is missing) or `pip`."""
    if choice not in _CHOICES:
        raise InvalidInput(f"unknown installer {choice!r}: use one of {', '.join(_CHOICES)}")
    if choice == "pip":
        return PipInstaller()
    uv = find_uv()
    if uv is not None:
        return UvInstaller(uv)
    if choice == "uv":
        raise OperationFailed(
            "installer 'uv' was requested but uv is not installed: "
            "install it (`pip install uv`) or use --installer pip"
        )
    return PipInstaller()
