"""What a distribution's metadata folder says, parsed without `importlib.metadata`:
the name and version in its folder name, the RFC 822 headers of METADATA (only the few we
use), egg-info `requires.txt`, and PEP 610 `direct_url.json` (through `packaging`).
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from typing import Final

from packaging.direct_url import DirectUrl as PepDirectUrl
from packaging.direct_url import DirectUrlValidationError
from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

__all__ = [
    "DIST_INFO",
    "EGG_INFO",
    "DirectUrl",
    "egg_requires",
    "header_block",
    "parse_headers",
    "parse_marker",
    "parse_requirement",
    "read_direct_url",
    "split_folder",
]

log = logging.getLogger(__name__)

DIST_INFO: Final = ".dist-info"
EGG_INFO: Final = ".egg-info"


@dataclass(frozen=True)
class DirectUrl:
    """PEP 610 `direct_url.json`: where a distribution was installed from."""

    url: str
    editable: bool
    kind: str  # "dir" | "archive" | "vcs"
    vcs: str | None = None
    requested_revision: str | None = None
    commit_id: str | None = None
    subdirectory: str | None = None


@functools.lru_cache(maxsize=16384)
def parse_requirement(text: str) -> Requirement | None:
    """A `Requires-Dist` value, parsed once per process (parsing dominates a closure walk)."""
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        log.warning("skipping unparsable requirement %r: %s", text, exc)
        return None


@functools.lru_cache(maxsize=4096)
def parse_marker(text: str) -> tuple[bool, Marker | None]:
    """(parsed?, marker): markers repeat across distributions (`extra == "test"`), parse once."""
    try:
        return True, Marker(text)
    except InvalidMarker as exc:
        log.warning("skipping a requirement with an unparsable marker %r: %s", text, exc)
        return False, None


def header_block(data: bytes) -> str:
    """The header part of an RFC 822 style metadata file; the body can be megabytes."""
    cut = data.find(b"\n\n")
    if cut < 0 or b"\r" in data[:cut]:
        crlf = data.find(b"\r\n\r\n")
        cut = crlf if cut < 0 or 0 <= crlf < cut else cut
    return (data[:cut] if cut >= 0 else data).decode("utf-8", "replace")


_WANTED = frozenset({"name", "version", "requires-dist", "provides-extra"})
_WANTED_FIRST = frozenset("NnVvRrPp")  # first letters of _WANTED: skip Classifier & co cheaply


def parse_headers(text: str) -> dict[str, list[str]]:
    """Name, Version, Requires-Dist, Provides-Extra (lower-cased keys); stops at garbage."""
    headers: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in text.split("\n"):
        first = line[:1]
        if first == " " or first == "\t":
            if last is not None:
                last[-1] = f"{last[-1]} {line.strip()}".strip()
            continue
        if first not in _WANTED_FIRST:
            last = None
            if ":" not in line and line.strip():
                break
            continue
        key, sep, value = line.partition(":")
        key = key.lower()
        if not sep or key not in _WANTED:
            last = None
            if not sep and line.strip():
                break
            continue
        last = headers.get(key)
        if last is None:
            last = headers[key] = []
        last.append(value.strip())
    return headers


def egg_requires(text: str) -> list[str]:
    """`requires.txt` sections (`[extra]`, `[:marker]`, `[extra:marker]`) as Requires-Dist lines."""
    out: list[str] = []
    condition = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, marker = line[1:-1].partition(":")
            parts = []
            if extra.strip():
                parts.append(f'extra == "{extra.strip()}"')
            if marker.strip():
                parts.append(f"({marker.strip()})")
            condition = " and ".join(parts)
            continue
        if not condition:
            out.append(line)
            continue
        req, sep, own = line.partition(";")
        out.append(f"{req} ; ({own.strip()}) and {condition}" if sep else f"{req} ; {condition}")
    return out


def split_folder(folder: str) -> tuple[str | None, str | None]:
    """(name, version) from `name-version.dist-info` / `name-version[-pyX.Y].egg-info`."""
    if folder.endswith(DIST_INFO):
        stem = folder[: -len(DIST_INFO)]
        name, sep, version = stem.rpartition("-")
        if not sep:
            return stem or None, None
    else:
        stem = folder[: -len(EGG_INFO)]
        name, sep, rest = stem.partition("-")
        if not sep:
            return stem or None, None
        version = rest.partition("-")[0]
    if not name or not version:
        return name or None, None
    try:
        Version(version)
    except InvalidVersion:
        return name, None
    return name, version


def read_direct_url(path: str) -> DirectUrl | None:
    """PEP 610, validated by `packaging.direct_url`; None when absent or malformed."""
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
        parsed = PepDirectUrl.from_dict(data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, AttributeError, DirectUrlValidationError) as exc:
        log.warning("ignoring unreadable or malformed %s: %s", path, exc)
        return None
    sub = parsed.subdirectory or None
    if parsed.vcs_info is not None:
        vcs = parsed.vcs_info
        return DirectUrl(
            parsed.url,
            False,
            "vcs",
            vcs=vcs.vcs or None,
            requested_revision=vcs.requested_revision or None,
            commit_id=vcs.commit_id or None,
            subdirectory=sub,
        )
    if parsed.archive_info is not None:
        return DirectUrl(parsed.url, False, "archive", subdirectory=sub)
    editable = parsed.dir_info is not None and parsed.dir_info.editable is True
    return DirectUrl(parsed.url, editable, "dir", subdirectory=sub)
