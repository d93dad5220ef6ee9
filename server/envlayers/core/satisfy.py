"""Pure satisfaction: requests x installed distributions -> what is missing or conflicting.

Markers are evaluated for the *target* interpreter (its marker environment is passed in),
extras follow PEP 685 normalisation, and URL / editable requests compare PEP 610 sources.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement as _PackagingInvalidRequirement
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envlayers.core.errors import InvalidRequirement
from envlayers.core.inventory import DirectUrl, Distribution, Inventory
from envlayers.core.redact import conceal

if sys.platform == "win32":  # pragma: no cover - Windows only
    from nturl2path import url2pathname as _url2pathname
else:
    # What urllib.request's POSIX url2pathname does, without its import (http.client, email, ssl).
    _url2pathname = urllib.parse.unquote

__all__ = [
    "Conflict",
    "Request",
    "Satisfaction",
    "Shadow",
    "Unsatisfied",
    "check",
    "editable_request",
    "extraneous",
    "find_conflicts",
    "parse_request",
]

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Unsatisfied:
    """Why one request is not satisfied: the failing distribution and a sentence for humans."""

    request: str  # the request's text
    name: str  # canonical name of the distribution that failed (maybe deep in the closure)
    reason: str  # "missing" | "version" | "source" | "extra-missing"
    found: str | None  # the installed version, when there is one
    message: str = ""

    def __str__(self) -> str:
        return self.message or f"{self.request}: {self.reason}"


@dataclass(frozen=True)
class Satisfaction:
    satisfied: tuple[str, ...]
    unsatisfied: tuple[Unsatisfied, ...]
    visited: frozenset[str]  # every distribution name in the closure of the requests

    @property
    def ok(self) -> bool:
        return not self.unsatisfied


# markers ----------------------------------------------------------------------------------


class _Markers:
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


# sources ----------------------------------------------------------------------------------


def _file_path(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    return os.path.normpath(_url2pathname(parts.path))


def _same_path(a: str, b: str) -> bool:
    if a == b or a.rstrip(os.sep) == b.rstrip(os.sep):
        return True
    # Only on a mismatch: a symlinked tmp or home dir must not make a false "source" failure.
    return os.path.realpath(a) == os.path.realpath(b)


def _strip_credentials(netloc: str) -> str:
    return netloc.rpartition("@")[2]


def _same_url(requested: str, installed: DirectUrl) -> bool:
    """PEP 610 comparison of a `name @ url` request with what was installed."""
    parts = urllib.parse.urlsplit(requested)
    fragment = urllib.parse.parse_qs(parts.fragment)
    subdirectory = next(iter(fragment.get("subdirectory", ())), None)
    if subdirectory != installed.subdirectory:
        return False
    scheme = parts.scheme
    vcs: str | None = None
    if "+" in scheme:
        vcs, _, scheme = scheme.partition("+")
    path, revision = parts.path, None
    if vcs is not None and "@" in path.rpartition("/")[2]:
        path, _, revision = path.rpartition("@")
    if vcs is not None:
        if installed.kind != "vcs" or (installed.vcs and installed.vcs != vcs):
            return False
        if revision and revision not in (installed.requested_revision, installed.commit_id):
            return False
    elif installed.kind == "vcs":
        return False
    base = urllib.parse.urlunsplit((scheme, parts.netloc, path, parts.query, ""))
    mine, theirs = _file_path(base), _file_path(installed.url)
    if mine is not None or theirs is not None:
        return mine is not None and theirs is not None and _same_path(mine, theirs)
    got = urllib.parse.urlsplit(installed.url)
    return (
        scheme.lower() == got.scheme.lower()
        and _strip_credentials(parts.netloc).lower() == _strip_credentials(got.netloc).lower()
        and path.rstrip("/") == got.path.rstrip("/")
        and parts.query == got.query
    )


def _source_text(dist: Distribution) -> str:
    direct = dist.direct_url
    if direct is None:
        return "from an index"
    if direct.editable:
        path = _file_path(direct.url)
        return f"editable from {path or direct.url}"
    return f"from {direct.url}"


def _source_ok(dist: Distribution, requirement: Requirement, editable: str | None) -> bool:
    if editable is None and not requirement.url:
        return True  # a registry request: any source will do (and no file is read)
    direct = dist.direct_url
    if editable is not None:
        if direct is None or not direct.editable:
            return False
        path = _file_path(direct.url)
        return path is not None and _same_path(path, editable)
    assert requirement.url is not None
    return direct is not None and _same_url(requirement.url, direct)


# the closure walk -------------------------------------------------------------------------


def _req_text(req: Requirement) -> str:
    """A requirement without its marker, the way people read it (`alpha[x]>=2`)."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    if req.url:
        return f"{req.name}{extras} @ {req.url}"
    return f"{req.name}{extras}{req.specifier}"


