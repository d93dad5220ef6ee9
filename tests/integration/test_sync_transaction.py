"""Sync is a transaction: a `--python` that `requires-python` excludes is refused before anything
is written; a base that must be recreated is built aside and swapped in only once its install
succeeded (its console scripts then run from the real path); a failed install into an existing
base leaves it exactly as it was. With real pip and real uv, from tiny offline wheels."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from envlayers.core.venv import read_pyvenv_cfg
from tests.support.cli import cli, run_in
from tests.support.disk import snapshot
from tests.support.isolation import uv_bin
from tests.support.wheels import build_wheel
from tests.support.workspaces import workspace

pytestmark = pytest.mark.slow


def _sync(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("sync", "--project", str(ws), *args)


def _siblings(ws: Path) -> list[str]:
    """Whatever a sync left beside the venv (temporary builds, backups, trash)."""
    return sorted(
        n for n in os.listdir(ws) if n.startswith(".") and n not in (".venv", ".envlayers")
    )


def _requires_python_line(ws: Path) -> int:
    lines = (ws / "pyproject.toml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith("requires-python"))


@pytest.mark.parametrize("case", ["plain", "installable", "uv.lock"])
def test_python_outside_requires_python_is_refused_and_changes_nothing(
    case: str, installer_name: str, tmp_path: Path, wheelhouse: Path
) -> None:
    ws = workspace(
        tmp_path / "ws",
        installer_name,
        wheelhouse,
        dependencies=("beta",),
        requires_python=">=3.10",
        build_system=case == "installable",
    )
    if case == "uv.lock":
        lock = [uv_bin(), "lock", "--offline", "--no-index", "--find-links", str(wheelhouse)]
        subprocess.run(lock, cwd=ws, check=True, capture_output=True)
    first = _sync(ws)
    assert first.returncode == 0, first.stderr
    python = ws / ".venv" / "bin" / "python"
    before = snapshot(ws / ".venv")
    lock_before = (ws / "uv.lock").read_bytes() if case == "uv.lock" else b""

    refused = _sync(ws, "--python", "3.9")

    assert refused.returncode == 2, refused.stdout + refused.stderr
    where = f"{ws / 'pyproject.toml'}:{_requires_python_line(ws)}"
    assert where in refused.stderr, refused.stderr
    assert "requires-python" in refused.stderr and ">=3.10" in refused.stderr
    assert "Python 3.9." in refused.stderr and "/3.9." in refused.stderr  # version and path
    assert snapshot(ws / ".venv") == before  # not one file of the base changed
    assert read_pyvenv_cfg(ws / ".venv")["version_info"].startswith("3.12")
    assert run_in(python, "import beta").returncode == 0
    assert _siblings(ws) == []
    if case == "uv.lock":
        assert (ws / "uv.lock").read_bytes() == lock_before


def test_a_fitting_python_change_is_still_made(tmp_path: Path, wheelhouse: Path) -> None:
    ws = workspace(
        tmp_path / "ws", "uv", wheelhouse, dependencies=("beta",), requires_python=">=3.10"
    )
    assert _sync(ws).returncode == 0
    moved = _sync(ws, "--python", "3.11", "--format", "json")
    assert moved.returncode == 0, moved.stderr
    assert read_pyvenv_cfg(ws / ".venv")["version_info"].startswith("3.11")


def test_recreated_base_runs_its_console_scripts_from_the_real_path(
    installer_name: str, tmp_path: Path, wheelhouse: Path
) -> None:
    ws = workspace(tmp_path / "ws", installer_name, wheelhouse, dependencies=("beta", "zeta"))
    assert _sync(ws).returncode == 0
    moved = _sync(ws, "--python", "3.11")  # recreated: built aside, swapped in
    assert moved.returncode == 0, moved.stderr
    venv = ws / ".venv"
    assert read_pyvenv_cfg(venv)["version_info"].startswith("3.11")
    tool = subprocess.run(
        [str(venv / "bin" / "beta-tool")], capture_output=True, text=True, check=False
    )
    assert tool.returncode == 0 and "beta-tool from beta" in tool.stdout, tool.stderr
    zeta = subprocess.run([str(venv / "bin" / "zeta")], capture_output=True, text=True, check=False)
    assert zeta.returncode == 0, zeta.stderr
    assert str(venv / "bin" / "python") in zeta.stdout  # sys.executable is the real venv's
    # Nothing in the swapped-in venv names the temporary folder it was built in.
    for dirpath, _dirs, files in os.walk(venv):
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink() or name.endswith(".pyc"):
                continue
            assert b".venv.tmp-" not in path.read_bytes(), path
    assert _siblings(ws) == []
    assert run_in(venv / "bin" / "python", "import demo_app, beta").returncode == 0


def test_failed_recreate_keeps_the_old_base(
    installer_name: str, tmp_path: Path, wheelhouse: Path
) -> None:
    ws = workspace(tmp_path / "ws", installer_name, wheelhouse, dependencies=("beta",))
    assert _sync(ws).returncode == 0
    before = snapshot(ws / ".venv")
    workspace(ws, installer_name, wheelhouse, dependencies=("beta", "nosuchpackage"))
    failed = _sync(ws, "--python", "3.11")
    assert failed.returncode != 0 and "nosuchpackage" in failed.stderr
    assert snapshot(ws / ".venv") == before
    assert read_pyvenv_cfg(ws / ".venv")["version_info"].startswith("3.12")
    tool = subprocess.run(
        [str(ws / ".venv" / "bin" / "beta-tool")], capture_output=True, text=True, check=False
    )
    assert tool.returncode == 0, tool.stderr
    assert _siblings(ws) == []


def _clash_wheel(folder: Path) -> Path:
    """`clash 1.0`: needs `plugin`, and ships a file `beta` where the base has the folder
    `beta/`: the installer fails in the middle of writing into the venv."""
    build_wheel(
        folder,
        "clash",
        "1.0",
        requires=["plugin"],
        modules={"beta": "not a package\n", "clash/__init__.py": ""},
    )
    return folder


def test_failed_install_into_the_base_leaves_it_exactly_as_it_was(
    installer_name: str, tmp_path: Path, wheelhouse: Path
) -> None:
    links = _clash_wheel(tmp_path / "links")
    ws = workspace(tmp_path / "ws", installer_name, wheelhouse, links, dependencies=("beta",))
    assert _sync(ws).returncode == 0
    python = ws / ".venv" / "bin" / "python"
    before = snapshot(ws / ".venv")
    workspace(ws, installer_name, wheelhouse, links, dependencies=("beta", "clash"))

    failed = _sync(ws)

    assert failed.returncode != 0
    assert "clash" in failed.stderr and "Is a directory" in failed.stderr, failed.stderr
    assert snapshot(ws / ".venv") == before  # what the installer wrote was undone
    probe = "import beta, demo_app; import importlib.util as u; print(u.find_spec('plugin'))"
    done = run_in(python, probe)
    assert done.returncode == 0 and done.stdout.strip() == "None", done.stderr
    assert _siblings(ws) == []
    # The next sync that can succeed does.
    workspace(ws, installer_name, wheelhouse, links, dependencies=("beta", "plugin"))
    assert _sync(ws).returncode == 0
    assert run_in(python, "import plugin, beta").returncode == 0


def test_a_committed_copy_beside_the_venv_is_never_put_back(
    tmp_path: Path, wheelhouse: Path
) -> None:
    """A repository commits `..venv.bak-*` (a venv with envlayers' marker and a package of its
    own) and a rollback record in `.venv` naming it: the record cannot name that folder's
    identity, so the next sync does not put it in place of the venv."""
    ws = workspace(tmp_path / "ws", "uv", wheelhouse, dependencies=("beta",))
    assert _sync(ws).returncode == 0
    venv = ws / ".venv"
    planted = ws / "..venv.bak-0123abcd"  # the name envlayers gives its copy
    subprocess.run(["cp", "-a", str(venv), str(planted)], check=True)
    site = next(planted.glob("lib/python*/site-packages"))
    (site / "planted.py").write_text("print('planted')\n", encoding="utf-8")
    st = os.lstat(planted)
    record = {"backup": planted.name, "dev": st.st_dev, "ino": st.st_ino + 1}
    (venv / ".envlayers-rollback.json").write_text(json.dumps(record), encoding="utf-8")
    result = _sync(ws)
    assert result.returncode == 0, result.stderr
    assert "putting the environment back" not in result.stderr
    assert run_in(str(venv / "bin" / "python"), "import planted").returncode != 0
    assert not (venv / ".envlayers-rollback.json").exists()


@pytest.mark.parametrize(
    "record",
    ['{"backup": "../outside", "dev": 1, "ino": 1}', '{"backup": ""}', "[1, 2]", "not json"],
    ids=["path", "empty", "not-an-object", "not-json"],
)
def test_a_rollback_record_that_names_no_copy_is_ignored(
    record: str, tmp_path: Path, wheelhouse: Path
) -> None:
    """The record is read from the venv, so it is untrusted: a name that is a path, or no
    name at all, is ignored (and removed), never followed; the sync goes on."""
    ws = workspace(tmp_path / "ws", "uv", wheelhouse, dependencies=("beta",))
    assert _sync(ws).returncode == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine\n", encoding="utf-8")
    before = snapshot(tmp_path, skip=[ws])
    venv = ws / ".venv"
    (venv / ".envlayers-rollback.json").write_text(record, encoding="utf-8")
    result = _sync(ws)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert not (venv / ".envlayers-rollback.json").exists()
    assert snapshot(tmp_path, skip=[ws]) == before
    assert run_in(str(venv / "bin" / "python"), "import beta").returncode == 0
