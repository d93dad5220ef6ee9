"""The venvs `create_venv` writes itself (no virtualenv) are venvs to everything that looks.

On every Python 3.9-3.13 present: the interpreter itself (`sys.prefix != sys.base_prefix`,
`site.getsitepackages()`), the layout `python -m venv` makes, virtualenv (a venv made *from*
ours finds the real interpreter behind it), uv (`uv pip install --python` / `uv pip list`),
pip (`pip --python install`, or the bundled pip wheel where our pip is too new) and the pinned
pyright resolving an import from it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envlayers.core.installer import IndexSettings, PipInstaller
from envlayers.core.interpreter import probe
from envlayers.core.venv import create_venv, read_pyvenv_cfg, site_packages, venv_python
from tests.support.isolation import PYENV_VERSIONS, REMOVED_VARS, uv_bin

MINORS = (9, 10, 11, 12, 13)

_FACTS = r"""
import json, site, sys, sysconfig
print(json.dumps({
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
    "executable": sys.executable,
    "site": site.getsitepackages(),
    "paths": sysconfig.get_paths(),
    "path": sys.path,
}))
"""


def _python(minor: int) -> Path:
    found = sorted(PYENV_VERSIONS.glob(f"3.{minor}.*/bin/python3.{minor}"))
    if not found:
        pytest.skip(f"no Python 3.{minor} under {PYENV_VERSIONS}")
    return found[-1]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in REMOVED_VARS}


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(
        cmd,
        env=_env(),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, f"{cmd}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def _facts(python: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(_run([str(python), "-c", _FACTS]))
    return data


def _relative(facts: dict[str, object], prefix: Path) -> dict[str, object]:
    """The facts with the venv's own prefix replaced, so two venvs can be compared."""
    text = json.dumps({k: facts[k] for k in ("site", "paths", "path")})
    return dict(json.loads(text.replace(str(prefix), "<venv>")))


@pytest.fixture(params=MINORS, ids=[f"3.{m}" for m in MINORS])
def base_python(request: pytest.FixtureRequest) -> Path:
    return _python(int(request.param))


