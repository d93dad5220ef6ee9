"""Options: the CLI flags and the LSP command options, decoded once at the edge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from envlayers.core.errors import InvalidInput
from envlayers.core.redact import conceal
from envlayers.flags import INSTALLER_CHOICES, OPTION_FLAGS

__all__ = ["INSTALLER_CHOICES", "Options"]

# camelCase wire name -> (field name, kind), from the one flag table (`flags.OPTION_FLAGS`).
_WIRE: dict[str, tuple[str, str]] = {f.wire: (f.field, f.kind) for f in OPTION_FLAGS}
# Keys that callers may send beside the options and that are not ours to decode here.
_PASSTHROUGH = frozenset(
    {"workspace", "program", "module", "name", "displayName", "user", "key", "olderThanDays", "all"}
)
_MAX_ITEMS = 1000
_MAX_TEXT = 8192


@dataclass(frozen=True)
class Options:
    """What one sync / compose request asks for, beyond the project's own settings."""

    with_: tuple[str, ...] = ()
    with_requirements: tuple[str, ...] = ()
    with_editable: tuple[str, ...] = ()
    profile: str | None = None
    no_sync: bool = False
    refresh: bool = False
    python: str | None = None
    groups: tuple[str, ...] = ()
    no_dev: bool = False
    all_groups: bool = False
    extras: tuple[str, ...] = ()
    all_extras: bool = False
    packages: tuple[str, ...] = ()
    all_packages: bool = False
    exact: bool | None = None
    frozen: bool = False
    locked: bool = False
    installer: str | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool | None = None
    script: str | None = None  # a single-file script (PEP 723) instead of the workspace

    def __post_init__(self) -> None:
        # Credentials in URLs stop here: options hold them redacted (see core.redact).
        object.__setattr__(self, "index_url", self.index_url and conceal(self.index_url))
        for name in ("extra_index_urls", "find_links", "with_"):
            object.__setattr__(self, name, tuple(conceal(v) for v in getattr(self, name)))
        if self.profile is not None and not self.profile.strip():
            # An empty name would silently mean "no profile": say so instead.
            raise InvalidInput("the profile name must not be empty")
        if self.installer is not None and self.installer not in INSTALLER_CHOICES:
            raise InvalidInput(
                f"installer must be one of {', '.join(INSTALLER_CHOICES)}, not {self.installer!r}"
            )

    @property
    def has_layers(self) -> bool:
        return bool(self.with_ or self.with_requirements or self.with_editable or self.profile)

    def without_layers(self) -> Options:
        return replace(self, with_=(), with_requirements=(), with_editable=(), profile=None)

    @classmethod
    def from_json(cls, data: object) -> Options:
        """Decode the LSP camelCase object; a wrong type is an InvalidInput naming the field."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise InvalidInput(f"options must be an object, not {type(data).__name__}")
        values: dict[str, Any] = {}
        for key, raw in data.items():
            if not isinstance(key, str):
                raise InvalidInput(f"option names must be strings, not {key!r}")
            if key in _PASSTHROUGH:
                continue
            if key not in _WIRE:
                raise InvalidInput(f"unknown option {key!r}")
            name, kind = _WIRE[key]
            values[name] = _decode(key, kind, raw)
        return cls(**values)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        by_field = {name: wire for wire, (name, _) in _WIRE.items()}
        for f in fields(self):
            value = getattr(self, f.name)
            if value in ((), None, False):
                continue
            out[by_field[f.name]] = list(value) if isinstance(value, tuple) else value
        return out


def _decode(key: str, kind: str, raw: object) -> object:
    if kind == "bool":
        if not isinstance(raw, bool):
            raise InvalidInput(f"option {key!r} must be a boolean")
        return raw
    if kind == "bool?":
        if raw is not None and not isinstance(raw, bool):
            raise InvalidInput(f"option {key!r} must be a boolean")
        return raw
    if kind == "str?":
        if raw is None:
            return None
        return _text(key, raw)
    if isinstance(raw, str):
        # A lone string is accepted where a list is expected: `with: "ipdb"`.
        return (_text(key, raw),)
    if not isinstance(raw, list):
        raise InvalidInput(f"option {key!r} must be a list of strings")
    if len(raw) > _MAX_ITEMS:
        raise InvalidInput(f"option {key!r} has {len(raw)} items (at most {_MAX_ITEMS})")
    return tuple(_text(key, item) for item in raw)


def _text(key: str, raw: object) -> str:
    if not isinstance(raw, str):
        raise InvalidInput(
            f"option {key!r} must be a string (or strings), not {type(raw).__name__}"
        )
    if len(raw) > _MAX_TEXT:
        raise InvalidInput(f"option {key!r} is {len(raw)} characters long (at most {_MAX_TEXT})")
    if "\x00" in raw:
        raise InvalidInput(f"option {key!r} contains a NUL character")
    return raw
