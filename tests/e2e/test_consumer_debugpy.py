"""Debugging, for real: the launch configuration runs a program the way the debug adapter does,
and debugpy (brought by the editor, not installed in the composition) runs it to completion."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from envlayers.config import Options
from envlayers.core.engine import Engine
from envlayers.core.errors import InvalidInput
from tests.support.cli import clean_environ, cli
from tests.support.consumers import debugger_env, site_packages_of_this_venv
from tests.support.workspaces import consumer_workspace

pytestmark = [pytest.mark.consumer, pytest.mark.debugpy, pytest.mark.slow]

# The debuggee: reports what it imports and runs, as JSON on stdout.
_PROGRAM = """\
import importlib.metadata as md, json, os, shutil, subprocess, sys
import alpha, beta, demo_app, plugin

child = subprocess.run(
    [sys.executable, "-c", "import plugin, demo_app, alpha; print(alpha.__version__)"],
    capture_output=True, text=True, check=True,
)
tool = subprocess.run(["beta-tool"], capture_output=True, text=True, check=True)
print(json.dumps({
    "executable": sys.executable,
    "prefix": sys.prefix,
    "cwd": os.getcwd(),
    "alpha": [alpha.__version__, md.version("alpha")],
    "demo_app": demo_app.__file__,
    "plugin": plugin.__file__,
    "child": child.stdout.strip(),
    "tool": [shutil.which("beta-tool"), tool.stdout.strip()],
    "debugpy": "debugpy" in sys.modules,
    "sysPath": sys.path,
    "pythonPath": os.environ.get("PYTHONPATH"),
}))
"""


@pytest.fixture
def ws(tmp_path: Path, wheelhouse: Path) -> Path:
    root = consumer_workspace(tmp_path / "dbg", wheelhouse)
    (root / "tools").mkdir()
    (root / "tools" / "prog.py").write_text(_PROGRAM, encoding="utf-8")
    return root


def _config(ws: Path, *args: str) -> dict[str, object]:
    proc = cli("debug-config", "--project", str(ws), *args, clean=True)
    assert proc.returncode == 0, proc.stderr
    config: dict[str, object] = json.loads(proc.stdout)
    return config


def _check_run(said: dict[str, object], config: dict[str, object], ws: Path, layer: str) -> None:
    prefix = str(Path(str(config["python"])).parent.parent)
    assert said["executable"] == config["python"] and said["prefix"] == prefix
    assert said["cwd"] == str(ws)
    assert said["alpha"] == ["2.0", "2.0"]  # the layer's version wins over the base's 1.0
    assert said["demo_app"] == str(ws / "src" / "demo_app" / "__init__.py")  # editable source
    assert str(said["plugin"]).startswith(layer)
    assert said["child"] == "2.0"  # a subprocess of sys.executable sees the same layers
    # The base's console script, found first on the composition's PATH, runs there.
    assert said["tool"] == [str(Path(prefix) / "bin" / "beta-tool"), "beta-tool from beta"]
    assert said["pythonPath"] is None
    sys_path = said["sysPath"]
    assert isinstance(sys_path, list)
    assert site_packages_of_this_venv() not in sys_path


def test_debug_config_runs_the_program_like_the_debug_adapter(ws: Path) -> None:
    config = _config(ws, "--with", "alpha==2.0", "--with", "plugin", "--program", "tools/prog.py")
    report = Engine().report(ws)
    assert config["type"] == "debugpy" and config["request"] == "launch"
    assert config["python"] == report.interpreter != report.base_interpreter
    assert config["cwd"] == str(ws) and config["program"] == "tools/prog.py"
    assert config["justMyCode"] is True and "module" not in config
    assert isinstance(config["name"], str) and str(report.name) in config["name"]
    env = config["env"]
    assert isinstance(env, dict) and set(env) == {"VIRTUAL_ENV", "PATH"}
    assert env["VIRTUAL_ENV"] == report.virtual_env
    assert env["PATH"].split(os.pathsep)[0] == str(Path(report.virtual_env) / "bin")

    # Launched as the adapter does: the config's python and cwd, its env over the inherited one.
    run = subprocess.run(
        [str(config["python"]), str(config["program"])],
        cwd=str(config["cwd"]),
        env=debugger_env(config, clean_environ()),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    said = json.loads(run.stdout)
    assert said["debugpy"] is False
    _check_run(said, config, ws, str(report.layers[0]["path"]))


def test_debugpy_by_path_runs_the_program_to_completion(ws: Path) -> None:
    import debugpy

    config = _config(ws, "--with", "alpha==2.0", "--with", "plugin", "--program", "tools/prog.py")
    python = str(config["python"])
    env = debugger_env(config, clean_environ({"PYDEVD_DISABLE_FILE_VALIDATION": "1"}))
    # The editor brings its own debugpy: the composition must not have one.
    probe = subprocess.run(
        [python, "-c", "import importlib.util as u; print(u.find_spec('debugpy') is None)"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert probe.stdout.strip() == "True", probe.stderr
    debugpy_dir = str(Path(debugpy.__file__).parent)
    run = subprocess.run(
        [python, debugpy_dir, "--listen", "127.0.0.1:0", str(config["program"])],
        cwd=str(config["cwd"]),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    said = json.loads(run.stdout.strip().splitlines()[-1])
    assert said["debugpy"] is True
    report = Engine().report(ws)
    _check_run(said, config, ws, str(report.layers[0]["path"]))


def test_debug_config_module_and_base_only(ws: Path) -> None:
    engine = Engine()
    engine.compose(ws)  # base only: no layer asked for
    config = engine.debug_configuration(ws, module="demo_app")
    report = engine.report(ws)
    assert config["python"] == report.base_interpreter == report.interpreter
    assert config["module"] == "demo_app" and "program" not in config
    env = config["env"]
    assert isinstance(env, dict) and env["VIRTUAL_ENV"] == str(ws / ".venv")
    with pytest.raises(InvalidInput, match="program or a module"):
        engine.debug_configuration(ws, Options(), program="a.py", module="b")
    bad = cli(
        "debug-config", "--project", str(ws), "--program", "a.py", "--module", "b", clean=True
    )
    assert bad.returncode == 2 and "not allowed with" in bad.stderr
