"""Lock files: PEP 751 `pylock.toml` -> exact pins for one target interpreter.

Selection follows `packaging.pylock.Pylock.select` (markers, requires-python, environments,
extras, dependency groups, duplicate detection). Wheel choice for the target interpreter is
left to the installer: we hand it `name==version` pins, so we let `select` accept any wheel
tag listed in the file instead of the server's own tags.
"""

from __future__ import annotations

import hashlib
import logging
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, cast

from packaging.markers import Environment, default_environment
from packaging.utils import parse_sdist_filename, parse_wheel_filename

from envlayers.core.errors import InvalidInput, OperationFailed

if TYPE_CHECKING:  # packaging.pylock is imported when a lock file is read (8 ms otherwise)
    from packaging.pylock import (
        Package,
        PackageArchive,
        PackageDirectory,
        PackageSdist,
        PackageVcs,
        PackageWheel,
        Pylock,
    )
    from packaging.tags import Tag

__all__ = ["load_pylock", "lock_fingerprint", "pylock_requirements"]

logger = logging.getLogger(__name__)


def lock_fingerprint(path: Path) -> str:
    """sha256 (hex) of the lock file's bytes."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise OperationFailed(f"cannot read lock file {path}: {exc}") from exc


def load_pylock(path: Path) -> Pylock:
    """Read and validate a PEP 751 lock file; `InvalidInput` names the file and the problem."""
    from packaging.pylock import Pylock, PylockValidationError

    file = str(path)
    try:
        data = tomllib.loads(Path(path).read_bytes().decode("utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInput("lock file not found", file=file) from exc
    except OSError as exc:
        raise InvalidInput(f"cannot read lock file: {exc}", file=file) from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"lock file is not UTF-8 text: {exc.reason}", file=file) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"TOML syntax error: {exc}", file=file) from exc
    except RecursionError as exc:  # tomllib recurses once per nesting level
        raise InvalidInput("TOML syntax error: nested too deeply", file=file) from exc
    try:
        return Pylock.from_dict(data)
    except PylockValidationError as exc:
        raise InvalidInput(f"invalid pylock file: {exc}", file=file) from exc
    except (ValueError, TypeError) as exc:  # a malformed marker, specifier or version string
        raise InvalidInput(f"invalid pylock file: {exc}", file=file) from exc


def pylock_requirements(
    path: Path,
    marker_env: Mapping[str, str],
    *,
    extras: Collection[str] = (),
    groups: Collection[str] | None = None,
) -> list[str]:
    """Exact pins for the packages the lock selects in `marker_env` (the target's markers).

    `name==version` for index packages, `name @ URL` for VCS, directory and archive sources
    (relative paths resolve against the lock file's folder). `groups=None` means the lock's
    default groups. Raises `InvalidInput` naming the file when the lock is invalid or does
    not fit the environment.
    """
    from packaging.pylock import PylockSelectError, PylockValidationError

    lock = load_pylock(path)
    env = {**default_environment(), **marker_env}
    if env.keys() - marker_env.keys():
        logger.debug(
            "marker environment lacks %s; using this process's values",
            sorted(env.keys() - marker_env.keys()),
        )
    base = Path(path).absolute().parent
    pins: list[str] = []
    try:
        for package, source in lock.select(
            environment=cast(Environment, env),
            tags=_all_tags(lock),
            extras=extras,
            dependency_groups=groups,
        ):
            pins.append(_pin(package, source, base))
    except PylockSelectError as exc:
        raise InvalidInput(
            f"lock file does not fit the target environment: {exc}", file=str(path)
        ) from exc
    except (PylockValidationError, ValueError) as exc:
        raise InvalidInput(f"invalid pylock file: {exc}", file=str(path)) from exc
    return pins


def _all_tags(lock: Pylock) -> list[Tag]:
    tags: list[Tag] = []
    for package in lock.packages:
        for wheel in package.wheels or ():
            tags.extend(parse_wheel_filename(wheel.filename)[3])
    return tags


def _pin(
    package: Package,
    source: PackageVcs | PackageDirectory | PackageArchive | PackageWheel | PackageSdist,
    base: Path,
) -> str:
    from packaging.pylock import PackageArchive, PackageDirectory, PackageVcs, PackageWheel

    name = str(package.name)
    if isinstance(source, PackageVcs):
        where = source.url or _file_url(base, source.path or "")
        url = f"{source.type}+{where}@{source.commit_id}"
        return f"{name} @ {url}{_subdirectory(source.subdirectory)}"
    if isinstance(source, PackageDirectory):
        return f"{name} @ {_file_url(base, source.path)}{_subdirectory(source.subdirectory)}"
    if isinstance(source, PackageArchive):
        where = source.url or _file_url(base, source.path or "")
        return f"{name} @ {where}{_subdirectory(source.subdirectory)}"
    version = package.version
    if version is None:
        # PEP 751 lets `version` be omitted; the file names still carry it.
        if isinstance(source, PackageWheel):
            version = parse_wheel_filename(source.filename)[1]
        else:
            version = parse_sdist_filename(source.filename)[1]
    return f"{name}=={version}"


def _file_url(base: Path, relative: str) -> str:
    return (base / relative).resolve().as_uri()


def _subdirectory(subdirectory: str | None) -> str:
    return f"#subdirectory={subdirectory}" if subdirectory else ""
