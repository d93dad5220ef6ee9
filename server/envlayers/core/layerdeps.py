"""Layers resolved against the base: the base's installed versions are constraints for every
distribution the request does not name; where the request forces a change, only the pins it
breaks are dropped (the others stay), and what was dropped is logged (the report lists the
conflict with every requirement it breaks, `conflicts.find_conflicts`)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from envlayers.core.errors import InstallFailed
from envlayers.core.inventory import Inventory
from envlayers.core.reqeval import Markers, canonical, parsed_version

__all__ = ["base_pins", "install_against_base"]

log = logging.getLogger(__name__)


def base_pins(base_dirs: Sequence[str], requirements: Sequence[str]) -> dict[str, str]:
    """The base's versions that a layer is resolved against (canonical name -> version): every
    distribution of the base except those the request names and those installed from a
    folder or URL (the project itself: no index has them)."""
    asked: set[str] = set()
    for text in requirements:
        with contextlib.suppress(InvalidRequirement):
            asked.add(canonicalize_name(Requirement(text).name))
    pins: dict[str, str] = {}
    for dist in Inventory.scan(list(base_dirs)):
        if dist.name in asked or (Path(dist.path) / "direct_url.json").exists():
            continue
        pins[dist.name] = dist.version
    return dict(sorted(pins.items()))


def install_against_base(
    install: Callable[[list[str]], None],
    reset: Callable[[], None],
    installed: Callable[[], Inventory],
    pins: Mapping[str, str],
    marker_env: Mapping[str, str],
) -> dict[str, str]:
    """`install(constraints)` with `pins` as constraints. When that fails: resolve without
    them once (into a fresh env, `reset()`), drop only the pins that the requirements of what
    got `installed()` exclude, and install again (fresh) with the rest. Returns the pins kept."""
    if not pins:
        install([])
        return {}
    try:
        install(_lines(pins))
        return dict(pins)
    except InstallFailed:
        log.info("the base's versions do not all fit the request; finding which ones break")
    reset()
    install([])  # what the request wants, free: whose requirements exclude which pins?
    markers = Markers(marker_env)
    broken: set[str] = set()
    for dist in installed():  # read before the reset below deletes it (metadata is lazy)
        for req in dist.active_requires(lambda m: markers.true(m, "")):
            name = canonical(req.name)
            version = pins.get(name)
            if version is not None and not req.specifier.contains(
                parsed_version(version), prereleases=True
            ):
                broken.add(name)
    reset()
    kept = {n: v for n, v in pins.items() if n not in broken}
    for name in sorted(broken):
        log.warning("the layer needs another %s than the base's %s", name, pins[name])
    try:
        install(_lines(kept))
        return kept
    except InstallFailed:
        if not kept:
            raise
    log.warning("the layer could not keep the base's versions; resolving it without them")
    reset()
    install([])
    return {}


def _lines(pins: Mapping[str, str]) -> list[str]:
    return [f"{name}=={version}" for name, version in sorted(pins.items())]
