"""Static analysis, for real: pyright (pinned, from npm) resolves the composition's imports,
both through the composed interpreter and, for setups that cannot switch, through `extraPaths`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from envlayers.config import Options
from envlayers.core.engine import Engine
from tests.support.cli import clean_environ, cli
from tests.support.consumers import pyright_bin
from tests.support.isolation import MakeVenv
from tests.support.workspaces import consumer_workspace

pytestmark = [
    pytest.mark.consumer,
    pytest.mark.pyright,
    pytest.mark.slow,
    pytest.mark.xdist_group("consumer-pyright"),
]

# The project (editable), a base package, a layer package, and one that is in no layer.
_SOURCE = "import demo_app\nimport beta\nimport plugin\nimport alpha\nimport epsilon\n"


@pytest.fixture(scope="session")
def pyright() -> Path:
    path = pyright_bin()
    if path is None:
        pytest.skip("npm and node are needed to install pyright")
    return path


@pytest.fixture
def ws(tmp_path: Path, wheelhouse: Path) -> Path:
    return consumer_workspace(tmp_path / "static", wheelhouse)


@pytest.fixture
def checker(tmp_path: Path) -> Path:
    """Where pyright runs: outside the workspace, whose `src` pyright would find by itself."""
    root = tmp_path / "checker"
    root.mkdir()
    (root / "check_imports.py").write_text(_SOURCE, encoding="utf-8")
    return root


def _unresolved(pyright: Path, root: Path, *args: str) -> list[tuple[int, str]]:
    """(line, module) of each unresolved import pyright reports for `root/check_imports.py`."""
    node = os.environ.get("NODE") or "node"
    proc = subprocess.run(
        [node, str(pyright), "--outputjson", *args, "check_imports.py"],
        cwd=root,
        capture_output=True,
        text=True,
        env=clean_environ(),
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 1: errors were reported
    result = json.loads(proc.stdout)
    diagnostics = result["generalDiagnostics"]
    assert result["summary"]["filesAnalyzed"] == 1
    # Nothing but unresolved imports may be reported: anything else means a broken setup.
    assert all(d.get("rule") == "reportMissingImports" for d in diagnostics), diagnostics
    out = []
    for d in diagnostics:
        line = d["range"]["start"]["line"]
        out.append((line, _SOURCE.splitlines()[line].split()[1]))
    return sorted(out)


def test_pyright_with_the_composed_interpreter(pyright: Path, ws: Path, checker: Path) -> None:
    report = Engine().compose(ws, Options(with_=("plugin", "alpha==2.0")))
    assert report.interpreter != report.base_interpreter
    assert _unresolved(pyright, checker, "--pythonpath", report.interpreter) == [(4, "epsilon")]
    # The base interpreter alone misses the layer: the composition is what resolves `plugin`.
    assert _unresolved(pyright, checker, "--pythonpath", report.base_interpreter) == [
        (2, "plugin"),
        (4, "epsilon"),
    ]


def test_pyright_settings_for_setups_that_cannot_switch_interpreter(
    pyright: Path, ws: Path, checker: Path, make_venv: MakeVenv
) -> None:
    proc = cli("env", "--project", str(ws), "--with", "plugin", "--format", "pyright", clean=True)
    assert proc.returncode == 0, proc.stderr
    settings = json.loads(proc.stdout)
    report = Engine().report(ws)
    extra = settings["python.analysis.extraPaths"]
    assert extra == list(report.sys_path)
    assert str(ws / "src") in extra  # the editable source, read from the base's .pth file
    assert settings["pyrightconfig"]["extraPaths"] == extra

    # An interpreter that knows nothing of the workspace, plus the extraPaths: all resolve.
    bare = make_venv(Path(report.base_interpreter).resolve(), name="bare")
    (checker / "pyrightconfig.json").write_text(json.dumps({"extraPaths": extra}))
    bare_python = str(bare / "bin" / "python")
    assert _unresolved(pyright, checker, "--pythonpath", bare_python) == [(4, "epsilon")]
    # The pyrightconfig block as given (venvPath/venv name the composed env).
    (checker / "pyrightconfig.json").write_text(json.dumps(settings["pyrightconfig"]))
    assert _unresolved(pyright, checker) == [(4, "epsilon")]
    # Control: without the settings, the bare interpreter resolves none of them.
    (checker / "pyrightconfig.json").unlink()
    assert [m for _, m in _unresolved(pyright, checker, "--pythonpath", bare_python)] == [
        "demo_app",
        "beta",
        "plugin",
        "alpha",
        "epsilon",
    ]
