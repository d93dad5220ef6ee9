"""Stage 4, the report: what the active composition (or the bare base) offers an editor, read
from disk with no installer and no process (interpreter probes are cached)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from envlayers.core import interpreter as _interp
from envlayers.core import venv as _venv
from envlayers.core.active import read_active
from envlayers.core.base import sync_info
from envlayers.core.compose import (
    base_site_dirs,
    compose_digest,
    load_composed,
    stale_reason,
    static_sys_path,
)
from envlayers.core.interpreter import InterpreterInfo
from envlayers.core.inventory import Inventory
from envlayers.core.layers import Layer, LayerCache
from envlayers.core.paths import CacheLayout
from envlayers.core.project import Project
from envlayers.core.report import Report, SyncInfo
from envlayers.core.requests import strs
from envlayers.core.satisfy import find_conflicts

__all__ = ["DAMAGED", "assemble_report"]

# The words of the warning for a composition that cannot be offered as is (the fast path never
# stores a report that says them).
DAMAGED = "is missing or damaged"


def assemble_report(
    project: Project,
    prefix: Path,
    layout: CacheLayout,
    *,
    sync: SyncInfo | None = None,
    reused: Mapping[str, bool] | None = None,
) -> Report:
    root = project.root
    python = _venv.venv_python(prefix)
    sync = sync or sync_info(project, prefix, layout)
    if not python.exists():
        return _missing(root, prefix, python)
    base = _interp.probe(python, cache_dir=layout.root)
    base_dirs = base_site_dirs(base)
    active = read_active(root) or {}
    warnings: list[str] = []
    cache = LayerCache(layout.layers)
    # The layers this command just built or checked (`reused`) are not checked again.
    checked = set(reused or ())
    name, layers = _active_stack(root, active, base, base_dirs, cache, checked, warnings)
    if name is not None:
        composed = root / ".envlayers" / name
        interpreter, virtual_env = _venv.venv_python(composed), composed
        dirs = [str(la.site_packages) for la in layers] + base_dirs
        path_prefix = [str(_venv.venv_scripts(composed))]
    else:
        interpreter, virtual_env, dirs, path_prefix = python, prefix, base_dirs, []
    path_prefix += [str(la.scripts) for la in layers] + [base.scripts]
    layer_json = []
    for la in layers:
        entry = la.to_json()
        entry["reused"] = True if reused is None else reused.get(la.key, True)
        layer_json.append(entry)
    if sync.state != "in-sync":
        warnings.extend(sync.warnings)
        warnings.append(f"the workspace environment is {sync.state}; run `envlayers sync`")
    return Report(
        workspace=str(root),
        interpreter=str(interpreter),
        base_interpreter=str(python),
        python_version=base.version,
        virtual_env=str(virtual_env),
        sys_path=tuple(static_sys_path(dirs)),
        path_prefix=tuple(dict.fromkeys(path_prefix)),
        layers=tuple(layer_json),
        satisfied_by_base=tuple(strs(active.get("satisfiedByBase"))),
        conflicts=_conflicts(layers, base_dirs, base, [d.text for d in project.dependencies]),
        sync=sync,
        name=name,
        warnings=tuple(warnings),
    )


def _missing(root: Path, prefix: Path, python: Path) -> Report:
    return Report(
        workspace=str(root),
        interpreter=str(python),
        base_interpreter=str(python),
        python_version="",
        virtual_env=str(prefix),
        sys_path=(),
        path_prefix=(),
        layers=(),
        satisfied_by_base=(),
        conflicts=(),
        sync=SyncInfo("missing"),
        warnings=(f"the workspace environment {prefix} does not exist; run `envlayers sync`",),
    )


def _active_stack(
    root: Path,
    active: Mapping[str, object],
    base: InterpreterInfo,
    base_dirs: list[str],
    cache: LayerCache,
    checked: set[str],
    warnings: list[str],
) -> tuple[str | None, list[Layer]]:
    """The active composition's name and layers (top first), when it is whole; else a warning."""
    raw_name = active.get("name")
    if not isinstance(raw_name, str):
        return None, []
    name = raw_name
    record = load_composed(root / ".envlayers" / name)
    loaded = [cache.load(k) for k in strs(active.get("layers"))]
    # A layer that lost files is never offered as is (compose rebuilds it).
    damage = [
        d for la in loaded if la is not None and la.key not in checked and (d := cache.verify(la))
    ]
    if record is None or any(la is None for la in loaded) or damage:
        why = f" ({damage[0]})" if damage else ""
        warnings.append(
            f"the composition {name!r} {DAMAGED}{why}; run `envlayers env` to rebuild it"
        )
        return None, []
    stale = stale_reason(record, base, loaded)
    if stale is not None:
        # Never offered on another interpreter than the one it was built for: the base is.
        warnings.append(
            f"the composition {name!r} is stale: {stale}; run `envlayers env` to rebuild it"
        )
        return None, []
    layers = [la for la in loaded if la is not None]
    digest = compose_digest(
        layers=layers, base=base, base_dirs=base_dirs, system_site=base.include_system_site_packages
    )
    if record.get("digest") != digest:
        warnings.append(
            f"the composition {name!r} is out of date; run `envlayers env` to refresh it"
        )
    return name, layers


def _conflicts(
    layers: Sequence[Layer], base_dirs: list[str], base: InterpreterInfo, roots: Sequence[str]
) -> tuple[dict[str, object], ...]:
    sources = [(la.key, Inventory.scan([la.site_packages])) for la in layers]
    if not sources:
        return ()
    sources.append(("workspace", Inventory.scan(base_dirs)))
    return tuple(c.to_json() for c in find_conflicts(sources, base.marker_env, roots))
