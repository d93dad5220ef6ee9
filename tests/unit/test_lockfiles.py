"""PEP 751 lock files: selection for a target marker environment, pins, fingerprints."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from envlayers.core.errors import InvalidInput, OperationFailed
from envlayers.core.lockfiles import load_pylock, lock_fingerprint, pylock_requirements

H = 'hashes = {sha256 = "' + "0" * 64 + '"}'


def dist(file: str) -> str:
    """An inline wheel/sdist table for `file` with a URL and a dummy hash."""
    return f'{{ name = "{file}", url = "https://x.invalid/{file}", {H} }}'


LOCK = f"""
lock-version = "1.0"
created-by = "hand"
requires-python = ">=3.9"
extras = ["fancy"]
dependency-groups = ["dev", "docs"]
default-groups = ["dev"]

[[packages]]
name = "alpha"
version = "1.0"
wheels = [{dist("alpha-1.0-py3-none-any.whl")}]

[[packages]]
name = "only-cp39"
version = "2.0"
marker = "python_version < '3.10'"
wheels = [{dist("only_cp39-2.0-cp39-cp39-manylinux_2_17_x86_64.whl")}]

[[packages]]
name = "newer"
version = "3.0"
marker = "python_version >= '3.10'"
sdist = {dist("newer-3.0.tar.gz")}

[[packages]]
name = "no-version"
wheels = [{dist("no_version-4.5-py3-none-any.whl")}]

[[packages]]
name = "windows-only"
version = "1.0"
marker = "sys_platform == 'win32'"
wheels = [{dist("windows_only-1.0-py3-none-win_amd64.whl")}]

[[packages]]
name = "fancy-dep"
version = "1.0"
marker = "'fancy' in extras"
wheels = [{dist("fancy_dep-1.0-py3-none-any.whl")}]

[[packages]]
name = "pytest"
version = "8.0"
marker = "'dev' in dependency_groups"
wheels = [{dist("pytest-8.0-py3-none-any.whl")}]

[[packages]]
name = "sphinx"
version = "7.0"
marker = "'docs' in dependency_groups"
wheels = [{dist("sphinx-7.0-py3-none-any.whl")}]

[[packages]]
name = "mylib"
directory = {{ path = "../mylib", editable = true }}

[[packages]]
name = "tarball"
archive = {{ path = "dist/tarball-1.0.tar.gz", {H}, subdirectory = "pkg" }}

[[packages]]
name = "remote"
archive = {{ url = "https://x.invalid/remote-1.0.zip", {H} }}

