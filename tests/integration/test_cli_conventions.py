"""The command line follows its peers' conventions (issue 14, section 4): `--version`, quiet
on a closed pipe, `--format text|json` everywhere, a `layers list` table, uv's `--with a,b`,
no python-discovery chatter, short installer errors, and a `${env:PATH}` debug configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli, run_in
from tests.support.workspaces import workspace

pytestmark = pytest.mark.slow


@pytest.fixture
def ws(tmp_path: Path, wheelhouse: Path) -> Path:
    return workspace(tmp_path / "ws", "uv", wheelhouse, dependencies=("beta",))


def _json(*args: str) -> Any:
    out = cli(*args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with a stdout whose reader has gone (`| head`, `| true`)."""
    read, write = os.pipe()
    os.close(read)  # every write now fails with EPIPE
    try:
        return subprocess.run(
            [sys.executable, "-m", "envlayers", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=300,
        )
    finally:
        os.close(write)


def test_version() -> None:
    from importlib.metadata import version

    out = cli("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"envlayers {version('envlayers')}"


def test_a_closed_stdout_ends_quietly_on_the_full_and_the_fast_path(ws: Path) -> None:
    full = _closed_pipe("sync", "--project", str(ws))  # first sync: the full path
    assert (full.returncode, full.stderr) == (0, "")
    assert (ws / ".envlayers" / "report-cache.bin").is_file()
    fast = _closed_pipe("sync", "--project", str(ws))  # no-op: answered by the fast path
    assert (fast.returncode, fast.stderr) == (0, "")
    listed = _closed_pipe("layers", "list")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert cli("sync", "--project", str(ws)).stdout.startswith("workspace:")  # still prints


def test_every_command_takes_format_text_or_json() -> None:
    from envlayers.cliparse import build_parser

    commands = [
        ["sync"],
        ["env"],
        ["kernel", "install"],
        ["debug-config"],
        ["layers", "list"],
        ["layers", "prune"],
        ["layers", "remove", "k"],
        ["compositions", "list"],
        ["compositions", "remove", "n"],
    ]
    for words in commands:
        for fmt in ("text", "json"):
            assert build_parser().parse_args([*words, "--format", fmt]).format == fmt, words


def test_with_comma_list_layers_and_text_formats_of_admin_commands(
    ws: Path, envlayers_cache: Path
) -> None:
    # uv's comma form: one --with, two requirements, one layer with both.
    report = _json("env", "--project", str(ws), "--with", "epsilon,plugin", "--format", "json")
    (layer,) = report["layers"]
    assert sorted(layer["requirements"]) == ["epsilon", "plugin"]
    out = run_in(report["interpreter"], "import epsilon, plugin; print(epsilon.__version__)")
    assert out.stdout.strip() == "1.0", out.stderr
    # The fast path reads the same comma list as the same request (its key is the engine's).
    again = cli("env", "--project", str(ws), "--with", "epsilon, plugin", "--format", "json")
    assert json.loads(again.stdout)["layers"][0]["reused"] is True

    # `layers list` text: a header row and the compositions that use each layer.
    table = cli("layers", "list")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["KEY", "SIZE", "LAST", "USED", "USED", "BY", "REQUIREMENTS"]
    (row,) = rows
    assert row.startswith(layer["key"]) and report["virtualEnv"] in row and "plugin" in row

    # compositions remove / layers remove: text by choice, JSON as before by default.
    name = str(report["name"])
    text = cli("compositions", "remove", name, "--project", str(ws), "--format", "text")
    assert text.returncode == 0 and text.stdout.splitlines()[0] == f"removed {name}", text.stderr
    removed = cli("layers", "remove", layer["key"], "--format", "text")
    assert removed.stdout.strip() == f"removed {layer['key']}", removed.stderr
    assert not (envlayers_cache / "layers" / "v1" / layer["key"]).exists()


def _old_python(folder: Path) -> Path:
    """A `python3.12` on PATH that answers python-discovery's query as a Python 2.7 would."""
    from python_discovery._py_info_collect import UNSUPPORTED_EXIT_CODE, UNSUPPORTED_MARKER

    folder.mkdir()
    exe = folder / "python3.12"
    exe.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n%s\\n' '{UNSUPPORTED_MARKER}2.7.18' \"$0\" >&2\n"
        f"exit {UNSUPPORTED_EXIT_CODE}\n"
    )
    exe.chmod(0o755)
    return folder


def test_python_discovery_messages_about_other_interpreters_stay_quiet(
    tmp_path: Path, wheelhouse: Path
) -> None:
    """A first sync discovers the interpreter; what discovery says of the others stays out
    of stderr unless -v (each run with its own workspace and discovery cache)."""
    path = os.pathsep.join([str(_old_python(tmp_path / "old")), os.environ["PATH"]])
    runs = {}
    for label, extra in (("quiet", ()), ("loud", ("-v",))):
        ws = workspace(tmp_path / label, "uv", wheelhouse, dependencies=("beta",))
        env = {"PATH": path, "ENVLAYERS_CACHE_DIR": str(tmp_path / f"cache-{label}")}
        runs[label] = cli("sync", "--project", str(ws), "--python", ">=3.12,<3.13", *extra, env=env)
        assert runs[label].returncode == 0, runs[label].stderr
    assert "older than the minimum" in runs["loud"].stderr, runs["loud"].stderr
    assert runs["quiet"].stderr == ""


def test_an_installer_failure_names_what_failed_without_its_command_line(ws: Path) -> None:
    out = cli("env", "--project", str(ws), "--with", "no-such-dist-xyz")
    assert out.returncode == 1
    first = out.stderr.splitlines()[0]
    assert first.startswith("envlayers: error: ") and "no-such-dist-xyz" in first
    assert "exited with status 1" in first
    assert "no-such-dist-xyz" in out.stderr.split("\n", 1)[1]  # the installer's own reason
    for noise in (".tmp-", "--find-links", "--no-index", sys.executable):
        assert noise not in out.stderr, out.stderr
    verbose = cli("env", "--project", str(ws), "--with", "no-such-dist-xyz", "-v")
    assert verbose.returncode == 1 and "--no-index" in verbose.stderr


def test_debug_config_completes_path_at_launch(ws: Path) -> None:
    mine = "/caller/only/bin"
    path = os.pathsep.join([mine, os.environ["PATH"]])
    out = cli("debug-config", "--project", str(ws), "--with", "plugin", env={"PATH": path})
    assert out.returncode == 0, out.stderr
    config = json.loads(out.stdout)
    env = config["env"]
    report = _json("env", "--project", str(ws), "--with", "plugin", "--format", "json")
    assert env["PATH"] == os.pathsep.join([*report["pathPrefix"], "${env:PATH}"])
    assert mine not in json.dumps(config)
    text = cli("debug-config", "--project", str(ws), "--format", "text")
    assert text.returncode == 0 and "python:" in text.stdout, text.stderr
