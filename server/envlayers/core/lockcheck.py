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

from envlayers.core.errors import EnvlayersError, InstallFailed, InvalidInput
from envlayers.core.installer import IndexSettings, find_uv
from envlayers.core.lockfiles import load_pylock
from envlayers.core.proc import CancelToken, child_env, run
from envlayers.core.project import Project, ReqItem
from envlayers.core.requests import abs_link

__all__ = [
    "lock_problem",
    "pylock_problem",
    "relock_uv",
    "settle_lock",
    "stale_reason",
    "uv_lock_problem",
]

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


def settle_lock(
    project: Project,
    selection: Mapping[str, object],
    index: IndexSettings,
    marker_env: Mapping[str, str],
    *,
    locked: bool = False,
    on_line: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
) -> str | None:
    """Make the project's lock fit `pyproject.toml` before anything is installed, as `uv sync`.

    Returns None when the lock (if any) is current, or was re-locked with uv; returns the
    reason when a stale lock is installed as it is (`frozen`). Raises `InvalidInput` when the
    lock is stale and `locked` is set, or when a stale `pylock.toml` (which only its own tool
    can regenerate) would be installed without `frozen`; `InstallFailed` when `uv lock` fails.
    """
    frozen = bool(selection.get("frozen"))
    if frozen and locked:
        raise InvalidInput("--locked and --frozen cannot be used together")
    if project.pylock is not None:
        wanted = [item.text for item in _selected(project, selection)]
        problem = pylock_problem(project.pylock, wanted, marker_env)
        if problem is None or frozen:
            return problem
        how = "--locked was given" if locked else "envlayers cannot re-lock a pylock.toml"
        raise InvalidInput(
            f"{problem}: the lock is out of date ({how}); regenerate it (for example "
            "`uv export --format pylock.toml -o pylock.toml` or `pip lock -o pylock.toml .`), "
            "or pass --frozen to install it as it is",
            file=str(project.pylock),
        )
    uv = find_uv() if project.uv_lock is not None else None
    if uv is None or project.uv_lock is None:
        return None  # no lock, or uv.lock without uv: synced from pyproject.toml
    problem = uv_lock_problem(uv, project.root, index, cancel=cancel)
    if problem is None or frozen:
        return problem
    if locked:
        raise InvalidInput(
            f"{problem}, but --locked was given; run `uv lock` (or `envlayers sync` "
            "without --locked) to update it, or pass --frozen to install it as it is",
            file=str(project.uv_lock),
        )
    log.warning("%s; re-locking with uv", problem)
    relock_uv(uv, project.root, index, on_line=on_line, cancel=cancel)
    return None


def lock_problem(
    project: Project,
    selection: Mapping[str, object],
    index: IndexSettings,
    marker_env: Mapping[str, str],
) -> str | None:
    """Why the project's lock does not fit `pyproject.toml` (None: current, or no lock)."""
    if project.pylock is not None:
        wanted = [item.text for item in _selected(project, selection)]
        return pylock_problem(project.pylock, wanted, marker_env)
    uv = find_uv() if project.uv_lock is not None else None
    if uv is None:
        return None
    return uv_lock_problem(uv, project.root, index)


def stale_reason(
    project: Project, selection: Mapping[str, object], marker_env: Mapping[str, str]
) -> tuple[str, ...]:
    """Why a base is out of sync when its inputs changed: the lock's reason when it no longer
    matches pyproject.toml (checked with the project's own index settings), else a summary."""
    s = project.settings
    index = IndexSettings(
        index_url=s.index_url,
        extra_index_urls=tuple(s.extra_index_urls),
        find_links=tuple(abs_link(project.root, f) for f in s.find_links),
        no_index=s.no_index,
    )
    try:
        problem = lock_problem(project, selection, index, marker_env)
    except EnvlayersError as exc:
        problem = exc.message
    if problem is not None:
        return (f"{problem}; `envlayers sync` re-locks it (uv.lock) or refuses it",)
    return ("pyproject.toml, the lock file or the interpreter changed since the last sync",)


def _selected(project: Project, selection: Mapping[str, object]) -> tuple[ReqItem, ...]:
    return project.select(
        groups=_strs(selection.get("groups")),
        no_dev=bool(selection.get("noDev")),
        all_groups=bool(selection.get("allGroups")),
        extras=_strs(selection.get("extras")),
        all_extras=bool(selection.get("allExtras")),
    )


def _strs(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list | tuple) else []
