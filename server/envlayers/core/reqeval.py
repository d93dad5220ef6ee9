"""Evaluating requirements for one target: markers, canonical names, versions, readable text.

Shared by the satisfaction walk (`satisfy`) and the conflict finder (`conflicts`); the memos
here are what keeps a check over thousands of distributions fast.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping

from packaging.markers import Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envlayers.core.inventory import Distribution

__all__ = ["Markers", "canonical", "dist_label", "parsed_version", "req_text"]

log = logging.getLogger(__name__)


class Markers:
    """Marker evaluation for one target environment, memoised per (marker, extra)."""

    def __init__(self, marker_env: Mapping[str, str]) -> None:
        self._base = {k: v for k, v in marker_env.items() if k != "extra"}
        self._envs: dict[str, dict[str, str]] = {}
        self._memo: dict[tuple[int, str], bool] = {}
        self._keep: list[Marker] = []  # keeps ids in the memo valid

    def true(self, marker: Marker | None, extra: str = "") -> bool:
        if marker is None:
            return True
        key = (id(marker), extra)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        env = self._envs.get(extra)
        if env is None:
            env = self._envs[extra] = {**self._base, "extra": extra}
        try:
            value = marker.evaluate(env)
        except (UndefinedComparison, UndefinedEnvironmentName) as exc:
            log.warning("treating marker %r as false: %s", str(marker), exc)
            value = False
        self._keep.append(marker)
        self._memo[key] = value
        return value


def req_text(req: Requirement) -> str:
    """A requirement without its marker, the way people read it (`alpha[x]>=2`)."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    if req.url:
        return f"{req.name}{extras} @ {req.url}"
    return f"{req.name}{extras}{req.specifier}"


def dist_label(dist: Distribution) -> str:
    return f"{dist.display_name} {dist.version}"


@functools.lru_cache(maxsize=16384)
def canonical(name: str) -> str:
    return canonicalize_name(name)


@functools.lru_cache(maxsize=16384)
def parsed_version(text: str) -> Version | str:
    """Parsed once per process; an invalid version stays a string (it then matches nothing)."""
    try:
        return Version(text)
    except InvalidVersion:
        return text