@pytest.fixture
def direct(base_python: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "direct"
    create_venv(dest, str(base_python))
    return dest


def test_the_writer_makes_the_venv_itself(base_python: Path, direct: Path) -> None:
    cfg = read_pyvenv_cfg(direct)
    assert "virtualenv" not in cfg  # virtualenv names itself in every pyvenv.cfg it writes
    assert venv_python(direct).is_symlink()
    assert os.path.realpath(venv_python(direct)) == os.path.realpath(base_python)
    assert cfg["home"] == str(base_python.parent)
    assert cfg["include-system-site-packages"] == "false"
    assert cfg["version_info"] == cfg["version"] == probe(base_python).version
    minor = f"3.{base_python.name.rsplit('.', 1)[-1]}"
    for name in ("python3", f"python{minor}"):
        assert os.path.realpath(direct / "bin" / name) == os.path.realpath(base_python)


def test_the_interpreter_and_python_m_venv_agree(
    base_python: Path, direct: Path, tmp_path: Path
) -> None:
    facts = _facts(venv_python(direct))
    assert facts["prefix"] == str(direct)
    assert facts["prefix"] != facts["base_prefix"]
    assert facts["base_prefix"] == probe(base_python).base_prefix
    assert facts["executable"] == str(venv_python(direct))
    version = probe(base_python).version_info
    assert facts["site"] == [str(site_packages(direct, version))]
    # Same shape as the venv the stdlib makes: sysconfig paths, site dirs, sys.path.
    ref = tmp_path / "ref"
    _run([str(base_python), "-m", "venv", "--without-pip", str(ref)])
    assert _relative(facts, direct) == _relative(_facts(venv_python(ref)), ref)
    # And the probe (what the engine reads) says venv, with the real interpreter as base.
    info = probe(venv_python(direct))
    assert info.is_venv and os.path.realpath(info.base_executable) == os.path.realpath(base_python)
    assert info.site_packages == (str(site_packages(direct, version)),)


def test_virtualenv_sees_the_real_interpreter_behind_it(direct: Path, tmp_path: Path) -> None:
    from virtualenv import cli_run

    child = tmp_path / "child"
    args = [str(child), "--python", str(venv_python(direct)), "--no-seed", "--activators", ""]
    cli_run([*args, "--quiet"], setup_logging=False)
    # Had virtualenv not taken ours for a venv, the child's home would be <direct>/bin.
    assert read_pyvenv_cfg(child)["home"] == read_pyvenv_cfg(direct)["home"]
    assert _facts(venv_python(child))["base_prefix"] == _facts(venv_python(direct))["base_prefix"]


def test_uv_and_pip_install_into_it(direct: Path, wheelhouse: Path) -> None:
    python = str(venv_python(direct))
    links = ["--no-index", "--find-links", str(wheelhouse)]
    _run([uv_bin(), "pip", "install", "--python", python, "--color", "never", *links, "alpha==1.0"])
    listed = json.loads(_run([uv_bin(), "pip", "list", "--python", python, "--format", "json"]))
    assert {"name": "alpha", "version": "1.0"} in listed
    # pip: `pip --python <venv>` (or pip's own wheel run by the venv, where our pip is too new).
    PipInstaller().install(
        python, ["epsilon==1.0"], index=IndexSettings(find_links=(str(wheelhouse),), no_index=True)
    )
    site = site_packages(direct, probe(python).version_info)
    out = _run([python, "-c", "import alpha, epsilon; print(alpha.__file__, epsilon.__file__)"])
    assert all(path.startswith(str(site)) for path in out.split())
    listed = json.loads(_run([uv_bin(), "pip", "list", "--python", python, "--format", "json"]))
    assert {"name": "epsilon", "version": "1.0"} in listed


@pytest.mark.pyright
@pytest.mark.slow
@pytest.mark.xdist_group("consumer-pyright")
def test_pyright_resolves_imports_from_it(direct: Path, wheelhouse: Path, tmp_path: Path) -> None:
    from tests.support.cli import clean_environ
    from tests.support.consumers import pyright_bin

    pyright = pyright_bin()
    if pyright is None:
        pytest.skip("npm and node are needed to install pyright")
    python = str(venv_python(direct))
    _run([uv_bin(), "pip", "install", "--python", python, "--no-index", "--find-links",
          str(wheelhouse), "alpha==1.0"])  # fmt: skip
    root = tmp_path / "checker"
    root.mkdir()
    (root / "check.py").write_text("import alpha\nimport epsilon\n", encoding="utf-8")
    node = os.environ.get("NODE") or "node"
    proc = subprocess.run(
        [node, str(pyright), "--outputjson", "--pythonpath", python, "check.py"],
        cwd=root,
        capture_output=True,
        text=True,
        env=clean_environ(),
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    diagnostics = json.loads(proc.stdout)["generalDiagnostics"]
    # alpha (installed in the venv) resolves; epsilon (nowhere) is the control that must not.
    assert [(d["rule"], d["range"]["start"]["line"]) for d in diagnostics] == [
        ("reportMissingImports", 1)
    ], diagnostics


def test_system_site_packages_and_extra_keys(base_python: Path, tmp_path: Path) -> None:
    dest = tmp_path / "overlay"
    create_venv(
        dest,
        str(base_python),
        system_site_packages=True,
        base=probe(base_python),
        extra_cfg={"extends-environment": "/somewhere", "envlayers-layers": "a,b"},
    )
    cfg = read_pyvenv_cfg(dest)
    assert cfg["include-system-site-packages"] == "true"
    assert cfg["extends-environment"] == "/somewhere" and cfg["envlayers-layers"] == "a,b"
    facts = _facts(venv_python(dest))
    site = facts["site"]
    assert isinstance(site, list) and len(site) == 2  # the venv's own, then the base's
    assert probe(venv_python(dest)).include_system_site_packages


def test_virtualenv_is_not_imported_to_make_one(base_python: Path, tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from envlayers.core.venv import create_venv;"
        f"create_venv(Path({str(tmp_path / 'v')!r}), {str(base_python)!r});"
        "print('virtualenv' in sys.modules)"
    )
    assert _run([sys.executable, "-c", script]).strip() == "False"


@pytest.mark.parametrize("system_site", [False, True], ids=["isolated", "system-site"])
def test_the_probe_describes_it_without_running_it(
    base_python: Path, tmp_path: Path, system_site: bool
) -> None:
    from envlayers.core import probe as interpreter

    dest = tmp_path / "described"
    create_venv(dest, str(base_python), system_site_packages=system_site)
    exe = str(venv_python(dest))
    identity = interpreter.executable_identity(exe)
    derived = interpreter._written_venv(exe, identity)
    assert derived is not None
    # Exactly what running the venv's python reports.
    assert derived == interpreter._run_probe(exe, identity)
    # Not for a venv someone else wrote, nor for one whose interpreter we have not seen.
    other = tmp_path / "stdlib-venv"
    _run([str(base_python), "-m", "venv", "--without-pip", str(other)])
    other_exe = str(venv_python(other))
    assert interpreter._written_venv(other_exe, interpreter.executable_identity(other_exe)) is None
    interpreter._templates.clear()
    assert interpreter._written_venv(exe, identity) is None
