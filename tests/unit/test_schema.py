"""The wire contract (`envlayers.schema`): the checked-in copy is what the server emits now, it
is derived from the Python types, and real answers of the real CLI validate against it."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envlayers import schema as wire
from envlayers.core.report import Report, SyncInfo
from tests.support.lsp import workspace_project

REPO = Path(__file__).resolve().parents[2]
CHECKED_IN = REPO / "vscode-extension" / "src" / "generated" / "schema.json"


def test_the_checked_in_schema_is_what_the_server_emits() -> None:
    # Drift fails here: regenerate with
    #   python -m envlayers.schema > vscode-extension/src/generated/schema.json
    #   (cd vscode-extension && node scripts/gen-protocol.js)
    assert CHECKED_IN.read_text(encoding="utf-8") == wire.dumps()


def test_the_module_prints_the_schema() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-m", "envlayers.schema"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert proc.stdout == wire.dumps()
    assert json.loads(proc.stdout)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_report_keys_come_from_the_dataclass_and_match_to_json() -> None:
    report = Report(
        workspace="/w",
        interpreter="/w/.venv/bin/python",
        base_interpreter="/w/.venv/bin/python",
        python_version="3.12.1",
        virtual_env="/w/.venv",
        sys_path=("/w/.venv/lib/site-packages",),
        path_prefix=("/w/.venv/bin",),
        layers=(),
        satisfied_by_base=(),
        conflicts=(),
        sync=SyncInfo(state="in-sync"),
    )
    defs = wire.build_schema()["$defs"]
    assert list(defs["Report"]["properties"]) == list(report.to_json())
    assert list(defs["SyncInfo"]["properties"]) == list(report.sync.to_json())
    wire.validate(wire.build_schema(), report.to_json(), "Report")
    # The SPEC keys the old extension dropped are in the contract.
    assert {"name", "warnings"} <= set(defs["Report"]["required"])
    assert "valid" in defs["LayerInfo"]["required"]


def test_a_field_added_to_a_dataclass_shows_up_in_the_schema() -> None:
    @dataclasses.dataclass(frozen=True)
    class Grown:
        name: str
        extra_paths: tuple[str, ...] = ()
        size: int | None = None

    schema = wire._Builder().dataclass(wire._Wire(Grown))
    assert schema["properties"] == {
        "name": {"type": "string"},
        "extraPaths": {"type": "array", "items": {"type": "string"}},
        "size": {"type": ["integer", "null"]},
    }
    assert schema["additionalProperties"] is False


def test_error_kinds_are_every_kind_the_server_answers_with() -> None:
    from envlayers.lsp.errors import CODES

    kinds = wire.build_schema()["$defs"]["ErrorData"]["properties"]["kind"]["enum"]
    assert sorted(kinds) == sorted(CODES)
    assert {"not-available", "internal-error"} <= set(kinds)


def test_the_validator_fails_on_drift() -> None:
    schema = wire.build_schema()
    good = {"removed": ["k"], "freedBytes": 3}
    wire.validate(schema, good, "PruneResult")
    cases: list[tuple[object, str]] = [
        ({**good, "new": 1}, "unexpected key 'new'"),
        ({"removed": ["k"]}, "missing 'freedBytes'"),
        ({**good, "freedBytes": True}, "expected integer"),
        ({**good, "removed": [1]}, r"$.removed[0]: expected string"),
        ([], "expected object"),
    ]
    for value, message in cases:
        with pytest.raises(wire.SchemaError) as info:
            wire.validate(schema, value, "PruneResult")
        assert message in str(info.value)
    with pytest.raises(wire.SchemaError, match="not one of"):
        wire.validate(schema, {"kind": "oops", "message": "m"}, "ErrorData")


# -- real answers -----------------------------------------------------------------------------
def _cli(ws: Path, *args: str, json_flag: bool = False) -> Any:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    project = [] if args[0] == "layers" else ["--project", str(ws)]
    cmd = [sys.executable, "-m", "envlayers", *args, *project]
    proc = subprocess.run(
        [*cmd, "--format", "json"] if json_flag else cmd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, f"{cmd}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout)


def _cli_json(ws: Path, *args: str) -> Any:
    """`--format json` where the command takes it (some print JSON without being asked)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = subprocess.run(
        [sys.executable, "-m", "envlayers", *args[:2], "--help"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return _cli(ws, *args, json_flag="--format" in probe.stdout)


@pytest.mark.slow
def test_real_cli_answers_validate(tmp_path: Path, wheelhouse: Path) -> None:
    schema = wire.build_schema()
    ws = workspace_project(tmp_path / "ws", wheelhouse)

    synced = _cli(ws, "sync", "--format", "json")
    wire.validate(schema, synced, "Report")
    report = _cli(ws, "env", "--with", "beta", "--format", "json")
    wire.validate(schema, report, "Report")
    assert report["layers"] and report["name"], "a composition with a layer"
    config = _cli(ws, "debug-config", "--with", "beta", "--program", "main.py")
    wire.validate(schema, config, "DebugConfiguration")

    layers = _cli(ws, "layers", "list", "--format", "json")
    assert layers
    for row in layers:
        wire.validate(schema, row, "LayerInfo")
    compositions = _cli(ws, "compositions", "list", "--format", "json")
    assert compositions
    for row in compositions:
        wire.validate(schema, row, "Composition")
    # A half-built composition folder is not a composition (the old extension listed these).
    (ws / ".envlayers" / ".tmp-abc").mkdir()
    assert _cli(ws, "compositions", "list", "--format", "json") == compositions

    pruned = _cli(ws, "layers", "prune", "--older-than", "0", "--format", "json")
    wire.validate(schema, pruned, "PruneResult")
    removed = _cli_json(ws, "compositions", "remove", str(compositions[0]["name"]))
    wire.validate(schema, removed, "RemoveCompositionResult")
    gone = _cli_json(ws, "layers", "remove", str(layers[0]["key"]))
    wire.validate(schema, gone, "RemoveLayerResult")
