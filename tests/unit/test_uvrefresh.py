"""`core.uvrefresh`: which find-links files the record vouches for, what an install placed
compared with them (RECORD rows of the modules), and sdists refreshed up front."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from envlayers.core.uvrefresh import (
    check_installed,
    installed_dists,
    local_files,
    record,
    sdist_names,
    unvouched,
)
from tests.support.wheels import build_wheel


def _install(wheel: Path, site: Path) -> None:
    """What an installer leaves of a pure wheel: its files, RECORD included, in `site`."""
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)


def test_the_record_vouches_only_for_unchanged_files(tmp_path: Path) -> None:
    links = tmp_path / "links"
    one = build_wheel(links, "alpha", "1.0")
    build_wheel(links, "beta", "2.0")
    (links / "gamma-3.0.tar.gz").write_bytes(b"not really an sdist")
    (links / "README.txt").write_text("not a distribution", encoding="utf-8")
    files = local_files([str(links)])
    assert sorted((f.name, f.version) for f in files.values()) == [
        ("alpha", "1"),
        ("beta", "2"),
        ("gamma", "3"),
    ]
    assert sdist_names(files) == ["gamma"]
    path = tmp_path / "record.json"
    assert unvouched(files, path) == files  # no record yet: nothing is vouched for
    record(path, {p: f for p, f in files.items() if f.name == "alpha"})
    assert {f.name for f in unvouched(files, path).values()} == {"beta", "gamma"}
    st = one.stat()
    os.utime(one, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # rebuilt in place
    fresh = local_files([str(links)])
    assert {f.name for f in unvouched(fresh, path).values()} == {"alpha", "beta", "gamma"}
    path.write_text("[1, 2", encoding="utf-8")  # damaged: vouches for nothing, no error
    assert unvouched(fresh, path) == fresh


def test_an_install_is_compared_with_the_file_it_came_from(tmp_path: Path) -> None:
    links, site = tmp_path / "links", tmp_path / "site"
    site.mkdir()
    wheel = build_wheel(links, "alpha", "1.0", modules={"alpha/__init__.py": "V = 1\n"})
    before = installed_dists([site])
    _install(wheel, site)  # what the cache held: the same content
    files = local_files([str(links)])
    stale, vouched = check_installed(files, before, installed_dists([site]))
    assert stale == [] and list(vouched) == [str(wheel.resolve())]
    # The wheel rebuilt in place with other content, the install served from the old copy.
    build_wheel(links, "alpha", "1.0", modules={"alpha/__init__.py": "V = 2\n"})
    other = tmp_path / "site2"
    other.mkdir()
    _install(_old_copy(tmp_path), other)
    stale, vouched = check_installed(local_files([str(links)]), {}, installed_dists([other]))
    assert stale == ["alpha"] and vouched == {}
    # A distribution the install did not touch is not judged (nor vouched for).
    stale, vouched = check_installed(
        local_files([str(links)]), installed_dists([other]), installed_dists([other])
    )
    assert (stale, vouched) == ([], {})


def _old_copy(tmp_path: Path) -> Path:
    return build_wheel(tmp_path / "old", "alpha", "1.0", modules={"alpha/__init__.py": "V = 1\n"})
