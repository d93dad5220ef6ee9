"""Interpreter discovery, probing (and its cache), and venv helpers, against real Pythons."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker

from envlayers.core import interpreter as interp
from envlayers.core import proc
from envlayers.core.errors import InterpreterNotFound, InvalidInput
from envlayers.core.interpreter import (
    InterpreterInfo,
    executable_identity,
    find_interpreter,
    probe,
    venv_python_matches,
)
from envlayers.core.paths import cache_dir
from envlayers.core.venv import (
    create_venv,
    read_pyvenv_cfg,
    site_packages,
    venv_python,
    venv_scripts,
    write_pyvenv_cfg,
)

PYENV = Path("/root/.pyenv/versions")


def _python(minor: int) -> Path:
    found = sorted(PYENV.glob(f"3.{minor}.*/bin/python3.{minor}"))
    if not found:
        pytest.skip(f"no CPython 3.{minor} under {PYENV}")
    return found[-1]


@pytest.fixture(autouse=True)
def _fresh_memory_cache() -> None:
    # Each test gets a fresh ENVLAYERS_CACHE_DIR (conftest); forget the in-memory probes too.
    interp.clear_probe_cache()


@pytest.fixture
def venv312(tmp_path: Path) -> Path:
    dest = tmp_path / "venv312"
    create_venv(dest, str(_python(12)))
    # Forget its interpreter too: otherwise the probe describes this venv without running it.
    interp.clear_probe_cache()
    return dest


class _SpawnCounter:
    """Counts `proc.run` calls (the only way the core spawns) and can forbid them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, forbid: bool = False) -> None:
        self.calls: list[tuple[str, ...]] = []
        real = proc.run
        forbidden = forbid

        def counting(cmd: list[str], **kwargs: object) -> proc.ProcResult:
            self.calls.append(tuple(cmd))
            if forbidden:
                raise AssertionError(f"spawned a process: {cmd}")
            return real(cmd, **kwargs)  # type: ignore[arg-type]

        def no_popen(*args: object, **kwargs: object) -> None:
            raise AssertionError(f"spawned a process: {args}")

        monkeypatch.setattr(proc, "run", counting)
        if forbid:
            monkeypatch.setattr(subprocess, "Popen", no_popen)


# --------------------------------------------------------------------------- probe


@pytest.mark.parametrize("minor", [9, 13])
def test_probe_base_interpreters(minor: int) -> None:
    exe = _python(minor)
    info = probe(exe)
    assert info.executable == str(exe)
    assert info.version_info[:2] == (3, minor)
    assert info.version == ".".join(map(str, info.version_info))
    assert info.implementation == "cpython"
    assert not info.is_venv
    assert info.prefix == info.base_prefix == str(exe.parent.parent)
    assert info.base_executable == os.path.realpath(exe)
    assert info.purelib == str(exe.parent.parent / "lib" / f"python3.{minor}" / "site-packages")
    assert info.scripts == str(exe.parent)
    assert info.purelib in info.site_packages
    assert info.stdlib and all(p.startswith(info.base_prefix) for p in info.stdlib)
    assert any(p.endswith(f"python3.{minor}") for p in info.stdlib)
    assert not any("site-packages" in p for p in info.stdlib)
    assert info.marker_env["python_version"] == f"3.{minor}"
    assert info.marker_env["implementation_name"] == "cpython"
    assert info.marker_env["sys_platform"] == sys.platform
    assert Marker(f'python_version >= "3.{minor}"').evaluate(dict(info.marker_env))
    assert not Marker(f'python_version > "3.{minor}"').evaluate(dict(info.marker_env))
    assert not info.include_system_site_packages
    assert info.identity == executable_identity(exe)


def test_probe_a_venv(venv312: Path) -> None:
    py = venv_python(venv312)
    info = probe(py)
    assert info.executable == str(py)  # the venv's path, not the binary behind it
    assert info.is_venv
    assert info.prefix == str(venv312)
    assert info.base_prefix == str(_python(12).parent.parent)
    assert info.base_executable == os.path.realpath(_python(12))
    assert info.site_packages == (str(site_packages(venv312, info.version_info)),)
    assert info.purelib == str(site_packages(venv312, info.version_info))
    assert info.scripts == str(venv_scripts(venv312))
    assert all(p.startswith(info.base_prefix) for p in info.stdlib)


