"""The workspace model: `pyproject.toml` (PEP 621, PEP 735, `[tool.envlayers]`) -> `Project`.

One analysis pass (`_Analysis`) collects every problem with its source span; `check_project`
returns them all for editor diagnostics, `load_project` raises the first one as an error value.
Parsing only: nothing here runs processes or touches environments. The pieces live beside it:
`locate` (finding the workspace), `requirements` (requirement strings and files), `checker`
(typed reads that collect problems), `depgroups` and `toolconfig` (the tables), `toml_locate`
(spans); their public names are re-exported here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from packaging.markers import Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from envlayers.core.checker import Checker, Problem
from envlayers.core.depgroups import VALID_NAME, decode_dependency_groups
from envlayers.core.errors import InvalidInput
from envlayers.core.locate import PYPROJECT, find_workspace, find_workspace_str
from envlayers.core.requirements import ReqItem, parse_requirement, read_requirements_file
from envlayers.core.toml_locate import Span, syntax_error_span
from envlayers.core.toolconfig import INSTALLERS, Profile, ToolSettings, decode_tool_settings

__all__ = [
    "INSTALLERS",
    "PYPROJECT",
    "Problem",
    "Profile",
    "Project",
    "ReqItem",
    "Settings",
    "Span",
    "ToolSettings",
    "check_project",
    "find_workspace",
    "find_workspace_str",
    "load_project",
    "parse_requirement",
    "read_requirements_file",
]

logger = logging.getLogger(__name__)

# The old name of `ToolSettings`, kept for one round while callers move.
Settings = ToolSettings


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Project:
    """A loaded workspace. Extras and group names are normalised; include-groups are resolved."""

    root: Path
    pyproject: Path
    text: str
    sha256: str
    name: str | None
    version: str | None
    dependencies: tuple[ReqItem, ...]
    optional_dependencies: Mapping[str, tuple[ReqItem, ...]]
    dependency_groups: Mapping[str, tuple[ReqItem, ...]]
    requires_python: str | None
    has_build_system: bool
    settings: ToolSettings
    python_version_file: str | None
    pylock: Path | None
    uv_lock: Path | None

    def select(
        self,
        *,
        groups: Sequence[str] = (),
        no_dev: bool = False,
        all_groups: bool = False,
        extras: Sequence[str] = (),
        all_extras: bool = False,
    ) -> tuple[ReqItem, ...]:
        """The requirements to sync: dependencies, then extras, then groups.

        Default groups come from settings and are skipped when absent; an explicitly
        requested group or extra that does not exist is an `InvalidInput`. `no_dev` drops
        the "dev" group however it was asked for. References to the project itself
        (`myproj[extra]`) are expanded into that extra's requirements. Order-preserving,
        de-duplicated.
        """
        wanted_extras = list(self.optional_dependencies) if all_extras else []
        for extra in extras:
            norm = canonicalize_name(extra)
            if norm not in self.optional_dependencies:
                raise self._unknown("extra", extra, self.optional_dependencies)
            wanted_extras.append(norm)
        wanted_groups: list[str] = []
        if all_groups:
            wanted_groups.extend(self.dependency_groups)
        else:
            wanted_groups.extend(
                g for g in self.settings.default_groups if g in self.dependency_groups
            )
        for group in groups:
            norm = canonicalize_name(group)
            if norm not in self.dependency_groups:
                raise self._unknown("dependency group", group, self.dependency_groups)
            wanted_groups.append(norm)
        if no_dev:
            wanted_groups = [g for g in wanted_groups if g != "dev"]

        items: list[ReqItem] = list(self.dependencies)
        for extra in _unique(wanted_extras):
            items.extend(self.optional_dependencies[extra])
        for group in _unique(wanted_groups):
            items.extend(self.dependency_groups[group])

        out: list[ReqItem] = []
        seen: set[str] = set()
        for item in self._expand_self(items, frozenset()):
            key = str(parse_requirement(item))
            if key not in seen:
                seen.add(key)
                out.append(item)
        return tuple(out)

    def _unknown(self, what: str, name: str, known: Mapping[str, object]) -> InvalidInput:
        have = ", ".join(known) or "none"
        return InvalidInput(f"unknown {what} {name!r} (defined: {have})", file=str(self.pyproject))

    def _expand_self(self, items: Sequence[ReqItem], active: frozenset[str]) -> list[ReqItem]:
        """Replace `myproj[a]` by extra `a`'s requirements (markers combined), cycle-safe."""
        if self.name is None:
            return list(items)
        me = canonicalize_name(self.name)
        out: list[ReqItem] = []
        for item in items:
            req = parse_requirement(item)
            if canonicalize_name(req.name) != me or req.url:
                out.append(item)
                continue
            for extra in sorted(canonicalize_name(e) for e in req.extras):
                if extra in active:
                    continue
                if extra not in self.optional_dependencies:
                    raise self._unknown("extra", extra, self.optional_dependencies)
                inner = self._expand_self(self.optional_dependencies[extra], active | {extra})
                out.extend(_with_marker(i, req.marker) for i in inner)
        return out


def _with_marker(item: ReqItem, marker: Marker | None) -> ReqItem:
    if marker is None:
        return item
    req = parse_requirement(item)
    req.marker = marker if req.marker is None else Marker(f"({marker}) and ({req.marker})")
    return ReqItem(str(req), item.span)


def _unique(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))


# ------------------------------------------------------------------------ loading


