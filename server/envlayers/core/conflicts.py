"""Conflicts across a stack of sources: one distribution, different versions; the first wins.

Each conflict names the requirements of the winning distributions that the winner breaks.
Also `extraneous`: installed distributions nothing asks for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from packaging.markers import Marker
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envlayers.core.inventory import Distribution, Inventory
from envlayers.core.reqeval import Markers, canonical, dist_label, parsed_version, req_text

__all__ = ["Conflict", "Shadow", "extraneous", "find_conflicts"]


@dataclass(frozen=True)
class Shadow:
    version: str
    source: str


@dataclass(frozen=True)
class Conflict:
    """A distribution in more than one source with different versions; the first one wins."""

    name: str
    version: str
    source: str
    shadows: tuple[Shadow, ...]
    breaks: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "shadows": [{"version": s.version, "source": s.source} for s in self.shadows],
            "breaks": list(self.breaks),
        }


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def find_conflicts(
    sources: Sequence[tuple[str, Inventory]], marker_env: Mapping[str, str]
) -> list[Conflict]:
    """Version conflicts across `sources` (top first), with the requirements each one breaks."""
    winners: dict[str, tuple[str, Distribution]] = {}
    shadows: dict[str, list[Shadow]] = {}
    for label, inventory in sources:
        for dist in inventory:
            won = winners.get(dist.name)
            if won is None:
                winners[dist.name] = (label, dist)
            elif not _same_version(won[1].version, dist.version):
                shadows.setdefault(dist.name, []).append(Shadow(dist.version, label))
    if not shadows:
        return []
    markers = Markers(marker_env)
    breaks: dict[str, list[str]] = {name: [] for name in shadows}

    def plain(marker: Marker | None) -> bool:
        return markers.true(marker, "")

    for _source, dependent in winners.values():
        for req in dependent.active_requires(plain):
            name = canonical(req.name)
            if name not in breaks:
                continue
            version = winners[name][1].version
            if req.specifier and not req.specifier.contains(
                parsed_version(version), prereleases=True
            ):
                breaks[name].append(f"{dist_label(dependent)} requires {req_text(req)}")
    return [
        Conflict(
            name,
            winners[name][1].version,
            winners[name][0],
            tuple(shadows[name]),
            tuple(sorted(set(breaks[name]))),
        )
        for name in sorted(shadows)
    ]


def extraneous(
    inventory: Inventory,
    required: Iterable[str],
    keep: Iterable[str] = ("pip", "setuptools", "wheel", "uv"),
) -> list[str]:
    """Installed distributions nothing asks for (canonical names, sorted); `keep` never is."""
    wanted = {canonicalize_name(n) for n in required} | {canonicalize_name(n) for n in keep}
    return sorted(dist.name for dist in inventory if dist.name not in wanted)
