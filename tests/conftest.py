"""Fixtures every test tier uses.

- `_isolate` (session, autouse): hides this machine's pip/uv configuration (see
  `tests/support/isolation.py`); `envlayers_cache` (function, autouse): a fresh
  `ENVLAYERS_CACHE_DIR` per test.
- `wheelhouse` (session): a folder with `tests.support.wheels.STANDARD_WHEELS` (alpha 1.0/2.0,
  beta, gamma, delta[fancy], epsilon, zeta, eta, mark, plugin, jk; documented there).
- `python_versions` (session): CPython 3.9..3.13 executables found under /root/.pyenv.
- `installer_name`: parametrized over `pip` and `uv`.
- `make_venv(python=None, name="venv")`: a real unseeded venv under `tmp_path`.
- `pip_install`, `uv_install`, `install` (by `installer_name`): `(venv, *reqs, editable=None,
  extra_args=(), check=True)`, offline from the wheelhouse.

Plain helpers (no fixture state) live in the kit under `tests/support/`: `workspaces` (fixture
workspaces, the one `tool_table`), `cli` (the one CLI runner, `run_in`, `clean_environ`),
`processes`, `disk`, `repack`, `consumers`, besides `wheels`, `projects` and `isolation`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.support import isolation as iso
from tests.support.wheels import STANDARD_WHEELS, build_wheelhouse


@pytest.fixture(scope="session", autouse=True)
def _isolate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    uv_cache = tmp_path_factory.mktemp("uv-cache")
    with pytest.MonkeyPatch.context() as mp:
        iso.apply_isolation(mp, uv_cache)
        yield


@pytest.fixture(autouse=True)
def envlayers_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    path = tmp_path_factory.mktemp("envlayers-cache")
    monkeypatch.setenv("ENVLAYERS_CACHE_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"), STANDARD_WHEELS)


@pytest.fixture(scope="session")
def python_versions() -> list[Path]:
    return iso.find_pythons()


@pytest.fixture(params=["pip", "uv"], ids=["pip", "uv"])
def installer_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def make_venv(tmp_path: Path) -> iso.MakeVenv:
    def make(python: str | os.PathLike[str] | None = None, name: str = "venv") -> Path:
        dest, n = tmp_path / name, 1
        while dest.exists():
            n += 1
            dest = tmp_path / f"{name}-{n}"
        return iso.create_venv(dest, python)

    return make


def _bound(installer: str, wheelhouse: Path) -> iso.InstallFn:
    def run(
        venv: Path,
        *reqs: str,
        editable: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        return iso.install(
            installer,
            venv,
            *reqs,
            find_links=[wheelhouse],
            editable=editable,
            extra_args=extra_args,
            check=check,
        )

    return run


@pytest.fixture
def pip_install(wheelhouse: Path) -> iso.InstallFn:
    return _bound("pip", wheelhouse)


@pytest.fixture
def uv_install(wheelhouse: Path) -> iso.InstallFn:
    return _bound("uv", wheelhouse)


@pytest.fixture
def install(installer_name: str, wheelhouse: Path) -> iso.InstallFn:
    return _bound(installer_name, wheelhouse)
