"""Terminals and tasks, for real: a POSIX shell that evaluates `--format shell` (or sources
`--format dotenv`) runs the composed `python` and the layers' console scripts, with no
`PYTHONPATH`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from envlayers.core.engine import Engine
from tests.support.cli import clean_environ, cli
from tests.support.workspaces import consumer_workspace

pytestmark = [pytest.mark.consumer, pytest.mark.slow]

# Runs after the environment is applied: one `key=value` line per fact.
_CHECKS = """
echo "python=$(command -v python)"
echo "prefix=$(python -c 'import sys; print(sys.prefix)')"
echo "imports=$(python -c 'import alpha, demo_app, eta; print(alpha.__version__)')"
echo "etash=$(eta-sh)"
echo "tool=$(beta-tool)"
echo "zeta=$(zeta | head -n 1)"
echo "pythonpath=${PYTHONPATH-unset}"
echo "virtualenv=$VIRTUAL_ENV"
"""


@pytest.fixture(scope="module")
def sh() -> str:
    found = shutil.which("sh")
    if found is None:
        pytest.skip("no POSIX shell")
    return found


@pytest.fixture
def ws(tmp_path: Path, wheelhouse: Path) -> Path:
    return consumer_workspace(tmp_path / "term", wheelhouse, dependencies=("alpha==1.0", "beta"))


def _envlayers_output(ws: Path, fmt: str) -> str:
    layers = ("--with", "eta", "--with", "zeta", "--with", "alpha==2.0")
    proc = cli("env", "--project", str(ws), *layers, "--format", fmt, clean=True)
    assert proc.returncode == 0, proc.stderr
    assert "PYTHONPATH=" not in proc.stdout
    return proc.stdout


def _facts(sh: str, script: str, cwd: Path) -> dict[str, str]:
    proc = subprocess.run(
        [sh, "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=clean_environ(),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pairs = (line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return {k: v for k, v in pairs}


def _assert_composed(facts: dict[str, str], ws: Path) -> None:
    report = Engine().report(ws)
    venv = Path(report.virtual_env)
    assert venv.parent == ws / ".envlayers"
    assert facts["python"] == str(venv / "bin" / "python")
    assert facts["prefix"] == str(venv) == facts["virtualenv"]
    assert facts["imports"] == "2.0"
    assert facts["etash"] == "eta-sh"  # a layer's non-Python script
    # eta's beta-tool (a layer's console script) shadows the base's.
    assert facts["tool"] == "beta-tool from eta"
    # zeta prints the interpreter its script runs under: the composed one.
    assert facts["zeta"] == str(venv / "bin" / "python")
    assert facts["pythonpath"] == "unset"


def test_shell_format_evaluated_by_sh(sh: str, ws: Path) -> None:
    exports = _envlayers_output(ws, "shell")
    _assert_composed(_facts(sh, exports + "\n" + _CHECKS, ws), ws)


def test_dotenv_format_sourced_by_sh(sh: str, ws: Path, tmp_path: Path) -> None:
    dotenv = tmp_path / "composed.env"
    dotenv.write_text(_envlayers_output(ws, "dotenv") + "\n", encoding="utf-8")
    script = f"set -a\n. {dotenv}\nset +a\n" + _CHECKS
    _assert_composed(_facts(sh, script, ws), ws)
