"""`[tool.envlayers]`: decoded and defaulted into `ToolSettings`, profiles into `Profile`s.

Every key is checked against its expected type; unknown keys, bad values and profile names
that cannot be folder names are problems on the `Checker`, with the span of the key or value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from packaging.utils import canonicalize_name

from envlayers.core.checker import Checker
from envlayers.core.requirements import ReqItem
from envlayers.core.toml_locate import KeyPath

__all__ = ["INSTALLERS", "Profile", "ToolSettings", "decode_tool_settings"]

INSTALLERS = ("auto", "uv", "pip")
_TOOL = ("tool", "envlayers")
_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Profile:
    """A named stack from `[tool.envlayers.profiles.<name>]`; paths are absolute."""

    name: str
    with_: tuple[ReqItem, ...] = ()
    with_editable: tuple[str, ...] = ()
    with_requirements: tuple[str, ...] = ()


@dataclass(frozen=True)
class ToolSettings:
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


def decode_tool_settings(
    check: Checker, data: Mapping[str, Any], groups: Mapping[str, object]
) -> ToolSettings:
    """`data["tool"]["envlayers"]` as settings; `groups` are the defined dependency groups."""
    tool = data.get("tool")
    if tool is None:
        return ToolSettings()
    if not isinstance(tool, dict):
        check.wrong_type(("tool",), "a table", tool)
        return ToolSettings()
    if "envlayers" not in tool:
        return ToolSettings()
    table = check.table(_TOOL, tool["envlayers"])
    if table is None:
        return ToolSettings()
    values: dict[str, Any] = {}
    for key, value in table.items():
        _setting(check, values, key, value, groups)
    return ToolSettings(**{k: v for k, v in values.items() if v is not None})


def _venv_outside(text: str) -> bool:
    """Whether a `venv` setting leaves the workspace or is the workspace itself."""
    import posixpath

    norm = posixpath.normpath(text.replace("\\", "/"))
    return (
        not text.strip()
        or text.startswith(("/", "~", "\\"))
        or (len(text) > 1 and text[1] == ":")
        or norm in (".", "..")
        or norm.startswith("../")
    )


def _setting(
    check: Checker, values: dict[str, Any], key: str, value: object, groups: Mapping[str, object]
) -> None:
    """Decode one key of the table into `values` (keyword arguments of `ToolSettings`)."""
    path = (*_TOOL, key)
    attr = key.replace("-", "_")
    if key in ("python", "index-url"):
        values[attr] = check.string(path, value)
    elif key == "venv":
        text = check.string(path, value)
        if text is not None and _venv_outside(text):
            # A file in the repository must not point envlayers at a folder outside it.
            check.config(
                path,
                "invalid-value",
                f'must name a folder inside the workspace (such as ".venv"), not {text!r}; '
                "use the ENVLAYERS_VENV environment variable for an environment elsewhere",
            )
        elif text is not None:
            values[attr] = text
    elif key == "installer":
        if check.string(path, value) is not None:
            if value in INSTALLERS:
                values["installer"] = value
            else:
                check.config(
                    path, "invalid-value", f"must be one of {', '.join(INSTALLERS)}, not {value!r}"
                )
    elif key in ("exact", "no-index"):
        if isinstance(value, bool):
            values[attr] = value
        else:
            check.wrong_type(path, "a boolean", value)
    elif key == "default-groups":
        names = check.strings(path, value)
        if names is not None:
            values["default_groups"] = _default_groups(check, path, names, groups)
    elif key == "extra-index-url":
        urls = check.strings(path, value)
        if urls is not None:
            values["extra_index_urls"] = tuple(urls)
    elif key == "find-links":
        links = check.strings(path, value)
        if links is not None:
            values["find_links"] = tuple(check.link(link) for link in links)
    elif key == "profiles":
        values["profiles"] = MappingProxyType(_profiles(check, path, value))
    else:
        check.config(path, "unknown-key", "unknown key", key=True)


def _default_groups(
    check: Checker, path: KeyPath, names: list[str], groups: Mapping[str, object]
) -> tuple[str, ...]:
    for index, group in enumerate(names):
        if canonicalize_name(group) not in groups:
            check.config(
                (*path, index),
                "unknown-default-group",
                f"group {group!r} is not defined in [dependency-groups]",
                severity="warning",
            )
    return tuple(dict.fromkeys(canonicalize_name(n) for n in names))


def _profiles(check: Checker, base: tuple[str, ...], value: object) -> dict[str, Profile]:
    table = check.table(base, value)
    profiles: dict[str, Profile] = {}
    for name, body in (table or {}).items():
        path = (*base, name)
        if not _PROFILE_NAME.fullmatch(name) or ".." in name:
            check.config(
                path,
                "invalid-profile-name",
                f"profile name {name!r} must match [A-Za-z0-9][A-Za-z0-9._-]* "
                "and not contain '..' (it becomes a folder name)",
                key=True,
            )
            continue
        spec = check.table(path, body)
        if spec is not None:
            profiles[name] = _profile(check, name, path, spec)
    return profiles


def _profile(check: Checker, name: str, path: tuple[str, ...], spec: Mapping[str, Any]) -> Profile:
    with_: tuple[ReqItem, ...] = ()
    editable: list[str] = []
    files: list[str] = []
    for key, item in spec.items():
        if key == "with":
            with_ = check.requirements((*path, key), item)
        elif key == "with-editable":
            strings = check.strings((*path, key), item) or []
            editable = [
                check.path((*path, key, i), s, "editable path") for i, s in enumerate(strings)
            ]
        elif key == "with-requirements":
            strings = check.strings((*path, key), item) or []
            files = [
                check.path((*path, key, i), s, "requirements file") for i, s in enumerate(strings)
            ]
        else:
            check.config((*path, key), "unknown-key", "unknown key", key=True)
    return Profile(name, with_, tuple(editable), tuple(files))
