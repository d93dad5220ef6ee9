"""Stage 3, the composition's bookkeeping: `.envlayers/active.json` (which composition the
workspace uses, and the request that made it) and the cache's registry of compositions that
use layers (what `prune` must keep)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from envlayers.core import interpreter as _interp
from envlayers.core import venv as _venv
from envlayers.core.compose import CarryHook, ComposedEnv, ensure_composed
from envlayers.core.fsutil import atomic_write_json, read_json, remove_file
from envlayers.core.interpreter import InterpreterInfo
from envlayers.core.layers import Layer, LayerCache, is_valid_key
from envlayers.core.leases import LeaseSet
from envlayers.core.owned import SAFE_NAME
from envlayers.core.paths import CacheLayout
from envlayers.core.requests import strs

__all__ = [
    "ACTIVE",
    "activate",
    "active_path",
    "clear_active",
    "read_active",
    "refresh_active",
    "register_use",
    "write_active",
]

ACTIVE = "active.json"
log = logging.getLogger(__name__)

log = logging.getLogger(__name__)


def active_path(root: Path) -> Path:
    return root / ".envlayers" / ACTIVE


def read_active(root: Path) -> dict[str, object] | None:
    """`active.json` when it is envlayers' own (the schema below), else None and a warning.

    The file sits in a folder a repository can commit: its name becomes a path below
    `.envlayers/` and its keys name cache folders, so nothing unchecked may pass.
    """
    data = read_json(active_path(root))
    if data is None:
        return None
    problem = _active_problem(data)
    if problem is not None:
        log.warning("ignoring %s: %s", active_path(root), problem)
        return None
    return data


def _active_problem(data: Mapping[str, object]) -> str | None:
    if data.get("format") != 1:
        return "not an envlayers state file (format)"
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or not SAFE_NAME.match(name)):
        return f"invalid composition name {str(name)[:80]!r}"
    layers = data.get("layers", [])
    if not isinstance(layers, list) or not all(
        isinstance(k, str) and is_valid_key(k) for k in layers
    ):
        return "invalid layer keys"
    satisfied = data.get("satisfiedByBase", [])
    if not isinstance(satisfied, list) or not all(isinstance(r, str) for r in satisfied):
        return "invalid satisfiedByBase"
    if not isinstance(data.get("request", {}), dict):
        return "invalid request"
    return None


def write_active(
    root: Path,
    name: str | None,
    request: Mapping[str, object],
    satisfied: Sequence[str],
    layers: Sequence[Layer],
) -> None:
    active = {
        "format": 1,
        "name": name,
        "request": dict(request),
        "satisfiedByBase": list(satisfied),
        "layers": [la.key for la in layers],
    }
    # Unchanged: keep the file (and its stat, which the CLI's stored reports watch).
    if read_json(active_path(root)) != active:
        atomic_write_json(active_path(root), active)


def activate(
    root: Path,
    name: str | None,
    base: InterpreterInfo,
    layers: Sequence[Layer],
    *,
    request: Mapping[str, object],
    satisfied: Sequence[str],
    layout: CacheLayout,
    carry: CarryHook,
) -> None:
    """Compose `layers` over `base` as `name` (none: the bare base) and make it the active one."""
    if name is not None:
        composed = ensure_composed(root, name, base=base, layers=layers, carry=carry)
        register_use(layout, composed)
    write_active(root, name, request, satisfied, layers)


def clear_active(root: Path, name: str) -> None:
    """Forget the active composition when it is `name` (the workspace falls back to its base)."""
    active = read_active(root)
    if active is not None and active.get("name") == name:
        remove_file(active_path(root), roots=[root])


def register_use(layout: CacheLayout, composed: ComposedEnv) -> None:
    digest = hashlib.sha256(str(composed.path).encode()).hexdigest()[:24]
    with contextlib.suppress(OSError):
        atomic_write_json(
            layout.compositions / f"{digest}.json",
            {"path": str(composed.path), "layers": list(composed.layer_keys)},
        )


def refresh_active(
    root: Path, prefix: Path, cache: LayerCache, layout: CacheLayout, carry: CarryHook
) -> None:
    """After a sync, bring the active composed env up to date (no installer runs)."""
    active = read_active(root)
    if not active or not isinstance(active.get("name"), str):
        return
    python = _venv.venv_python(prefix)
    if not python.exists():
        return
    with LeaseSet(cache.root) as leases:
        keys = strs(active.get("layers"))
        if not all(is_valid_key(k) for k in keys):
            return
        for key in keys:
            leases.hold(key)
        layers = [cache.load(k) for k in keys]
        if any(la is None for la in layers):
            return
        base = _interp.probe(python, cache_dir=layout.root)
        whole = [la for la in layers if la]
        if not all(la.built_for(base) for la in whole):
            # Its layers are another Python's: only `env` (an installer) can make new ones;
            # until then the composition is stale and the report says so.
            log.warning(
                "the composition %r was built for another Python than the base's %s; "
                "run `envlayers env` to rebuild it",
                active["name"],
                base.version,
            )
            return
        composed = ensure_composed(root, str(active["name"]), base=base, layers=whole, carry=carry)
        register_use(layout, composed)
