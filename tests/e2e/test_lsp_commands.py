"""Every `envlayers.*` command over stdio, with progress and the change notification."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from tests.support.lsp import (
    Session,
    error_of,
    execute,
    lsp_session,
    progress_streams,
    wait_for,
    workspace_project,
)
from tests.support.wheels import build_wheel

pytestmark = [pytest.mark.lsp, pytest.mark.slow]


def _progress(session: Session, title: str) -> list[Any]:
    """The one progress stream with `title` (begin ... end)."""
    found = [
        values
        for values in progress_streams(session.client).values()
        if values
        and isinstance(values[0], types.WorkDoneProgressBegin)
        and values[0].title == title
    ]
    assert len(found) == 1, f"expected one {title!r} progress, got {found}"
    return found[0]


def _without_reused(report: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(report))
    for layer in out["layers"]:
        layer.pop("reused")
    return out


async def test_every_command(tmp_path: Path, wheelhouse: Path) -> None:
    # A stand-in ipykernel, so installKernel can add its layer offline.
    extra = tmp_path / "extra-wheels"
    extra.mkdir()
    build_wheel(extra, "ipykernel", "6.29.0", modules={"ipykernel_launcher.py": "pass\n"})
    ws = workspace_project(tmp_path / "ws", [wheelhouse, extra])
    async with lsp_session([ws]) as s:
        synced = await execute(s.client, "envlayers.sync", {"workspace": ws.as_uri()})
        assert synced["sync"]["state"] == "in-sync"
        assert synced["sync"]["installed"] == ["alpha==1.0"]
        assert synced["workspace"] == str(ws)
        sync_progress = _progress(s, "envlayers: sync")
        assert isinstance(sync_progress[-1], types.WorkDoneProgressEnd)
        reports = [v for v in sync_progress if isinstance(v, types.WorkDoneProgressReport)]
        assert any("alpha" in (r.message or "") for r in reports), reports
        assert s.changes[-1] == {"workspace": str(ws), "report": synced}

        composed = await execute(
            s.client, "envlayers.compose", {"workspace": str(ws), "with": ["beta"]}
        )
        assert composed["name"].startswith("with-")
        assert [layer["requirements"] for layer in composed["layers"]] == [["beta"]]
        assert composed["layers"][0]["reused"] is False
        assert Path(composed["interpreter"]).is_file()
        assert isinstance(_progress(s, "envlayers: compose")[-1], types.WorkDoneProgressEnd)
        assert s.changes[-1]["report"] == composed

        reported = await execute(s.client, "envlayers.report", {"workspace": str(ws)})
        assert _without_reused(reported) == _without_reused(composed)
        key = composed["layers"][0]["key"]

        layers = await execute(s.client, "envlayers.listLayers", {})
        assert [entry["key"] for entry in layers] == [key]
        assert layers[0]["requirements"] == ["beta"]

        debug = await execute(
            s.client, "envlayers.debugConfiguration", {"workspace": str(ws), "program": "main.py"}
        )
        assert debug["type"] == "debugpy"
        assert debug["python"] == composed["interpreter"]
        assert debug["cwd"] == str(ws)

        kernel = await execute(
            s.client, "envlayers.installKernel", {"workspace": str(ws), "name": "demo-kernel"}
        )
        assert kernel["name"] == "demo-kernel"
        assert kernel["argv"][0] == kernel["interpreter"]
        assert (Path(kernel["path"]) / "kernel.json").is_file()
        # The kernel's composition is now the active one: the editor is told so.
        assert s.changes[-1]["report"]["interpreter"] == kernel["interpreter"]

        # The layer is used by the composition: removing it takes `force` (issue 12, leases).
        removed = await execute(s.client, "envlayers.removeLayer", {"key": key, "force": True})
        assert removed == {"removed": [key]}
        assert key not in [e["key"] for e in await execute(s.client, "envlayers.listLayers")]

        pruned = await execute(s.client, "envlayers.pruneLayers", {"all": True})
        assert pruned["removed"] and isinstance(pruned["freedBytes"], int)
        assert await execute(s.client, "envlayers.listLayers") == []

        # pygls #607: every ended progress token is dropped, none leak.
        assert all(
            isinstance(v[-1], types.WorkDoneProgressEnd) for v in s.client.progress_reports.values()
        )


async def test_list_profiles_and_compositions(tmp_path: Path, wheelhouse: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "extra.txt").write_text("gamma\n", encoding="utf-8")
    profiles = (
        '[tool.envlayers.profiles.nb]\nwith = ["beta", "epsilon"]\n'
        '[tool.envlayers.profiles.files]\nwith-requirements = ["extra.txt"]\n'
    )
    ws = workspace_project(tmp_path / "ws", wheelhouse, extra_tool=profiles)
    async with lsp_session([ws]) as s:
        listed = await execute(s.client, "envlayers.listProfiles", {"workspace": ws.as_uri()})
        assert listed == [
            {"name": "nb", "with": ["beta", "epsilon"], "withRequirements": [], "withEditable": []},
            {
                "name": "files",
                "with": [],
                "withRequirements": [str(ws / "extra.txt")],
                "withEditable": [],
            },
        ]
        assert await execute(s.client, "envlayers.listCompositions", {"workspace": str(ws)}) == []
        await execute(s.client, "envlayers.sync", {"workspace": str(ws)})
        by_profile = await execute(
            s.client, "envlayers.compose", {"workspace": str(ws), "profile": "nb"}
        )
        adhoc = await execute(
            s.client, "envlayers.compose", {"workspace": str(ws), "with": ["gamma"]}
        )
        # A build folder left by a compose that died: never listed.
        junk = ws / ".envlayers" / ".tmp-nb-0123abcd"
        (junk / "bin").mkdir(parents=True)
        (junk / "pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
        rows = await execute(s.client, "envlayers.listCompositions", {"workspace": str(ws)})
        assert sorted(r["name"] for r in rows) == sorted(["nb", adhoc["name"]])
        assert by_profile["name"] == "nb"
        active = [r for r in rows if r["active"]]
        assert [r["name"] for r in active] == [adhoc["name"]]
        assert active[0]["interpreter"] == adhoc["interpreter"]
        assert all(r["valid"] and Path(r["path"]).is_dir() for r in rows)
        # The rows are the engine's: the CLI lists the same.
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "envlayers",
                "compositions",
                "list",
                "--project",
                str(ws),
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        )
        assert json.loads(cli.stdout) == rows
        bad = await error_of(s.client, "envlayers.listProfiles", {"workspace": str(ws), "x": 1})
        assert isinstance(bad.data, dict) and bad.data["kind"] == "invalid-input"


async def test_capabilities_and_watchers(tmp_path: Path, wheelhouse: Path) -> None:
    ws = workspace_project(tmp_path / "ws", wheelhouse)
    async with lsp_session([ws]) as s:
        assert s.init is not None
        caps = s.init.capabilities
        assert caps.execute_command_provider is not None
        assert sorted(caps.execute_command_provider.commands) == sorted(COMMANDS)
        assert caps.code_action_provider
        assert s.init.server_info is not None and s.init.server_info.name == "envlayers"
        await wait_for(lambda: s.registrations, what="the watcher registration")
        assert [r.method for r in s.registrations] == [types.WORKSPACE_DID_CHANGE_WATCHED_FILES]
        options = s.registrations[0].register_options
        watchers = options["watchers"] if isinstance(options, dict) else options.watchers  # type: ignore[union-attr]
        patterns = sorted(
            w["globPattern"] if isinstance(w, dict) else w.glob_pattern for w in watchers
        )
        assert patterns == [
            "**/.python-version",
            "**/pylock.toml",
            "**/pyproject.toml",
            "**/uv.lock",
        ]
        # Before any sync the report still answers, from disk, without installing.
        report = await execute(s.client, "envlayers.report", {"workspace": str(ws)})
        assert report["sync"]["state"] == "missing"
        assert not (ws / ".venv").exists()


COMMANDS = (
    "envlayers.sync",
    "envlayers.compose",
    "envlayers.report",
    "envlayers.debugConfiguration",
    "envlayers.installKernel",
    "envlayers.listLayers",
    "envlayers.pruneLayers",
    "envlayers.removeLayer",
    "envlayers.listCompositions",
    "envlayers.listProfiles",
)
