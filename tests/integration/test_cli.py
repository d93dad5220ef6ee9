"""The command line end to end: profiles, `run`, the layer cache commands, output formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli, run_in
from tests.support.workspaces import workspace

pytestmark = pytest.mark.slow


@pytest.fixture
def ws(tmp_path: Path, wheelhouse: Path) -> Path:
    extra = (
        "\n[tool.envlayers.profiles.tools]\n"
        'with = ["eta", "plugin"]\n'
        "\n[tool.envlayers.profiles.empty]\n"
        'with = ["beta"]\n'
    )
    return workspace(tmp_path / "ws", "uv", wheelhouse, dependencies=("beta",), extra_tool=extra)


def _json(*args: str) -> Any:
    out = cli(*args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_profile_composes_by_name_and_stacks_under_with(ws: Path) -> None:
    report = _json("env", "--project", str(ws), "--profile", "tools", "--format", "json")
    assert report["name"] == "tools"
    assert report["interpreter"] == str(ws / ".envlayers" / "tools" / "bin" / "python")
    layers = report["layers"]
    assert isinstance(layers, list) and len(layers) == 1
    stacked = _json(
        "env",
        "--project",
        str(ws),
        "--profile",
        "tools",
        "--with",
        "alpha==1.0",
        "--format",
        "json",
    )
    keys = [layer["key"] for layer in stacked["layers"]]
    assert len(keys) == 2 and keys[1] == layers[0]["key"]  # the profile's layer is below
    assert stacked["layers"][0]["requirements"] == ["alpha==1.0"]
    out = run_in(str(stacked["interpreter"]), "import alpha, eta, plugin; print(alpha.__version__)")
    assert out.stdout.strip() == "1.0", out.stderr
    # A profile the base satisfies builds nothing; an unknown one is bad input (exit 2).
    empty = _json("env", "--project", str(ws), "--profile", "empty", "--format", "json")
    assert empty["layers"] == [] and empty["satisfiedByBase"] == ["beta"]
    bad = cli("env", "--project", str(ws), "--profile", "nope")
    assert bad.returncode == 2 and "nope" in bad.stderr and "tools" in bad.stderr


def test_run_returns_the_command_status_inside_the_composition(ws: Path) -> None:
    code = "import sys, plugin; print(sys.prefix); sys.exit(7)"
    out = cli("run", "--project", str(ws), "--with", "plugin", "--", "python", "-c", code)
    assert out.returncode == 7, out.stderr
    assert "/.envlayers/with-" in out.stdout
    missing = cli("run", "--project", str(ws), "--", "no-such-command-xyz")
    assert missing.returncode == 2 and "no-such-command-xyz" in missing.stderr


def test_layers_list_prune_remove(ws: Path, envlayers_cache: Path) -> None:
    a = _json("env", "--project", str(ws), "--with", "plugin", "--format", "json")
    b = _json("env", "--project", str(ws), "--with", "epsilon", "--format", "json")
    key_a = a["layers"][0]["key"]
    key_b = b["layers"][0]["key"]
    tag = (envlayers_cache / "CACHEDIR.TAG").read_text()
    assert tag.startswith("Signature: 8a477f597d28d172789f06886806bc55")  # backup tools skip it
    rows = json.loads(cli("layers", "list", "--format", "json").stdout)
    by_key = {r["key"]: r for r in rows}
    assert set(by_key) == {key_a, key_b}
    assert by_key[key_a]["requirements"] == ["plugin"] and by_key[key_a]["sizeBytes"] > 0
    assert by_key[key_b]["usedBy"] == [b["virtualEnv"]]
    # Recently used layers stay; --all removes them.
    kept = json.loads(cli("layers", "prune", "--older-than", "1", "--format", "json").stdout)
    assert kept["removed"] == []
    # Age 0 ("every layer no composition uses"): both are in use, so both stay.
    kept = json.loads(cli("layers", "prune", "--older-than", "0", "--format", "json").stdout)
    assert kept["removed"] == []
    removed = cli("layers", "remove", str(key_a), "--force")  # it is used
    assert removed.returncode == 0 and key_a in removed.stdout
    assert not (envlayers_cache / "layers" / "v1" / str(key_a)).exists()
    for bad in ("../../etc", str(key_a)):
        out = cli("layers", "remove", bad)
        assert out.returncode == 2, out.stdout
    # A composition whose layer was removed is reported as damaged, never used as is.
    report = _json("env", "--project", str(ws), "--with", "plugin", "--no-sync", "--format", "json")
    assert report["layers"][0]["reused"] is False
    gone = json.loads(cli("layers", "prune", "--all", "--format", "json").stdout)
    assert sorted(gone["removed"]) == sorted([key_b, report["layers"][0]["key"]])
    assert gone["freedBytes"] > 0


def test_text_shell_dotenv_formats(ws: Path) -> None:
    text = cli("env", "--project", str(ws), "--with", "plugin")
    assert text.returncode == 0 and "interpreter:" in text.stdout and "plugin" in text.stdout
    shell = cli("env", "--project", str(ws), "--with", "plugin", "--format", "shell").stdout
    assert "export VIRTUAL_ENV=" in shell and "PYTHONPATH=" not in shell
    dotenv = cli("env", "--project", str(ws), "--with", "plugin", "--format", "dotenv").stdout
    assert dotenv.splitlines()[0].startswith("VIRTUAL_ENV=")


def test_compositions_list_and_remove_with_their_kernelspecs(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    a = _json("env", "--project", str(ws), "--with", "plugin", "--format", "json")
    b = _json("env", "--project", str(ws), "--with", "epsilon", "--format", "json")
    # Kernelspecs written for `b` (as `kernel install` does), in its env and the user's dir.
    user_kernels = tmp_path / "jupyter-data" / "kernels"
    spec = {"argv": [b["interpreter"]], "metadata": {"envlayers": {"virtualEnv": b["virtualEnv"]}}}
    for kernels in (Path(b["virtualEnv"]) / "share" / "jupyter" / "kernels", user_kernels):
        (kernels / "k-b").mkdir(parents=True)
        (kernels / "k-b" / "kernel.json").write_text(json.dumps(spec))
    (user_kernels / "other").mkdir()
    (user_kernels / "other" / "kernel.json").write_text('{"argv": ["python"]}')
    rows = _json("compositions", "list", "--project", str(ws), "--format", "json")
    assert {r["name"]: r["active"] for r in rows} == {a["name"]: False, b["name"]: True}
    out = _json("compositions", "remove", str(b["name"]), "--project", str(ws))
    assert out["removed"] == [b["name"]] and len(out["kernelspecs"]) == 2
    assert not Path(b["virtualEnv"]).exists() and not (user_kernels / "k-b").exists()
    assert (user_kernels / "other").exists()  # not ours: untouched
    # The workspace falls back to its base; the other composition still works.
    rows = _json("compositions", "list", "--project", str(ws), "--format", "json")
    assert [(r["name"], r["active"]) for r in rows] == [(a["name"], False)]
    from envlayers.core.engine import Engine

    report = Engine().report(ws)
    assert report.interpreter == report.base_interpreter and report.name is None
    assert run_in(a["interpreter"], "import plugin").returncode == 0
    for bad in ("../ws", b["name"]):
        assert cli("compositions", "remove", bad, "--project", str(ws)).returncode == 2


def test_an_engine_with_its_own_cache_dir_tags_it(ws: Path, tmp_path: Path) -> None:
    from envlayers.config import Options
    from envlayers.core.engine import Engine

    own = tmp_path / "own-cache"
    report = Engine(cache_dir=own).compose(ws, Options(with_=("plugin",)))
    assert str(report.layers[0]["path"]).startswith(str(own / "layers" / "v1"))
    assert (own / "CACHEDIR.TAG").read_text().startswith("Signature: ")
