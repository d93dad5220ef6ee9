"""Stage 3, the composition's bookkeeping: `.envlayers/active.json` (which composition the
workspace uses, and the request that made it) and the cache's registry of compositions that
use layers (what `prune` must keep)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from envlayers.core import interpreter as _interp
from envlayers.core import venv as _venv
from envlayers.core.compose import CarryHook, ComposedEnv, ensure_composed
from envlayers.core.fsutil import atomic_write_json, read_json, remove_tree
from envlayers.core.interpreter import InterpreterInfo
from envlayers.core.layers import Layer, LayerCache
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


def active_path(root: Path) -> Path:
    return root / ".envlayers" / ACTIVE


def read_active(root: Path) -> dict[str, object] | None:
    return read_json(active_path(root))


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
        remove_tree(active_path(root))


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
    layers = [cache.load(k) for k in strs(active.get("layers"))]
    if any(la is None for la in layers):
        return
    python = _venv.venv_python(prefix)
    if python.exists():
        ensure_composed(
            root,
            str(active["name"]),
            base=_interp.probe(python, cache_dir=layout.root),
            layers=[la for la in layers if la],
            carry=carry,
        )
