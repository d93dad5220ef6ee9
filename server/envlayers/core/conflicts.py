"""Conflicts across a stack of sources: one distribution, different versions; the first wins.

Each conflict names the requirements of the winning distributions that the winner breaks.
Also `extraneous`: installed distributions nothing asks for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
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
    sources: Sequence[tuple[str, Inventory]],
    marker_env: Mapping[str, str],
    roots: Iterable[str] = (),
) -> list[Conflict]:
    """Version conflicts across `sources` (top first, the base last), each with every
    requirement its winner breaks (the base's own included, and those behind an extra that
    `roots`, the project's requirements, or a winner asks for). A requirement of a layer's
    distribution that the winning version breaks is a conflict too, shadow or not."""
    winners: dict[str, tuple[str, Distribution]] = {}
    shadows: dict[str, list[Shadow]] = {}
    for label, inventory in sources:
        for dist in inventory:
            won = winners.get(dist.name)
            if won is None:
                winners[dist.name] = (label, dist)
            elif not _same_version(won[1].version, dist.version):
                shadows.setdefault(dist.name, []).append(Shadow(dist.version, label))
    markers = Markers(marker_env)
    extras = _wanted_extras(winners.values(), roots, markers)
    base_label = sources[-1][0] if sources else ""
    breaks: dict[str, list[str]] = {name: [] for name in shadows}
    for label, dependent in winners.values():
        wanted = ("", *sorted(extras.get(dependent.name, ())))

        def active(marker: Marker | None, wanted: tuple[str, ...] = wanted) -> bool:
            return any(markers.true(marker, e) for e in wanted)

        for req in dependent.active_requires(active):
            name = canonical(req.name)
            won = winners.get(name)
            if won is None or (name not in breaks and label == base_label):
                continue
            if req.specifier and not req.specifier.contains(
                parsed_version(won[1].version), prereleases=True
            ):
                breaks.setdefault(name, []).append(
                    f"{dist_label(dependent)} requires {req_text(req)}"
                )
    return [
        Conflict(
            name,
            winners[name][1].version,
            winners[name][0],
            tuple(shadows.get(name, ())),
            tuple(sorted(set(breaks[name]))),
        )
        for name in sorted(breaks)
        if name in shadows or breaks[name]
    ]


def _wanted_extras(
    winners: Iterable[tuple[str, Distribution]], roots: Iterable[str], markers: Markers
) -> dict[str, set[str]]:
    """Distribution name -> the extras that `roots` or a winner's requirements ask for."""
    wanted: dict[str, set[str]] = {}
    for text in roots:
        with contextlib.suppress(InvalidRequirement):
            req = Requirement(text)
            if req.extras and markers.true(req.marker, ""):
                wanted.setdefault(canonical(req.name), set()).update(
                    canonicalize_name(e) for e in req.extras
                )
    for _label, dist in winners:
        for req in dist.active_requires(lambda m: markers.true(m, "")):
            if req.extras:
                wanted.setdefault(canonical(req.name), set()).update(
                    canonicalize_name(e) for e in req.extras
                )
    return wanted


def extraneous(
    inventory: Inventory,
    required: Iterable[str],
    keep: Iterable[str] = ("pip", "setuptools", "wheel", "uv"),
) -> list[str]:
    """Installed distributions nothing asks for (canonical names, sorted); `keep` never is."""
    wanted = {canonicalize_name(n) for n in required} | {canonicalize_name(n) for n in keep}
    return sorted(dist.name for dist in inventory if dist.name not in wanted)
