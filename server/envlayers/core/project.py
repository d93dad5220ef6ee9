"""The workspace model: `pyproject.toml` (PEP 621, PEP 735, `[tool.envlayers]`) -> `Project`.

One analysis pass (`_Analysis`) collects every problem with its source span; `check_project`
returns them all for editor diagnostics, `load_project` raises the first one as an error value.
Parsing only: nothing here runs processes or touches environments.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from packaging.dependency_groups import (
    CyclicDependencyGroup,
    DependencyGroupInclude,
    DependencyGroupResolver,
)
from packaging.markers import Marker
from packaging.requirements import InvalidRequirement as _PackagingInvalidRequirement
from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from envlayers.core.errors import ConfigError, EnvlayersError, InvalidInput, InvalidRequirement
from envlayers.core.toml_locate import KeyPath, Span, TomlLocations, dotted, syntax_error_span

__all__ = [
    "PYPROJECT",
    "Problem",
    "Profile",
    "Project",
    "ReqItem",
    "Settings",
    "Span",
    "check_project",
    "find_workspace",
    "load_project",
    "parse_requirement",
    "read_requirements_file",
]

logger = logging.getLogger(__name__)

PYPROJECT = "pyproject.toml"
INSTALLERS = ("auto", "uv", "pip")
_TOOL = ("tool", "envlayers")
_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# PEP 735 / core metadata: a valid (not yet normalised) name.
_VALID_NAME = re.compile(r"([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])", re.IGNORECASE)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|file:")


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class ReqItem:
    """One requirement string as written, with where it came from (None: not from a file)."""

    text: str
    span: Span | None = None


@dataclass(frozen=True)
class Profile:
    """A named stack from `[tool.envlayers.profiles.<name>]`; paths are absolute."""

    name: str
    with_: tuple[ReqItem, ...] = ()
    with_editable: tuple[str, ...] = ()
    with_requirements: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    """`[tool.envlayers]`, decoded and defaulted; group names are normalised."""

    python: str | None = None
    venv: str = ".venv"
    installer: str = "auto"
    default_groups: tuple[str, ...] = ("dev",)
    exact: bool = False
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    profiles: Mapping[str, Profile] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """One diagnostic: `severity` is "error" or "warning"; `code` is a stable short id."""

    span: Span
    message: str
    severity: str
    code: str


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
    settings: Settings
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


# ----------------------------------------------------------------------- requirements


def parse_requirement(item: ReqItem) -> Requirement:
    """Parse one PEP 508 string; `InvalidRequirement` points at the item's span."""
    span = item.span
    where: dict[str, Any] = {}
    if span is not None:
        where = {"file": span.file or None, "line": span.line, "column": span.column}
    if not item.text.strip():
        raise InvalidRequirement(item.text, "empty requirement", **where)
    try:
        return Requirement(item.text)
    except _PackagingInvalidRequirement as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "does not parse"
        raise InvalidRequirement(item.text, reason, **where) from exc


def read_requirements_file(path: Path) -> tuple[list[ReqItem], list[str]]:
    """Read a pip requirements file: `(requirements, absolute editable paths)`.

    Supports comments, blank lines, `\\` continuations, `-r FILE` (relative to the including
    file; each file read once, so cycles are harmless) and `-e PATH`. Any other option is an
    `InvalidInput` naming file and line: raw lines are never handed to an installer.
    """
    reqs: list[ReqItem] = []
    editables: list[str] = []
    _read_requirements(Path(os.path.realpath(path)), reqs, editables, set(), None)
    return reqs, editables


def _logical_lines(text: str) -> list[tuple[int, int, str]]:
    """(line, column of first character, text) per logical line, comments and joins done."""
    out: list[tuple[int, int, str]] = []
    buf = ""
    first = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not buf:
            first = number
        # pip's rule: a comment starts at a '#' at line start or after whitespace.
        line = re.sub(r"(^|\s+)#.*$", "", raw)
        if line.endswith("\\"):
            buf += line[:-1]
            continue
        buf += line
        stripped = buf.strip()
        if stripped:
            column = len(buf) - len(buf.lstrip()) + 1
            out.append((first, column, stripped))
        buf = ""
    if buf.strip():
        out.append((first, len(buf) - len(buf.lstrip()) + 1, buf.strip()))
    return out


