"""What the engine remembers between calls: parsed projects (by size and mtime), reports (until
a file they were computed from changes), and the report stored for the CLI's fast path."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from envlayers.core import venv as _venv
from envlayers.core.active import active_path
from envlayers.core.assemble import DAMAGED
from envlayers.core.base import SYNC_STAMP
from envlayers.core.basetx import ROLLBACK
from envlayers.core.compose import COMPOSITION_RECORD, overlay_files
from envlayers.core.errors import InvalidInput
from envlayers.core.fastpath import request_key, store
from envlayers.core.layers import LAYER_META
from envlayers.core.plan import Plan
from envlayers.core.project import Project, load_project
from envlayers.core.report import Report
from envlayers.core.snapshot import Snapshot, stat_all

__all__ = ["ProjectMemo", "ReportMemo", "remember", "watch_paths"]


class ProjectMemo:
    """`load_project`, memoised by the file's size and mtime (the report's hot path)."""

    def __init__(self) -> None:
        self._projects: dict[Path, tuple[tuple[int, int], Project]] = {}
        self._lock = threading.Lock()

    def get(self, root: Path) -> Project:
        path = root / "pyproject.toml"
        try:
            st = path.stat()
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}") from exc
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._projects.get(root)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        project = load_project(root)
        with self._lock:
            self._projects[root] = (stamp, project)
        return project


class ReportMemo:
    """Reports per workspace, each valid while its watched paths' `Snapshot` is unchanged."""

    def __init__(self) -> None:
        self._reports: dict[Path, tuple[Snapshot, Report]] = {}
        self._lock = threading.Lock()

    def fresh(self, root: Path) -> Report | None:
        """The memoised report of `root` when still current (a handful of `stat` calls)."""
        with self._lock:
            hit = self._reports.get(root)
        if hit is not None and not hit[0].changed():
            return hit[1]
        return None

    def compute(
        self, root: Path, make: Callable[[], Report], watch: Callable[[Report], tuple[str, ...]]
    ) -> Report:
        """`make()`, memoised unless a watched path changed while it ran."""
        with self._lock:
            hit = self._reports.get(root)
        before = Snapshot.take(hit[0].paths if hit is not None else ())
        report = make()
        paths = watch(report)
        if paths == before.paths and before.changed():
            return report  # something changed while we computed: do not memoise
        with self._lock:
            self._reports[root] = (Snapshot.take(paths), report)
        return report


def watch_paths(project: Project, prefix: Path, report: Report) -> tuple[str, ...]:
    """Every file and folder whose change could change `report`."""
    root = project.root
    paths = [
        project.pyproject,
        root / "pylock.toml",
        root / "uv.lock",
        root / ".python-version",
        active_path(root),
        prefix / "pyvenv.cfg",
        prefix / SYNC_STAMP,
        prefix / ROLLBACK,  # a killed sync's: the next must put its copy back
        _venv.venv_python(prefix),
        _venv.venv_scripts(prefix),
    ]
    paths += [Path(d) for d in report.sys_path]
    for layer in report.layers:
        folder = Path(str(layer.get("path")))
        paths += [folder, folder / LAYER_META, _venv.venv_scripts(folder)]
        paths += _top_level(folder, report.python_version)
    if report.name is not None:
        composed = Path(report.virtual_env)
        paths += [composed / COMPOSITION_RECORD, _venv.venv_python(composed)]
        version = tuple(int(x) for x in report.python_version.split(".")[:2])
        site = _venv.site_packages(composed, (version[0], version[1]))
        paths += [site] + [site / name for name in overlay_files(())]
    return tuple(str(p) for p in paths)


def _top_level(layer: Path, python_version: str) -> list[Path]:
    """The folders directly in a layer's site-packages (packages, dist-infos): deleting a file
    in one changes its mtime, so the fast path notices a layer that lost a module."""
    version = tuple(int(x) for x in python_version.split(".")[:2])
    site = _venv.site_packages(layer, (version[0], version[1]))
    try:
        with os.scandir(site) as entries:
            return sorted(site / e.name for e in entries if e.is_dir() and e.name != "__pycache__")
    except OSError:
        return []


def remember(command: str, plan: Plan, report: Report, before: list[object]) -> None:
    """Store the report for the CLI's no-op fast path (see `fastpath`); never one that says a
    composition is missing or damaged (the next run must repair it, not repeat it)."""
    inputs = plan.input_paths
    if inputs is None or plan.refresh:
        return
    if any(DAMAGED in w for w in report.warnings):
        return
    project = plan.base.project
    outputs = list(watch_paths(project, plan.base.prefix, report))
    quiet = replace(
        report,
        sync=replace(report.sync, installed=(), removed=()),
        layers=tuple({**layer, "reused": True} for layer in report.layers),
    )
    data = quiet.to_json()
    data.pop("env", None)
    # The stored file lives in the workspace: its folder is implied; cwd is not.
    key = request_key(command, {**plan.memo_key, "cwd": os.getcwd()})
    store(str(project.root), key, [*inputs, *outputs], [*before, *stat_all(outputs)], data)
