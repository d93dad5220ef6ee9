"""A second, independent client (Node + vscode-languageserver-protocol) sees the same report.

The wire contract is what any editor gets: this drives the real server from Node and compares
its `envlayers.report` answer with the CLI's `envlayers env --format json`; every answer also
passes the decoders generated from the server's schema (strictly), and the CLI's report
validates against that schema.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envlayers import schema as wire
from tests.support.lsp import workspace_project

pytestmark = [pytest.mark.lsp, pytest.mark.slow]

NODE_WIRE = Path(__file__).parent / "node_wire"
NODE = shutil.which("node")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _cli(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "envlayers", *args, "--project", str(ws)]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, f"{cmd}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _node_modules() -> None:
    if (NODE_WIRE / "node_modules" / "vscode-languageserver-protocol").is_dir():
        return
    npm = shutil.which("npm")
    # Offline: only npm's local cache; the Makefile's `npm ci` is the online step.
    proc = subprocess.run(
        [npm or "npm", "ci", "--offline", "--no-audit", "--no-fund"],
        cwd=NODE_WIRE,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"run `npm ci` in {NODE_WIRE} first:\n{proc.stderr[-2000:]}")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_node_client_gets_the_cli_report(tmp_path: Path, wheelhouse: Path) -> None:
    _node_modules()
    ws = workspace_project(
        tmp_path / "ws", wheelhouse, extra_tool='[tool.envlayers.profiles.extra]\nwith = ["beta"]\n'
    )
    _cli(ws, "env", "--with", "beta", "--format", "json")  # builds the layer
    expected = json.loads(_cli(ws, "env", "--no-sync", "--with", "beta", "--format", "json").stdout)
    assert expected["layers"], "the composition should hold a layer"
    wire.validate(wire.build_schema(), expected, "Report")
    (ws / ".envlayers" / ".tmp-build").mkdir()  # a half-built composition is never listed

    assert NODE is not None
    proc = subprocess.run(
        [NODE, "wire.mjs", sys.executable, str(ws)],
        cwd=NODE_WIRE,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["serverInfo"]["name"] == "envlayers"
    assert "envlayers.report" in out["commands"]
    assert out["report"] == expected
    assert out["decodeErrors"] == []
    assert [row["key"] for row in out["layers"]] == [la["key"] for la in expected["layers"]]
    if "envlayers.listCompositions" in out["commands"]:
        names = [row["name"] for row in out["compositions"]]
        assert names == [expected["name"]]
    if "envlayers.listProfiles" in out["commands"]:
        assert [p["name"] for p in out["profiles"]] == ["extra"]
        assert out["profiles"][0]["with"] == ["beta"]
    assert out["error"]["data"]["kind"] == "invalid-input"
    assert -32099 <= out["error"]["code"] <= -32000
    assert out["exitCode"] == 0
