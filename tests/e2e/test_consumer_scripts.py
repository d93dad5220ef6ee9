"""A single-file script's environment (PEP 723) used by real consumers: jupyter_client starts
the kernel `kernel install --script` wrote, and pyright resolves the script's imports with the
reported interpreter."""

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
from tests.support.repack import kernel_wheelhouse
from tests.support.workspaces import KERNEL_PYTHON

pytestmark = [pytest.mark.consumer, pytest.mark.slow, pytest.mark.xdist_group("consumer-scripts")]

# Imports of the script's dependencies (beta and, through it, alpha), and one it lacks.
_BODY = "import alpha\nimport beta\nimport epsilon\n"


def _script(path: Path, deps: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# /// script\n"
        f'# requires-python = "=={KERNEL_PYTHON}.*"\n'
        f"# dependencies = {json.dumps(deps)}\n"
        "# ///\n" + _BODY,
        encoding="utf-8",
    )
    return path


@pytest.fixture
def jupyter_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "jupyter-home"
    for var in ("JUPYTER_PATH", "JUPYTER_PLATFORM_DIRS", "JUPYTER_PREFER_ENV_PATH"):
        monkeypatch.delenv(var, raising=False)
    for var, sub in (
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("IPYTHONDIR", "ipython"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    return home


@pytest.mark.jupyter
def test_jupyter_client_starts_the_scripts_kernel(
    tmp_path: Path,
    wheelhouse: Path,
    jupyter_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    kernel_wheels = kernel_wheelhouse(tmp_path_factory.mktemp("kernel-wheels"))
    script = _script(tmp_path / "nb" / "analysis.py", ["beta"])
    links = ["--no-index", "--find-links", str(wheelhouse), "--find-links", str(kernel_wheels)]
    proc = cli("kernel", "install", "--script", str(script), *links, "--user", clean=True)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["name"] == "envlayers-analysis-" + str(result["composition"])
    assert result["addedIpykernel"] is True
    report = Engine().report(script, script=script)
    assert result["interpreter"] == report.interpreter
    assert report.script == str(script)

    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import start_new_kernel

    assert KernelSpecManager().get_kernel_spec(result["name"]).argv[0] == report.interpreter
    km, kc = start_new_kernel(kernel_name=result["name"], startup_timeout=90)
    chunks: list[str] = []
    errors: list[str] = []

    def hook(msg: dict[str, object]) -> None:
        content = msg["content"]
        assert isinstance(content, dict)
        if msg["msg_type"] == "stream":
            chunks.append(str(content["text"]))
        elif msg["msg_type"] == "error":
            errors.append("\n".join(content["traceback"]))

    code = "import alpha, beta, sys, json; print(json.dumps([alpha.__version__, sys.prefix]))"
    try:
        kc.execute_interactive(code, output_hook=hook, timeout=90)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert errors == [], errors
    alpha, prefix = json.loads("".join(chunks).strip().splitlines()[-1])
    assert alpha == "2.0" and prefix == report.virtual_env


@pytest.mark.pyright
def test_pyright_resolves_the_scripts_imports(tmp_path: Path, wheelhouse: Path) -> None:
    pyright = pyright_bin()
    if pyright is None:
        pytest.skip("npm and node are needed to install pyright")
    script = _script(tmp_path / "tools" / "check.py", ["beta"])
    report = Engine().compose(
        tmp_path, Options(script=str(script), find_links=(str(wheelhouse),), no_index=True)
    )

    node = os.environ.get("NODE") or "node"

    def unresolved(python: str) -> list[str]:
        proc = subprocess.run(
            [node, str(pyright), "--outputjson", "--pythonpath", python, script.name],
            cwd=script.parent,
            capture_output=True,
            text=True,
            env=clean_environ(),
            timeout=300,
            check=False,
        )
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
        diagnostics = json.loads(proc.stdout)["generalDiagnostics"]
        assert all(d.get("rule") == "reportMissingImports" for d in diagnostics), diagnostics
        lines = script.read_text().splitlines()
        return sorted(lines[d["range"]["start"]["line"]].split()[1] for d in diagnostics)

    assert unresolved(report.interpreter) == ["epsilon"]
    # Control: the bare base of the script resolves none of its dependencies.
    assert unresolved(report.base_interpreter) == ["alpha", "beta", "epsilon"]
