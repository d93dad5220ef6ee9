"""Which find-links packages uv must revalidate, so a wheel rebuilt in place is not served
stale from uv's cache, without revalidating (and paying for) the ones that did not change.

uv caches a find-links file by its name: a wheel rebuilt under the same name is served from
the cache until `--refresh-package NAME`, and any refresh also makes uv query the interpreter
again (50-80 ms). So a record, `CacheLayout.uv_refresh`, holds the `(size, mtime_ns)` each local
find-links file had when we last saw uv install exactly its content. An install runs without
refreshing; then each distribution it (re)installed whose file the record does not vouch for
is compared with that file (the RECORD rows of its modules): when they differ, uv served a
stale copy, and those packages are installed again with `--refresh-package` and
`--reinstall-package`. An sdist cannot be compared: an unvouched one is refreshed up front.

The record is only a hint: a missing, unreadable or foreign record means "compare everything";
a lost update (two writers) means one more compare.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)

from envlayers.core.fsutil import atomic_write_json, read_json
from envlayers.core.index import link_listing, local_link_path

__all__ = [
    "LocalFiles",
    "Refresh",
    "UvRefresh",
    "check_installed",
    "installed_dists",
    "local_files",
    "record",
    "sdist_names",
    "unvouched",
]

_FORMAT = 1
_MAX_FILES = 5000  # per uv cache; past it the oldest-listed entries go (they refresh again)

Fingerprint = tuple[int, int]


@dataclass(frozen=True)
class LocalFile:
    name: str  # canonical
    version: str  # canonical
    fingerprint: Fingerprint


LocalFiles = dict[str, LocalFile]  # real path -> file


def _parse(filename: str) -> tuple[str, str] | None:
    try:
        if filename.endswith(".whl"):
            name, version, *_ = parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return str(name), canonicalize_version(version)


def local_files(find_links: Sequence[str]) -> LocalFiles:
    """The distribution files of the local find-links folders, by real path."""
    out: LocalFiles = {}
    for link in find_links:
        folder = local_link_path(link)
        if folder is None:
            continue
        real = os.path.realpath(folder)
        for entry in link_listing(link):
            filename, size, mtime = str(entry[0]), entry[1], entry[2]
            parsed = _parse(filename)
            if parsed is None or not isinstance(size, int) or not isinstance(mtime, int):
                continue
            out[os.path.join(real, filename)] = LocalFile(*parsed, (size, mtime))
    return out


def cache_key() -> str:
    """Which uv cache the record speaks of (uv's own setting, as far as we can see it)."""
    return os.environ.get("UV_CACHE_DIR", "").strip() or "(default)"


def _known(record: Path) -> dict[str, object]:
    data = read_json(record)
    if data is None or data.get("format") != _FORMAT:
        return {}
    caches = data.get("caches")
    if not isinstance(caches, dict):
        return {}
    files = caches.get(cache_key())
    return files if isinstance(files, dict) else {}


def unvouched(files: LocalFiles, record: Path | None) -> LocalFiles:
    """The files the record does not vouch for (new, or changed since uv installed them)."""
    known = _known(record) if record is not None else {}
    out: LocalFiles = {}
    for path, f in files.items():
        seen = known.get(path)
        if not (isinstance(seen, list) and tuple(seen) == f.fingerprint):
            out[path] = f
    return out


def sdist_names(files: LocalFiles) -> list[str]:
    return sorted({f.name for p, f in files.items() if not p.endswith(".whl")})


def _content(rows: Iterable[Sequence[str]]) -> set[tuple[str, str]]:
    """(path, hash) of a RECORD's module files: not the dist-info, scripts or byte-code that
    an installer adds or rewrites."""
    out = set()
    for row in rows:
        if len(row) < 2 or not row[1]:
            continue
        path = row[0].replace("\\", "/")
        top = path.split("/", 1)[0]
        if (
            path.startswith("../")
            or top.endswith((".dist-info", ".data"))
            or "__pycache__/" in path
        ):
            continue
        out.add((path, row[1]))
    return out


def _wheel_content(wheel: str) -> set[tuple[str, str]] | None:
    import zipfile  # lazy: it imports compression modules the fast path never needs

    try:
        with zipfile.ZipFile(wheel) as zf:
            names = [
                n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/RECORD")
            ]
            if len(names) != 1:
                return None
            text = zf.read(names[0]).decode("utf-8")
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError, KeyError):
        return None
    return _content(csv.reader(io.StringIO(text)))


