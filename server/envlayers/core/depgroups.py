"""`[dependency-groups]` (PEP 735): per-item checks with spans, then packaging's resolver.

Pass 1 checks every name and item and keeps only the sound ones; unknown includes are
reported at the include itself; pass 2 resolves includes with `DependencyGroupResolver` and
maps its requirements back to the `ReqItem`s (and spans) they came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from envlayers.core.checker import Checker
from envlayers.core.requirements import ReqItem
from envlayers.core.toml_locate import KeyPath

if TYPE_CHECKING:  # imported where groups are resolved: most projects have none
    from packaging.dependency_groups import CyclicDependencyGroup

__all__ = ["VALID_NAME", "decode_dependency_groups"]

# PEP 735 / core metadata: a valid (not yet normalised) name.
VALID_NAME = re.compile(r"([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])", re.IGNORECASE)
_BASE = ("dependency-groups",)

# An item of a group as written: a requirement, or (included group, where the include is).
_Origin = ReqItem | tuple[str, KeyPath]


def decode_dependency_groups(
    check: Checker, data: Mapping[str, Any]
) -> dict[str, tuple[ReqItem, ...]]:
    """The groups of `data["dependency-groups"]`, normalised and resolved; problems on `check`."""
    if "dependency-groups" not in data:
        return {}
    table = check.table(_BASE, data["dependency-groups"])
    if table is None:
        return {}
    groups = _Groups(check)
    for name, value in table.items():
        groups.add(name, value)
    groups.drop_unknown_includes()
    return groups.resolve()


class _Groups:
    """Pass 1's result: the sound items per group, for the resolver and for the spans."""

    def __init__(self, check: Checker) -> None:
        self.check = check
        self.clean: dict[str, list[str | dict[str, str]]] = {}
        self.origin: dict[str, list[_Origin]] = {}
        self.written: dict[str, str] = {}

    def add(self, name: str, value: object) -> None:
        norm = str(canonicalize_name(name))
        if not VALID_NAME.fullmatch(name):
            self.check.config((*_BASE, name), "invalid-name", "not a valid group name", key=True)
            return
        if norm in self.clean:
            self.check.config(
                (*_BASE, name),
                "duplicate-name",
                f"group {norm!r} is also defined as {self.written[norm]!r}",
                key=True,
            )
            return
        self.written[norm] = name
        self.clean[norm] = []
        self.origin[norm] = []
        if not isinstance(value, list):
            self.check.wrong_type((*_BASE, name), "an array", value)
            return
        for index, element in enumerate(value):
            self._element(norm, (*_BASE, name, index), element)

    def _element(self, norm: str, path: KeyPath, element: object) -> None:
        check = self.check
        if isinstance(element, str):
            item = check.req_item(path, element)
            if item is not None:
                self.clean[norm].append(element)
                self.origin[norm].append(item)
        elif isinstance(element, dict):
            keys = set(element)
            if keys != {"include-group"}:
                extra = sorted(keys - {"include-group"})
                reason = (
                    f"unknown key {extra[0]!r} in a group include"
                    if extra
                    else "a table item needs an include-group key"
                )
                check.config(path, "unknown-key", reason)
            elif not isinstance(element["include-group"], str):
                check.wrong_type((*path, "include-group"), "a string", element["include-group"])
            else:
                self.clean[norm].append({"include-group": element["include-group"]})
                self.origin[norm].append((element["include-group"], path))
        else:
            check.wrong_type(path, "a requirement string or an include-group table", element)

    def drop_unknown_includes(self) -> None:
        """Unknown includes: found here, so they point at the include itself."""
        for group, items in self.origin.items():
            for entry in list(items):
                if isinstance(entry, tuple) and canonicalize_name(entry[0]) not in self.clean:
                    self.check.config(
                        entry[1],
                        "unknown-include-group",
                        f"includes group {entry[0]!r}, which is not defined",
                    )
                    index = items.index(entry)
                    del items[index]
                    del self.clean[group][index]

    def resolve(self) -> dict[str, tuple[ReqItem, ...]]:
        """Resolve includes with packaging's resolver; map its requirements back to items."""
        from packaging.dependency_groups import (
            CyclicDependencyGroup,
            DependencyGroupInclude,
            DependencyGroupResolver,
        )

        resolver = DependencyGroupResolver(self.clean)
        by_id: dict[int, ReqItem] = {}
        for norm, items in self.origin.items():
            # lookup() parses each group once; resolve() returns those same objects.
            for parsed, item in zip(resolver.lookup(norm), items, strict=True):
                if not isinstance(parsed, DependencyGroupInclude) and isinstance(item, ReqItem):
                    by_id[id(parsed)] = item
        out: dict[str, tuple[ReqItem, ...]] = {}
        reported: set[tuple[str, str]] = set()
        for norm in self.clean:
            try:
                out[norm] = tuple(by_id[id(r)] for r in resolver.resolve(norm))
            except ExceptionGroup as group:
                out[norm] = ()
                for exc in group.exceptions:
                    if not isinstance(exc, CyclicDependencyGroup):
                        raise
                    edge = (exc.group, canonicalize_name(exc.include_group))
                    if edge in reported:
                        continue
                    reported.add(edge)
                    self._cycle(exc, self.origin[exc.group])
        return out

    def _cycle(self, exc: CyclicDependencyGroup, items: Sequence[_Origin]) -> None:
        target = canonicalize_name(exc.include_group)
        for entry in items:
            if isinstance(entry, tuple) and canonicalize_name(entry[0]) == target:
                self.check.config(entry[1], "include-cycle", str(exc))
                return
        self.check.config((*_BASE, exc.group), "include-cycle", str(exc), key=True)
