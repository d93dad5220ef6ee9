"""A distribution left half-installed (an install cut short by a full disk: a `*.dist-info`
holding only `RECORD`) is not installed: the next sync repairs it, with pip and with uv."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from envlayers.core.engine import Engine
from envlayers.core.inventory import Inventory
from tests.support.cli import cli, run_in
from tests.support.workspaces import workspace

pytestmark = pytest.mark.slow


def _site(ws: Path) -> Path:
    (site,) = (ws / ".venv" / "lib").glob("python3.*/site-packages")
    return site


def _cut_short(ws: Path, name: str, wheelhouse: Path) -> Path:
    """An install of `name` that a full disk cut short: its dist-info holds RECORD only and
    the module was never written (the project already asks for it: the edit came first)."""
    text = (ws / "pyproject.toml").read_text(encoding="utf-8")
    (ws / "pyproject.toml").write_text(text.replace('"beta"', f'"beta", "{name}"'), "utf-8")
    (wheel,) = wheelhouse.glob(f"{name}-1.0-*.whl")
    info = _site(ws) / f"{name}-1.0.dist-info"
    info.mkdir()
    with zipfile.ZipFile(wheel) as zf:
        (info / "RECORD").write_bytes(zf.read(f"{name}-1.0.dist-info/RECORD"))
    return info


def test_a_metadata_less_dist_info_is_broken_not_installed(
    tmp_path: Path, wheelhouse: Path
) -> None:
    ws = workspace(tmp_path / "ws", "uv", wheelhouse, dependencies=("beta",))
    Engine().sync(ws)
    info = _cut_short(ws, "gamma", wheelhouse)
    inventory = Inventory.scan([_site(ws)])
    assert "gamma" not in inventory and "beta" in inventory
    assert [d.path for d in inventory.broken] == [info]


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_next_sync_repairs_a_half_installed_distribution(
    installer: str, tmp_path: Path, wheelhouse: Path
) -> None:
    ws = workspace(tmp_path / "ws", installer, wheelhouse, dependencies=("beta",))
    Engine().sync(ws)
    python = ws / ".venv" / "bin" / "python"
    _cut_short(ws, "gamma", wheelhouse)
    assert run_in(python, "import gamma").returncode != 0
    assert Engine().report(ws).sync.state == "out-of-sync"  # never in-sync while broken
    again = cli("sync", "--project", str(ws), "--format", "json")
    assert again.returncode == 0, again.stderr
    assert "gamma" in again.stderr  # the repair is reported by name
    assert "gamma==1.0" in again.stdout  # and installed again
    assert run_in(python, "import gamma, beta").returncode == 0
    assert Inventory.scan([_site(ws)]).broken == ()
    # uv reads every dist-info of the env: it must not trip over a leftover either.
    for other in ("uv", "pip"):
        later = cli("sync", "--project", str(ws), "--installer", other, "--exact")
        assert later.returncode == 0, later.stderr