def _installed_content(dist_info: str) -> set[tuple[str, str]] | None:
    try:
        with open(os.path.join(dist_info, "RECORD"), encoding="utf-8", newline="") as fh:
            return _content(list(csv.reader(fh)))
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def check_installed(
    files: LocalFiles,
    before: Mapping[str, tuple[str, str, int]],
    after: Mapping[str, tuple[str, str, int]],
) -> tuple[list[str], LocalFiles]:
    """(names uv served stale, files now vouched for): for each distribution the install
    (re)placed, compare it with the unvouched find-links files of its name and version."""
    stale: set[str] = set()
    vouched: LocalFiles = {}
    for dist_info, (name, version, inode) in after.items():
        if before.get(dist_info, ("", "", -1))[2] == inode:
            continue  # not touched by this install
        candidates = {p: f for p, f in files.items() if (f.name, f.version) == (name, version)}
        if not candidates:
            continue
        mine = _installed_content(dist_info)
        same = [p for p in candidates if p.endswith(".whl") and mine and _wheel_content(p) == mine]
        if same:
            vouched.update({p: candidates[p] for p in same})
        else:
            stale.add(name)
    return sorted(stale), vouched


def installed_dists(sites: Iterable[Path]) -> dict[str, tuple[str, str, int]]:
    """`{dist-info folder: (name, version, inode)}` of site dirs: a folder that an install
    replaced has a new inode."""
    out: dict[str, tuple[str, str, int]] = {}
    for site in sites:
        try:
            entries = list(os.scandir(site))
        except OSError:
            continue
        for entry in entries:
            if not entry.name.endswith(".dist-info"):
                continue
            name, sep, version = entry.name[: -len(".dist-info")].rpartition("-")
            with contextlib.suppress(OSError, ValueError):
                if sep and name and entry.is_dir(follow_symlinks=False):
                    key = (str(canonicalize_name(name)), canonicalize_version(version))
                    out[entry.path] = (*key, entry.inode())
    return out


def record(path: Path, vouched: LocalFiles) -> None:
    """Vouch for files whose content uv has just installed."""
    if not vouched:
        return
    data = read_json(path) or {}
    caches = data.get("caches") if data.get("format") == _FORMAT else None
    caches = dict(caches) if isinstance(caches, dict) else {}
    mine = caches.get(cache_key())
    merged = {**(mine if isinstance(mine, dict) else {})}
    merged.update({p: list(f.fingerprint) for p, f in vouched.items()})
    if len(merged) > _MAX_FILES:
        merged = dict(list(merged.items())[-_MAX_FILES:])
    caches[cache_key()] = merged
    with contextlib.suppress(OSError):  # only a hint: the next install compares them again
        atomic_write_json(path, {"format": _FORMAT, "caches": caches})


class Refresh:
    """No cache to keep true (pip revalidates local files itself)."""

    flags: Sequence[str] = ()

    def stale(self) -> list[str]:
        return []

    def done(self) -> None:
        return None


class UvRefresh(Refresh):
    """Compare what an install placed with the unvouched files; vouch once it succeeded."""

    def __init__(self, files: LocalFiles, sites: list[Path], record: Path | None) -> None:
        self.files, self.sites, self.record = files, sites, record
        self.flags = [f for n in sdist_names(files) for f in ("--refresh-package", n)]
        self.before = installed_dists(sites)
        self.vouched: LocalFiles = {}

    def stale(self) -> list[str]:
        after = installed_dists(self.sites)
        names, self.vouched = check_installed(self.files, self.before, after)
        # Installed now with a refresh (an sdist, up front) or about to be (a stale wheel): what
        # uv installed then is the file's content, vouched for too.
        self.vouched.update({p: f for p, f in self.files.items() if f.name in names})
        upfront = set(sdist_names(self.files))
        return [n for n in names if n not in upfront]

    def done(self) -> None:
        if self.record is not None:
            record(self.record, self.vouched)