def _read_requirements(
    path: Path,
    reqs: list[ReqItem],
    editables: list[str],
    seen: set[Path],
    included_from: Span | None,
) -> None:
    if path in seen:
        return
    seen.add(path)
    # A missing included file is reported at the `-r` line that names it.
    src = included_from.file if included_from else None
    src_line = included_from.line if included_from else None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidInput(f"requirements file not found: {path}", file=src, line=src_line) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"cannot read requirements file {path}: {exc}", file=src, line=src_line
        ) from exc
    file = str(path)
    for line, column, content in _logical_lines(text):
        span = Span(file, line, column, line, column + len(content))
        if not content.startswith("-"):
            item = ReqItem(content, span)
            try:
                parse_requirement(item)
            except InvalidRequirement as exc:
                # The file may be anything (a netrc, a key): its content is never echoed.
                if re.search(r"\s--?[A-Za-z]", content):
                    raise InvalidInput(
                        "per-requirement options (such as --hash) are not supported",
                        file=file,
                        line=line,
                        column=column,
                    ) from exc
                quoted = any(w in exc.reason for w in content.split() if len(w) > 3)
                raise InvalidInput(
                    f"not a requirement ({'does not parse' if quoted else exc.reason}); "
                    "a requirements file holds "
                    "requirements, -r FILE and -e PATH lines",
                    file=file,
                    line=line,
                    column=column,
                ) from exc
            reqs.append(item)
            continue
        option, arg = _split_option(content)
        if option in ("-r", "--requirement") and arg:
            included = Path(os.path.realpath(path.parent / os.path.expanduser(arg)))
            _read_requirements(included, reqs, editables, seen, span)
        elif option in ("-e", "--editable") and arg:
            if _URL.match(arg):
                raise InvalidInput(
                    f"only local paths are supported for -e, not {arg!r}",
                    file=file,
                    line=line,
                    column=column,
                )
            editables.append(os.path.normpath(path.parent / os.path.expanduser(arg)))
        else:
            named = re.match(r"--[A-Za-z][A-Za-z0-9-]*|-[A-Za-z]", content)
            raise InvalidInput(
                f"unsupported option in requirements file: {named[0] if named else content[:1]!r} "
                "(only requirements, -r FILE and -e PATH are allowed)",
                file=file,
                line=line,
                column=column,
            )


def _split_option(content: str) -> tuple[str, str]:
    """`-r x`, `-rx`, `--requirement=x`, `--requirement x` -> (option, argument)."""
    if content[:2] in ("-r", "-e") and not content.startswith("--"):
        return content[:2], content[2:].strip().removeprefix("=").strip()
    m = re.fullmatch(r"(--[A-Za-z][A-Za-z0-9-]*)(?:\s*=\s*|\s+)?(.*)", content)
    if not m:
        return content, ""
    return m.group(1), m.group(2).strip()


# ------------------------------------------------------------------------ workspace


def find_workspace(start: Path) -> Path:
    """The nearest folder at or above `start` that holds a `pyproject.toml`."""
    here = Path(os.path.abspath(start))
    if here.is_file() or (not here.exists() and here.name == PYPROJECT):
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / PYPROJECT).is_file():
            return folder
    raise InvalidInput(f"no {PYPROJECT} found in {here} or any folder above it")


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


@dataclass(frozen=True)
class _Issue:
    problem: Problem
    error: EnvlayersError


