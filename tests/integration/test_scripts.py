"""Single-file scripts (PEP 723): built, reused, shared, isolated; their lock; their failures.

Real pip and uv, offline from the wheelhouse; every claim is checked on disk or by running
the reported interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from envlayers.config import Options
from envlayers.core import proc
from envlayers.core.engine import Engine
from envlayers.core.errors import InstallFailed, InterpreterNotFound, InvalidInput
from tests.support.cli import cli, run_in
from tests.support.disk import snapshot
from tests.support.isolation import find_pythons, uv_bin
from tests.support.workspaces import BASE_PYTHON, uv_workspace

pytestmark = pytest.mark.xdist_group("scripts")

SHOW = "import alpha, beta, sys; print(alpha.__version__, beta.__version__, sys.prefix)"


def _script(path: Path, deps: list[str], body: str = SHOW, python: str = BASE_PYTHON) -> Path:
    block = "\n".join(
        [
            "# /// script",
            f'# requires-python = "=={python}.*"',
            f"# dependencies = {json.dumps(deps)}",
            "# ///",
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{block}\n{body}\n")
    return path


def _opts(script: Path, wheelhouse: Path, installer: str = "uv", **kw: object) -> Options:
    return Options(
        script=str(script),
        find_links=(str(wheelhouse),),
        no_index=True,
        installer=installer,
        **kw,  # type: ignore[arg-type]
    )


def _installs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Every installer command the engine runs from now on (the real runner still runs)."""
    seen: list[tuple[str, ...]] = []
    real = proc.run

    def spy(cmd: object, *args: object, **kwargs: object) -> object:
        words = tuple(str(c) for c in cmd)  # type: ignore[attr-defined]
        if "install" in words:
            seen.append(words)
        return real(cmd, *args, **kwargs)  # type: ignore[arg-type]

    for module in ("envlayers.core.installer", "envlayers.core.proc"):
        monkeypatch.setattr(f"{module}.run", spy, raising=False)
    return seen


