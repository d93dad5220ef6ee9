"""Is the lock file still the lock of `pyproject.toml`? A stale lock is never "in sync".

- `uv.lock`: uv decides, as `uv sync` does: `uv lock --check --offline` answers
  without the network when the lock is current (uv compares the requirements it recorded with
  the project's), and fails when it would have to resolve again. `relock_uv` is `uv lock` with
  the project's index settings, what `uv sync` does by default.
- `pylock.toml` (PEP 751) records no inputs of its own, so its packages are checked against
  what `pyproject.toml` asks for: every selected requirement whose marker holds on the target
  must be locked at a version its specifier allows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envlayers.core.errors import InstallFailed
from envlayers.core.installer import IndexSettings
from envlayers.core.lockfiles import load_pylock
from envlayers.core.proc import CancelToken, child_env, run

__all__ = ["pylock_problem", "relock_uv", "uv_lock_problem"]

log = logging.getLogger(__name__)


def _uv_env() -> dict[str, str]:
    # The user's uv.toml / pip.conf must not redirect a check that needs no index at all.
    return child_env({"UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never"})


def uv_lock_problem(
    uv: str, root: Path, index: IndexSettings, *, cancel: CancelToken | None = None
) -> str | None:
    """None when `<root>/uv.lock` matches `pyproject.toml`, else uv's reason in a line.

    The project's index settings go along (uv counts a lock made against other indexes as
    stale), `--offline` keeps it off the network: a current lock needs none.
    """
    cmd = [uv, "lock", "--check", "--offline", "--project", str(root), *index.args("uv")]
    result = run(cmd, env=_uv_env(), cwd=root, cancel=cancel)
    if result.returncode == 0:
        return None
    lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    if any("needs to be updated" in ln for ln in errors):
        return "uv.lock needs to be updated: pyproject.toml changed since it was locked"
    # Offline and without an index, uv could only resolve again: the lock does not cover it.
    why = errors[0].removeprefix("error:").strip() if errors else "uv could not validate it"
    return f"uv.lock does not match pyproject.toml ({why})"


def relock_uv(
    uv: str,
    root: Path,
    index: IndexSettings,
    *,
    on_line: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> None:
    """`uv lock` with the project's index settings; raises `InstallFailed` with uv's reason."""
    cmd = [uv, "lock", "--project", str(root), *index.args("uv")]
    log.info("re-locking %s with uv", root / "uv.lock")
    result = run(cmd, env=child_env(), cwd=root, on_line=on_line, cancel=cancel)
    if result.returncode != 0:
        tail = "\n".join([ln for ln in result.stderr.splitlines() if ln.strip()][-6:])
        raise InstallFailed(result.cmd, result.returncode, tail, what="cannot update uv.lock")


def pylock_problem(
    lock: Path, requirements: Sequence[str], marker_env: Mapping[str, str]
) -> str | None:
    """The first selected requirement that `lock` does not lock at an allowed version."""
    pylock = load_pylock(lock)
    locked: dict[str, list[str]] = {}
    for package in pylock.packages:
        locked.setdefault(canonicalize_name(package.name), []).append(
            str(package.version) if package.version is not None else ""
        )
    env = {**default_environment(), **marker_env, "extra": ""}
    for text in requirements:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue  # reported where the requirement was read
        if req.marker is not None and not req.marker.evaluate(env):  # type: ignore[arg-type]
            continue
        versions = locked.get(canonicalize_name(req.name))
        if not versions:
            return f"{lock.name} does not lock {req.name}, which pyproject.toml asks for"
        if req.specifier and not any(
            v and req.specifier.contains(v, prereleases=True) for v in versions
        ):
            return (
                f"{lock.name} locks {req.name} {', '.join(versions)}, but pyproject.toml "
                f"asks for {req}"
            )
    return None
