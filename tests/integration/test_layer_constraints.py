"""Layers are resolved against the base: they keep the project's versions of shared
dependencies (as `uv run --with` does); a `--with` request that forces one change drops that
pin only, and the conflict names every requirement it breaks, the base's own included.

The wheels mirror the issue's `httpx[cli]` / `rich` case: the project needs `httpx[cli]`
(`rich<15` behind the `cli` extra) and `pygments<2.19`; `fancy` needs `rich>=15` and
`pygments`; `pygtool` needs `pygments` only."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from envlayers.core import interpreter as _interp
from envlayers.core.conflicts import find_conflicts
from envlayers.core.inventory import Inventory
from tests.support import isolation as iso
from tests.support.cli import cli
from tests.support.wheels import WheelSpec, build_wheelhouse
from tests.support.workspaces import BASE_PYTHON, workspace

pytestmark = pytest.mark.slow

SPECS = (
    WheelSpec("rich", "14.3.4"),
    WheelSpec("rich", "15.0"),
    WheelSpec("httpx", "1.0", extras={"cli": ("rich<15",)}),
    WheelSpec("pygments", "2.17"),
    WheelSpec("pygments", "2.18"),
    WheelSpec("pygments", "2.19"),
    WheelSpec("fancy", "1.0", requires=("rich>=15", "pygments")),
    WheelSpec("pygtool", "1.0", requires=("pygments",)),
    WheelSpec("needy", "1.0", requires=("pygments<2.18",)),
)


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheelhouse(tmp_path_factory.mktemp("rich-house"), SPECS)


def _json(*args: str) -> Any:
    out = cli(*args, "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _versions(python: str, *names: str) -> dict[str, str]:
    code = (
        "import importlib, importlib.metadata as m, json, sys\n"
        "names = sys.argv[1:]\n"
        "[importlib.import_module(n) for n in names]\n"
        "print(json.dumps({n: m.version(n) for n in names}))\n"
    )
    out = subprocess.run(
        [python, "-c", code, *names], capture_output=True, text=True, check=False, timeout=60
    )
    assert out.returncode == 0, out.stderr
    versions: dict[str, str] = json.loads(out.stdout)
    return versions


def _ws(root: Path, installer: str, house: Path, pygments: str = "pygments<2.19") -> Path:
    return workspace(
        root, installer, house, dependencies=("httpx[cli]", pygments), build_system=False
    )


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_one_forced_change_keeps_every_other_base_version(
    installer: str, tmp_path: Path, house: Path
) -> None:
    ws = _ws(tmp_path / "ws", installer, house)
    report = _json("env", "--project", str(ws), "--with", "fancy")
    # rich must move (fancy needs >=15); pygments stays the project's 2.18, not the newest.
    got = _versions(report["interpreter"], "rich", "pygments", "httpx", "fancy")
    assert got == {"rich": "15.0", "pygments": "2.18", "httpx": "1.0", "fancy": "1.0"}
    (rich,) = [c for c in report["conflicts"] if c["name"] == "rich"]
    assert rich["version"] == "15.0"
    assert rich["shadows"] == [{"version": "14.3.4", "source": "workspace"}]
    assert rich["breaks"] == ["httpx 1.0 requires rich<15"]  # the base's own requirement
    assert [c["name"] for c in report["conflicts"]] == ["rich"]


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_layers_resolved_for_other_base_versions_are_not_reused(
    installer: str, tmp_path: Path, house: Path
) -> None:
    a = _ws(tmp_path / "a", installer, house)
    b = _ws(tmp_path / "b", installer, house, pygments="pygments==2.17")
    same = _ws(tmp_path / "same", installer, house)
    ra = _json("env", "--project", str(a), "--with", "pygtool")
    rb = _json("env", "--project", str(b), "--with", "pygtool")
    rs = _json("env", "--project", str(same), "--with", "pygtool")
    assert _versions(ra["interpreter"], "pygments", "pygtool")["pygments"] == "2.18"
    assert _versions(rb["interpreter"], "pygments", "pygtool")["pygments"] == "2.17"
    assert ra["layers"][0]["key"] != rb["layers"][0]["key"]
    assert rb["layers"][0]["reused"] is False
    # The common case still shares: the same base versions, the same layer.
    assert rs["layers"][0]["key"] == ra["layers"][0]["key"] and rs["layers"][0]["reused"]
    assert _versions(rs["interpreter"], "pygments")["pygments"] == "2.18"
    assert not rb["conflicts"]


def test_a_layer_requirement_the_base_version_breaks_is_a_conflict(
    tmp_path: Path, house: Path, python_versions: list[Path]
) -> None:
    """`needy` (in the layer, without its dependency) needs pygments<2.18; the base's 2.18 wins."""
    base = iso.create_venv(tmp_path / "base", _python(python_versions))
    iso.install("uv", base, "pygments==2.18", find_links=[house])
    layer = iso.create_venv(tmp_path / "layer", _python(python_versions))
    iso.install("uv", layer, "needy", find_links=[house], extra_args=["--no-deps"])
    (base_site,) = base.glob("lib/python*/site-packages")
    (layer_site,) = layer.glob("lib/python*/site-packages")
    env = _interp.probe(base / "bin" / "python").marker_env
    sources = [("L1", Inventory.scan([layer_site])), ("workspace", Inventory.scan([base_site]))]
    (conflict,) = find_conflicts(sources, env)
    assert (conflict.name, conflict.version, conflict.source) == ("pygments", "2.18", "workspace")
    assert conflict.breaks == ("needy 1.0 requires pygments<2.18",)


def _python(versions: list[Path]) -> Path:
    return next(p for p in versions if BASE_PYTHON in str(p))
