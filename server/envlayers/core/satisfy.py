"""Pure satisfaction: requests x installed distributions -> what is missing or conflicting.

Markers are evaluated for the *target* interpreter (its marker environment is passed in),
extras follow PEP 685 normalisation, and URL / editable requests compare PEP 610 sources.
The parts live beside this module and are re-exported here: `request` (parsing requests),
`sources` (PEP 610 comparison), `reqeval` (markers and names), `conflicts` (across sources).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from packaging.markers import Marker
from packaging.requirements import Requirement

from envlayers.core.conflicts import Conflict, Shadow, extraneous, find_conflicts
from envlayers.core.inventory import Distribution, Inventory
from envlayers.core.reqeval import Markers, canonical, dist_label, parsed_version, req_text
from envlayers.core.request import Request, editable_request, parse_request
from envlayers.core.sources import source_ok, source_text

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


# the closure walk -------------------------------------------------------------------------


_Pair = tuple[str, str]  # (canonical distribution name, active extra or "")


@dataclass(frozen=True)
class _Edge:
    requirement: Requirement
    name: str  # canonical
    extras: tuple[str, ...]  # canonical


def _edge(req: Requirement) -> _Edge:
    extras = tuple(sorted({canonical(e) for e in req.extras})) if req.extras else ()
    return _Edge(req, canonical(req.name), extras)


class _Walker:
    """Evaluates requirement edges against one inventory, memoising what does not vary."""

    def __init__(self, inventory: Inventory, markers: Markers) -> None:
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
        elif req.specifier and not req.specifier.contains(
            parsed_version(dist.version), prereleases=True
        ):
            problem = ("version", "")
        elif not source_ok(dist, req, request.editable if dependent is None else None):
            problem = ("source", "")
        else:
            missing = [e for e in edge.extras if e not in dist.provides_extras]
            if missing:
                problem = ("extra-missing", ", ".join(repr(e) for e in missing))
        if problem is None:
            return None
        reason, names = problem
        wanted = request.text if dependent is None else req_text(req)
        by = "was requested" if dependent is None else f"{dist_label(dependent)} requires {wanted}"
        if dist is None:
            text = f"{req.name} is not installed"
            if dependent is not None:
                text = f"{by}, but {text}"
        elif reason == "version":
            what = f"{wanted} was requested" if dependent is None else by
            text = f"{dist_label(dist)} is installed but {what}"
        elif reason == "source":
            if dependent is None and request.editable is not None:
                want = f"an editable install of {request.editable}"
            else:
                want = (
                    f"{req.url}"
                    if dependent is None
                    else f"{req.url} (for {dist_label(dependent)})"
                )
            text = f"{dist_label(dist)} is installed {source_text(dist)}, not {want}"
        else:
            who = (
                "was requested" if dependent is None else f"is required by {dist_label(dependent)}"
            )
            text = f"{dist_label(dist)} does not provide the extra {names}, which {who}"
        path = chain()
        if len(path) > 1:
            text += " (needed via " + " -> ".join(dist_label(d) for d in path[:-1]) + ")"
        return Unsatisfied(request.text, edge.name, reason, dist.version if dist else None, text)


def check(
    requests: Sequence[Request], inventory: Inventory, marker_env: Mapping[str, str]
) -> Satisfaction:
    """Which requests the inventory satisfies, recursively over Requires-Dist, for the target."""
    markers = Markers(marker_env)
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
