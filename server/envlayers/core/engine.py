"""The facade both fronts call. It owns the workspace lock and runs the stages in order:

    plan (Options + Project) -> base (sync) -> stack (layers) -> composition -> report

Each stage is its own module and knows nothing of the others; only this one sees them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from envlayers.config import Options
from envlayers.core import cacheadmin, consumers
from envlayers.core.active import activate, refresh_active
from envlayers.core.assemble import assemble_report
from envlayers.core.base import probe_base, sync_base, sync_info
from envlayers.core.fastpath import stat_all
from envlayers.core.interpreter import InterpreterInfo
from envlayers.core.kernelspecs import carry_kernelspecs
from envlayers.core.layers import LayerCache
from envlayers.core.leases import LeaseSet
from envlayers.core.memo import ProjectMemo, ReportMemo, remember, watch_paths
from envlayers.core.paths import CacheLayout
from envlayers.core.plan import Plan, make_plan, venv_prefix
from envlayers.core.proc import CancelToken
from envlayers.core.project import Project
from envlayers.core.report import Report, SyncInfo
from envlayers.core.resolve import resolve_member, resolve_workspace, workspace_lock
from envlayers.core.stack import ensure_stack, stack_plan

__all__ = ["Engine", "LineSink", "resolve_workspace"]

LineSink = Callable[[str], None]


class Engine:
    """One per process. Thread-safe; operations on one workspace are serialised by a lock file."""

    def __init__(self, *, cache_dir: Path | None = None) -> None:
        self._cache_dir = cache_dir
        self._projects = ProjectMemo()
        self._reports = ReportMemo()

    @property
    def layout(self) -> CacheLayout:
        return CacheLayout.at(self._cache_dir)

    @property
    def cache_root(self) -> Path:
        return self.layout.root

    @property
    def layers(self) -> LayerCache:
        return LayerCache(self.layout.layers)

    def project(self, root: Path) -> Project:
        return self._projects.get(root)

    # -- the stages, in order -----------------------------------------------------------
    def sync(
        self,
        workspace: Path,
        options: Options = Options(),
        *,
        on_line: LineSink | None = None,
        cancel: CancelToken | None = None,
    ) -> Report:
        root = resolve_workspace(workspace)
        member = resolve_member(workspace, root)
        with workspace_lock(root):
            plan = make_plan(options, self.project(root), layers=False, member=member)
            layout = self.layout
            before = stat_all(plan.input_paths or [])
            info = sync_base(plan.base, layout, on_line=on_line, cancel=cancel)
            refresh_active(root, plan.base.prefix, self.layers, layout, carry_kernelspecs)
            report = self._assemble(plan.base.project, sync=info)
            remember("sync", plan, report, before)
            return report

    def compose(
        self,
        workspace: Path,
        options: Options = Options(),
        *,
        on_line: LineSink | None = None,
        cancel: CancelToken | None = None,
    ) -> Report:
        if options.script:
            return self._compose_script(Path(options.script), options, on_line, cancel)
        root = resolve_workspace(workspace)
        member = resolve_member(workspace, root)
        plan = make_plan(options, self.project(root), member=member)  # validate input first
        return self._compose(root, plan, on_line=on_line, cancel=cancel)

    def _compose(
        self,
        root: Path,
        plan: Plan,
        *,
        on_line: LineSink | None,
        cancel: CancelToken | None,
        late: Callable[[InterpreterInfo], Plan] | None = None,
    ) -> Report:
        """Stages 1-4 under the workspace lock; `late` completes the plan once the base is
        known (a script's layer, which a lock pins for that interpreter)."""
        layout = self.layout
        with workspace_lock(root):
            before = stat_all(plan.input_paths or [])
            sync: SyncInfo | None = None
            if not plan.no_sync:
                sync = sync_base(plan.base, layout, on_line=on_line, cancel=cancel)
            base = probe_base(plan.base, layout)
            if late is not None:
                plan = late(base)
            # Leases keep prune/remove off the layers until the composition is registered.
            with LeaseSet(layout.layers) as leases:
                stack = ensure_stack(
                    stack_plan(plan),
                    base,
                    layout,
                    on_line=on_line,
                    cancel=cancel,
                    lease=leases.hold,
                )
                if cancel is not None:
                    cancel.raise_if_cancelled()
                name = plan.name if stack.layers else None
                activate(
                    root,
                    name,
                    base,
                    stack.layers,
                    request=plan.request,
                    satisfied=stack.satisfied_by_base,
                    layout=layout,
                    carry=carry_kernelspecs,
                )
            reused = {layer.key: layer.reused for layer in stack.layers}
            report = self._assemble(plan.base.project, sync=sync, reused=reused)
            if late is None:
                remember("env", plan, report, before)
            return report

    def _compose_script(
        self,
        script: Path,
        options: Options,
        on_line: LineSink | None,
        cancel: CancelToken | None,
    ) -> Report:
        """A PEP 723 script's composition (`core.scriptenv`); without a block, the
        surrounding project's."""
        from envlayers.core import scriptenv  # only scripts need it (and packaging.pylock)

        target = scriptenv.load_target(script, self.layout)
        if target is None:
            project = scriptenv.project_of(script)
            return self.compose(
                project, replace(options, script=None), on_line=on_line, cancel=cancel
            )
        plan = make_plan(scriptenv.script_options(options, target.script), target.project)
        index = plan.base.index

        def late(base: InterpreterInfo) -> Plan:
            layer = scriptenv.script_layer(
                target, base, index, frozen=options.frozen, on_line=on_line, cancel=cancel
            )
            return scriptenv.script_plan(plan, layer)

        scriptenv.remember_script(target)
        with scriptenv.script_errors(target):
            report = self._compose(target.root, plan, on_line=on_line, cancel=cancel, late=late)
        return scriptenv.script_report(report, target)

    def _assemble(
        self, project: Project, *, sync: SyncInfo | None, reused: dict[str, bool] | None = None
    ) -> Report:
        return assemble_report(project, venv_prefix(project), self.layout, sync=sync, reused=reused)

    def sync_state(self, workspace: Path) -> str:
        """in-sync | out-of-sync | missing, without an installer (a probe at most once)."""
        project = self.project(resolve_workspace(workspace))
        return sync_info(project, venv_prefix(project), self.layout).state

    # -- the report ---------------------------------------------------------------------
    def report(self, workspace: Path, *, script: Path | None = None) -> Report:
        """The active composition's report: no installer, no process (probes are cached).

        Memoised per workspace until one of the files it was computed from changes (a few
        `stat` calls decide), so an editor asking on every start or keystroke pays microseconds.
        With `script`, that script's composition (a script without a block: its project's).
        """
        if script is not None:
            from envlayers.core import scriptenv

            target = scriptenv.load_target(script, self.layout)
            if target is None:
                return self.report(scriptenv.project_of(script))
            report = self._assemble(target.project, sync=None)
            return scriptenv.script_report(report, target)
        root = resolve_workspace(workspace)
        fresh = self._reports.fresh(root)
        if fresh is not None:
            return fresh
        project = self.project(root)
        prefix = venv_prefix(project)
        return self._reports.compute(
            root,
            lambda: self._assemble(project, sync=None),
            lambda report: watch_paths(project, prefix, report),
        )

    def fresh_report(self, root: Path) -> Report | None:
        """The memoised report of the workspace folder `root` when still current, else None.

        A handful of `stat` calls: cheap enough for an event loop to call inline.
        """
        return self._reports.fresh(root)

    # -- consumers ----------------------------------------------------------------------
    def debug_configuration(
        self,
        workspace: Path,
        options: Options | None = None,
        *,
        program: str | None = None,
        module: str | None = None,
        cwd: Path | None = None,
    ) -> dict[str, object]:
        report = (
            self.compose(workspace, options)
            if options is not None and (options.has_layers or options.script)
            else self.report(workspace)
        )
        return consumers.debug_configuration(report, program=program, module=module, cwd=cwd)

    def active_options(self, workspace: Path, options: Options) -> Options:
        """`options`, or, when they ask for no layers, the active composition's stack."""
        return consumers.stack_options(resolve_workspace(workspace), options)

    def install_kernel(
        self,
        workspace: Path,
        options: Options | None = None,
        *,
        name: str | None = None,
        display_name: str | None = None,
        user: bool = False,
        on_line: LineSink | None = None,
        cancel: CancelToken | None = None,
    ) -> dict[str, object]:
        return consumers.install_kernel(
            self,
            _kernel_workspace(workspace, options, self.layout),
            options or Options(),
            name=name,
            display_name=display_name,
            user=user,
            on_line=on_line,
            cancel=cancel,
        )

    # -- the layer cache and the compositions ----------------------------------------------
    def list_layers(self) -> list[dict[str, object]]:
        return cacheadmin.list_layers(self.layout)

    def prune_layers(
        self, *, older_than_days: float | None = None, all: bool = False
    ) -> dict[str, object]:
        return cacheadmin.prune_layers(self.layout, older_than_days=older_than_days, all=all)

    def remove_layer(self, key: str, *, force: bool = False) -> dict[str, object]:
        return cacheadmin.remove_layer(self.layout, key, force=force)

    def list_compositions(self, workspace: Path) -> list[dict[str, object]]:
        """The composed envs of a workspace, the active one marked."""
        return cacheadmin.list_compositions(resolve_workspace(workspace), self.layout)

    def remove_composition(self, workspace: Path, name: str) -> dict[str, object]:
        """Delete a composed env and the Jupyter kernelspecs written for it; the workspace
        falls back to its base when it was the active one."""
        root = resolve_workspace(workspace)
        cacheadmin.composition_path(root, name)  # a bad name is refused before the lock
        with workspace_lock(root):
            return cacheadmin.remove_composition(root, name)


def _kernel_workspace(workspace: Path, options: Options | None, layout: CacheLayout) -> Path:
    """Where a kernel's composition lives: a script's stand-in workspace, else the workspace."""
    script = options.script if options is not None else None
    if not script:
        return resolve_workspace(workspace)
    from envlayers.core import scriptenv  # only scripts need it (and packaging.pylock)

    return scriptenv.compositions_root(Path(script), layout)
