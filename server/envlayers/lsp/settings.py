"""Editor settings (section `envlayers`), decoded once; a bad value is a warning and a default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from envlayers.config import INSTALLER_CHOICES, Options

__all__ = ["SECTION", "Settings", "apply_settings", "decode_settings"]

SECTION = "envlayers"


@dataclass(frozen=True)
class Settings:
    installer: str | None = None
    auto_sync: bool = False
    cache_dir: str | None = None
    show_notifications: bool = True
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool | None = None


_KNOWN = {
    "installer",
    "autoSync",
    "cacheDir",
    "showNotifications",
    "indexUrl",
    "extraIndexUrls",
    "findLinks",
    "noIndex",
}


def decode_settings(raw: object) -> tuple[Settings, list[str]]:
    """`raw` is the `envlayers` object (or one wrapping it under `envlayers`).

    Returns the settings and one warning per value that was ignored.
    """
    warnings: list[str] = []
    if raw is None:
        return Settings(), warnings
    if not isinstance(raw, Mapping):
        return Settings(), [f"envlayers settings must be an object, not {type(raw).__name__}"]
    inner = raw.get(SECTION)
    if isinstance(inner, Mapping):
        raw = inner
    values: dict[str, Any] = {}

    def bad(key: str, expected: str) -> None:
        warnings.append(f"envlayers.{key} must be {expected}; using the default")

    for key, value in raw.items():
        if value is None or key == SECTION:
            continue
        if key not in _KNOWN:
            warnings.append(f"unknown setting envlayers.{key}; ignored")
        elif key == "installer":
            if isinstance(value, str) and value in INSTALLER_CHOICES:
                values["installer"] = value
            else:
                bad(key, "one of " + ", ".join(INSTALLER_CHOICES))
        elif key in ("autoSync", "showNotifications", "noIndex"):
            if isinstance(value, bool):
                values[
                    {"autoSync": "auto_sync", "showNotifications": "show_notifications"}.get(
                        key, "no_index"
                    )
                ] = value
            else:
                bad(key, "true or false")
        elif key in ("cacheDir", "indexUrl"):
            if isinstance(value, str):
                # An empty string is how editors spell "not set".
                values["cache_dir" if key == "cacheDir" else "index_url"] = value or None
            else:
                bad(key, "a string")
        else:
            items = [value] if isinstance(value, str) else value
            if isinstance(items, list) and all(isinstance(v, str) for v in items):
                name = "extra_index_urls" if key == "extraIndexUrls" else "find_links"
                values[name] = tuple(v for v in items if v)
            else:
                bad(key, "a list of strings")
    return replace(Settings(), **values), warnings


def apply_settings(options: Options, settings: Settings) -> Options:
    """Fill what a request left unset from the editor's settings (the request wins)."""
    return replace(
        options,
        installer=options.installer or settings.installer,
        index_url=options.index_url or settings.index_url,
        extra_index_urls=options.extra_index_urls or settings.extra_index_urls,
        find_links=options.find_links or settings.find_links,
        no_index=options.no_index if options.no_index is not None else settings.no_index,
    )
