"""Administration of the layer cache and of a workspace's compositions: list, prune, remove.
The registry of compositions (`CacheLayout.compositions`) says which layers are in use."""

from __future__ import annotations

import contextlib
import logging
import time
from functools import partial
from pathlib import Path

from envlayers.core import interpreter as _interp
from envlayers.core import venv as _venv
from envlayers.core.active import clear_active, read_active
from envlayers.core.compose import load_composed, stale_reason
from envlayers.core.errors import EnvlayersError, InvalidInput, OperationFailed
from envlayers.core.fsutil import read_json, remove_file, remove_tree
from envlayers.core.kernelspecs import remove_kernelspecs
from envlayers.core.layers import LayerCache, is_valid_key
from envlayers.core.paths import CacheLayout
from envlayers.core.plan import NAME_RE
from envlayers.core.requests import strs

log = logging.getLogger(__name__)

__all__ = [
    "composition_path",
    "layer_users",
    "list_compositions",
    "list_layers",
    "prune_layers",
    "remove_composition",
    "remove_layer",
]


def layer_users(layout: CacheLayout) -> dict[str, list[str]]:
    """Layer key -> the compositions that use it; forgets registry entries of vanished ones."""
    users: dict[str, list[str]] = {}
    try:
        entries = list(layout.compositions.iterdir())
    except OSError:
        return users
    for entry in entries:
        data = read_json(entry)
        if not data:
            continue
        path = Path(str(data.get("path")))
        record = load_composed(path)
        if record is None:
            with contextlib.suppress(OSError):
                remove_file(entry, roots=[layout.compositions])
            continue
        for key in strs(record.get("layers")):
            users.setdefault(key, []).append(str(path))
    return users


def list_layers(layout: CacheLayout) -> list[dict[str, object]]:
    cache = LayerCache(layout.layers)
    users = layer_users(layout)
    return [cache.describe(k, users.get(k, ())) for k in cache.published_keys()]


def prune_layers(
    layout: CacheLayout, *, older_than_days: float | None = None, all: bool = False
) -> dict[str, object]:
    """Remove layers unused for `older_than_days` (default 30) that no composition uses (`all`:
    every layer, used or not). A leased layer (a composition is being built on it) is kept."""
    cache = LayerCache(layout.layers)
    horizon = time.time() - 86400 * (30.0 if older_than_days is None else float(older_than_days))
    removed: list[str] = []
    freed = 0
    for key in cache.published_keys():
        if not all and cache.last_used(key) > horizon:
            continue
        size = int(cache.describe(key)["sizeBytes"])  # type: ignore[call-overload]
        # Whether it is used is asked under its lock: a compose may register a use meanwhile.
        why = cache.remove(key, keep=_nothing if all else partial(_in_use, layout, key))
        if why is None:
            removed.append(key)
            freed += size
        else:
            log.info("kept layer %s: %s", key, why)
    cache.remove_leftovers(time.time() - 3600)
    return {"removed": removed, "freedBytes": freed}


def remove_layer(layout: CacheLayout, key: str, *, force: bool = False) -> dict[str, object]:
    """Remove one layer; refused while a composition uses it unless `force` (those
    compositions are then invalid: `compositions list` and the report say so), and always
    while it is leased."""
    if not is_valid_key(key):
        raise InvalidInput(f"not a layer key: {key!r}")
    cache = LayerCache(layout.layers)
    if not cache.path_for(key).exists():
        raise InvalidInput(f"no layer {key} in {cache.root}")
    users: list[str] = []

    def keep() -> str | None:
        users.extend(layer_users(layout).get(key, []))
        if users and not force:
            return (
                f"it is used by {', '.join(sorted(users))}; remove those compositions first, "
                "or pass --force (the LSP option `force`) to remove it anyway"
            )
        return None

    why = cache.remove(key, keep=keep)
    if why is not None:
        raise OperationFailed(f"layer {key} was not removed: {why}")
    if users:
        log.warning("removed layer %s; now invalid: %s", key, ", ".join(sorted(users)))
    return {"removed": [key]}


def _nothing() -> str | None:
    return None


def _in_use(layout: CacheLayout, key: str) -> str | None:
    users = layer_users(layout).get(key)
    return f"it is used by {', '.join(sorted(users))}" if users else None


def list_compositions(root: Path, layout: CacheLayout) -> list[dict[str, object]]:
    """The composed envs of a workspace, the active one marked; `valid` only when everything it
    was built on (base interpreter, layers) is still there and the same."""
    active = read_active(root) or {}
    cache = LayerCache(layout.layers)
    out: list[dict[str, object]] = []
    try:
        entries = sorted((root / ".envlayers").iterdir())
    except OSError:
        return out
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        record = load_composed(entry)
        stale = _stale(record, cache, layout) if record is not None else "damaged"
        out.append(
            {
                "name": entry.name,
                "path": str(entry),
                "interpreter": str(_venv.venv_python(entry)),
                "layers": strs(record.get("layers")) if record else [],
                "active": active.get("name") == entry.name,
                "valid": stale is None,
            }
        )
    return out


def _stale(record: dict[str, object], cache: LayerCache, layout: CacheLayout) -> str | None:
    python = _venv.venv_python(Path(str(record.get("basePrefix"))))
    base = None
    with contextlib.suppress(EnvlayersError):
        base = _interp.probe(python, cache_dir=layout.root) if python.exists() else None
    layers = [cache.load(k) if is_valid_key(k) else None for k in strs(record.get("layers"))]
    return stale_reason(record, base, layers)


def composition_path(root: Path, name: str) -> Path:
    """The folder of the composition `name` of the workspace `root`; InvalidInput if none."""
    if not NAME_RE.match(name):
        raise InvalidInput(f"invalid composition name {name!r}")
    path = root / ".envlayers" / name
    if not path.is_dir():
        raise InvalidInput(f"no composition {name!r} in {root / '.envlayers'}")
    return path


def remove_composition(root: Path, name: str) -> dict[str, object]:
    """Delete a composed env and the Jupyter kernelspecs written for it; the workspace falls
    back to its base when it was the active one. The caller holds the workspace lock."""
    path = composition_path(root, name)
    kernels = remove_kernelspecs(path)
    remove_tree(path, kind="composition", roots=[root])
    clear_active(root, name)
    return {"removed": [name], "kernelspecs": kernels}