def _label(dist: Distribution) -> str:
    return f"{dist.display_name} {dist.version}"


_Pair = tuple[str, str]  # (canonical distribution name, active extra or "")


@dataclass(frozen=True)
class _Edge:
    requirement: Requirement
    name: str  # canonical
    extras: tuple[str, ...]  # canonical


@functools.lru_cache(maxsize=16384)
def _canonical(name: str) -> str:
    return canonicalize_name(name)


@functools.lru_cache(maxsize=16384)
def _version(text: str) -> Version | str:
    """Parsed once per process; an invalid version stays a string (it then matches nothing)."""
    try:
        return Version(text)
    except InvalidVersion:
        return text


def _edge(req: Requirement) -> _Edge:
    extras = tuple(sorted({_canonical(e) for e in req.extras})) if req.extras else ()
    return _Edge(req, _canonical(req.name), extras)


class _Walker:
    """Evaluates requirement edges against one inventory, memoising what does not vary."""

    def __init__(self, inventory: Inventory, markers: _Markers) -> None:
        self.inventory = inventory
        self.markers = markers
        self._edges: dict[_Pair, tuple[_Edge, ...]] = {}
        self.clean: set[_Pair] = set()  # pairs whose whole closure is known to be satisfied

    def edges(self, pair: _Pair) -> tuple[_Edge, ...]:
        """The Requires-Dist of `pair`'s distribution that its extra turns on (markers true)."""
        hit = self._edges.get(pair)
        if hit is not None:
            return hit
        dist = self.inventory.get_canonical(pair[0])
        out: list[_Edge] = []
        if dist is not None:
            extra, true = pair[1], self.markers.true
            if extra:
                # An extra's pair adds only what the extra turns on; the plain pair has the rest.
                def keep(m: Marker | None) -> bool:
                    return true(m, extra) and not true(m, "")
            else:

                def keep(m: Marker | None) -> bool:
                    return true(m, "")

            for req in dist.active_requires(keep):
                out.append(_edge(req))
        result = tuple(out)
        self._edges[pair] = result
        return result

    def failure(
        self,
        edge: _Edge,
        *,
        request: Request,
        dependent: Distribution | None,
        chain: Callable[[], Sequence[Distribution]],
    ) -> Unsatisfied | None:
        """Is this one requirement met by the installed distribution (not its dependencies)?"""
        dist = self.inventory.get_canonical(edge.name)
        req = edge.requirement
        problem: tuple[str, str] | None = None  # (reason, sentence); sentences built on failure
        if dist is None:
            problem = ("missing", "")
        elif req.specifier and not req.specifier.contains(_version(dist.version), prereleases=True):
            problem = ("version", "")
        elif not _source_ok(dist, req, request.editable if dependent is None else None):
            problem = ("source", "")
        else:
            missing = [e for e in edge.extras if e not in dist.provides_extras]
            if missing:
                problem = ("extra-missing", ", ".join(repr(e) for e in missing))
        if problem is None:
            return None
        reason, names = problem
        wanted = request.text if dependent is None else _req_text(req)
        by = "was requested" if dependent is None else f"{_label(dependent)} requires {wanted}"
        if dist is None:
            text = f"{req.name} is not installed"
            if dependent is not None:
                text = f"{by}, but {text}"
        elif reason == "version":
            what = f"{wanted} was requested" if dependent is None else by
            text = f"{_label(dist)} is installed but {what}"
        elif reason == "source":
            if dependent is None and request.editable is not None:
                want = f"an editable install of {request.editable}"
            else:
                want = f"{req.url}" if dependent is None else f"{req.url} (for {_label(dependent)})"
            text = f"{_label(dist)} is installed {_source_text(dist)}, not {want}"
        else:
            who = "was requested" if dependent is None else f"is required by {_label(dependent)}"
            text = f"{_label(dist)} does not provide the extra {names}, which {who}"
        path = chain()
        if len(path) > 1:
            text += " (needed via " + " -> ".join(_label(d) for d in path[:-1]) + ")"
        return Unsatisfied(request.text, edge.name, reason, dist.version if dist else None, text)


