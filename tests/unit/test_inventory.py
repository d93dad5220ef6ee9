"""Inventory: dist-info / egg-info scanning on real folders, lazy metadata, first-wins, stamps."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from envlayers.core.inventory import (
    DirectUrl,
    Distribution,
    Inventory,
    parse_requirement,
    site_signature,
)

__all__ = ["write_dist"]


def write_dist(
    site: Path,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    extras: Sequence[str] = (),
    direct_url: Mapping[str, object] | str | None = None,
    installer: str | None = None,
    folder: str | None = None,
    metadata: bytes | None = None,
    body: str = "",
) -> Path:
    """Write `<site>/<name>-<version>.dist-info` the way an installer would (by hand)."""
    path = site / (folder or f"{name.replace('-', '_')}-{version}.dist-info")
    path.mkdir(parents=True, exist_ok=True)
    if metadata is None:
        lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        lines += [f"Requires-Dist: {r}" for r in requires]
        lines += [f"Provides-Extra: {e}" for e in extras]
        metadata = ("\n".join(lines) + "\n\n" + body).encode()
    (path / "METADATA").write_bytes(metadata)
    if direct_url is not None:
        text = direct_url if isinstance(direct_url, str) else json.dumps(direct_url)
        (path / "direct_url.json").write_text(text)
    if installer is not None:
        (path / "INSTALLER").write_text(installer + "\n")
    return path


def test_fast_path_names_and_lazy_metadata(tmp_path: Path) -> None:
    site = tmp_path / "site"
    path = write_dist(site, "Foo.Bar", "1.2", requires=["alpha>=1"], folder="foo_bar-1.2.dist-info")
    inv = Inventory.scan([site])
    dist = inv.get("foo-bar")
    assert dist is not None
    assert (dist.name, dist.version, dist.path, dist.site_dir) == ("foo-bar", "1.2", path, site)
    # METADATA was not read by the scan: removing it now leaves no requirements.
    (path / "METADATA").unlink()
    assert dist.requires == ()
    assert dist.display_name == "foo_bar"


def test_metadata_is_read_once_and_kept(tmp_path: Path) -> None:
    site = tmp_path / "site"
    path = write_dist(site, "Foo.Bar", "1.2", requires=["alpha>=1", "beta; extra == 'x'"])
    dist = Inventory.scan([site]).get("FOO_BAR")
    assert dist is not None
    assert [str(r) for r in dist.requires] == ["alpha>=1", 'beta; extra == "x"']
    (path / "METADATA").unlink()
    assert dist.display_name == "Foo.Bar"
    assert len(dist.requires) == 2


@pytest.mark.parametrize("spelling", ["foo-bar", "Foo.Bar", "FOO_BAR", "foo__bar", "foo-.bar"])
def test_get_accepts_any_spelling(tmp_path: Path, spelling: str) -> None:
    write_dist(tmp_path, "Foo.Bar", "1.0")
    inv = Inventory.scan([tmp_path])
    assert spelling in inv
    dist = inv.get(spelling)
    assert dist is not None and dist.name == "foo-bar"
    assert 3 not in inv


@pytest.mark.parametrize(
    ("folder", "meta_name", "meta_version", "name", "version"),
    [
        ("weird.dist-info", "Weird", "3.0", "weird", "3.0"),  # no version in the folder
        ("thing-notaversion.dist-info", "Thing", "2.0", "thing", "2.0"),
        ("x_y-1.0.post1.dist-info", "X.Y", "1.0.post1", "x-y", "1.0.post1"),
        ("legacy-name-1.0.dist-info", "legacy-name", "1.0", "legacy-name", "1.0"),
    ],
)
def test_folder_names(
    tmp_path: Path, folder: str, meta_name: str, meta_version: str, name: str, version: str
) -> None:
    write_dist(tmp_path, meta_name, meta_version, folder=folder)
    [dist] = list(Inventory.scan([tmp_path]))
    assert (dist.name, dist.version, dist.display_name) == (name, version, meta_name)


def test_first_wins_and_later_are_shadowed(tmp_path: Path) -> None:
    top, low = tmp_path / "top", tmp_path / "low"
    write_dist(top, "alpha", "2.0")
    write_dist(low, "Alpha", "1.0")
    write_dist(low, "beta", "1.0")
    inv = Inventory.scan([top, str(low)])
    assert inv.versions() == {"alpha": "2.0", "beta": "1.0"}
    assert [(d.name, d.version, d.site_dir) for d in inv.shadowed] == [("alpha", "1.0", low)]
    assert [d.name for d in inv] == ["alpha", "beta"]
    assert len(inv) == 2
    # Order decides the winner.
    assert Inventory.scan([low, top]).versions()["alpha"] == "1.0"


def test_duplicates_in_one_dir_are_deterministic(tmp_path: Path) -> None:
    write_dist(tmp_path, "alpha", "1.0")
    write_dist(tmp_path, "alpha", "2.0")
    inv = Inventory.scan([tmp_path])
    assert inv.versions() == {"alpha": "1.0"}
    assert [d.version for d in inv.shadowed] == ["2.0"]


def test_missing_and_repeated_dirs(tmp_path: Path) -> None:
    write_dist(tmp_path / "a", "alpha", "1.0")
    (tmp_path / "file").write_text("")
    inv = Inventory.scan([tmp_path / "nope", tmp_path / "a", tmp_path / "a", tmp_path / "file"])
    assert inv.versions() == {"alpha": "1.0"}
    assert inv.shadowed == ()
    assert len(Inventory.scan([])) == 0


def test_other_entries_are_ignored(tmp_path: Path) -> None:
    write_dist(tmp_path, "alpha", "1.0")
    (tmp_path / "alpha").mkdir()
    (tmp_path / "alpha.pth").write_text("/x\n")
    (tmp_path / "beta-1.0.data").mkdir()
    assert Inventory.scan([tmp_path]).versions() == {"alpha": "1.0"}


def test_egg_info_dir_with_requires_txt(tmp_path: Path) -> None:
    egg = tmp_path / "Old_Pkg-1.5-py3.11.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: Old-Pkg\nVersion: 1.5\n\nbody\n")
    (egg / "requires.txt").write_text(
        "alpha>=1\n\n[Fancy_Extra]\nbeta\n\n[:python_version < '3']\ngamma\n"
        "[tests:sys_platform == 'win32']\ndelta\n"
    )
    [dist] = list(Inventory.scan([tmp_path]))
    assert (dist.name, dist.version, dist.display_name) == ("old-pkg", "1.5", "Old-Pkg")
    reqs = {r.name: r for r in dist.requires}
    assert set(reqs) == {"alpha", "beta", "gamma", "delta"}
    assert reqs["alpha"].marker is None
    beta_marker, delta_marker = reqs["beta"].marker, reqs["delta"].marker
    assert beta_marker is not None and delta_marker is not None
    assert beta_marker.evaluate({"extra": "fancy-extra"})
    assert not beta_marker.evaluate({"extra": ""})
    assert not delta_marker.evaluate({"extra": "tests", "sys_platform": "linux"})
    assert delta_marker.evaluate({"extra": "tests", "sys_platform": "win32"})
    assert dist.provides_extras == {"fancy-extra", "tests"}


def test_egg_info_file(tmp_path: Path) -> None:
    (tmp_path / "distutils_thing-0.3-py3.9.egg-info").write_text(
        "Metadata-Version: 1.0\nName: distutils-thing\nVersion: 0.3\n"
    )
    (tmp_path / "noversion.egg-info").write_text(
        "Metadata-Version: 1.0\nName: NoVersion\nVersion: 4\n"
    )
    inv = Inventory.scan([tmp_path])
    assert inv.versions() == {"distutils-thing": "0.3", "noversion": "4"}
    dist = inv.get("noversion")
    assert dist is not None and dist.display_name == "NoVersion" and dist.requires == ()


@pytest.mark.parametrize(
    "metadata",
    [
        b"\x00\xff\xfe garbage \x89PNG\r\n\x1a\n",
        b"",
        b"Name Foo\nVersion 1\n",
        b"Requires-Dist: \nProvides-Extra:\n",
    ],
)
def test_garbage_metadata_with_a_good_folder_name(tmp_path: Path, metadata: bytes) -> None:
    write_dist(tmp_path, "alpha", "1.0", metadata=metadata)
    dist = Inventory.scan([tmp_path]).get("alpha")
    assert dist is not None and dist.version == "1.0"
    assert dist.requires == ()
    assert dist.provides_extras == frozenset()
    assert dist.display_name == "alpha"


def test_unidentifiable_entries_are_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_dist(tmp_path, "x", "1", folder="nothing.dist-info", metadata=b"\x00garbage")
    (tmp_path / "empty.dist-info").mkdir()
    write_dist(tmp_path, "alpha", "1.0")
    with caplog.at_level(logging.WARNING, logger="envlayers.core.inventory"):
        inv = Inventory.scan([tmp_path])
    assert inv.versions() == {"alpha": "1.0"}
    assert "nothing.dist-info" in caplog.text and "empty.dist-info" in caplog.text


def test_bad_requires_dist_lines_are_skipped_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    parse_requirement.cache_clear()
    write_dist(
        tmp_path, "alpha", "1.0", requires=["beta>=1", "gamma >=>= 2", "delta; nonsense ==", "eps"]
    )
    dist = Inventory.scan([tmp_path]).get("alpha")
    assert dist is not None
    with caplog.at_level(logging.WARNING, logger="envlayers.core.inventory"):
        assert [r.name for r in dist.requires] == ["beta", "eps"]
    assert "gamma >=>= 2" in caplog.text


def test_headers_stop_at_the_body(tmp_path: Path) -> None:
    body = "Requires-Dist: fake\n" + "x" * 100_000
    write_dist(
        tmp_path, "alpha", "1.0", requires=["beta"], extras=["Fancy_Extra", "b.c"], body=body
    )
    dist = Inventory.scan([tmp_path]).get("alpha")
    assert dist is not None
    assert [r.name for r in dist.requires] == ["beta"]
    assert dist.provides_extras == {"fancy-extra", "b-c"}


def test_crlf_and_continuation_lines(tmp_path: Path) -> None:
    meta = (
        b"Metadata-Version: 2.1\r\nName: Alpha\r\nVersion: 1.0\r\n"
        b"Summary: a long\r\n  summary\r\nRequires-Dist: beta\r\n (>=2)\r\n"
        b"\r\nRequires-Dist: no\r\n"
    )
    write_dist(tmp_path, "alpha", "1.0", metadata=meta)
    dist = Inventory.scan([tmp_path]).get("alpha")
    assert dist is not None
    assert [str(r) for r in dist.requires] == ["beta>=2"]
    assert dist.display_name == "Alpha"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            {"url": "file:///src/alpha", "dir_info": {"editable": True}},
            DirectUrl("file:///src/alpha", True, "dir"),
        ),
        (
            {"url": "file:///src/alpha", "dir_info": {}},
            DirectUrl("file:///src/alpha", False, "dir"),
        ),
        (
            {"url": "https://h/a-1.0.whl", "archive_info": {"hashes": {"sha256": "0" * 64}}},
            DirectUrl("https://h/a-1.0.whl", False, "archive"),
        ),
        (
            {
                "url": "https://github.com/o/a",
                "vcs_info": {"vcs": "git", "requested_revision": "v1", "commit_id": "abc"},
                "subdirectory": "pkg",
            },
            DirectUrl("https://github.com/o/a", False, "vcs", "git", "v1", "abc", "pkg"),
        ),
        ("{not json", None),
        ("[1, 2]", None),
        ({"url": 3, "dir_info": {}}, None),
        ({"url": "file:///x"}, None),
        (None, None),
    ],
)
def test_direct_url(
    tmp_path: Path, content: Mapping[str, object] | str | None, expected: DirectUrl | None
) -> None:
    write_dist(tmp_path, "alpha", "1.0", direct_url=content)
    dist = Inventory.scan([tmp_path]).get("alpha")
    assert dist is not None
    assert dist.direct_url == expected
    assert dist.direct_url == expected  # cached, same answer


def test_installer(tmp_path: Path) -> None:
    write_dist(tmp_path / "a", "alpha", "1.0", installer="uv")
    write_dist(tmp_path / "b", "alpha", "1.0")
    write_dist(tmp_path / "c", "alpha", "1.0", installer="")
    got = [Inventory.scan([tmp_path / d]).get("alpha") for d in "abc"]
    assert [d.installer if d else "?" for d in got] == ["uv", None, None]


def test_distribution_equality(tmp_path: Path) -> None:
    write_dist(tmp_path / "a", "alpha", "1.0")
    one = Inventory.scan([tmp_path / "a"]).get("alpha")
    two = Inventory.scan([tmp_path / "a"]).get("ALPHA")
    assert one is not None and two is not None and one is not two
    assert one == two and hash(one) == hash(two) and len({one, two}) == 1
    write_dist(tmp_path / "b", "alpha", "1.0")
    three = Inventory.scan([tmp_path / "b"]).get("alpha")
    assert three != one
    assert one != "alpha"
    direct = Distribution(tmp_path / "a" / "alpha-1.0.dist-info")
    assert direct == one and direct.site_dir == tmp_path / "a"


def test_signature_equals_site_signature_and_tracks_folder_names(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_dist(a, "alpha", "1.0")
    write_dist(b, "beta", "1.0")
    dirs: list[str | Path] = [a, str(b), tmp_path / "missing"]
    first = Inventory.scan(dirs).signature()
    assert first == site_signature(dirs)
    assert len(first) >= 16
    # Content changes are not seen (the stamp is a listing); name changes are.
    (a / "alpha-1.0.dist-info" / "METADATA").write_text("changed")
    assert site_signature(dirs) == first
    (a / "unrelated.txt").write_text("")
    assert site_signature(dirs) == first
    write_dist(a, "alpha", "2.0")
    second = site_signature(dirs)
    assert second != first and second == Inventory.scan(dirs).signature()
    (b / "beta-1.0.dist-info").rename(b / "beta-1.1.dist-info")
    assert site_signature(dirs) not in (first, second)
    assert site_signature([b, a]) != site_signature([a, b])
    assert site_signature([a, b]) != site_signature([a])
    # A trailing slash names the same dir.
    assert site_signature([os.fspath(a) + "/"]) == site_signature([a])