def test_built_reused_shared_and_apart_from_the_project(
    tmp_path: Path,
    wheelhouse: Path,
    installer_name: str,
    envlayers_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The project around the script pins alpha 1.0 (gamma needs alpha<2); the script's beta
    # brings alpha 2.0: the script must see its own, and the project must not change.
    project = uv_workspace(tmp_path / "proj", wheelhouse, dependencies=("gamma",))
    script = _script(project / "tools" / "report.py", ["beta"])
    before = snapshot(project)
    installs = _installs(monkeypatch)
    report = Engine().compose(project, _opts(script, wheelhouse, installer_name))
    assert installs, "the spy sees the first build's installer"
    installs.clear()
    assert report.script == str(script)
    assert report.name == "script"
    root = Path(report.workspace)
    assert root.parent == envlayers_cache / "scripts" / "v1"
    assert report.interpreter == str(root / ".envlayers" / "script" / "bin" / "python")
    assert [la["requirements"] for la in report.layers] == [["beta"]]
    # `python script.py` through the reported interpreter imports the script's dependencies.
    out = subprocess.run(
        [report.interpreter, str(script)], capture_output=True, text=True, check=True
    )
    alpha, beta, prefix = out.stdout.split()
    assert (alpha, beta) == ("2.0", "1.0")
    assert prefix == str(root / ".envlayers" / "script")
    # Kept apart: nothing of the project (no .venv, no .envlayers) was made or touched.
    assert snapshot(project) == before
    assert not (project / ".venv").exists() and not (project / ".envlayers").exists()
    gamma = run_in(report.interpreter, "import gamma")
    assert gamma.returncode != 0 and "ModuleNotFoundError" in gamma.stderr

    # Reused: no installer runs the second time, the same path comes back.
    again = Engine().compose(project, _opts(script, wheelhouse, installer_name))
    assert installs == []
    assert again.interpreter == report.interpreter
    assert [la["reused"] for la in again.layers] == [True]

    # Shared: an identical script elsewhere gets its own composition over the same layer.
    other = _script(tmp_path / "elsewhere" / "copy.py", ["beta"])
    shared = Engine().compose(tmp_path, _opts(other, wheelhouse, installer_name))
    assert installs == []
    assert shared.interpreter != report.interpreter
    assert [la["key"] for la in shared.layers] == [la["key"] for la in report.layers]


def test_with_stacks_on_top_and_the_project_fallback(tmp_path: Path, wheelhouse: Path) -> None:
    script = _script(tmp_path / "s.py", ["beta"])
    report = Engine().compose(tmp_path, _opts(script, wheelhouse, with_=("epsilon",)))
    assert [la["requirements"] for la in report.layers] == [["epsilon"], ["beta"]]
    assert report.name is not None and report.name.startswith("with-")
    assert run_in(report.interpreter, "import epsilon, beta").returncode == 0
    # A `.py` without a block inside a project runs in the project's composition.
    project = uv_workspace(tmp_path / "proj", wheelhouse, dependencies=("zeta",))
    plain = project / "plain.py"
    plain.write_text("import zeta\n")
    got = Engine().compose(project, Options(script=str(plain)))
    assert got.script is None and Path(got.workspace) == project
    assert run_in(got.interpreter, "import zeta").returncode == 0
    # A script never composed: its report says how to make its env.
    fresh = _script(tmp_path / "fresh.py", ["beta"])
    missing = Engine().report(tmp_path, script=fresh)
    assert missing.sync.state == "missing" and missing.script == str(fresh)
    assert any(f"envlayers env --script {fresh}" in w for w in missing.warnings), missing.warnings
    lone = tmp_path / "lone" / "plain.py"
    lone.parent.mkdir()
    lone.write_text("print(1)\n")
    with pytest.raises(InvalidInput, match="no `# /// script` block"):
        Engine().compose(tmp_path, Options(script=str(lone)))


def test_a_lock_beside_the_script_is_honoured(tmp_path: Path, wheelhouse: Path) -> None:
    # Locked against a folder that has alpha 1.0 only; composed against one that has 2.0 too.
    old = tmp_path / "old-wheels"
    old.mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        if not wheel.name.startswith("alpha-2.0"):
            (old / wheel.name).write_bytes(wheel.read_bytes())
    script = _script(tmp_path / "s.py", ["beta"])
    env = {**os.environ, "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run(
        [
            *(uv_bin(), "lock", "--script", str(script), "--offline", "--no-index"),
            *("--find-links", str(old), "--python", str(find_pythons(minors=(12,))[0])),
        ],
        check=True,
        env=env,
        capture_output=True,
        cwd=tmp_path,
    )
    assert (tmp_path / "s.py.lock").is_file()
    report = Engine().compose(tmp_path, _opts(script, wheelhouse))
    pins = report.layers[0]["requirements"]
    assert isinstance(pins, list) and sorted(pins) == ["alpha==1.0", "beta==1.0"]
    assert run_in(report.interpreter, "import alpha; print(alpha.__version__)").stdout == "1.0\n"
    # A lock the script's metadata no longer matches is refused, unless --frozen.
    _script(script, ["beta", "epsilon"])
    with pytest.raises(InvalidInput, match=r"s\.py\.lock does not match .*uv lock --script"):
        Engine().compose(tmp_path, _opts(script, wheelhouse))
    frozen = Engine().compose(tmp_path, _opts(script, wheelhouse, frozen=True))
    assert run_in(frozen.interpreter, "import epsilon").returncode != 0  # the lock's pins only


def test_failures_name_the_script_and_leave_the_last_good_env(
    tmp_path: Path, wheelhouse: Path
) -> None:
    script = _script(tmp_path / "s.py", ["beta"])
    good = Engine().compose(tmp_path, _opts(script, wheelhouse))
    # An unknown package: the error names the script's line; the good composition stays.
    _script(script, ["beta", "nosuchpkg"])
    with pytest.raises(InstallFailed) as failed:
        Engine().compose(tmp_path, _opts(script, wheelhouse))
    assert f"{script}:3:" in str(failed.value) and "nosuchpkg" in str(failed.value)
    after = Engine().report(tmp_path, script=script)
    assert after.interpreter == good.interpreter
    assert run_in(after.interpreter, "import beta").returncode == 0
    # No interpreter satisfies requires-python: named with the script's line and column.
    script.write_text('# /// script\n# requires-python = ">=3.99"\n# ///\n')
    with pytest.raises(InterpreterNotFound, match=rf"{script}:2:21"):
        Engine().compose(tmp_path, _opts(script, wheelhouse))
    # A malformed block: exit 2 from the CLI, file:line:column first, nothing built.
    bad = tmp_path / "bad.py"
    bad.write_text('# /// script\n# dependencies = ["ok"]\n# colour = 1\n# ///\n')
    res = cli("env", "--script", str(bad))
    assert res.returncode == 2
    assert f"{bad}:3:3: colour: unknown key" in res.stderr


def test_cli_env_run_debug_config(tmp_path: Path, wheelhouse: Path) -> None:
    script = _script(tmp_path / "s.py", ["beta"], body=SHOW + "\nprint(sys.argv[1:])")
    links = ["--no-index", "--find-links", str(wheelhouse), "--installer", "uv"]
    res = cli("env", "--script", str(script), *links, "--format", "json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["script"] == str(script) and data["name"] == "script"
    res = cli("run", *links, "s.py", "a", "b", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0].split()[:2] == ["2.0", "1.0"]
    assert res.stdout.splitlines()[1] == "['a', 'b']"
    res = cli("run", *links, "--", "python", "s.py", "c", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[1] == "['c']"
    res = cli("debug-config", "--script", str(script), *links, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    config = json.loads(res.stdout)
    assert config["python"] == data["interpreter"]
    assert config["program"] == str(script) and config["cwd"] == str(tmp_path)
