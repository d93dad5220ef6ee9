"""A request: one thing a user asked for, a PEP 508 requirement or an editable project folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.markers import InvalidMarker
from packaging.requirements import InvalidRequirement as _PackagingInvalidRequirement
from packaging.requirements import Requirement

from envlayers.core.errors import InvalidRequirement
from envlayers.core.redact import conceal

__all__ = ["Request", "editable_request", "parse_request"]

_FORBIDDEN = ("\n", "\r", "\x00")


@dataclass(frozen=True)
class Request:
    """One thing a user asked for: a requirement, or an editable project folder."""

    text: str
    requirement: Requirement
    editable: str | None = None  # absolute folder for --with-editable / the project itself


def parse_request(text: str, *, file: str | None = None, line: int | None = None) -> Request:
    """Parse a requirement string; InvalidRequirement (with file and line) on anything else."""
    text = conceal(text)  # a direct URL's credentials stop here (see core.redact)
    stripped = text.strip()
    reason = ""
    if not stripped:
        reason = "empty requirement"
    elif any(c in text for c in _FORBIDDEN):
        reason = "requirements are one line"
    elif stripped.startswith("-"):
        reason = "options are not requirements"
    if reason:
        raise InvalidRequirement(text, reason, file=file, line=line)
    try:
        requirement = Requirement(stripped)
    except (_PackagingInvalidRequirement, InvalidMarker, ValueError) as exc:
        detail = (str(exc).splitlines() or ["does not parse"])[0]
        raise InvalidRequirement(text, detail, file=file, line=line) from exc
    return Request(stripped, requirement)


def editable_request(path: Path, name: str) -> Request:
    """An editable install of the project folder `path` whose distribution is `name`."""
    folder = str(Path(path).resolve())
    try:
        requirement = Requirement(name)
    except _PackagingInvalidRequirement as exc:
        raise InvalidRequirement(name, f"not a distribution name: {exc}") from exc
    if requirement.specifier or requirement.url or requirement.marker or requirement.extras:
        raise InvalidRequirement(name, "not a bare distribution name")
    return Request(folder, requirement, editable=folder)
