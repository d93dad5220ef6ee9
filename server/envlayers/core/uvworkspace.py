"""uv workspaces: the members of `[tool.uv.workspace]`, which of them a sync selects, and what
those need (pure but for reading the members' `pyproject.toml` files).

As uv does: from a member's folder the default is that member (`--package NAME`); at a root
that is a project, the root; at a virtual root (no `[project]`), every member. A selected
member brings its dependencies, its extras and its default groups; a dependency on another
member brings that member (editable) and its dependencies, not its groups. Every member in
the closure is installed editable; the rest are plain requirements.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from envlayers.core.errors import InvalidInput
from envlayers.core.locate import uv_workspace_table, workspace_member_dirs
from envlayers.core.project import Project, ReqItem, load_project, parse_requirement
from envlayers.core.request import Request, editable_request
from envlayers.core.requests import request_from_item

__all__ = [
    "UvWorkspace",
    "load_uv_workspace",
    "member_closure",
    "select_packages",
    "workspace_digest",
    "workspace_editables",
    "workspace_export_args",
    "workspace_requests",
]


@dataclass(frozen=True)
class UvWorkspace:
    root: Path
    root_is_virtual: bool
    members: Mapping[str, Project]  # canonical name -> the member's project

    def digest(self) -> str:
        """Changes when any member's pyproject.toml (or the set of members) changes."""
        h = hashlib.sha256()
        for name in sorted(self.members):
            h.update(f"{name}\0{self.members[name].root}\0{self.members[name].sha256}\n".encode())
        return h.hexdigest()

    def pyprojects(self) -> list[str]:
        return sorted(str(p.pyproject) for p in self.members.values())


def load_uv_workspace(project: Project) -> UvWorkspace | None:
    """The uv workspace rooted at `project`, or None when it has no `[tool.uv.workspace]`."""
    table = uv_workspace_table(str(project.root))
    if table is None:
        return None
    members: dict[str, Project] = {}
    for folder in workspace_member_dirs(str(project.root), table):
        member = project if Path(folder) == project.root else load_project(Path(folder))
        if member.name is None:
            continue  # a virtual root
        name = canonicalize_name(member.name)
        if name in members:
            raise InvalidInput(
                f"two workspace members are named {name!r}: {members[name].root} and {member.root}",
                file=str(project.pyproject),
            )
        members[name] = member
    return UvWorkspace(project.root, project.name is None, members)


def select_packages(
    ws: UvWorkspace, packages: Sequence[str], all_packages: bool, member: Path | None
) -> tuple[str, ...]:
    """The canonical names of the members to sync, as `uv sync` would choose them."""
    if packages and all_packages:
        raise InvalidInput("give either --package or --all-packages, not both")
    if all_packages:
        return tuple(sorted(ws.members))
    if packages:
        names = []
        for given in packages:
            name = canonicalize_name(given)
            if name not in ws.members:
                known = ", ".join(sorted(ws.members)) or "none"
                raise InvalidInput(
                    f"{given!r} is not a member of the uv workspace {ws.root} (members: {known})"
                )
            names.append(name)
        return tuple(dict.fromkeys(names))
    if member is not None:
        for key, project in ws.members.items():
            if os.path.normpath(project.root) == os.path.normpath(member):
                return (key,)
    if ws.root_is_virtual:
        return tuple(sorted(ws.members))
    root = next(n for n, p in ws.members.items() if p.root == ws.root)
    return (root,)


