"""Issue 12, item 7: editables with extras, `debug-config --program` from a subfolder, and `run`
without layer options keeping the active composition.

Each test reproduces what a user saw, offline, and asserts the truth on disk: the import works
with the extra's dependency, the program the configuration names is the file that exists, the
active composition is still the one `debug-config` and the interpreter see.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli, run_in
from tests.support.workspaces import workspace

pytestmark = pytest.mark.slow


def _project(root: Path, installer: str, wheelhouse: Path) -> Path:
    # A hatchling-style project: an extra per transport, like httpx's `brotli` / `http2`.
    return workspace(
        root,
        installer,
        wheelhouse,
        dependencies=("beta",),
        name="demo-app",
        optional={"brotli": ["epsilon"], "http2": ["delta[fancy]"]},
    )


def _json(*args: str, cwd: Path | None = None) -> Any:
    out = cli(*args, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_editable_with_extras_from_a_requirements_file_and_the_flag(
    tmp_path: Path, wheelhouse: Path, installer: str
) -> None:
    ws = _project(tmp_path / "ws", installer, wheelhouse)
    (ws / "reqs-dev.txt").write_text("# dev tools\n-e .[brotli]\n", encoding="utf-8")
    report = _json(
        "env", "--project", str(ws), "--with-requirements", "reqs-dev.txt", "--format", "json"
    )
    python = str(report["interpreter"])
    # The extra's dependency is importable, and the project still is, editable from its folder.
    out = run_in(python, "import epsilon, demo_app, beta; print(demo_app.WHERE)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(ws / "src" / "demo_app" / "__init__.py")
    [layer] = report["layers"]
    assert "epsilon" in layer["packages"], layer

    # The flag form, from the project folder, with another extra: delta[fancy] -> epsilon.
    flag = _json(
        "env", "--project", str(ws), "--with-editable", ".[http2]", "--format", "json", cwd=ws
    )
    out = run_in(str(flag["interpreter"]), "import delta, epsilon, demo_app; print('ok')")
    assert out.stdout.strip() == "ok", out.stderr
    # Satisfaction honours the extra: a repeat is a reuse, and the plain editable (which the
    # base already is) needs no layer at all.
    again = _json(
        "env", "--project", str(ws), "--with-editable", ".[http2]", "--format", "json", cwd=ws
    )
    assert [la["reused"] for la in again["layers"]] == [True]
    plain = _json("env", "--project", str(ws), "--with-editable", str(ws), "--format", "json")
    assert plain["layers"] == [] and plain["satisfiedByBase"] == [str(ws)]


def test_editable_errors_name_the_file_and_line(tmp_path: Path, wheelhouse: Path) -> None:
    ws = _project(tmp_path / "ws", "uv", wheelhouse)
    reqs = ws / "reqs.txt"
    reqs.write_text("epsilon\n\n-e ./missing[brotli]\n", encoding="utf-8")
    out = cli("env", "--project", str(ws), "--with-requirements", str(reqs))
    assert out.returncode == 2
    assert f"{reqs}:3: editable path is not a folder: '{ws / 'missing'}'" in out.stderr
    assert not (ws / ".envlayers" / "active.json").exists() or "with-" not in (
        ws / ".envlayers" / "active.json"
    ).read_text(encoding="utf-8")


def test_debug_config_program_from_a_subfolder_is_absolute(
    tmp_path: Path, wheelhouse: Path
) -> None:
    ws = _project(tmp_path / "ws", "uv", wheelhouse)
    sub = ws / "scripts"
    sub.mkdir()
    (sub / "x.py").write_text("print('x')\n", encoding="utf-8")
    assert cli("sync", "--project", str(ws)).returncode == 0
    config = _json("debug-config", "--project", ".", "--program", "x.py", cwd=sub)
    assert config["cwd"] == str(ws)
    program = Path(str(config["program"]))
    assert program.is_absolute() and program == sub / "x.py"
    # What debugpy would do: run the program from `cwd`; it is the file we meant.
    out = run_in(str(config["python"]), f"import runpy; runpy.run_path({str(program)!r})")
    assert out.stdout.strip() == "x", out.stderr
    # A program that is not in the caller's folder stays relative to the workspace (the launch's
    # cwd); an absolute one is kept as it is; a module is not touched.
    rel = _json("debug-config", "--project", str(ws), "--program", "scripts/x.py", cwd=tmp_path)
    assert rel["program"] == "scripts/x.py" and (ws / str(rel["program"])).is_file()
    kept = _json("debug-config", "--project", str(ws), "--program", str(sub / "x.py"))
    assert kept["program"] == str(sub / "x.py")
    module = _json("debug-config", "--project", str(ws), "--module", "demo_app")
    assert module["module"] == "demo_app" and "program" not in module


def test_run_without_layer_options_keeps_the_active_composition(
    tmp_path: Path, wheelhouse: Path
) -> None:
    ws = _project(tmp_path / "ws", "uv", wheelhouse)
    composed = _json("env", "--project", str(ws), "--with", "plugin", "--format", "json")
    name = composed["name"]
    assert name and name.startswith("with-")
    code = "import sys, plugin; print(sys.prefix)"
    out = cli("run", "--project", str(ws), "--", "python", "-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(ws / ".envlayers" / name)
    active = json.loads((ws / ".envlayers" / "active.json").read_text(encoding="utf-8"))
    assert active.get("name") == name
    config = _json("debug-config", "--project", str(ws))
    assert config["python"] == composed["interpreter"]
    check = run_in(str(config["python"]), "import plugin; print(plugin.__version__)")
    assert check.stdout.strip() == "1.0", check.stderr
    report = _json("env", "--project", str(ws), "--format", "json")  # `env` still resets
    assert report["name"] is None
