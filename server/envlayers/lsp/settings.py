"""Editor settings (section `envlayers`), decoded once with cattrs; a bad value is a warning and
the default for that setting, never a crash."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from cattrs import Converter
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn, override

from envlayers.config import INSTALLER_CHOICES, Options

__all__ = ["SECTION", "ServerSettings", "apply_settings", "decode_settings"]

SECTION = "envlayers"


@dataclass(frozen=True)
class ServerSettings:
    installer: str | None = None
    auto_sync: bool = False
    cache_dir: str | None = None
    show_notifications: bool = True
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool | None = None


class _BadValue(ValueError):
    """`expected` says what the setting takes."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _installer(value: object, _: object) -> str:
    if isinstance(value, str) and value in INSTALLER_CHOICES:
        return value
    raise _BadValue("one of " + ", ".join(INSTALLER_CHOICES))


def _flag(value: object, _: object) -> bool:
    if isinstance(value, bool):
        return value
    raise _BadValue("true or false")


def _text(value: object, _: object) -> str | None:
    if isinstance(value, str):
        return value or None  # an empty string is how editors spell "not set"
    raise _BadValue("a string")


def _texts(value: object, _: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if isinstance(items, list) and all(isinstance(v, str) for v in items):
        return tuple(v for v in items if v)
    raise _BadValue("a list of strings")


_HOOKS: dict[str, tuple[str, Callable[[object, object], object]]] = {
    "installer": ("installer", _installer),
    "auto_sync": ("autoSync", _flag),
    "cache_dir": ("cacheDir", _text),
    "show_notifications": ("showNotifications", _flag),
    "index_url": ("indexUrl", _text),
    "extra_index_urls": ("extraIndexUrls", _texts),
    "find_links": ("findLinks", _texts),
    "no_index": ("noIndex", _flag),
}
_KEY_OF = {name: key for name, (key, _) in _HOOKS.items()}
assert set(_HOOKS) == {f.name for f in fields(ServerSettings)}

_converter = Converter(forbid_extra_keys=True, detailed_validation=True)
_overrides: dict[str, Any] = {
    name: override(rename=key, struct_hook=hook) for name, (key, hook) in _HOOKS.items()
}
_converter.register_structure_hook(
    ServerSettings, make_dict_structure_fn(ServerSettings, _converter, **_overrides)
)


def decode_settings(raw: object) -> tuple[ServerSettings, list[str]]:
    """`raw` is the `envlayers` object (or one wrapping it under `envlayers`).

    Returns the settings and one warning per value that was ignored.
    """
    if raw is None:
        return ServerSettings(), []
    if not isinstance(raw, Mapping):
        return ServerSettings(), [f"envlayers settings must be an object, not {type(raw).__name__}"]
    inner = raw.get(SECTION)
    if isinstance(inner, Mapping):
        raw = inner
    values: dict[str, Any] = {str(k): v for k, v in raw.items() if v is not None and k != SECTION}
    found: dict[str, str] = {}
    while True:
        try:
            settings = _converter.structure(values, ServerSettings)
            break
        except ClassValidationError as group:
            bad = _rejected(group)
            if not bad or not bad.keys() <= values.keys():
                raise
            for key, warning in bad.items():
                found[key] = warning
                del values[key]
    order = list(raw)
    return settings, [found[k] for k in sorted(found, key=order.index)]


def _rejected(group: ClassValidationError) -> dict[str, str]:
    """The keys cattrs rejected, with the warning for each."""
    out: dict[str, str] = {}
    for exc in group.exceptions:
        if isinstance(exc, ForbiddenExtraKeysError):
            for key in exc.extra_fields:
                out[key] = f"unknown setting envlayers.{key}; ignored"
            continue
        name = next((n.name for n in getattr(exc, "__notes__", ()) if hasattr(n, "name")), None)
        known = _KEY_OF.get(str(name))
        if known is not None:
            expected = exc.expected if isinstance(exc, _BadValue) else "valid"
            out[known] = f"envlayers.{known} must be {expected}; using the default"
    return out


def apply_settings(options: Options, settings: ServerSettings) -> Options:
    """Fill what a request left unset from the editor's settings (the request wins)."""
    return replace(
        options,
        # "auto" (the editor's default) chooses nothing: pyproject.toml's `installer` decides.
        installer=options.installer
        or (settings.installer if settings.installer != "auto" else None),
        index_url=options.index_url or settings.index_url,
        extra_index_urls=options.extra_index_urls or settings.extra_index_urls,
        find_links=options.find_links or settings.find_links,
        no_index=options.no_index if options.no_index is not None else settings.no_index,
    )