class _Analysis:
    """One pass over the document: decoded values plus every problem found, with spans."""

    def __init__(self, pyproject: Path, text: str) -> None:
        self.pyproject = pyproject
        self.root = pyproject.parent
        self.file = str(pyproject)
        self.text = text
        self.issues: list[_Issue] = []
        self.name: str | None = None
        self.version: str | None = None
        self.requires_python: str | None = None
        self.has_build_system = False
        self.dependencies: tuple[ReqItem, ...] = ()
        self.optional: dict[str, tuple[ReqItem, ...]] = {}
        self.groups: dict[str, tuple[ReqItem, ...]] = {}
        self.settings = Settings()
        try:
            self.data: dict[str, Any] = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError) as exc:
            # tomllib recurses once per nesting level: hostile depth is bad input, not a crash.
            message = str(exc) if isinstance(exc, tomllib.TOMLDecodeError) else "nested too deeply"
            span = syntax_error_span(text, message, self.file)
            self.data = {}
            self.loc = TomlLocations("", self.file)
            self._add(
                Problem(span, f"TOML syntax error: {message}", "error", "toml-syntax"),
                InvalidInput(
                    f"TOML syntax error: {message}",
                    file=self.file,
                    line=span.line,
                    column=span.column,
                ),
            )
            return
        self.loc = TomlLocations(text, self.file)
        self._project_table()
        self.has_build_system = isinstance(self.data.get("build-system"), dict)
        self._dependency_groups()
        self._settings()
        self.issues.sort(key=lambda i: (i.problem.span.line, i.problem.span.column))

    # -- problem helpers ---------------------------------------------------------------
    def _add(self, problem: Problem, error: EnvlayersError) -> None:
        self.issues.append(_Issue(problem, error))

    def _config(
        self, path: KeyPath, code: str, reason: str, *, key: bool = False, severity: str = "error"
    ) -> None:
        span = self.loc.find(path, key=key)
        name = dotted(path)
        self._add(
            Problem(span, f"{name}: {reason}", severity, code),
            ConfigError(name, reason, file=self.file, line=span.line, column=span.column),
        )

    def _wrong_type(self, path: KeyPath, expected: str, value: object) -> None:
        self._config(path, "wrong-type", f"expected {expected}, got {_toml_type(value)}")

    def _table(self, path: tuple[str, ...], value: object) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self._wrong_type(path, "a table", value)
        return None

    def _string(self, path: KeyPath, value: object, *, nonempty: bool = True) -> str | None:
        if not isinstance(value, str):
            self._wrong_type(path, "a string", value)
            return None
        if nonempty and not value.strip():
            self._config(path, "invalid-value", "must not be empty")
            return None
        return value

    def _strings(self, path: KeyPath, value: object) -> list[str] | None:
        if not isinstance(value, list):
            self._wrong_type(path, "an array of strings", value)
            return None
        out: list[str] = []
        for index, element in enumerate(value):
            checked = self._string((*path, index), element)
            if checked is not None:
                out.append(checked)
        return out

    def _requirements(self, path: KeyPath, value: object) -> tuple[ReqItem, ...]:
        if not isinstance(value, list):
            self._wrong_type(path, "an array of requirement strings", value)
            return ()
        out: list[ReqItem] = []
        for index, element in enumerate(value):
            if not isinstance(element, str):
                self._wrong_type((*path, index), "a requirement string", element)
                continue
            item = self._req_item((*path, index), element)
            if item is not None:
                out.append(item)
        return tuple(out)

    def _req_item(self, path: KeyPath, text: str) -> ReqItem | None:
        item = ReqItem(text, self.loc.find(path))
        try:
            parse_requirement(item)
        except InvalidRequirement as exc:
            assert item.span is not None
            message = f"{dotted(path)}: invalid requirement {text!r}: {exc.reason}"
            self._add(Problem(item.span, message, "error", "invalid-requirement"), exc)
            return None
        return item

    # -- [project] ---------------------------------------------------------------------
    def _project_table(self) -> None:
        if "project" not in self.data:
            return
        table = self._table(("project",), self.data["project"])
        if table is None:
            return
        dynamic: list[str] = []
        if "dynamic" in table:
            dynamic = self._strings(("project", "dynamic"), table["dynamic"]) or []
        if "name" in table:
            self.name = self._string(("project", "name"), table["name"])
        if "version" in table:
            self.version = self._string(("project", "version"), table["version"])
        if "version" in dynamic:
            self.version = None
        if "requires-python" in table:
            spec = self._string(("project", "requires-python"), table["requires-python"])
            if spec is not None:
                try:
                    SpecifierSet(spec)
                    self.requires_python = spec
                except InvalidSpecifier as exc:
                    self._config(("project", "requires-python"), "invalid-value", str(exc))
        if "dependencies" in table:
            self.dependencies = self._requirements(
                ("project", "dependencies"), table["dependencies"]
            )
        if "optional-dependencies" in table:
            path = ("project", "optional-dependencies")
            extras = self._table(path, table["optional-dependencies"])
            for extra, value in (extras or {}).items():
                norm = canonicalize_name(extra)
                if not _VALID_NAME.fullmatch(extra):
                    self._config((*path, extra), "invalid-name", "not a valid extra name", key=True)
                    continue
                if norm in self.optional:
                    self._config(
                        (*path, extra),
                        "duplicate-name",
                        f"extra {norm!r} is defined twice (names are normalised, PEP 685)",
                        key=True,
                    )
                    continue
                self.optional[norm] = self._requirements((*path, extra), value)

    # -- [dependency-groups] -------------------------------------------------------------
    def _dependency_groups(self) -> None:
        if "dependency-groups" not in self.data:
            return
        base = ("dependency-groups",)
        table = self._table(base, self.data["dependency-groups"])
        if table is None:
            return
        # Pass 1: per-item checks with spans; keep only sound items for the resolver.
        clean: dict[str, list[str | dict[str, str]]] = {}
        origin: dict[str, list[ReqItem | tuple[str, KeyPath]]] = {}
        written: dict[str, str] = {}
        for name, value in table.items():
            norm = str(canonicalize_name(name))
            if not _VALID_NAME.fullmatch(name):
                self._config((*base, name), "invalid-name", "not a valid group name", key=True)
                continue
            if norm in clean:
                self._config(
                    (*base, name),
                    "duplicate-name",
                    f"group {norm!r} is also defined as {written[norm]!r}",
                    key=True,
                )
                continue
            written[norm] = name
            clean[norm] = []
            origin[norm] = []
            if not isinstance(value, list):
                self._wrong_type((*base, name), "an array", value)
                continue
            for index, element in enumerate(value):
                path = (*base, name, index)
                if isinstance(element, str):
                    item = self._req_item(path, element)
                    if item is not None:
                        clean[norm].append(element)
                        origin[norm].append(item)
                elif isinstance(element, dict):
                    keys = set(element)
                    if keys != {"include-group"}:
                        extra = sorted(keys - {"include-group"})
                        reason = (
                            f"unknown key {extra[0]!r} in a group include"
                            if extra
                            else "a table item needs an include-group key"
                        )
                        self._config(path, "unknown-key", reason)
                    elif not isinstance(element["include-group"], str):
                        self._wrong_type(
                            (*path, "include-group"), "a string", element["include-group"]
                        )
                    else:
                        clean[norm].append({"include-group": element["include-group"]})
                        origin[norm].append((element["include-group"], path))
                else:
                    self._wrong_type(
                        path, "a requirement string or an include-group table", element
                    )
        # Unknown includes: found here, so they point at the include itself.
        for group, items in origin.items():
            for entry in list(items):
                if isinstance(entry, tuple) and canonicalize_name(entry[0]) not in clean:
                    self._config(
                        entry[1],
                        "unknown-include-group",
                        f"includes group {entry[0]!r}, which is not defined",
                    )
                    index = items.index(entry)
                    del items[index]
                    del clean[group][index]
        self.groups = self._resolve_groups(clean, origin)

    def _resolve_groups(
        self,
        clean: Mapping[str, Sequence[str | Mapping[str, str]]],
        origin: Mapping[str, Sequence[ReqItem | tuple[str, KeyPath]]],
    ) -> dict[str, tuple[ReqItem, ...]]:
        """Resolve includes with packaging's resolver; map its requirements back to items."""
        resolver = DependencyGroupResolver(clean)
        by_id: dict[int, ReqItem] = {}
        for norm, items in origin.items():
            # lookup() parses each group once; resolve() returns those same objects.
            for parsed, item in zip(resolver.lookup(norm), items, strict=True):
                if not isinstance(parsed, DependencyGroupInclude) and isinstance(item, ReqItem):
                    by_id[id(parsed)] = item
        out: dict[str, tuple[ReqItem, ...]] = {}
        reported: set[tuple[str, str]] = set()
        for norm in clean:
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
                    self._cycle(exc, origin[exc.group])
        return out

    def _cycle(
        self, exc: CyclicDependencyGroup, items: Sequence[ReqItem | tuple[str, KeyPath]]
    ) -> None:
        target = canonicalize_name(exc.include_group)
        for entry in items:
            if isinstance(entry, tuple) and canonicalize_name(entry[0]) == target:
                self._config(entry[1], "include-cycle", str(exc))
                return
        self._config(("dependency-groups", exc.group), "include-cycle", str(exc), key=True)

    # -- [tool.envlayers] ----------------------------------------------------------------
    def _settings(self) -> None:
        tool = self.data.get("tool")
        if tool is None:
            return
        if not isinstance(tool, dict):
            self._wrong_type(("tool",), "a table", tool)
            return
        if "envlayers" not in tool:
            return
        table = self._table(_TOOL, tool["envlayers"])
        if table is None:
            return
        values: dict[str, Any] = {}
        for key, value in table.items():
            path = (*_TOOL, key)
            if key in ("python", "venv", "index-url"):
                values[key.replace("-", "_")] = self._string(path, value)
            elif key == "installer":
                if self._string(path, value) is not None:
                    if value in INSTALLERS:
                        values["installer"] = value
                    else:
                        self._config(
                            path,
                            "invalid-value",
                            f"must be one of {', '.join(INSTALLERS)}, not {value!r}",
                        )
            elif key in ("exact", "no-index"):
                if isinstance(value, bool):
                    values[key.replace("-", "_")] = value
                else:
                    self._wrong_type(path, "a boolean", value)
            elif key == "default-groups":
                names = self._strings(path, value)
                if names is not None:
                    values["default_groups"] = tuple(_unique([canonicalize_name(n) for n in names]))
                    for index, group in enumerate(names):
                        if canonicalize_name(group) not in self.groups:
                            self._config(
                                (*path, index),
                                "unknown-default-group",
                                f"group {group!r} is not defined in [dependency-groups]",
                                severity="warning",
                            )
            elif key == "extra-index-url":
                urls = self._strings(path, value)
                if urls is not None:
                    values["extra_index_urls"] = tuple(urls)
            elif key == "find-links":
                links = self._strings(path, value)
                if links is not None:
                    values["find_links"] = tuple(self._link(link) for link in links)
            elif key == "profiles":
                values["profiles"] = MappingProxyType(self._profiles(path, value))
            else:
                self._config(path, "unknown-key", "unknown key", key=True)
        self.settings = Settings(**{k: v for k, v in values.items() if v is not None})

    def _link(self, link: str) -> str:
        if _URL.match(link):
            return link
        return os.path.normpath(self.root / os.path.expanduser(link))

    def _path(self, path: KeyPath, value: str, what: str) -> str:
        absolute = os.path.normpath(self.root / os.path.expanduser(value))
        if not os.path.exists(absolute):
            self._config(
                path, "missing-path", f"{what} {absolute} does not exist", severity="warning"
            )
        return absolute

    def _profiles(self, base: tuple[str, ...], value: object) -> dict[str, Profile]:
        table = self._table(base, value)
        profiles: dict[str, Profile] = {}
        for name, body in (table or {}).items():
            path = (*base, name)
            if not _PROFILE_NAME.fullmatch(name) or ".." in name:
                self._config(
                    path,
                    "invalid-profile-name",
                    f"profile name {name!r} must match [A-Za-z0-9][A-Za-z0-9._-]* "
                    "and not contain '..' (it becomes a folder name)",
                    key=True,
                )
                continue
            spec = self._table(path, body)
            if spec is None:
                continue
            with_: tuple[ReqItem, ...] = ()
            editable: list[str] = []
            files: list[str] = []
            for key, item in spec.items():
                if key == "with":
                    with_ = self._requirements((*path, key), item)
                elif key == "with-editable":
                    strings = self._strings((*path, key), item) or []
                    editable = [
                        self._path((*path, key, i), s, "editable path")
                        for i, s in enumerate(strings)
                    ]
                elif key == "with-requirements":
                    strings = self._strings((*path, key), item) or []
                    files = [
                        self._path((*path, key, i), s, "requirements file")
                        for i, s in enumerate(strings)
                    ]
                else:
                    self._config((*path, key), "unknown-key", "unknown key", key=True)
            profiles[name] = Profile(name, with_, tuple(editable), tuple(files))
        return profiles

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


def _toml_type(value: object) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }
    return names.get(type(value), type(value).__name__)


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