def test_probe_a_39_venv_finds_its_base_executable(tmp_path: Path) -> None:
    # Before 3.11, sys._base_executable of a POSIX venv is the venv's own python.
    create_venv(tmp_path / "v39", str(_python(9)))
    info = probe(venv_python(tmp_path / "v39"))
    assert info.is_venv
    assert info.base_executable == os.path.realpath(_python(9))


def test_probe_ignores_pythonpath(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    leak = tmp_path / "leak"
    leak.mkdir()
    (leak / "sitecustomize.py").write_text("print('LEAKED')\nraise SystemExit(7)\n")
    monkeypatch.setenv("PYTHONPATH", str(leak))
    info = probe(_python(13))
    assert str(leak) not in info.stdlib


def test_probe_survives_a_pth_that_prints(venv312: Path) -> None:
    site = site_packages(venv312, (3, 12))
    (site / "noisy.pth").write_text("import sys; print('noise from a .pth')\n")
    info = probe(venv_python(venv312))
    assert info.is_venv and info.version_info[:2] == (3, 12)


def test_probe_json_round_trip(venv312: Path) -> None:
    info = probe(venv_python(venv312))
    again = InterpreterInfo.from_json(info.to_json())
    assert again == info
    assert dict(again.marker_env) == dict(info.marker_env)
    with pytest.raises(ValueError):
        InterpreterInfo.from_json({"executable": "x"})


def test_probe_cache_hit_spawns_no_process(monkeypatch: pytest.MonkeyPatch, venv312: Path) -> None:
    py = venv_python(venv312)
    counter = _SpawnCounter(monkeypatch)
    first = probe(py)
    assert len(counter.calls) == 1
    assert list((cache_dir() / "probes" / "v1").glob("*.json"))
    assert (
        (cache_dir() / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )

    with monkeypatch.context() as m:
        _SpawnCounter(m, forbid=True)
        assert probe(py) == first  # memory
        interp.clear_probe_cache()
        assert probe(py) == first  # disk


def test_probe_runs_again_when_the_identity_changes(
    monkeypatch: pytest.MonkeyPatch, venv312: Path
) -> None:
    py = venv_python(venv312)
    counter = _SpawnCounter(monkeypatch)
    first = probe(py)
    write_pyvenv_cfg(venv312, {"include-system-site-packages": "true"})
    second = probe(py)
    assert len(counter.calls) == 2
    assert second.identity != first.identity
    assert second.include_system_site_packages and not first.include_system_site_packages


def test_probe_a_corrupt_disk_entry_is_ignored(
    monkeypatch: pytest.MonkeyPatch, venv312: Path
) -> None:
    py = venv_python(venv312)
    probe(py)
    for entry in (cache_dir() / "probes" / "v1").glob("*.json"):
        entry.write_text("{not json")
    interp.clear_probe_cache()
    counter = _SpawnCounter(monkeypatch)
    assert probe(py).version_info[:2] == (3, 12)
    assert len(counter.calls) == 1


def test_probe_missing_interpreter(tmp_path: Path) -> None:
    with pytest.raises(InterpreterNotFound, match="does not exist"):
        probe(tmp_path / "nope" / "python")


def test_probe_something_that_is_not_python(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'I am not python' >&2\nexit 4\n")
    fake.chmod(0o755)
    with pytest.raises(InterpreterNotFound, match="not a working Python") as err:
        probe(fake)
    assert "I am not python" in str(err.value)
    text = tmp_path / "text"
    text.write_text("hello")
    with pytest.raises(InterpreterNotFound):
        probe(text)


# --------------------------------------------------------------------------- identity


def test_executable_identity_is_stat_only_and_tracks_changes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    binary = tmp_path / "bin" / "python3.99"
    binary.parent.mkdir()
    binary.write_bytes(b"\x7fELF fake")
    link = tmp_path / "bin" / "python"
    link.symlink_to(binary.name)
    with monkeypatch.context() as m:
        _SpawnCounter(m, forbid=True)
        first = executable_identity(binary)
        assert executable_identity(link) == first  # resolved to the same binary
        st = binary.stat()
        os.utime(binary, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        touched = executable_identity(binary)
        assert touched != first
        binary.write_bytes(b"\x7fELF fake, but bigger now")
        assert executable_identity(binary) not in {first, touched}
        # a pyvenv.cfg beside bin/ makes it a venv: its stat joins the identity
        before_cfg = executable_identity(link)
        (tmp_path / "pyvenv.cfg").write_text("home = /x\n")
        with_cfg = executable_identity(link)
        assert with_cfg != before_cfg
        cfg_stat = (tmp_path / "pyvenv.cfg").stat()
        os.utime(tmp_path / "pyvenv.cfg", ns=(cfg_stat.st_atime_ns, cfg_stat.st_mtime_ns + 10**9))
        assert executable_identity(link) != with_cfg
    with pytest.raises(InterpreterNotFound):
        executable_identity(tmp_path / "missing")


# --------------------------------------------------------------------------- discovery


def test_find_interpreter_by_version() -> None:
    exe = find_interpreter("3.12")
    assert os.path.isabs(exe)
    assert probe(exe).version_info[:2] == (3, 12)
    exact = _python(13)
    full = ".".join(map(str, probe(exact).version_info))
    assert probe(find_interpreter(full)).version == full
    assert probe(find_interpreter("cpython3.10")).version_info[:2] == (3, 10)


def test_find_interpreter_by_range() -> None:
    exe = find_interpreter(">=3.12,<3.13")
    assert probe(exe).version_info[:2] == (3, 12)
    assert not probe(exe).is_venv  # envs are built from real interpreters


def test_find_interpreter_by_path_keeps_the_path(
    venv312: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    py = venv_python(venv312)
    assert find_interpreter(str(py)) == str(py)
    monkeypatch.chdir(venv312)
    assert find_interpreter("./bin/python") == str(py)
    with pytest.raises(InterpreterNotFound, match="does not exist"):
        find_interpreter(str(venv312 / "bin" / "nope"))


def test_find_interpreter_by_name_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bindir = tmp_path / "onpath"
    bindir.mkdir()
    (bindir / "mypython").symlink_to(_python(10))
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    exe = find_interpreter("mypython")
    assert os.path.isabs(exe)
    assert probe(exe).version_info[:2] == (3, 10)


def test_find_interpreter_default_prefers_the_current_one() -> None:
    exe = find_interpreter(None)
    assert probe(exe).version_info[:3] == tuple(sys.version_info[:3])
    assert not probe(exe).is_venv  # not our own tool venv
    assert (
        find_interpreter(None, requires_python=f">={sys.version_info[0]}.{sys.version_info[1]}")
        == exe
    )


def test_find_interpreter_default_honours_requires_python() -> None:
    exe = find_interpreter(None, requires_python=">=3.12")
    assert probe(exe).version_info[:2] >= (3, 12)
    old = find_interpreter(None, requires_python="<3.10")
    assert probe(old).version_info[:2] == (3, 9)  # nothing older than we support


@pytest.mark.parametrize("request_text", ["nonsense", "3.99", "cpython3.99", ">=4"])
def test_find_interpreter_nothing_matches(request_text: str) -> None:
    with pytest.raises(InterpreterNotFound) as err:
        find_interpreter(request_text)
    message = str(err.value)
    assert repr(request_text) in message
    assert "3.12" in message  # it lists what it knows about, to help the user


def test_find_interpreter_nonsense_explains_the_forms() -> None:
    with pytest.raises(InterpreterNotFound, match=r"version request such as '3\.12'"):
        find_interpreter("nonsense")


def test_find_interpreter_unsatisfiable_requires_python() -> None:
    with pytest.raises(InterpreterNotFound, match="requires-python"):
        find_interpreter(None, requires_python=">=4")


# --------------------------------------------------------------------------- venv_python_matches


def test_venv_python_matches(venv312: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = str(_python(12))
    with monkeypatch.context() as m:
        _SpawnCounter(m, forbid=True)  # a no-op sync must not run anything
        for request in [None, "", "3.12", "cpython3.12", ">=3.12", ">=3.10,<3.13", base]:
            assert venv_python_matches(venv312, request, None), request
        assert venv_python_matches(venv312, str(venv_python(venv312)), None)
        assert venv_python_matches(venv312, None, ">=3.10")
        for request in ["3.11", "3.12.999", "pypy3.12", ">=3.13", str(_python(13))]:
            assert not venv_python_matches(venv312, request, None), request
        assert not venv_python_matches(venv312, None, ">=3.13")
        assert not venv_python_matches(venv312.parent / "missing", None, None)


def test_venv_python_matches_when_the_base_vanishes(tmp_path: Path) -> None:
    # A venv whose interpreter was uninstalled: a copied base that we then delete.
    fake_home = tmp_path / "fakepython"
    shutil.copytree(_python(12).parent.parent, fake_home, symlinks=True)
    fake_exe = fake_home / "bin" / _python(12).name
    dest = tmp_path / "v"
    create_venv(dest, str(fake_exe))
    assert venv_python_matches(dest, "3.12", None)
    shutil.rmtree(fake_home)
    assert not venv_python_matches(dest, "3.12", None)
    assert not venv_python_matches(dest, None, None)


# --------------------------------------------------------------------------- venv helpers


def test_create_venv_layout_and_cfg(tmp_path: Path) -> None:
    dest = tmp_path / "env"
    create_venv(dest, str(_python(11)))
    assert venv_python(dest).exists()
    assert site_packages(dest, (3, 11)).is_dir()
    assert not list(site_packages(dest, (3, 11)).glob("pip*"))  # no seed packages
    assert not (dest / ".gitignore").exists()
    assert not list(venv_scripts(dest).glob("activate*"))
    cfg = read_pyvenv_cfg(dest)
    assert cfg["include-system-site-packages"] == "false"
    assert cfg["version_info"].startswith("3.11.")


def test_create_venv_system_site_packages_and_clear(tmp_path: Path) -> None:
    dest = tmp_path / "env"
    create_venv(dest, str(_python(12)), system_site_packages=True)
    assert read_pyvenv_cfg(dest)["include-system-site-packages"] == "true"
    assert probe(venv_python(dest)).include_system_site_packages
    junk = site_packages(dest, (3, 12)) / "junk.txt"
    junk.write_text("x")
    create_venv(dest, str(_python(12)), clear=True)
    assert not junk.exists()
    assert read_pyvenv_cfg(dest)["include-system-site-packages"] == "false"


def test_create_venv_with_a_missing_interpreter(tmp_path: Path) -> None:
    with pytest.raises(InterpreterNotFound):
        create_venv(tmp_path / "env", str(tmp_path / "no" / "python"))
    with pytest.raises(InterpreterNotFound):
        create_venv(tmp_path / "env2", "3.99")
    assert not venv_python(tmp_path / "env").exists()


def test_pyvenv_cfg_read_and_write(tmp_path: Path) -> None:
    assert read_pyvenv_cfg(tmp_path) == {}
    (tmp_path / "pyvenv.cfg").write_text("home = /a\nVersion_Info = 3.12.1\n# comment\nfoo=bar\n")
    assert read_pyvenv_cfg(tmp_path) == {"home": "/a", "version_info": "3.12.1", "foo": "bar"}
    write_pyvenv_cfg(tmp_path, {"foo": "baz", "extends-environment": "/base"})
    assert (tmp_path / "pyvenv.cfg").read_text().splitlines() == [
        "home = /a",
        "Version_Info = 3.12.1",
        "# comment",
        "foo = baz",
        "extends-environment = /base",
    ]
    with pytest.raises(InvalidInput):
        write_pyvenv_cfg(tmp_path, {"evil": "x\ninclude-system-site-packages = true"})
    assert "evil" not in read_pyvenv_cfg(tmp_path)
