"""Installed distributions of an environment, read straight from its site directories.

`Inventory.scan()` lists `*.dist-info` / `*.egg-info` entries with `os.scandir`, takes names
and versions from the folder names, and reads `METADATA` only for the distributions a caller
actually looks at. The first distribution of a name on the path wins, as at import time.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = [
    "DirectUrl",
    "Distribution",
    "Inventory",
    "parse_requirement",
    "site_signature",
]

log = logging.getLogger(__name__)

_DIST_INFO: Final = ".dist-info"
_EGG_INFO: Final = ".egg-info"
_UNSET: Final = object()


@dataclass(frozen=True)
class DirectUrl:
    """PEP 610 `direct_url.json`: where a distribution was installed from."""

    url: str
    editable: bool
    kind: str  # "dir" | "archive" | "vcs"
    vcs: str | None = None
    requested_revision: str | None = None
    commit_id: str | None = None
    subdirectory: str | None = None


@functools.lru_cache(maxsize=16384)
def parse_requirement(text: str) -> Requirement | None:
    """A `Requires-Dist` value, parsed once per process (parsing dominates a closure walk)."""
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        log.warning("skipping unparsable requirement %r: %s", text, exc)
        return None


@functools.lru_cache(maxsize=4096)
def _parse_marker(text: str) -> tuple[bool, Marker | None]:
    """(parsed?, marker): markers repeat across distributions (`extra == "test"`), parse once."""
    try:
        return True, Marker(text)
    except InvalidMarker as exc:
        log.warning("skipping a requirement with an unparsable marker %r: %s", text, exc)
        return False, None


def _header_block(data: bytes) -> str:
    """The header part of an RFC 822 style metadata file; the body can be megabytes."""
    cut = data.find(b"\n\n")
    if cut < 0 or b"\r" in data[:cut]:
        crlf = data.find(b"\r\n\r\n")
        cut = crlf if cut < 0 or 0 <= crlf < cut else cut
    return (data[:cut] if cut >= 0 else data).decode("utf-8", "replace")


_WANTED = frozenset({"name", "version", "requires-dist", "provides-extra"})
_WANTED_FIRST = frozenset("NnVvRrPp")  # first letters of _WANTED: skip Classifier & co cheaply


def _parse_headers(text: str) -> dict[str, list[str]]:
    """Name, Version, Requires-Dist, Provides-Extra (lower-cased keys); stops at garbage."""
    headers: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in text.split("\n"):
        first = line[:1]
        if first == " " or first == "\t":
            if last is not None:
                last[-1] = f"{last[-1]} {line.strip()}".strip()
            continue
        if first not in _WANTED_FIRST:
            last = None
            if ":" not in line and line.strip():
                break
            continue
        key, sep, value = line.partition(":")
        key = key.lower()
        if not sep or key not in _WANTED:
            last = None
            if not sep and line.strip():
                break
            continue
        last = headers.get(key)
        if last is None:
            last = headers[key] = []
        last.append(value.strip())
    return headers


def _egg_requires(text: str) -> list[str]:
    """`requires.txt` sections (`[extra]`, `[:marker]`, `[extra:marker]`) as Requires-Dist lines."""
    out: list[str] = []
    condition = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, marker = line[1:-1].partition(":")
            parts = []
            if extra.strip():
                parts.append(f'extra == "{extra.strip()}"')
            if marker.strip():
                parts.append(f"({marker.strip()})")
            condition = " and ".join(parts)
            continue
        if not condition:
            out.append(line)
            continue
        req, sep, own = line.partition(";")
        out.append(f"{req} ; ({own.strip()}) and {condition}" if sep else f"{req} ; {condition}")
    return out


def _split_folder(folder: str) -> tuple[str | None, str | None]:
    """(name, version) from `name-version.dist-info` / `name-version[-pyX.Y].egg-info`."""
    if folder.endswith(_DIST_INFO):
        stem = folder[: -len(_DIST_INFO)]
        name, sep, version = stem.rpartition("-")
        if not sep:
            return stem or None, None
    else:
        stem = folder[: -len(_EGG_INFO)]
        name, sep, rest = stem.partition("-")
        if not sep:
            return stem or None, None
        version = rest.partition("-")[0]
    if not name or not version:
        return name or None, None
    try:
        Version(version)
    except InvalidVersion:
        return name, None
    return name, version


class Distribution:
    """One installed distribution; everything past name and version is read on first use."""

    __slots__ = (
        "_direct_url",
        "_display_name",
        "_extras",
        "_installer",
        "_path",
        "_raw_extras",
        "_raw_requires",
        "_requires",
        "_site",
        "name",
        "version",
    )

    name: str
    version: str

    def __init__(
        self,
        path: str | Path,
        site_dir: str | Path | None = None,
        *,
        name: str | None = None,
        version: str | None = None,
    ) -> None:
        """`name`/`version` come from the folder name; when either is missing METADATA is read.

        Raises ValueError when neither the folder name nor the metadata give both.
        """
        # Strings inside: Path objects cost more than the rest of a scan.
        self._path = os.fspath(path)
        self._site = os.fspath(site_dir) if site_dir is not None else os.path.dirname(self._path)
        self._display_name: str | None = name
        self._raw_requires: list[str] | None = None
        self._raw_extras: list[str] | None = None
        self._requires: tuple[Requirement, ...] | None = None
        self._extras: frozenset[str] | None = None
        self._direct_url: object = _UNSET
        self._installer: object = _UNSET
        if name is None or version is None:
            meta_name, meta_version = self._load_metadata()
            name = meta_name or name
            version = meta_version or version
            if meta_name:
                self._display_name = meta_name
        if not name or not version:
            raise ValueError(f"{self._path}: no name or version in the folder name or metadata")
        self.name = canonicalize_name(name)
        self.version = version

    @property
    def path(self) -> Path:
        """The `.dist-info` / `.egg-info` folder (or file, for an old distutils egg-info)."""
        return Path(self._path)

    @property
    def site_dir(self) -> Path:
        """The site directory it was found in."""
        return Path(self._site)

    # metadata -----------------------------------------------------------------------------

    def _is_egg_dir(self) -> bool:
        return self._path.endswith(_EGG_INFO) and os.path.isdir(self._path)

    def _metadata_file(self) -> str:
        if self._path.endswith(_EGG_INFO):
            return os.path.join(self._path, "PKG-INFO") if self._is_egg_dir() else self._path
        return os.path.join(self._path, "METADATA")

    def _load_metadata(self) -> tuple[str | None, str | None]:
        """Read the headers once; returns (Name, Version) and keeps requirements for later."""
        try:
            with open(self._metadata_file(), "rb") as fh:
                data = fh.read()
        except OSError as exc:
            log.warning("cannot read the metadata of %s: %s", self._path, exc)
            data = b""
        headers = _parse_headers(_header_block(data))
        requires = headers.get("requires-dist", [])
        extras = headers.get("provides-extra", [])
        if self._is_egg_dir():
            try:
                text = Path(self._path, "requires.txt").read_text("utf-8", "replace")
            except OSError:
                text = ""
            requires = requires + _egg_requires(text)
            for line in text.splitlines():
                line = line.strip()
                if line.startswith("[") and line.endswith("]"):
                    extra = line[1:-1].partition(":")[0].strip()
                    if extra:
                        extras.append(extra)
        self._raw_requires = requires
        self._raw_extras = extras
        name = next(iter(headers.get("name", ())), None)
        version = next(iter(headers.get("version", ())), None)
        return name or None, version or None

    def _ensure_metadata(self) -> None:
        if self._raw_requires is None:
            name, _ = self._load_metadata()
            if name and canonicalize_name(name) == self.name:
                self._display_name = name

    @property
    def display_name(self) -> str:
        """The name as METADATA spells it (the folder's spelling when METADATA has none)."""
        self._ensure_metadata()
        if self._display_name:
            return self._display_name
        return _split_folder(os.path.basename(self._path))[0] or self.name

    @property
    def requires(self) -> tuple[Requirement, ...]:
        """Requires-Dist, parsed; lines that do not parse are skipped (and logged)."""
        if self._requires is None:
            self._ensure_metadata()
            parsed = (parse_requirement(line) for line in self._raw_requires or ())
            self._requires = tuple(r for r in parsed if r is not None)
        return self._requires

    def active_requires(self, keep: Callable[[Marker | None], bool]) -> Iterator[Requirement]:
        """Requires-Dist whose marker `keep` accepts, parsing a line only when it is kept.

        The marker is evaluated before the rest of the line is parsed (most lines of a big
        distribution sit behind an inactive extra). Yielded requirements may lack their
        marker: it has been evaluated already. Unparsable lines are skipped (and logged).
        """
        self._ensure_metadata()
        for line in self._raw_requires or ():
            head, sep, tail = line.partition(";")
            if sep and "@" in head:
                # A URL may hold ';' itself: let packaging split this one.
                full = parse_requirement(line)
                if full is not None and keep(full.marker):
                    yield full
                continue
            marker: Marker | None = None
            if sep:
                parsed, marker = _parse_marker(tail.strip())
                if not parsed:
                    continue
            if keep(marker):
                req = parse_requirement(head.strip())
                if req is not None:
                    yield req

    @property
    def provides_extras(self) -> frozenset[str]:
        """Provides-Extra, normalised (PEP 685)."""
        if self._extras is None:
            self._ensure_metadata()
            self._extras = frozenset(canonicalize_name(e) for e in self._raw_extras or () if e)
        return self._extras

    @property
    def direct_url(self) -> DirectUrl | None:
        """PEP 610 `direct_url.json`; None when absent or malformed."""
        if self._direct_url is _UNSET:
            self._direct_url = _read_direct_url(os.path.join(self._path, "direct_url.json"))
        value = self._direct_url
        return value if isinstance(value, DirectUrl) else None

    @property
    def installer(self) -> str | None:
        """The INSTALLER file's first line (`pip`, `uv`, ...), or None."""
        if self._installer is _UNSET:
            try:
                text = Path(self._path, "INSTALLER").read_text("utf-8", "replace").strip()
            except OSError:
                text = ""
            self._installer = text.splitlines()[0].strip() if text else None
        value = self._installer
        return value if isinstance(value, str) else None

    # value semantics ----------------------------------------------------------------------

    def _key(self) -> tuple[str, str, str]:
        return (self.name, self.version, self._path)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Distribution):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Distribution({self.name!r}, {self.version!r}, {self._path!r})"


