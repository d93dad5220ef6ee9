"""Satisfaction, conflicts and extraneous packages over real dist-info folders written by hand."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.markers import default_environment

from envlayers.core.errors import InvalidRequirement
from envlayers.core.inventory import Inventory, parse_requirement
from envlayers.core.satisfy import (
    Conflict,
    Request,
    Shadow,
    Unsatisfied,
    check,
    editable_request,
    extraneous,
    find_conflicts,
    parse_request,
)
from tests.support.isolation import InstallFn, MakeVenv, site_packages
from tests.support.projects import write_project
from tests.unit.test_inventory import write_dist


def _env(python: str, platform: str = "linux") -> dict[str, str]:
    env = {k: v for k, v in default_environment().items() if isinstance(v, str)}
    env.update(
        python_version=python,
        python_full_version=f"{python}.4",
        implementation_version=f"{python}.4",
        sys_platform=platform,
    )
    return env


PY39 = _env("3.9")
PY311 = _env("3.11")
PY313_WIN = _env("3.13", "win32")

SRC = "/srv/src"  # editable sources; never read, only compared


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    """One site dir with every shape the table below needs."""
    site = tmp_path_factory.mktemp("world") / "site-packages"
    wheel = f"file://{site.parent}/wheels/urlpkg-1.0-py3-none-any.whl"
    dists: list[tuple[str, str, dict[str, object]]] = [
        ("alpha", "1.0", {}),
        ("beta", "1.0", {"requires": ["alpha>=2"]}),
        ("gamma", "1.0", {"requires": ["alpha>=1.0", "delta[Fancy_Extra]"]}),
        (
            "Delta",
            "1.0",
            {
                "extras": ["Fancy_Extra", "fancy", "win"],
                "requires": [
                    'epsilon; extra == "fancy-extra"',
                    'zeta; extra == "fancy"',
                    'zeta; extra == "win" and sys_platform != "win32"',
                    "theta>=1",
                ],
            },
        ),
        ("epsilon", "1.0", {}),
        ("theta", "1.5", {}),
        ("pre", "2.0rc1", {}),
        ("cyc-a", "1.0", {"requires": ["cyc-b"]}),
        ("cyc-b", "1.0", {"requires": ["Cyc_A>=1"]}),
        ("cyc-c", "1.0", {"requires": ["cyc-d"]}),
        ("cyc-d", "1.0", {"requires": ["cyc-c", "missing-thing"]}),
        ("self-ref", "1.0", {"requires": ["self-ref", "self-ref[x]"], "extras": ["x"]}),
        (
            "old",
            "1.0",
            {"requires": ['tomli>=1; python_version < "3.11"', 'pywin; sys_platform == "win32"']},
        ),
        ("top", "1.0", {"requires": ["mid"]}),
        ("mid", "1.0", {"requires": ["alpha>=3"]}),
        (
            "ed",
            "0.1",
            {"direct_url": {"url": f"file://{SRC}/ed", "dir_info": {"editable": True}}},
        ),
        ("plaindir", "0.2", {"direct_url": {"url": f"file://{SRC}/plaindir", "dir_info": {}}}),
        ("reg", "1.0", {"installer": "pip"}),
        ("urlpkg", "1.0", {"direct_url": {"url": wheel, "archive_info": {}}}),
        (
            "vcspkg",
            "1.0",
            {
                "direct_url": {
                    "url": "https://github.com/o/vcspkg",
                    "vcs_info": {"vcs": "git", "requested_revision": "v1", "commit_id": "abc123"},
                }
            },
        ),
        (
            "httppkg",
            "1.0",
            {"direct_url": {"url": "https://files.example/httppkg-1.0.tar.gz", "archive_info": {}}},
        ),
        (
            "needs-url",
            "1.0",
            {"requires": ["urlpkg @ file:///elsewhere/urlpkg-1.0-py3-none-any.whl"]},
        ),
        ("needs-same-url", "1.0", {"requires": [f"urlpkg @ {wheel}"]}),
        ("needs-extra", "1.0", {"requires": ["delta[bogus]"]}),
        ("needs-win", "1.0", {"requires": ["delta[win]"]}),
        ("garbled", "1.0", {"requires": ["alpha", "not a >>> requirement"]}),
    ]
    for name, version, kw in dists:
        write_dist(site, name, version, **kw)  # type: ignore[arg-type]
    return Inventory.scan([site])


def _wheel_url(world: Inventory) -> str:
    dist = world.get("urlpkg")
    assert dist is not None and dist.direct_url is not None
    return dist.direct_url.url


# (request, marker env, expected: None for satisfied or (reason, failing name, found, fragments))
_Expect = tuple[str, str, str | None, Sequence[str]] | None
CASES: list[tuple[str, dict[str, str], _Expect]] = [
    # specifiers
    ("alpha", PY311, None),
    ("alpha>=1,<2", PY311, None),
    ("Alpha==1.0.0", PY311, None),
    ("alpha~=1.0", PY311, None),
    (
        "alpha>=2",
        PY311,
        ("version", "alpha", "1.0", ["alpha 1.0 is installed but alpha>=2 was requested"]),
    ),
    ("alpha!=1.0", PY311, ("version", "alpha", "1.0", [])),
    ("nothing-here", PY311, ("missing", "nothing-here", None, ["nothing-here is not installed"])),
    # prereleases count when the specifier allows them
    ("pre>=1", PY311, None),
    ("pre>=2.0rc1", PY311, None),
    ("pre>=2.0", PY311, ("version", "pre", "2.0rc1", [])),
    ("pre<2", PY311, ("version", "pre", "2.0rc1", [])),
    # recursive failures say who needs what
    (
        "beta",
        PY311,
        ("version", "alpha", "1.0", ["alpha 1.0 is installed but beta 1.0 requires alpha>=2"]),
    ),
    (
        "top",
        PY311,
        (
            "version",
            "alpha",
            "1.0",
            ["alpha 1.0 is installed but mid 1.0 requires alpha>=3", "via top 1.0"],
        ),
    ),
    # extras: normalised names, only the extra's dependencies, missing extras
    ("gamma", PY311, None),
    ("delta", PY311, None),
    ("delta[Fancy_Extra]", PY311, None),
    ("delta[FANCY.extra]", PY311, None),
    (
        "delta[fancy]",
        PY311,
        ("missing", "zeta", None, ["Delta 1.0 requires zeta, but zeta is not installed"]),
    ),
    (
        "delta[nope]",
        PY311,
        ("extra-missing", "delta", "1.0", ["does not provide the extra 'nope'"]),
    ),
    (
        "needs-extra",
        PY311,
        ("extra-missing", "delta", "1.0", ["'bogus'", "is required by needs-extra 1.0"]),
    ),
    # markers: a different target than the interpreter running the tests
    ("old", PY311, None),
    (
        "old",
        PY39,
        ("missing", "tomli", None, ["old 1.0 requires tomli>=1, but tomli is not installed"]),
    ),
    ("old", PY313_WIN, ("missing", "pywin", None, [])),
    ("needs-win", PY311, ("missing", "zeta", None, [])),
    ("needs-win", PY313_WIN, None),
    ('tomli; python_version < "3.10"', PY311, None),
    ('tomli; python_version < "3.10"', PY39, ("missing", "tomli", None, [])),
    ('alpha>=9; extra == "x"', PY311, None),
    ('alpha>=9; sys_platform == "win32"', PY311, None),
    # cycles terminate, and failures inside them are found
    ("cyc-a", PY311, None),
    ("cyc-b", PY311, None),
    ("cyc-c", PY311, ("missing", "missing-thing", None, ["cyc-d 1.0 requires missing-thing"])),
    ("cyc-d", PY311, ("missing", "missing-thing", None, [])),
    ("self-ref[x]", PY311, None),
    # a registry request is satisfied by any source, with the right version
    ("ed", PY311, None),
    ("ed<1", PY311, None),
    ("ed>=1", PY311, ("version", "ed", "0.1", [])),
    ("urlpkg", PY311, None),
    ("vcspkg==1.0", PY311, None),
    # URL requests need the same source
    (f"plaindir @ file://{SRC}/plaindir", PY311, None),
    (f"plaindir @ file://{SRC}/plaindir/", PY311, None),
    (f"plaindir @ file://{SRC}/sub/../plaindir", PY311, None),
    (f"plaindir @ file://localhost{SRC}/plaindir", PY311, None),
    (f"ed @ file://{SRC}/ed", PY311, None),
    (
        f"plaindir @ file://{SRC}/other",
        PY311,
        ("source", "plaindir", "0.2", ["plaindir 0.2 is installed from file:"]),
    ),
    (
        "reg @ file:///wheels/reg-1.0-py3-none-any.whl",
        PY311,
        ("source", "reg", "1.0", ["from an index"]),
    ),
    (
        "urlpkg @ file:///elsewhere/urlpkg-1.0-py3-none-any.whl",
        PY311,
        ("source", "urlpkg", "1.0", []),
    ),
    ("needs-url", PY311, ("source", "urlpkg", "1.0", ["(for needs-url 1.0)"])),
    ("needs-same-url", PY311, None),
    ("httppkg @ https://files.example/httppkg-1.0.tar.gz", PY311, None),
    ("httppkg @ https://files.example/httppkg-1.0.tar.gz#sha256=" + "0" * 64, PY311, None),
    ("httppkg @ https://user:secret@FILES.example/httppkg-1.0.tar.gz", PY311, None),
    ("httppkg @ https://files.example/httppkg-2.0.tar.gz", PY311, ("source", "httppkg", "1.0", [])),
    ("httppkg @ http://files.example/httppkg-1.0.tar.gz", PY311, ("source", "httppkg", "1.0", [])),
    ("vcspkg @ git+https://github.com/o/vcspkg", PY311, None),
    ("vcspkg @ git+https://github.com/o/vcspkg@v1", PY311, None),
    ("vcspkg @ git+https://github.com/o/vcspkg@abc123", PY311, None),
    ("vcspkg @ git+https://tok@github.com/o/vcspkg.git@v1", PY311, ("source", "vcspkg", "1.0", [])),
    ("vcspkg @ git+https://tok@github.com/o/vcspkg@v1", PY311, None),
    ("vcspkg @ git+https://github.com/o/vcspkg@v2", PY311, ("source", "vcspkg", "1.0", [])),
    ("vcspkg @ hg+https://github.com/o/vcspkg", PY311, ("source", "vcspkg", "1.0", [])),
    ("vcspkg @ https://github.com/o/vcspkg", PY311, ("source", "vcspkg", "1.0", [])),
    (
        "vcspkg @ git+https://github.com/o/vcspkg#subdirectory=pkg",
        PY311,
        ("source", "vcspkg", "1.0", []),
    ),
    (
        "httppkg @ git+https://files.example/httppkg-1.0.tar.gz",
        PY311,
        ("source", "httppkg", "1.0", []),
    ),
    # unparsable Requires-Dist lines are skipped, not fatal
    ("garbled", PY311, None),
]


@pytest.mark.parametrize(
    ("text", "env", "expected"), CASES, ids=[c[0] + "-" + c[1]["python_version"] for c in CASES]
)
def test_check_table(world: Inventory, text: str, env: dict[str, str], expected: _Expect) -> None:
    request = parse_request(text)
    result = check([request], world, env)
    if expected is None:
        assert result.ok, result.unsatisfied
        assert result.satisfied == (request.text,)
        return
    reason, name, found, fragments = expected
    assert not result.ok and result.satisfied == ()
    [failure] = result.unsatisfied
    assert (failure.request, failure.reason, failure.name, failure.found) == (
        request.text,
        reason,
        name,
        found,
    )
    for fragment in fragments:
        assert fragment in failure.message
    assert str(failure) == failure.message


def test_wheel_url_request(world: Inventory) -> None:
    url = _wheel_url(world)
    assert check([parse_request(f"urlpkg @ {url}")], world, PY311).ok
    assert check([parse_request(f"URLPkg @ {url}")], world, PY311).ok


@pytest.mark.parametrize(
    ("folder", "name", "expected"),
    [
        (f"{SRC}/ed", "ed", None),
        (f"{SRC}/ed/", "ED", None),
        (
            f"{SRC}/other",
            "ed",
            ("source", ["ed 0.1 is installed editable from /srv/src/ed", "/srv/src/other"]),
        ),
        (
            f"{SRC}/reg",
            "reg",
            ("source", ["reg 1.0 is installed from an index, not an editable install"]),
        ),
        (f"{SRC}/plaindir", "plaindir", ("source", [])),
        (f"{SRC}/nothing", "nothing", ("missing", [])),
    ],
)
def test_editable_requests(
    world: Inventory, folder: str, name: str, expected: tuple[str, list[str]] | None
) -> None:
    request = editable_request(Path(folder), name)
    assert request.editable == str(Path(folder).resolve())
    assert request.requirement.name == name
    result = check([request], world, PY311)
    if expected is None:
        assert result.satisfied == (request.text,)
        return
    [failure] = result.unsatisfied
    assert failure.reason == expected[0]
    for fragment in expected[1]:
        assert fragment in failure.message


@pytest.mark.parametrize("name", ["ed>=1", "ed[x]", "", "ed; python_version>'3'", "not a name"])
def test_editable_request_needs_a_bare_name(name: str) -> None:
    with pytest.raises(InvalidRequirement):
        editable_request(Path("/x"), name)


def test_editable_request_resolves_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    site = tmp_path / "site"
    write_dist(
        site, "proj", "1.0", direct_url={"url": link.as_uri(), "dir_info": {"editable": True}}
    )
    inv = Inventory.scan([site])
    assert check([editable_request(real, "proj")], inv, PY311).ok
    assert check([editable_request(link, "proj")], inv, PY311).ok
    assert check([parse_request(f"proj @ {real.as_uri()}")], inv, PY311).ok


def test_many_requests_visited_and_memo(world: Inventory) -> None:
    texts = [
        "gamma",
        "beta",
        'tomli; python_version < "3"',
        "cyc-d",
        "cyc-c",
        "cyc-a",
        "delta[fancy]",
        "delta",
        "alpha",
    ]
    result = check([parse_request(t) for t in texts], world, PY311)
    assert result.satisfied == ("gamma", 'tomli; python_version < "3"', "cyc-a", "delta", "alpha")
    assert [(u.request, u.reason, u.name) for u in result.unsatisfied] == [
        ("beta", "version", "alpha"),
        ("cyc-d", "missing", "missing-thing"),
        ("cyc-c", "missing", "missing-thing"),
        ("delta[fancy]", "missing", "zeta"),
    ]
    assert not result.ok
    # The closure: everything required, installed or not; nothing behind a false marker.
    assert result.visited == {
        "gamma", "alpha", "delta", "epsilon", "theta", "beta", "cyc-a", "cyc-b", "cyc-c", "cyc-d",
        "missing-thing", "zeta",
    }  # fmt: skip


def test_clean_memo_does_not_hide_a_failure_behind_a_cycle(tmp_path: Path) -> None:
    # a -> b -> a, and a -> c (missing): asking for b first, then a, must fail both.
    write_dist(tmp_path, "a", "1.0", requires=["b", "c"])
    write_dist(tmp_path, "b", "1.0", requires=["a"])
    write_dist(tmp_path, "d", "1.0", requires=["b"])
    inv = Inventory.scan([tmp_path])
    result = check([parse_request(t) for t in ("b", "a", "d")], inv, PY311)
    assert result.satisfied == ()
    assert [u.name for u in result.unsatisfied] == ["c", "c", "c"]
    ok = check([parse_request("a; python_version < '3'")], inv, PY311)
    assert ok.ok and ok.visited == frozenset()


def test_empty_check() -> None:
    result = check([], Inventory.scan([]), PY311)
    assert result.ok and result.satisfied == () and result.visited == frozenset()


def test_missing_top_level_with_extras_visits_only_its_name(world: Inventory) -> None:
    result = check([parse_request("zzz[a,b]>=1")], world, PY311)
    assert result.visited == {"zzz"}
    assert result.unsatisfied == (
        Unsatisfied("zzz[a,b]>=1", "zzz", "missing", None, "zzz is not installed"),
    )


# conflicts ---------------------------------------------------------------------------------


def _inv(root: Path, name: str, dists: Sequence[tuple[str, str, Sequence[str]]]) -> Inventory:
    site = root / name
    site.mkdir(parents=True)
    for dname, version, requires in dists:
        write_dist(site, dname, version, requires=requires)
    return Inventory.scan([site])


def test_conflicts_shadow_and_breaks(tmp_path: Path) -> None:
    layer2 = _inv(tmp_path, "l2", [("alpha", "3.0", []), ("kappa", "2.0", [])])
    layer1 = _inv(
        tmp_path,
        "l1",
        [
            ("Alpha", "2.0", []),
            ("user", "1.0", ["alpha>=2"]),
            ("epsilon", "1.0", []),
            ("same", "1.0.0", []),
        ],
    )
    base = _inv(
        tmp_path,
        "base",
        [
            ("alpha", "1.0", []),
            ("Needs_Old", "1.0", ["alpha<2", "kappa<2; extra == 'x'"]),
            ("win-only", "1.0", ["alpha<2; sys_platform == 'win32'"]),
            ("ranged", "2.0", ["alpha>=1,<4", "kappa!=2.0"]),
            ("epsilon", "1.0", []),
            ("same", "1.0", []),
            ("kappa", "1.0", []),
        ],
    )
    conflicts = find_conflicts([("L2", layer2), ("L1", layer1), ("workspace", base)], PY311)
    assert conflicts == [
        Conflict(
            "alpha",
            "3.0",
            "L2",
            (Shadow("2.0", "L1"), Shadow("1.0", "workspace")),
            ("Needs_Old 1.0 requires alpha<2",),
        ),
        Conflict(
            "kappa", "2.0", "L2", (Shadow("1.0", "workspace"),), ("ranged 2.0 requires kappa!=2.0",)
        ),
    ]
    assert conflicts[0].to_json() == {
        "name": "alpha",
        "version": "3.0",
        "source": "L2",
        "shadows": [{"version": "2.0", "source": "L1"}, {"version": "1.0", "source": "workspace"}],
        "breaks": ["Needs_Old 1.0 requires alpha<2"],
    }
    # On Windows the marker turns on, and another requirement breaks.
    win = find_conflicts([("L2", layer2), ("L1", layer1), ("workspace", base)], PY313_WIN)
    assert win[0].breaks == ("Needs_Old 1.0 requires alpha<2", "win-only 1.0 requires alpha<2")


def test_shadowed_requirements_of_hidden_dists_do_not_count(tmp_path: Path) -> None:
    layer = _inv(tmp_path, "l", [("alpha", "2.0", []), ("user", "2.0", [])])
    base = _inv(tmp_path, "b", [("alpha", "1.0", []), ("user", "1.0", ["alpha<2"])])
    conflicts = find_conflicts([("L", layer), ("workspace", base)], PY311)
    assert [(c.name, c.breaks) for c in conflicts] == [("alpha", ()), ("user", ())]


def test_no_conflicts(tmp_path: Path) -> None:
    layer = _inv(tmp_path, "l", [("alpha", "1.0", []), ("beta", "1.0", [])])
    base = _inv(tmp_path, "b", [("alpha", "1.0.0", ["beta>=2"]), ("gamma", "1.0", [])])
    assert find_conflicts([("L", layer), ("workspace", base)], PY311) == []
    assert find_conflicts([("workspace", base)], PY311) == []
    assert find_conflicts([], PY311) == []


# extraneous --------------------------------------------------------------------------------


def test_extraneous(tmp_path: Path) -> None:
    inv = _inv(
        tmp_path,
        "s",
        [
            (n, "1.0", [])
            for n in ("pip", "setuptools", "wheel", "uv", "alpha", "beta", "Foo_Bar", "Tool")
        ],
    )
    assert extraneous(inv, ["alpha", "foo.bar"]) == ["beta", "tool"]
    assert extraneous(inv, ["ALPHA"], keep=["TOOL"]) == [
        "beta",
        "foo-bar",
        "pip",
        "setuptools",
        "uv",
        "wheel",
    ]
    result = check([parse_request("alpha")], inv, PY311)
    assert extraneous(inv, result.visited) == ["beta", "foo-bar", "tool"]


# parse_request -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "   ", "-e .", "--index-url=https://x", "foo\nbar", "foo\rbar", "foo\x00", "foo>=",
     "foo @", "foo; python_version >> '3'", "foo[", "foo bar", "@ https://x", ">=1"],
)  # fmt: skip
def test_parse_request_rejects(text: str) -> None:
    with pytest.raises(InvalidRequirement) as info:
        parse_request(text, file="pyproject.toml", line=7)
    assert info.value.file == "pyproject.toml" and info.value.line == 7
    assert "pyproject.toml:7" in str(info.value)
    assert info.value.text == text


@pytest.mark.parametrize(
    ("text", "name", "stored"),
    [
        ("foo", "foo", "foo"),
        (
            "  Foo_Bar[X] >= 1.0 ; python_version > '3'  ",
            "Foo_Bar",
            "Foo_Bar[X] >= 1.0 ; python_version > '3'",
        ),
        (
            "pkg @ file:///tmp/pkg-1.0-py3-none-any.whl",
            "pkg",
            "pkg @ file:///tmp/pkg-1.0-py3-none-any.whl",
        ),
    ],
)
def test_parse_request_accepts(text: str, name: str, stored: str) -> None:
    request = parse_request(text)
    assert request == Request(stored, request.requirement, None)
    assert request.requirement.name == name


_REQUIREMENT_ALPHABET = st.sampled_from(
    [*"abcXYZ019-_.[],;<>=!~@ '\"():/#+*", "\n", "\x00", "extra", "python_version", " and "]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60), st.lists(_REQUIREMENT_ALPHABET, max_size=25).map("".join)))
def test_parse_request_only_raises_invalid_requirement(text: str) -> None:
    try:
        request = parse_request(text, file="f", line=1)
    except InvalidRequirement as exc:
        assert exc.text == text
        return
    assert request.requirement.name
    assert request.text == text.strip()
    assert "\n" not in request.text and not request.text.startswith("-")


# performance ---------------------------------------------------------------------------------


def _big_site(root: Path, n: int = 1000) -> Path:
    """n distributions shaped like real ones: classifiers, a long body, mostly extra-gated deps."""
    site = root / "site"
    classifiers = "".join(f"Classifier: Topic :: Thing :: {k}\n" for k in range(20))
    for i in range(n):
        requires = [f"pkg{j}>=0.{j % 7}" for j in (i + 1, i + 2) if j < n]
        requires += [f'pkg{(i * 7) % n}; python_version < "3.0"']
        requires += [f'testdep{i}-{k}>=1; extra == "test"' for k in range(6)]
        requires += [f'docdep{k}; extra == "docs" and python_version >= "3.8"' for k in range(3)]
        lines = ["Metadata-Version: 2.1", f"Name: pkg{i}", f"Version: 1.{i}", "Summary: s"]
        lines += [f"Requires-Dist: {r}" for r in requires] + ["Provides-Extra: test"]
        meta = "\n".join(lines) + "\n" + classifiers + "\n" + "body " * 1000
        write_dist(site, f"pkg{i}", f"1.{i}", metadata=meta.encode(), installer="pip")
    return site


def test_thousand_distributions_small_check_reads_only_the_closure(tmp_path: Path) -> None:
    # The common case (`--with` a few things): scan everything, visit the closure only.
    # Speed is measured by `make bench`, never asserted here.
    site = _big_site(tmp_path)
    requests = [parse_request(f"pkg{i}") for i in (990, 995, 980)]
    result = check(requests, Inventory.scan([site]), PY39)
    assert result.ok and len(result.visited) == 20


def test_thousand_distributions_full_closure(tmp_path: Path) -> None:
    # Worst case (verifying a sync): every METADATA read, every active line parsed.
    site = _big_site(tmp_path)
    requests = [parse_request(f"pkg{i}") for i in range(0, 1000, 10)]
    parse_requirement.cache_clear()
    result = check(requests, Inventory.scan([site]), PY39)
    assert result.ok and len(result.visited) == 1000


# real installers ---------------------------------------------------------------------------


@pytest.mark.slow
def test_real_installs_by_pip_and_uv(
    tmp_path: Path, make_venv: MakeVenv, install: InstallFn, installer_name: str, wheelhouse: Path
) -> None:
    """What pip and uv really write (folder names, direct_url.json) is read the way we expect."""
    venv = make_venv()
    project = write_project(tmp_path / "proj", name="Demo.App", dependencies=["epsilon"])
    plugin_wheel = wheelhouse / "plugin-1.0-py3-none-any.whl"
    install(venv, "beta", "delta[fancy]", "alpha==1.0", str(plugin_wheel), editable=project)
    inventory = Inventory.scan([site_packages(venv)])
    env = PY311 | {"python_version": "{}.{}".format(*sys.version_info[:2])}
    assert {"alpha", "beta", "delta", "epsilon", "plugin", "demo-app"} <= set(inventory.versions())
    alpha = inventory.get("alpha")
    assert alpha is not None and alpha.installer == installer_name and alpha.direct_url is None
    demo = inventory.get("demo_app")
    assert demo is not None and demo.display_name == "Demo.App"

    requests = [
        parse_request("beta"),
        parse_request("delta[fancy]"),
        parse_request(f"plugin @ {plugin_wheel.as_uri()}"),
        editable_request(project, "Demo.App"),
    ]
    result = check(requests, inventory, env)
    assert result.ok, result.unsatisfied
    assert extraneous(inventory, result.visited) == []

    failures = check(
        [
            parse_request("gamma"),
            parse_request("alpha>=2"),
            editable_request(tmp_path / "elsewhere", "demo-app"),
            parse_request(f"beta @ {(wheelhouse / 'beta-1.0-py3-none-any.whl').as_uri()}"),
        ],
        inventory,
        env,
    )
    assert [(u.name, u.reason) for u in failures.unsatisfied] == [
        ("gamma", "missing"),
        ("alpha", "version"),
        ("demo-app", "source"),
        ("beta", "source"),
    ]