[[packages]]
name = "from-git"
vcs = {{ type = "git", url = "https://x.invalid/r.git", commit-id = "abc123" }}
"""


def env(version: str, platform: str = "linux") -> dict[str, str]:
    major_minor = ".".join(version.split(".")[:2])
    return {
        "implementation_name": "cpython",
        "implementation_version": version,
        "os_name": "posix",
        "platform_machine": "x86_64",
        "platform_release": "6.0",
        "platform_system": "Linux",
        "platform_version": "#1",
        "python_full_version": version,
        "platform_python_implementation": "CPython",
        "python_version": major_minor,
        "sys_platform": platform,
    }


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    path = tmp_path / "proj" / "pylock.toml"
    path.parent.mkdir()
    path.write_text(LOCK)
    return path


def direct(lock: Path) -> list[str]:
    base = lock.parent
    return [
        f"mylib @ {(base.parent / 'mylib').as_uri()}",
        f"tarball @ {(base / 'dist' / 'tarball-1.0.tar.gz').as_uri()}#subdirectory=pkg",
        "remote @ https://x.invalid/remote-1.0.zip",
        "from-git @ git+https://x.invalid/r.git@abc123",
    ]


@pytest.mark.parametrize(
    ("target", "kwargs", "expected"),
    [
        pytest.param(
            env("3.9.18"),
            {},
            ["alpha==1.0", "only-cp39==2.0", "no-version==4.5", "pytest==8.0"],
            id="py39-default-groups",
        ),
        pytest.param(
            env("3.12.1"),
            {},
            ["alpha==1.0", "newer==3.0", "no-version==4.5", "pytest==8.0"],
            id="py312",
        ),
        pytest.param(
            env("3.12.1", "win32"),
            {"groups": []},
            ["alpha==1.0", "newer==3.0", "no-version==4.5", "windows-only==1.0"],
            id="windows-no-groups",
        ),
        pytest.param(
            env("3.12.1"),
            {"extras": ["Fancy"], "groups": ["docs"]},
            ["alpha==1.0", "newer==3.0", "no-version==4.5", "fancy-dep==1.0", "sphinx==7.0"],
            id="extras-and-groups",
        ),
    ],
)
def test_pylock_requirements(
    lock: Path, target: dict[str, str], kwargs: dict[str, list[str]], expected: list[str]
) -> None:
    pins = pylock_requirements(lock, target, **kwargs)
    assert pins == [*expected, *direct(lock)]


def test_pins_are_for_the_target_not_this_process(lock: Path) -> None:
    # The server runs 3.11 on x86_64 Linux; a cp39-only wheel is still pinned for a 3.9 target.
    assert "only-cp39==2.0" in pylock_requirements(lock, env("3.9.0"))


@pytest.mark.parametrize(
    ("target", "kwargs", "fragment"),
    [
        (env("3.8.10"), {}, "does not satisfy the Python version"),
        (env("3.12.1"), {"extras": ["nope"]}, "Undeclared extras: nope"),
        (env("3.12.1"), {"groups": ["nope"]}, "Undeclared dependency groups: nope"),
    ],
)
def test_pylock_requirements_does_not_fit(
    lock: Path, target: dict[str, str], kwargs: dict[str, list[str]], fragment: str
) -> None:
    with pytest.raises(InvalidInput, match=fragment) as info:
        pylock_requirements(lock, target, **kwargs)
    assert info.value.file == str(lock)


def test_environments_must_match(tmp_path: Path) -> None:
    path = tmp_path / "pylock.toml"
    path.write_text(
        'lock-version = "1.0"\ncreated-by = "x"\n'
        "environments = [\"sys_platform == 'win32'\"]\npackages = []\n"
    )
    with pytest.raises(InvalidInput, match="environments"):
        pylock_requirements(path, env("3.12.1"))
    assert pylock_requirements(path, env("3.12.1", "win32")) == []


def test_duplicate_selection_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "pylock.toml"
    path.write_text(
        'lock-version = "1.0"\ncreated-by = "x"\n'
        f'[[packages]]\nname = "a"\nversion = "1"\nsdist = {dist("a-1.tar.gz")}\n'
        f'[[packages]]\nname = "a"\nversion = "2"\nsdist = {dist("a-2.tar.gz")}\n'
    )
    with pytest.raises(InvalidInput, match="Multiple packages"):
        pylock_requirements(path, env("3.12.1"))


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('lock-version = "1.0"\n', "invalid pylock file"),
        ('lock-version = "2.0"\ncreated-by = "x"\npackages = []\n', "not supported"),
        ("lock-version = \n", "TOML syntax error"),
        (
            'lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "a"\n'
            'marker = "python_version >>> 3"\nversion = "1"\n'
            f"sdist = {dist('a-1.tar.gz')}\n",
            "invalid pylock file",
        ),
        (
            'lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "a"\nversion = "1"\n',
            "Exactly one of vcs, directory, archive",
        ),
        (
            'lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "a"\nversion = "1"\n'
            f"wheels = [{dist('b-1-py3-none-any.whl')}]\n",
            "not consistent with package name",
        ),
    ],
)
def test_invalid_lock_files(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "pylock.toml"
    path.write_text(content)
    with pytest.raises(InvalidInput, match=fragment) as info:
        pylock_requirements(path, env("3.12.1"))
    assert info.value.file == str(path)
    assert info.value.exit_code == 2


def test_missing_lock_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        load_pylock(tmp_path / "pylock.toml")
    with pytest.raises(OperationFailed, match="cannot read lock file"):
        lock_fingerprint(tmp_path / "pylock.toml")


def test_lock_fingerprint(lock: Path) -> None:
    assert lock_fingerprint(lock) == hashlib.sha256(LOCK.encode()).hexdigest()
    before = lock_fingerprint(lock)
    lock.write_text(LOCK + "\n")
    assert lock_fingerprint(lock) != before