def load_project(root: Path) -> Project:
    """Load `<root>/pyproject.toml`; raises the first problem as an `EnvlayersError`.

    `InvalidInput` for TOML syntax (with line and column), `InvalidRequirement` for a bad
    requirement string, `ConfigError` for a bad key or value; all carry file/line/column.
    """
    root = Path(os.path.abspath(root))
    if root.name == PYPROJECT and root.is_file():
        root = root.parent
    pyproject = root / PYPROJECT
    try:
        data = pyproject.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidInput(f"no {PYPROJECT} in {root}") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot read {pyproject}: {exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"not UTF-8 text: {exc.reason}", file=str(pyproject)) from exc
    analysis = _Analysis(pyproject, text)
    errors = [i for i in analysis.issues if i.problem.severity == "error"]
    if errors:
        raise errors[0].error
    for issue in analysis.issues:
        logger.debug("%s: %s", issue.problem.code, issue.problem.message)
    return analysis.project(hashlib.sha256(data).hexdigest())


def check_project(path: Path, text: str) -> list[Problem]:
    """Every problem in `text` (the content of `path`), sorted by position. Never raises."""
    try:
        return [i.problem for i in _Analysis(Path(os.path.abspath(path)), text).issues]
    except Exception as exc:  # diagnostics must never take the server down; say what broke
        logger.exception("check_project failed on %s", path)
        span = Span(str(path), 1, 1, 1, 1)
        return [Problem(span, f"internal error while checking: {exc}", "error", "internal")]


# ------------------------------------------------------------------------- analysis


class _Analysis(Checker):
    """One pass over the document: decoded values plus every problem found, with spans."""

    def __init__(self, pyproject: Path, text: str) -> None:
        self.name: str | None = None
        self.version: str | None = None
        self.requires_python: str | None = None
        self.dependencies: tuple[ReqItem, ...] = ()
        self.optional: dict[str, tuple[ReqItem, ...]] = {}
        self.groups: dict[str, tuple[ReqItem, ...]] = {}
        self.settings = ToolSettings()
        try:
            data: dict[str, Any] = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError) as exc:
            # tomllib recurses once per nesting level: hostile depth is bad input, not a crash.
            super().__init__(pyproject, text, scan=False)
            self.has_build_system = False
            self._syntax_error(exc)
            return
        super().__init__(pyproject, text)
        self._project_table(data)
        self.has_build_system = isinstance(data.get("build-system"), dict)
        self.groups = decode_dependency_groups(self, data)
        self.settings = decode_tool_settings(self, data, self.groups)
        self.issues.sort(key=lambda i: (i.problem.span.line, i.problem.span.column))

    def _syntax_error(self, exc: Exception) -> None:
        message = str(exc) if isinstance(exc, tomllib.TOMLDecodeError) else "nested too deeply"
        span = syntax_error_span(self.text, message, self.file)
        self.add(
            Problem(span, f"TOML syntax error: {message}", "error", "toml-syntax"),
            InvalidInput(
                f"TOML syntax error: {message}",
                file=self.file,
                line=span.line,
                column=span.column,
            ),
        )

    # -- [project] ---------------------------------------------------------------------
    def _project_table(self, data: Mapping[str, Any]) -> None:
        if "project" not in data:
            return
        table = self.table(("project",), data["project"])
        if table is None:
            return
        dynamic: list[str] = []
        if "dynamic" in table:
            dynamic = self.strings(("project", "dynamic"), table["dynamic"]) or []
        if "name" in table:
            self.name = self.string(("project", "name"), table["name"])
        if "version" in table:
            self.version = self.string(("project", "version"), table["version"])
        if "version" in dynamic:
            self.version = None
        if "requires-python" in table:
            spec = self.string(("project", "requires-python"), table["requires-python"])
            if spec is not None:
                try:
                    SpecifierSet(spec)
                    self.requires_python = spec
                except InvalidSpecifier as exc:
                    self.config(("project", "requires-python"), "invalid-value", str(exc))
        if "dependencies" in table:
            self.dependencies = self.requirements(
                ("project", "dependencies"), table["dependencies"]
            )
        if "optional-dependencies" in table:
            self._optional_dependencies(table["optional-dependencies"])

    def _optional_dependencies(self, value: object) -> None:
        path = ("project", "optional-dependencies")
        extras = self.table(path, value)
        for extra, reqs in (extras or {}).items():
            norm = canonicalize_name(extra)
            if not VALID_NAME.fullmatch(extra):
                self.config((*path, extra), "invalid-name", "not a valid extra name", key=True)
                continue
            if norm in self.optional:
                self.config(
                    (*path, extra),
                    "duplicate-name",
                    f"extra {norm!r} is defined twice (names are normalised, PEP 685)",
                    key=True,
                )
                continue
            self.optional[norm] = self.requirements((*path, extra), reqs)

    # -- result ------------------------------------------------------------------------
    def project(self, sha256: str) -> Project:
        root = self.root
        return Project(
            root=root,
            pyproject=self.pyproject,
            text=self.text,
            sha256=sha256,
            name=self.name,
            version=self.version,
            dependencies=self.dependencies,
            optional_dependencies=MappingProxyType(dict(self.optional)),
            dependency_groups=MappingProxyType(dict(self.groups)),
            requires_python=self.requires_python,
            has_build_system=self.has_build_system,
            settings=self.settings,
            python_version_file=_python_version_file(root / ".python-version"),
            pylock=_if_file(root / "pylock.toml"),
            uv_lock=_if_file(root / "uv.lock"),
        )


def _python_version_file(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped
    return None


def _if_file(path: Path) -> Path | None:
    return path if path.is_file() else None
