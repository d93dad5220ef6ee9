"""`probe(cache_dir=...)` and `find_interpreter(cache_dir=...)` keep probes in the given root."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from envlayers.core import interpreter as interp
from envlayers.core import proc
from envlayers.core.paths import cache_dir
from envlayers.core.venv import create_venv, venv_python

PYENV = Path("/root/.pyenv/versions")


@pytest.fixture(autouse=True)
def _fresh_memory_cache() -> None:
    interp.clear_probe_cache()


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    found = sorted(PYENV.glob("3.12.*/bin/python3.12"))
    if not found:
        pytest.skip(f"no CPython 3.12 under {PYENV}")
    dest = tmp_path / "venv"
    # Made from a probe kept in a root of its own: the roots the tests watch start empty.
    base = interp.probe(found[-1], cache_dir=tmp_path / "fixture-cache")
    create_venv(dest, str(found[-1]), base=base)
    interp.clear_probe_cache()  # the venv is then described by running it, into the tested root
    return venv_python(dest)


def _forbid_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"spawned a process: {args}")

    monkeypatch.setattr(proc, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)


def _probes(root: Path) -> list[Path]:
    return sorted((root / "probes" / "v1").glob("*.json"))


def test_probe_cache_lives_in_the_given_root(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, venv: Path
) -> None:
    root = tmp_path / "other-cache"
    info = interp.probe(venv, cache_dir=root)
    assert len(_probes(root)) == 1
    assert (root / "CACHEDIR.TAG").read_text().startswith("Signature: ")
    assert _probes(cache_dir()) == []  # the global default was not touched

    interp.clear_probe_cache()
    with monkeypatch.context() as m:
        _forbid_processes(m)
        assert interp.probe(venv, cache_dir=root) == info  # read back from that root's disk cache
    interp.clear_probe_cache()
    with monkeypatch.context() as m:
        _forbid_processes(m)
        with pytest.raises(AssertionError, match="spawned a process"):
            interp.probe(venv)  # the default root has no entry: it would have to run


def test_find_interpreter_passes_the_cache_root_to_the_probe(tmp_path: Path, venv: Path) -> None:
    root = tmp_path / "other-cache"
    assert interp.find_interpreter(str(venv), cache_dir=root) == str(venv)
    assert len(_probes(root)) == 1
    assert _probes(cache_dir()) == []


def test_probe_without_a_root_uses_the_global_default(venv: Path) -> None:
    interp.probe(venv)
    assert len(_probes(cache_dir())) == 1
