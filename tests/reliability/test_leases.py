"""Layers in use are leased: prune and remove never pull a layer from under a composition.

Real processes: eight `env` runs and a `layers prune --older-than 0` loop race on one cache;
every run that exits 0 leaves a composition whose interpreter imports the layer's package."""

from __future__ import annotations

import json
import marshal
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from envlayers.core.engine import Engine
from tests.support.cli import cli, run_in
from tests.support.processes import spawn
from tests.support.workspaces import uv_workspace, workspace

pytestmark = pytest.mark.slow


def _json(*args: str) -> Any:
    out = cli(*args, "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _version(python: str, name: str) -> str:
    code = f"import importlib.metadata as m, {name}; {name}.WHERE; print(m.version({name!r}))"
    out = run_in(python, code)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_eight_envs_and_a_prune_loop_never_leave_a_broken_composition(
    tmp_path: Path, wheelhouse: Path
) -> None:
    roots = [uv_workspace(tmp_path / f"w{i}", wheelhouse, name=f"app{i}") for i in range(8)]
    for root in roots:
        Engine().sync(root)
    stop = threading.Event()
    prunes: list[int] = []

    def prune_loop() -> None:
        # In this process (no interpreter start-up between prunes): a tight loop, the
        # prune a user's extension runs, racing the `env` processes.
        while not stop.is_set():
            removed = Engine().prune_layers(older_than_days=0)["removed"]
            assert isinstance(removed, list)
            prunes.append(len(removed))

    pruner = threading.Thread(target=prune_loop)
    pruner.start()
    try:
        # Each round drops the previous round's compositions: their layer falls out of use
        # and the loop prunes it while the next round builds, or finds and reuses, layers.
        for package in ("plugin", "epsilon") * 3:
            for root in roots:
                for entry in _compositions(root):
                    Engine().remove_composition(root, entry["name"])
            args = ("env", "--no-sync", "--with", package, "--format", "json")
            children = [spawn(*args, "--project", str(root)) for root in roots]
            for code, out, err in (child.result() for child in children):
                assert code == 0, err
                report = json.loads(out)
                assert _version(report["interpreter"], package) == "1.0", err
    finally:
        stop.set()
        pruner.join()
    assert sum(prunes) > 0  # the loop did remove unused layers meanwhile


def _compositions(root: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = Engine().list_compositions(root)
    return rows


def test_remove_refuses_a_used_layer_and_force_invalidates(
    tmp_path: Path, wheelhouse: Path
) -> None:
    ws = uv_workspace(tmp_path / "ws", wheelhouse)
    report = _json("env", "--project", str(ws), "--with", "plugin")
    key = report["layers"][0]["key"]
    refused = cli("layers", "remove", key, "--format", "json")
    assert refused.returncode != 0
    assert "--force" in refused.stderr and str(ws / ".envlayers") in refused.stderr
    assert _version(report["interpreter"], "plugin") == "1.0"  # untouched
    assert [c["valid"] for c in _json("compositions", "list", "--project", str(ws))] == [True]

    assert _json("layers", "remove", key, "--force") == {"removed": [key]}
    assert [c["valid"] for c in _json("compositions", "list", "--project", str(ws))] == [False]
    gone = Engine().report(ws)  # the active composition's report
    assert gone.name is None and any("envlayers env" in w for w in gone.warnings)
    again = _json("env", "--project", str(ws), "--with", "plugin")
    assert again["layers"][0]["reused"] is False and not again["warnings"]
    assert _version(again["interpreter"], "plugin") == "1.0"
    assert [c["valid"] for c in _json("compositions", "list", "--project", str(ws))] == [True]


def test_prune_keeps_used_layers(tmp_path: Path, wheelhouse: Path) -> None:
    ws = uv_workspace(tmp_path / "ws", wheelhouse)
    report = _json("env", "--project", str(ws), "--with", "plugin")
    assert _json("layers", "prune", "--older-than", "0")["removed"] == []
    assert _version(report["interpreter"], "plugin") == "1.0"


def _stored_reports(ws: Path) -> list[str]:
    blob = (ws / ".envlayers" / "report-cache.bin").read_bytes()
    entries = marshal.loads(blob[blob.index(b"\n") + 1 :])
    return [json.dumps(e["report"]) for e in entries.values()]


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_a_layer_that_lost_a_file_is_noticed_and_rebuilt_by_plain_env(
    installer: str, tmp_path: Path, wheelhouse: Path
) -> None:
    ws = workspace(tmp_path / "ws", installer, wheelhouse, dependencies=("beta",))
    args = ("env", "--project", str(ws), "--with", "plugin")
    first = _json(*args)
    layer = Path(first["layers"][0]["path"])
    assert _json(*args)["layers"][0]["reused"] is True  # the stored report (fast path)
    (module,) = layer.glob("lib/python*/site-packages/plugin/__init__.py")
    module.unlink()
    assert run_in(first["interpreter"], "from plugin import WHERE").returncode != 0
    again = _json(*args)  # not the stored report: the layer's top-level folder changed
    assert not again["warnings"]
    assert _version(again["interpreter"], "plugin") == "1.0"


def test_a_damaged_report_is_never_stored_for_the_fast_path(
    tmp_path: Path, wheelhouse: Path
) -> None:
    ws = uv_workspace(tmp_path / "ws", wheelhouse)
    first = _json("env", "--project", str(ws), "--with", "plugin")
    shutil.rmtree(first["layers"][0]["path"])  # gone behind envlayers' back
    synced = _json("sync", "--project", str(ws))
    assert any("missing or damaged" in w for w in synced["warnings"])
    assert not any("missing or damaged" in r for r in _stored_reports(ws))
    again = _json("env", "--project", str(ws), "--with", "plugin")
    assert not again["warnings"]
    assert _version(again["interpreter"], "plugin") == "1.0"