def _read_direct_url(path: str) -> DirectUrl | None:
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        log.warning("ignoring malformed %s", path)
        return None
    subdirectory = data.get("subdirectory")
    sub = subdirectory if isinstance(subdirectory, str) and subdirectory else None
    url: str = data["url"]
    vcs_info = data.get("vcs_info")
    if isinstance(vcs_info, dict):

        def text(key: str) -> str | None:
            value = vcs_info.get(key)
            return value if isinstance(value, str) and value else None

        return DirectUrl(
            url,
            False,
            "vcs",
            vcs=text("vcs"),
            requested_revision=text("requested_revision"),
            commit_id=text("commit_id"),
            subdirectory=sub,
        )
    if isinstance(data.get("archive_info"), dict):
        return DirectUrl(url, False, "archive", subdirectory=sub)
    dir_info = data.get("dir_info")
    if isinstance(dir_info, dict):
        return DirectUrl(url, dir_info.get("editable") is True, "dir", subdirectory=sub)
    log.warning("ignoring %s: no dir_info, archive_info or vcs_info", path)
    return None


# scanning ---------------------------------------------------------------------------------


def _normalise_dirs(site_dirs: Sequence[str | Path]) -> list[str]:
    """Site dirs as normalised strings, repeats dropped (a repeat adds nothing to sys.path)."""
    seen: set[str] = set()
    out: list[str] = []
    for entry in site_dirs:
        text = os.path.normpath(os.fspath(entry))
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def _listing(site_dir: str) -> list[str]:
    """Sorted names of the metadata entries in one site dir; a missing dir lists nothing."""
    try:
        with os.scandir(site_dir) as it:
            names = [e.name for e in it if e.name.endswith((_DIST_INFO, _EGG_INFO))]
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        log.warning("cannot list %s: %s", site_dir, exc)
        return []
    names.sort()
    return names


