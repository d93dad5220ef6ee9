"""What is on disk: the layer cache's published and leftover entries, and tree snapshots.

- `layers_root(cache)`, `published(cache)`, `leftovers(cache)`: the layer store of a cache
  folder, its published keys and its temporary/trash folders.
- `assert_cache_sound(cache)`: every published layer loads and verifies.
- `snapshot(root, skip=())`: kind, size and mtime of every entry under `root`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from envlayers.core.layers import LayerCache, is_valid_key

__all__ = ["assert_cache_sound", "layers_root", "leftovers", "published", "snapshot"]


def layers_root(cache: Path) -> Path:
    return cache / "layers" / "v1"


def published(cache: Path) -> list[str]:
    root = layers_root(cache)
    return sorted(p.name for p in root.iterdir() if is_valid_key(p.name)) if root.exists() else []


def leftovers(cache: Path) -> list[str]:
    """Temporary and trash folders of builds (locks are expected to stay)."""
    root = layers_root(cache)
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.name.startswith((".tmp-", ".trash-")))


def assert_cache_sound(cache: Path) -> None:
    """Every published layer is whole: it loads and every package of its metadata is there."""
    layers = LayerCache(layers_root(cache))
    for key in published(cache):
        layer = layers.load(key)
        assert layer is not None, f"published layer {key} does not load"
        assert layers.verify(layer) is None, layers.verify(layer)


def snapshot(root: Path, *, skip: Sequence[Path] = ()) -> dict[str, tuple[str, int, int]]:
    """Every entry under `root` (but the `skip` folders): kind, size, mtime_ns."""
    skipped = {os.path.realpath(s) for s in skip}
    out: dict[str, tuple[str, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [
            d for d in dirnames if os.path.realpath(os.path.join(dirpath, d)) not in skipped
        ]
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            kind = "dir" if os.path.isdir(p) and not os.path.islink(p) else "file"
            out[os.path.relpath(p, root)] = (
                kind,
                st.st_size if kind == "file" else 0,
                st.st_mtime_ns if kind == "file" else 0,
            )
    return out
