"""One snapshot type for both report memos (the engine's in memory, the CLI's fast path on disk):
a list of paths and the `stat` of each, taken once and compared later. Stdlib `os` only."""

from __future__ import annotations

import os

# Not `typing.TYPE_CHECKING`: importing typing costs milliseconds on the hot path.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Snapshot", "stat_all"]


def stat_all(paths: Sequence[str]) -> list[object]:
    """(mtime_ns, size, inode) of each path, None where missing: cheap and exact enough."""
    out: list[object] = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            out.append(None)
            continue
        out.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return out


class Snapshot:
    """`paths` and their stats at one moment; immutable (a value, without `dataclasses`,
    which the fast path cannot afford to import)."""

    __slots__ = ("paths", "stats")
    paths: tuple[str, ...]
    stats: tuple[object, ...]

    def __init__(self, paths: Sequence[str], stats: Sequence[object]) -> None:
        object.__setattr__(self, "paths", tuple(str(p) for p in paths))
        object.__setattr__(self, "stats", tuple(stats))
        if len(self.paths) != len(self.stats):
            raise ValueError("a snapshot needs one stat per path")

    @classmethod
    def take(cls, paths: Sequence[str]) -> Snapshot:
        """The stats of `paths` now."""
        return cls(paths, stat_all([str(p) for p in paths]))

    def changed(self) -> bool:
        """Whether any path's stat differs from the snapshot's (appeared, vanished, written)."""
        return tuple(stat_all(self.paths)) != self.stats

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Snapshot is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Snapshot is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Snapshot):
            return NotImplemented
        return (self.paths, self.stats) == (other.paths, other.stats)

    def __hash__(self) -> int:
        return hash((self.paths, self.stats))

    def __repr__(self) -> str:
        return f"Snapshot({len(self.paths)} paths)"
