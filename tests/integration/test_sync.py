"""Syncing the base: no-op without processes, inexact by default, exact on request, groups,
extras, lock files, interpreter changes, and bad input that changes nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from envlayers.config import Options
from envlayers.core.engine import Engine
from envlayers.core.errors import InterpreterNotFound, InvalidInput
from envlayers.core.inventory import Inventory
from envlayers.core.venv import read_pyvenv_cfg
from tests.support.cli import cli, run_in
from tests.support.isolation import uv_bin
from tests.support.projects import write_project
from tests.support.wheels import build_wheel
from tests.support.workspaces import tool_table, workspace

pytestmark = pytest.mark.slow


def _site(ws: Path) -> Path:
    (site,) = (ws / ".venv" / "lib").glob("python3.*/site-packages")
    return site


def _versions(ws: Path) -> dict[str, str]:
    return Inventory.scan([_site(ws)]).versions()


class _NoProcess:
    """Fails the test if anything spawns a process."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError(f"a process was spawned: {args!r}")

        monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


def test_sync_then_noop_spawns_nothing(
    tmp_path: Path, installer_name: str, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace(tmp_path / "ws", installer_name, wheelhouse)
    first = Engine().sync(ws)
    assert first.sync.state == "in-sync"
    assert {"alpha==1.0", "beta==1.0", "gamma==1.0", "zeta==1.0", "demo-app==0.1.0"} <= set(
        first.sync.installed
    )
    assert run_in(first.interpreter, "import demo_app, beta").returncode == 0
    _NoProcess(monkeypatch)
    again = Engine().sync(ws)  # a fresh engine: only the on-disk stamp and probe cache help
    assert again.sync.state == "in-sync" and again.sync.installed == ()
    assert Engine().report(ws).sync.state == "in-sync"


def test_edit_of_pyproject_makes_it_out_of_sync_then_installs_only_the_new(
    tmp_path: Path, installer_name: str, wheelhouse: Path
) -> None:
    ws = workspace(tmp_path / "ws", installer_name, wheelhouse, dependencies=("beta",))
    engine = Engine()
    engine.sync(ws)
    workspace(ws, installer_name, wheelhouse, dependencies=("beta", "plugin"))
    assert engine.sync_state(ws) == "out-of-sync"
    report = engine.sync(ws)
    assert report.sync.installed == ("plugin==1.0",)
    assert engine.sync_state(ws) == "in-sync"


def test_inexact_keeps_hand_installed_and_exact_removes_it(
    tmp_path: Path, installer_name: str, wheelhouse: Path, install: object
) -> None:
    ws = workspace(tmp_path / "ws", installer_name, wheelhouse, dependencies=("beta",))
    engine = Engine()
    engine.sync(ws)
    assert callable(install)
    # By hand, as a user would; a (tiny, fake) pip too: exact sync must keep it.
    extra = build_wheel(tmp_path / "extra", "pip", "99.0").parent
    install(ws / ".venv", "plugin", "pip", extra_args=("--find-links", str(extra)))
    report = engine.sync(ws)
    assert "plugin" in report.sync.extraneous and "plugin" in _versions(ws)
    exact = engine.sync(ws, Options(exact=True))
    assert "plugin==1.0" in exact.sync.removed
    versions = _versions(ws)
    assert "plugin" not in versions and "pip" in versions and "beta" in versions


def test_groups_extras_and_no_dev(tmp_path: Path, installer_name: str, wheelhouse: Path) -> None:
    ws = workspace(
        tmp_path / "ws",
        installer_name,
        wheelhouse,
        dependencies=("alpha",),
        optional={"fancy": ["epsilon"]},
        groups={"dev": ["plugin"], "docs": ["eta"], "all": [{"include-group": "docs"}]},
    )
    engine = Engine()
    engine.sync(ws, Options(no_dev=True))
    assert "plugin" not in _versions(ws)
    engine.sync(ws)
    assert "plugin" in _versions(ws) and "eta" not in _versions(ws)
    engine.sync(ws, Options(groups=("all",), extras=("fancy",)))
    assert {"eta", "epsilon"} <= set(_versions(ws))
    with pytest.raises(InvalidInput, match="nosuchgroup"):
        engine.sync(ws, Options(groups=("nosuchgroup",)))


def test_pylock_is_installed_exactly(tmp_path: Path, installer_name: str, wheelhouse: Path) -> None:
    ws = workspace(
        tmp_path / "ws", installer_name, wheelhouse, dependencies=("alpha",), build_system=False
    )
    (ws / "pylock.toml").write_text(
        'lock-version = "1.0"\ncreated-by = "test"\n\n'
        '[[packages]]\nname = "alpha"\nversion = "1.0"\n'
        f'[[packages.wheels]]\nname = "alpha-1.0-py3-none-any.whl"\nurl = "{(wheelhouse / "alpha-1.0-py3-none-any.whl").as_uri()}"\n'
        'hashes = {sha256 = "0000"}\n',
        encoding="utf-8",
    )
    report = Engine().sync(ws)
    assert _versions(ws).get("alpha") == "1.0"
    assert report.sync.state == "in-sync"


def test_interpreter_change_recreates_the_venv_and_bad_request_changes_nothing(
    tmp_path: Path, installer_name: str, wheelhouse: Path
) -> None:
    ws = workspace(tmp_path / "ws", installer_name, wheelhouse, dependencies=("beta",))
    engine = Engine()
    engine.sync(ws)
    assert read_pyvenv_cfg(ws / ".venv")["version_info"].startswith("3.12")
    before = sorted(p.name for p in _site(ws).iterdir())
    with pytest.raises(InterpreterNotFound, match=r"2\.5"):
        engine.sync(ws, Options(python="2.5"))
    assert sorted(p.name for p in _site(ws).iterdir()) == before
    report = engine.sync(ws, Options(python="3.11"))
    assert report.python_version.startswith("3.11")
    assert run_in(report.interpreter, "import beta").returncode == 0


def test_malformed_pyproject_is_exit_2_with_file_and_line(tmp_path: Path, wheelhouse: Path) -> None:
    ws = tmp_path / "ws"
    write_project(ws, dependencies=("beta",), tool=tool_table("uv", wheelhouse), build_system=False)
    good = cli("sync", "--project", str(ws))
    assert good.returncode == 0, good.stderr
    text = (ws / "pyproject.toml").read_text()
    (ws / "pyproject.toml").write_text(
        text.replace('dependencies = ["beta"]', 'dependencies = ["beta>>1"]')
    )
    bad = cli("sync", "--project", str(ws))
    assert bad.returncode == 2
    assert "pyproject.toml:" in bad.stderr and "beta>>1" in bad.stderr
    (ws / "pyproject.toml").write_text(text + "\n[tool.envlayers.bogus\n")
    broken = cli("sync", "--project", str(ws))
    assert broken.returncode == 2 and "pyproject.toml" in broken.stderr
    assert run_in(ws / ".venv" / "bin" / "python", "import beta").returncode == 0


def test_uv_lock_is_honoured_through_uv(tmp_path: Path, wheelhouse: Path) -> None:
    ws = workspace(
        tmp_path / "ws",
        "uv",
        wheelhouse,
        dependencies=("beta",),
        groups={"dev": ["plugin"]},
        build_system=False,
    )
    # Lock with alpha pinned at 1.0, then drop the pin from pyproject.toml: resolving
    # pyproject.toml would now pick alpha 2.0, so 1.0 proves the lock decided.
    text = (ws / "pyproject.toml").read_text()
    (ws / "pyproject.toml").write_text(text.replace('["beta"]', '["beta", "alpha==1.0"]'))
    # UV_NO_CONFIG (test isolation) hides [tool.uv], so the index flags go on the command line.
    cmd = [uv_bin(), "lock", "--offline", "--no-index", "--find-links", str(wheelhouse)]
    subprocess.run(cmd, cwd=ws, check=True, capture_output=True)
    (ws / "pyproject.toml").write_text(text)
    assert (ws / "uv.lock").exists()
    report = Engine().sync(ws)
    versions = _versions(ws)
    assert versions.get("alpha") == "1.0" and "beta" in versions and "plugin" in versions
    assert report.sync.state == "in-sync"
    Engine().sync(ws, Options(no_dev=True, exact=True))
    assert "plugin" not in _versions(ws)


def _imports(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    import sys

    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "envlayers", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    mods = {
        line.split("|")[-1].strip() for line in out.stderr.splitlines() if "import time:" in line
    }
    return out, mods


def test_repeated_env_and_sync_take_the_fast_path_until_an_input_changes(
    tmp_path: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace(tmp_path / "ws", "uv", wheelhouse, dependencies=("beta",))
    first = cli("env", "--project", str(ws), "--with", "plugin", "--format", "json")
    assert first.returncode == 0, first.stderr
    again, mods = _imports("env", "--project", str(ws), "--with", "plugin", "--format", "json")
    assert again.returncode == 0
    import json

    assert json.loads(again.stdout)["interpreter"] == json.loads(first.stdout)["interpreter"]
    # No engine, no installer, no packaging: the stored report was printed after a stat compare.
    assert "envlayers.core.engine" not in mods and "packaging" not in mods
    assert "subprocess" not in mods and "argparse" not in mods
    _, mods = _imports("sync", "--project", str(ws))
    assert "envlayers.core.engine" in mods  # sync has not been stored yet
    _, mods = _imports("sync", "--project", str(ws))
    assert "envlayers.core.engine" not in mods
    # An edit of pyproject.toml is seen: the engine runs again and installs the new dependency.
    workspace(ws, "uv", wheelhouse, dependencies=("beta", "epsilon"))
    _, mods = _imports("env", "--project", str(ws), "--with", "plugin", "--format", "json")
    assert "envlayers.core.engine" in mods
    assert "epsilon" in _versions(ws)
    # A wheel rebuilt in place in a find-links folder is seen too: a new layer key. (uv only
    # revalidates its cache online; --no-index keeps this local all the same.)
    monkeypatch.setenv("UV_OFFLINE", "0")
    links = tmp_path / "links"
    build_wheel(links, "localonly", "1.0", modules={"localonly/__init__.py": "V = 1\n"})
    args = (
        "env",
        "--project",
        str(ws),
        "--with",
        "localonly",
        "--find-links",
        str(links),
        "--format",
        "json",
    )
    one = json.loads(cli(*args).stdout)
    fast, mods = _imports(*args)
    assert (
        "envlayers.core.engine" not in mods
        and json.loads(fast.stdout)["layers"][0]["key"] == one["layers"][0]["key"]
    )
    rebuilt = build_wheel(links, "localonly", "1.0", modules={"localonly/__init__.py": "V = 2\n"})
    # Real rebuilds are seconds apart; uv's own cache judges local files by their timestamp.
    st = rebuilt.stat()
    os.utime(rebuilt, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    two = json.loads(cli(*args).stdout)
    assert two["layers"][0]["key"] != one["layers"][0]["key"]
    assert run_in(two["interpreter"], "import localonly; print(localonly.V)").stdout.strip() == "2"