def check(
    requests: Sequence[Request], inventory: Inventory, marker_env: Mapping[str, str]
) -> Satisfaction:
    """Which requests the inventory satisfies, recursively over Requires-Dist, for the target."""
    markers = _Markers(marker_env)
    walker = _Walker(inventory, markers)
    satisfied: list[str] = []
    unsatisfied: list[Unsatisfied] = []
    visited: set[str] = set()
    for request in requests:
        top = request.requirement
        if not markers.true(top.marker, ""):
            satisfied.append(request.text)
            continue
        first = _walk(walker, request, _edge(top), visited)
        if first is None:
            satisfied.append(request.text)
        else:
            unsatisfied.append(first)
    return Satisfaction(tuple(satisfied), tuple(unsatisfied), frozenset(visited))


def _walk(walker: _Walker, request: Request, root: _Edge, visited: set[str]) -> Unsatisfied | None:
    """Breadth first over (name, extra) pairs: the nearest failure is the one reported.

    The whole closure is walked even after a failure, so `visited` is complete.
    """
    first = walker.failure(root, request=request, dependent=None, chain=tuple)
    parent: dict[_Pair, _Pair | None] = {}  # how BFS reached each pair, for the message
    queue: deque[_Pair] = deque()

    def reach(edge: _Edge, via: _Pair | None) -> None:
        visited.add(edge.name)
        if walker.inventory.get_canonical(edge.name) is None:
            return
        for extra in ("", *edge.extras):
            pair = (edge.name, extra)
            if pair not in parent:
                parent[pair] = via
                if pair not in walker.clean:
                    queue.append(pair)

    def chain_to(pair: _Pair) -> Callable[[], list[Distribution]]:
        def build() -> list[Distribution]:
            out: list[Distribution] = []
            step: _Pair | None = pair
            while step is not None:
                dist = walker.inventory.get_canonical(step[0])
                if dist is not None:
                    out.append(dist)
                step = parent[step]
            return out[::-1]

        return build

    reach(root, None)
    while queue:
        pair = queue.popleft()
        dependent = walker.inventory.get_canonical(pair[0])
        for edge in walker.edges(pair):
            if first is None:
                first = walker.failure(
                    edge, request=request, dependent=dependent, chain=chain_to(pair)
                )
            reach(edge, pair)
    if first is None:
        walker.clean.update(parent)
    return first


# conflicts --------------------------------------------------------------------------------


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
    markers = _Markers(marker_env)
    breaks: dict[str, list[str]] = {name: [] for name in shadows}

    def plain(marker: Marker | None) -> bool:
        return markers.true(marker, "")

    for _source, dependent in winners.values():
        for req in dependent.active_requires(plain):
            name = _canonical(req.name)
            if name not in breaks:
                continue
            version = winners[name][1].version
            if req.specifier and not req.specifier.contains(_version(version), prereleases=True):
                breaks[name].append(f"{_label(dependent)} requires {_req_text(req)}")
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