def member_closure(
    ws: UvWorkspace, selected: Sequence[str], selection: Mapping[str, object], root: Project
) -> tuple[list[ReqItem], list[Project]]:
    """`(requirements, members to install editable)` for the `selected` members.

    The selected members contribute what `Project.select` gives for the selection (their
    default groups, `--group`, `--extra` where they define them); a virtual root adds its own
    dependency groups when every member is selected, as `uv sync` there does."""
    _check_defined(ws, selected, selection, root)
    items: list[ReqItem] = []
    for name in selected:
        items += _selected_items(ws.members[name], selection)
    if ws.root_is_virtual and set(selected) == set(ws.members):
        items += root.select(
            groups=_present(selection.get("groups"), root.dependency_groups),
            no_dev=bool(selection.get("noDev")),
            all_groups=bool(selection.get("allGroups")),
        )
    todo: list[tuple[str, tuple[str, ...]]] = [(name, ()) for name in selected]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    reached: dict[str, Project] = {}
    out: list[ReqItem] = []
    while todo or items:
        if items:
            item = items.pop(0)
            req = parse_requirement(item)
            name = canonicalize_name(req.name)
            if name in ws.members and not req.url:
                todo.append((name, tuple(sorted(canonicalize_name(e) for e in req.extras))))
            else:
                out.append(item)
            continue
        pair = todo.pop(0)
        if pair in seen:
            continue
        seen.add(pair)
        member = ws.members[pair[0]]
        reached[pair[0]] = member
        items += member.select(extras=list(pair[1]), no_dev=True, groups=(), all_groups=False)
    unique = list({str(parse_requirement(i)): i for i in out}.values())
    return unique, [reached[n] for n in sorted(reached)]


def _check_defined(
    ws: UvWorkspace, selected: Sequence[str], selection: Mapping[str, object], root: Project
) -> None:
    """A `--group` / `--extra` that no synced member (nor a virtual root) defines is an error."""
    projects = [ws.members[n] for n in selected] + ([root] if ws.root_is_virtual else [])
    for key, what, attr in (
        ("groups", "dependency group", "dependency_groups"),
        ("extras", "extra", "optional_dependencies"),
    ):
        value = selection.get(key)
        for given in value if isinstance(value, list | tuple) else ():
            name = canonicalize_name(str(given))
            if not any(name in getattr(p, attr) for p in projects):
                raise InvalidInput(
                    f"unknown {what} {given!r}: no synced member of {ws.root} defines it "
                    f"(synced: {', '.join(selected)})"
                )


def _selected_items(member: Project, selection: Mapping[str, object]) -> tuple[ReqItem, ...]:
    return member.select(
        groups=_present(selection.get("groups"), member.dependency_groups),
        no_dev=bool(selection.get("noDev")),
        all_groups=bool(selection.get("allGroups")),
        extras=_present(selection.get("extras"), member.optional_dependencies),
        all_extras=bool(selection.get("allExtras")),
    )


def _present(names: object, defined: Mapping[str, object]) -> list[str]:
    wanted = [str(n) for n in names] if isinstance(names, list | tuple) else []
    return [n for n in wanted if canonicalize_name(n) in defined]


# -- what the base stage asks (`selection["packages"]` set: the plan found a uv workspace) ----


def _loaded(project: Project) -> UvWorkspace:
    ws = load_uv_workspace(project)
    if ws is None:
        raise InvalidInput(f"{project.pyproject} is no longer a uv workspace root")
    return ws


def _packages(selection: Mapping[str, object]) -> list[str]:
    value = selection.get("packages")
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def workspace_requests(project: Project, selection: Mapping[str, object]) -> list[Request]:
    """The requirements of the selected members and the members they need (no lock)."""
    ws = _loaded(project)
    items, _ = member_closure(ws, _packages(selection), selection, project)
    return [request_from_item(item, project.root) for item in items]


def workspace_editables(project: Project, selection: Mapping[str, object]) -> list[Request]:
    """The members in the closure of the selection, as editable installs."""
    ws = _loaded(project)
    _, members = member_closure(ws, _packages(selection), selection, project)
    return [editable_request(m.root, str(m.name)) for m in members if m.has_build_system]


def workspace_digest(project: Project) -> str:
    ws = load_uv_workspace(project)
    return ws.digest() if ws is not None else ""


def workspace_export_args(selection: Mapping[str, object]) -> list[str]:
    """What `uv export` needs for the selection: no member pinned (they install editable)."""
    if selection.get("packages") is None:
        return []
    args = ["--no-emit-workspace"]
    if selection.get("allPackages"):
        return [*args, "--all-packages"]
    for name in _packages(selection):
        args += ["--package", name]
    return args
