"""The one table of request flags: argparse (`cli`), the fast path (`_entry`) and the LSP
option decoder (`config`) all read it, so a flag, its wire name and its kind live in one place.

Stdlib only and cheap to import (the fast path reads it before anything else): no
`dataclasses`, no `typing`, no `re`.
"""

from __future__ import annotations

# Not `typing.TYPE_CHECKING`: importing typing costs milliseconds on the hot path.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "ENV_FORMATS",
    "INSTALLER_CHOICES",
    "KINDS",
    "OPTION_FLAGS",
    "SYNC_FORMATS",
    "Flag",
    "split_requirements",
]

INSTALLER_CHOICES = ("auto", "uv", "pip")
SYNC_FORMATS = ("text", "json")
ENV_FORMATS = ("text", "json", "shell", "dotenv", "pyright")
# "str?": a value or None; "bool": a switch; "bool?": a switch or None (unset); "strs": repeated
KINDS = ("str?", "bool", "bool?", "strs")


class Flag:
    """One request flag: `--flag` on the command line, `wire` in LSP options, `field` of
    `Options`, `kind` one of `KINDS`. `scope` "sync" flags belong to every syncing command,
    "env" ones only to the commands that compose; `fast` False sends a request that uses it
    to the full path; `split` accepts uv's comma lists. Immutable (a value, without
    `dataclasses`, which the fast path cannot afford to import)."""

    __slots__ = (
        "choices",
        "fast",
        "field",
        "flag",
        "help",
        "kind",
        "metavar",
        "scope",
        "split",
        "wire",
    )
    flag: str
    wire: str
    field: str
    kind: str
    scope: str
    help: str | None
    metavar: str | None
    choices: tuple[str, ...] | None
    split: bool
    fast: bool

    def __init__(
        self,
        flag: str,
        wire: str,
        field: str,
        kind: str,
        *,
        scope: str = "sync",
        help: str | None = None,
        metavar: str | None = None,
        choices: tuple[str, ...] | None = None,
        split: bool = False,
        fast: bool = True,
    ) -> None:
        if kind not in KINDS or scope not in ("sync", "env"):
            raise ValueError(f"bad flag definition {flag!r}")
        values = {
            "flag": flag,
            "wire": wire,
            "field": field,
            "kind": kind,
            "scope": scope,
            "help": help,
            "metavar": metavar,
            "choices": choices,
            "split": split,
            "fast": fast,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Flag is immutable: cannot set {name!r}")

    def __repr__(self) -> str:
        return f"Flag({self.flag!r})"

    def items(self, values: Iterable[str]) -> list[str]:
        """The values of a repeated flag, comma lists split where this flag takes them."""
        out: list[str] = []
        for value in values:
            out += split_requirements(value) if self.split else [value]
        return out


OPTION_FLAGS: tuple[Flag, ...] = (
    Flag("--python", "python", "python", "str?", help="interpreter request: version, range or path"),
    Flag("--group", "groups", "groups", "strs", help="also sync this dependency group"),
    Flag("--no-dev", "noDev", "no_dev", "bool", help="do not sync the dev group"),
    Flag("--all-groups", "allGroups", "all_groups", "bool", help="sync every dependency group"),
    Flag("--extra", "extras", "extras", "strs", help="sync this optional extra"),
    Flag("--all-extras", "allExtras", "all_extras", "bool", help="sync every optional extra"),
    Flag("--package", "packages", "packages", "strs", help="sync this uv workspace member (and what it needs)"),
    Flag("--all-packages", "allPackages", "all_packages", "bool", help="sync every uv workspace member"),
    Flag("--exact", "exact", "exact", "bool?", help="remove packages nothing asks for"),
    Flag("--frozen", "frozen", "frozen", "bool", help="install the lock file as it is, even when stale"),
    Flag("--locked", "locked", "locked", "bool", help="fail when the lock file does not match pyproject.toml"),
    Flag(
        "--installer",
        "installer",
        "installer",
        "str?",
        choices=INSTALLER_CHOICES,
        help="installer to use (default: auto)",
    ),
    Flag("--index-url", "indexUrl", "index_url", "str?", help="base URL of the package index"),
    Flag("--extra-index-url", "extraIndexUrls", "extra_index_urls", "strs"),
    Flag("--find-links", "findLinks", "find_links", "strs", help="a folder or URL of distributions"),
    Flag("--no-index", "noIndex", "no_index", "bool?", help="ignore package indexes"),
    Flag(
        "--with",
        "with",
        "with_",
        "strs",
        scope="env",
        metavar="REQ",
        split=True,
        help="an extra requirement for the layer (repeat it, or give a comma list as uv does)",
    ),
    Flag(
        "--with-requirements",
        "withRequirements",
        "with_requirements",
        "strs",
        scope="env",
        metavar="FILE",
        fast=False,
    ),
    Flag("--with-editable", "withEditable", "with_editable", "strs", scope="env", metavar="PATH"),
    Flag("--profile", "profile", "profile", "str?", scope="env", help="a profile from [tool.envlayers.profiles]"),
    Flag("--no-sync", "noSync", "no_sync", "bool", scope="env", help="do not sync the base first"),
    Flag("--refresh", "refresh", "refresh", "bool", scope="env", help="rebuild the layers", fast=False),
    # -- single-file scripts (PEP 723) --
    Flag(
        "--script",
        "script",
        "script",
        "str?",
        scope="env",
        metavar="PATH",
        fast=False,
        help="a script with inline metadata (`# /// script`): compose its environment instead",
    ),
)  # fmt: skip


def fast_flags(command: str) -> dict[str, Flag]:
    """The flags the fast path may read for `command` ("sync" or "env")."""
    return {f.flag: f for f in OPTION_FLAGS if f.fast and (f.scope == "sync" or command == "env")}


_OPENERS = {"[": "]", "(": ")"}
_SPECIFIER_START = "=!<>~"


def split_requirements(text: str) -> list[str]:
    """`--with a,b` as uv reads it: split on commas, but not inside brackets or parentheses
    (`pkg[x,y]`, `pkg (>=1,<2)`), not inside quotes (a marker's string), not inside a URL
    (`pkg @ https://h/a,b.whl`, up to the next space), and not before a version operator
    (`pkg>=1,<2`, `pkg>=1, !=1.5`). Items are trimmed; empty ones dropped (`a,,b`)."""
    items: list[str] = []
    depth, quote, start, i, n = 0, "", 0, 0, len(text)
    while i < n:
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in ")]":
            depth = max(depth - 1, 0)
        elif ch == "@" or text.startswith("://", i):
            i = _url_end(text, i + 1)
            continue
        elif ch == "," and depth == 0 and not text[i + 1 :].lstrip().startswith(_OPERATORS):
            items.append(text[start:i])
            start = i + 1
        i += 1
    items.append(text[start:])
    return [item.strip() for item in items if item.strip()]


_OPERATORS = ("=", "!", "<", ">", "~")


def _url_end(text: str, i: int) -> int:
    """Where the URL that starts at or after `i` (after spaces) ends: the next space, or the
    comma just before it (`pkg @ https://h/x.whl, other`)."""
    n = len(text)
    while i < n and text[i].isspace():
        i += 1
    while i < n and not text[i].isspace():
        i += 1
    return i - 1 if text[i - 1] == "," else i
