"""Where envlayers keeps its cache: one root, a versioned layout, a `CACHEDIR.TAG`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from envlayers.core.fsutil import atomic_write_text
from envlayers.core.trust import ensure_private_dir

__all__ = [
    "CACHEDIR_TAG",
    "CacheLayout",
    "cache_dir",
    "ensure_cache_dir",
    "layers_root",
    "probes_root",
]

# The standard signature (https://bford.info/cachedir/) that backup tools look for.
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by envlayers.\n"
    "# For information about cache directory tags, see:\n"
    "#\thttps://bford.info/cachedir/\n"
)


def cache_dir() -> Path:
    """`$ENVLAYERS_CACHE_DIR`, else the platform's user cache dir for envlayers; not created."""
    override = os.environ.get("ENVLAYERS_CACHE_DIR")
    if override:
        return Path(override).expanduser().absolute()
    import platformdirs  # lazy: only needed when no override is set

    return Path(platformdirs.user_cache_dir("envlayers", appauthor=False))


def ensure_cache_dir(root: Path | None = None) -> Path:
    """The cache dir (`root`, else `cache_dir()`), created `0700` with its `CACHEDIR.TAG` when
    missing; refused when another user owns it or others may write it (layers run from it)."""
    root = cache_dir() if root is None else root
    ensure_private_dir(root)
    tag = root / "CACHEDIR.TAG"
    if not tag.exists():
        atomic_write_text(tag, CACHEDIR_TAG, durable=False)
    return root


@dataclass(frozen=True)
class CacheLayout:
    """Every path under one cache root: the layers, the interpreter probes, the registry of
    compositions that use layers. Nothing else in the core spells a cache path."""

    root: Path

    @classmethod
    def at(cls, root: Path | None = None) -> CacheLayout:
        """The layout at `root`, else at `cache_dir()` (read now, not when imported)."""
        return cls(cache_dir() if root is None else root)

    @property
    def layers(self) -> Path:
        return self.root / "layers" / "v1"

    @property
    def probes(self) -> Path:
        return self.root / "probes" / "v1"

    @property
    def discovery(self) -> Path:
        return self.root / "probes" / "discovery"

    @property
    def compositions(self) -> Path:
        return self.root / "compositions" / "v1"

    @property
    def scripts(self) -> Path:
        """Single-file scripts' stand-in workspaces (`core.scriptenv`)."""
        return self.root / "scripts" / "v1"

    @property
    def editables(self) -> Path:
        """Projects' editable installs, kept for their next new venv (`core.editables`)."""
        return self.root / "editables" / "v1"

    @property
    def uv_refresh(self) -> Path:
        """What uv has read of local find-links folders (`core.uvrefresh`)."""
        return self.root / "uv-find-links.json"

    def ensure(self) -> Path:
        """The root, created with its `CACHEDIR.TAG`."""
        return ensure_cache_dir(self.root)


def layers_root() -> Path:
    return CacheLayout.at().layers


def probes_root() -> Path:
    return CacheLayout.at().probes