def _digest(listings: Sequence[tuple[str, Sequence[str]]]) -> str:
    h = hashlib.sha256()
    for site_dir, names in listings:
        h.update(site_dir.encode("utf-8", "surrogateescape") + b"\x00")
        for name in names:
            h.update(name.encode("utf-8", "surrogateescape") + b"\x00")
        h.update(b"\x01")
    return h.hexdigest()[:32]


def site_signature(site_dirs: Sequence[str | Path]) -> str:
    """A digest of the site dirs and their metadata folder names: a stamp, no file reads."""
    dirs = _normalise_dirs(site_dirs)
    return _digest([(d, _listing(d)) for d in dirs])


class Inventory:
    """The distributions visible on a list of site dirs, first of a name winning."""

    __slots__ = ("_by_name", "_shadowed", "_signature")

    def __init__(
        self,
        winners: Sequence[Distribution],
        shadowed: Sequence[Distribution] = (),
        signature: str = "",
    ) -> None:
        self._by_name: dict[str, Distribution] = {}
        extra: list[Distribution] = list(shadowed)
        for dist in winners:
            if dist.name in self._by_name:
                extra.append(dist)
            else:
                self._by_name[dist.name] = dist
        self._shadowed = tuple(extra)
        self._signature = signature

    @classmethod
    def scan(cls, site_dirs: Sequence[str | Path]) -> Inventory:
        """List each site dir in order; METADATA is read only when a folder name is unclear."""
        winners: list[Distribution] = []
        shadowed: list[Distribution] = []
        seen: set[str] = set()
        listings: list[tuple[str, list[str]]] = []
        for site_dir in _normalise_dirs(site_dirs):
            names = _listing(site_dir)
            listings.append((site_dir, names))
            for folder in names:
                name, version = _split_folder(folder)
                try:
                    dist = Distribution(
                        os.path.join(site_dir, folder), site_dir, name=name, version=version
                    )
                except ValueError as exc:
                    log.warning("skipping %s", exc)
                    continue
                if dist.name in seen:
                    shadowed.append(dist)
                else:
                    seen.add(dist.name)
                    winners.append(dist)
        return cls(winners, shadowed, _digest(listings))

    def get(self, name: str) -> Distribution | None:
        """The winning distribution of `name` (any spelling), or None."""
        return self._by_name.get(canonicalize_name(name))

    def get_canonical(self, name: str) -> Distribution | None:
        """`get()` for a name already canonical (the hot path of a closure walk)."""
        return self._by_name.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonicalize_name(name) in self._by_name

    def __iter__(self) -> Iterator[Distribution]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        return f"Inventory({len(self)} distributions, {len(self._shadowed)} shadowed)"

    @property
    def shadowed(self) -> tuple[Distribution, ...]:
        """Later distributions of a name already found (never imported)."""
        return self._shadowed

    def versions(self) -> dict[str, str]:
        """Canonical name -> version of each winning distribution."""
        return {name: dist.version for name, dist in self._by_name.items()}

    def signature(self) -> str:
        """Equal to `site_signature()` of the dirs this inventory was scanned from."""
        return self._signature
