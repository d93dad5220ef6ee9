"""Where envlayers keeps its cache: one root, a versioned layout, a `CACHEDIR.TAG`."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["CACHEDIR_TAG", "cache_dir", "ensure_cache_dir", "layers_root", "probes_root"]

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
    """The cache dir (`root`, else `cache_dir()`), created with its `CACHEDIR.TAG` when missing."""
    root = cache_dir() if root is None else root
    root.mkdir(parents=True, exist_ok=True)
    tag = root / "CACHEDIR.TAG"
    if not tag.exists():
        tmp = root / f".CACHEDIR.TAG.{os.getpid()}.tmp"
        try:
            tmp.write_text(CACHEDIR_TAG, encoding="utf-8")
            os.replace(tmp, tag)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
    return root


def layers_root() -> Path:
    return cache_dir() / "layers" / "v1"


def probes_root() -> Path:
    return cache_dir() / "probes" / "v1"
