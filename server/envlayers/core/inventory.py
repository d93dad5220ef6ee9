"""Installed distributions of an environment, read straight from its site directories.

`Inventory.scan()` lists `*.dist-info` / `*.egg-info` entries with `os.scandir`, takes names
and versions from the folder names, and reads `METADATA` only for the distributions a caller
actually looks at. The first distribution of a name on the path wins, as at import time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Final

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from envlayers.core.distmeta import (
    DIST_INFO,
    EGG_INFO,
    DirectUrl,
    egg_requires,
    header_block,
    parse_headers,
    parse_marker,
    parse_requirement,
    read_direct_url,
    split_folder,
)

__all__ = [
    "DirectUrl",
    "Distribution",
    "Inventory",
    "parse_requirement",
    "site_signature",
]

log = logging.getLogger(__name__)

_UNSET: Final = object()


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
        return self._path.endswith(EGG_INFO) and os.path.isdir(self._path)

    def _metadata_file(self) -> str:
        if self._path.endswith(EGG_INFO):
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
        headers = parse_headers(header_block(data))
        requires = headers.get("requires-dist", [])
        extras = headers.get("provides-extra", [])
        if self._is_egg_dir():
            try:
                text = Path(self._path, "requires.txt").read_text("utf-8", "replace")
            except OSError:
                text = ""
            requires = requires + egg_requires(text)
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
        return split_folder(os.path.basename(self._path))[0] or self.name

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
                parsed, marker = parse_marker(tail.strip())
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
            self._direct_url = read_direct_url(os.path.join(self._path, "direct_url.json"))
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

    def is_whole(self) -> bool:
        """False for a dist-info whose METADATA is missing or not a file (one stat); garbage in
        METADATA still counts (the folder name gives name and version)."""
        if not self._path.endswith(DIST_INFO):
            return True  # egg-info: its own rules, and legacy installs are rarely cut short
        try:
            st = os.stat(os.path.join(self._path, "METADATA"))
        except OSError:
            return False
        return stat.S_ISREG(st.st_mode)

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
            names = [e.name for e in it if e.name.endswith((DIST_INFO, EGG_INFO))]
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

    __slots__ = ("_broken", "_by_name", "_shadowed", "_signature")

    def __init__(
        self,
        winners: Sequence[Distribution],
        shadowed: Sequence[Distribution] = (),
        signature: str = "",
        broken: Sequence[Distribution] = (),
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
        self._broken = tuple(broken)

    @classmethod
    def scan(cls, site_dirs: Sequence[str | Path]) -> Inventory:
        """List each site dir in order; METADATA is read only when a folder name is unclear."""
        winners: list[Distribution] = []
        shadowed: list[Distribution] = []
        broken: list[Distribution] = []
        seen: set[str] = set()
        listings: list[tuple[str, list[str]]] = []
        for site_dir in _normalise_dirs(site_dirs):
            names = _listing(site_dir)
            listings.append((site_dir, names))
            for folder in names:
                name, version = split_folder(folder)
                try:
                    dist = Distribution(
                        os.path.join(site_dir, folder), site_dir, name=name, version=version
                    )
                except ValueError as exc:
                    log.warning("skipping %s", exc)
                    continue
                if not dist.is_whole():
                    broken.append(dist)  # half-installed: not importable, not installed
                    continue
                if dist.name in seen:
                    shadowed.append(dist)
                else:
                    seen.add(dist.name)
                    winners.append(dist)
        return cls(winners, shadowed, _digest(listings), broken)

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

    @property
    def broken(self) -> tuple[Distribution, ...]:
        """`*.dist-info` folders without readable METADATA: an install cut short (a full disk,
        a kill). They count as not installed; a sync removes them and installs again."""
        return self._broken

    def versions(self) -> dict[str, str]:
        """Canonical name -> version of each winning distribution."""
        return {name: dist.version for name, dist in self._by_name.items()}

    def signature(self) -> str:
        """Equal to `site_signature()` of the dirs this inventory was scanned from."""
        return self._signature
