"""NOTES section 6, edge cases 1-16: real venvs, real pip and uv, tiny local wheels."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from envlayers.config import Options
from envlayers.core.engine import Engine
from envlayers.core.errors import InstallFailed, InvalidInput
from tests.support.cli import cli, cli_cmd, run_in
from tests.support.isolation import uv_bin
from tests.support.processes import running, wait_until
from tests.support.wheels import build_wheel
from tests.support.workspaces import workspace

pytestmark = pytest.mark.slow


@pytest.fixture
def ws(tmp_path: Path, installer_name: str, wheelhouse: Path) -> Path:
    return workspace(tmp_path / "ws", installer_name, wheelhouse)


@pytest.fixture
def engine() -> Engine:
    return Engine()


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if name == "envlayers-layer.json" or p.is_symlink():
                h.update(str(p).encode())
                continue
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def test_1_layer_version_wins_and_is_reported(ws: Path, engine: Engine) -> None:
    report = engine.compose(ws, Options(with_=("alpha==2.0",)))
    assert len(report.layers) == 1
    out = run_in(
        report.interpreter,
        "import alpha, importlib.metadata as m; print(alpha.__version__, m.version('alpha'))",
    )
    assert out.stdout.split() == ["2.0", "2.0"], out.stderr
    (conflict,) = [c for c in report.conflicts if c["name"] == "alpha"]
    assert conflict["version"] == "2.0"
    assert conflict["source"] == report.layers[0]["key"]
    assert conflict["shadows"] == [{"version": "1.0", "source": "workspace"}]
    breaks = conflict["breaks"]
    assert isinstance(breaks, list) and any("gamma" in b and "alpha<2" in b for b in breaks)


def test_2_base_satisfies_request_builds_no_layer(
    ws: Path, engine: Engine, envlayers_cache: Path
) -> None:
    report = engine.compose(ws, Options(with_=("alpha>=1", "beta")))
    assert report.layers == ()
    assert report.satisfied_by_base == ("alpha>=1", "beta")
    assert report.interpreter == report.base_interpreter
    assert not (envlayers_cache / "layers" / "v1").exists() or not any(
        p for p in (envlayers_cache / "layers" / "v1").iterdir() if not p.name.startswith(".")
    )


def test_3_satisfaction_honours_extras_markers_and_sources(
    tmp_path: Path, installer_name: str, wheelhouse: Path, engine: Engine
) -> None:
    root = workspace(tmp_path / "ws", installer_name, wheelhouse, dependencies=("delta", "mark"))
    # A false marker needs nothing more: mark is satisfied although epsilon is absent.
    report = engine.compose(root, Options(with_=("mark",)))
    assert report.layers == () and report.satisfied_by_base == ("mark",)
    # An extra needs its dependencies: delta[fancy] brings epsilon in a layer.
    report = engine.compose(root, Options(with_=("delta[fancy]",)))
    assert len(report.layers) == 1
    assert "epsilon" in report.layers[0]["packages"]  # type: ignore[operator]
    # An editable request is not satisfied by the base's registry install of the same name.
    lib = tmp_path / "lib"
    from tests.support.projects import write_project

    write_project(lib, name="delta", version="1.0")
    report = engine.compose(root, Options(with_editable=(str(lib),)))
    assert len(report.layers) == 1 and report.satisfied_by_base == ()
    out = run_in(report.interpreter, "import delta; print(delta.WHERE)")
    assert str(lib) in out.stdout, out.stderr


def test_4_base_editable_and_pth_work_also_isolated(ws: Path, engine: Engine) -> None:
    report = engine.compose(ws, Options(with_=("plugin",)))
    for flags in ([], ["-I"]):
        out = run_in(
            report.interpreter, "import demo_app, plugin; print(demo_app.WHERE)", args=flags
        )
        assert out.returncode == 0, out.stderr
        assert str(ws / "src") in out.stdout
    assert str(ws / "src") in report.sys_path


def test_5_stdlib_first_and_no_user_site(ws: Path, engine: Engine) -> None:
    report = engine.compose(ws, Options(with_=("plugin",)))
    code = (
        "import sys, site, json, sysconfig; "
        "print(json.dumps([sys.path, site.ENABLE_USER_SITE, sysconfig.get_paths()['stdlib']]))"
    )
    out = run_in(report.interpreter, code, env={"PYTHONNOUSERSITE": ""})
    path, user_site, stdlib = json.loads(out.stdout)
    first_site = min(i for i, p in enumerate(path) if "site-packages" in p)
    assert any(p == stdlib for p in path[:first_site])
    assert not user_site
    assert not any(".local" in p for p in path)
    # sysPath is the runtime's order after the composed env's own site-packages.
    ours = [p for p in path if p in report.sys_path]
    assert ours == list(report.sys_path)


def test_6_no_pythonpath_and_other_pythons_see_nothing(ws: Path, engine: Engine) -> None:
    report = engine.compose(ws, Options(with_=("plugin",)))
    env = report.env()
    assert "PYTHONPATH" not in env and "PYTHONHOME" not in env
    assert "PYTHONPATH" not in report.to_json()["env"]  # type: ignore[operator]
    other = "/root/.pyenv/versions/3.11.7/bin/python3"
    if not Path(other).exists():
        pytest.skip("no second interpreter")
    out = run_in(other, "import plugin", env=env)
    assert out.returncode != 0 and "ModuleNotFoundError" in out.stderr


def test_7_subprocess_of_sys_executable_sees_layers(ws: Path, engine: Engine) -> None:
    report = engine.compose(ws, Options(with_=("plugin",)))
    code = (
        "import subprocess, sys; "
        "print(subprocess.run([sys.executable, '-c', 'import plugin, beta; print(plugin.WHERE)'],"
        " capture_output=True, text=True).stdout)"
    )
    out = run_in(report.interpreter, code)
    assert report.layers[0]["path"] in out.stdout, out.stderr  # type: ignore[operator]


def test_8_scripts_layer_shadows_base_and_base_scripts_use_composition(
    ws: Path, engine: Engine
) -> None:
    report = engine.compose(ws, Options(with_=("eta", "plugin")))
    env = {**os.environ, **report.env()}
    env.pop("PYTHONPATH", None)
    tool = shutil.which("beta-tool", path=env["PATH"])
    assert tool is not None and Path(tool).parent == Path(report.virtual_env) / "bin"
    out = subprocess.run([tool], capture_output=True, text=True, env=env, check=False)
    assert "beta-tool from eta" in out.stdout, out.stderr
    # A base console script runs under the composed interpreter.
    out = subprocess.run(["zeta"], capture_output=True, text=True, env=env, check=False)
    assert out.stdout.splitlines()[0] == report.interpreter, out.stderr
    # A non-Python tool of the layer is on PATH.
    out = subprocess.run(["eta-sh"], capture_output=True, text=True, env=env, check=False)
    assert out.stdout.strip() == "eta-sh"


def test_10_virtual_env_is_prefix_and_cfg_names_base(ws: Path, engine: Engine) -> None:
    report = engine.compose(ws, Options(with_=("plugin",)))
    out = run_in(report.interpreter, "import sys; print(sys.prefix)", env=report.env())
    assert out.stdout.strip() == report.virtual_env == report.env()["VIRTUAL_ENV"]
    cfg = (Path(report.virtual_env) / "pyvenv.cfg").read_text()
    assert f"extends-environment = {ws / '.venv'}" in cfg
    assert "include-system-site-packages = false" in cfg


def test_11_layer_shared_and_never_modified(
    tmp_path: Path, installer_name: str, wheelhouse: Path, engine: Engine
) -> None:
    a = workspace(tmp_path / "a", installer_name, wheelhouse, name="app-a")
    b = workspace(tmp_path / "b", installer_name, wheelhouse, name="app-b")
    ra = engine.compose(a, Options(with_=("plugin",)))
    layer = Path(str(ra.layers[0]["path"]))
    before = _tree_digest(layer)
    rb = engine.compose(b, Options(with_=("plugin",)))
    assert rb.layers[0]["key"] == ra.layers[0]["key"] and rb.layers[0]["reused"] is True
    assert _tree_digest(layer) == before
    assert run_in(rb.interpreter, "import app_a").returncode != 0
    assert run_in(ra.interpreter, "import app_b").returncode != 0
    assert run_in(rb.interpreter, "import app_b, plugin").returncode == 0


def test_12_reuse_and_new_key_for_rebuilt_wheel_and_index(
    ws: Path, engine: Engine, tmp_path: Path
) -> None:
    first = engine.compose(ws, Options(with_=("plugin",)))
    again = engine.compose(ws, Options(with_=("plugin",)))
    assert again.layers[0]["key"] == first.layers[0]["key"] and again.layers[0]["reused"] is True
    # A local wheel rebuilt with other content gets a new layer.
    local = tmp_path / "local"
    whl = build_wheel(local, "localpkg", "1.0", modules={"localpkg/__init__.py": "X = 1\n"})
    r1 = engine.compose(ws, Options(with_=(str(whl),)))
    build_wheel(local, "localpkg", "1.0", modules={"localpkg/__init__.py": "X = 2\n"})
    r2 = engine.compose(ws, Options(with_=(str(whl),)))
    assert r1.layers[0]["key"] != r2.layers[0]["key"]
    assert run_in(r2.interpreter, "import localpkg; print(localpkg.X)").stdout.strip() == "2"
    # Another index (here: another find-links folder) gets a new layer.
    other = tmp_path / "other-links"
    other.mkdir()
    r3 = engine.compose(ws, Options(with_=("plugin",), find_links=(str(other),)))
    assert r3.layers[0]["key"] != first.layers[0]["key"]


def test_12_other_interpreter_other_key(
    tmp_path: Path, installer_name: str, wheelhouse: Path, engine: Engine
) -> None:
    a = workspace(tmp_path / "a", installer_name, wheelhouse)
    b = workspace(tmp_path / "b", installer_name, wheelhouse, extra_tool="")
    text = (b / "pyproject.toml").read_text().replace('python = "3.12"', 'python = "3.11"')
    (b / "pyproject.toml").write_text(text)
    ra = engine.compose(a, Options(with_=("plugin",)))
    rb = engine.compose(b, Options(with_=("plugin",)))
    assert ra.python_version.startswith("3.12") and rb.python_version.startswith("3.11")
    assert ra.layers[0]["key"] != rb.layers[0]["key"]


def test_13_concurrent_builds_make_one_layer(
    tmp_path: Path, installer_name: str, wheelhouse: Path, envlayers_cache: Path
) -> None:
    roots = [
        workspace(tmp_path / f"w{i}", installer_name, wheelhouse, name=f"app{i}") for i in range(2)
    ]
    for r in roots:
        assert cli("sync", "--project", str(r)).returncode == 0
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "envlayers",
                "env",
                "--no-sync",
                "--with",
                "plugin",
                "--with",
                "eta",
                "--project",
                str(r),
                "--format",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in roots
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    keys = {json.loads(o[0])["layers"][0]["key"] for o in outs}
    assert len(keys) == 1
    layers = [
        p for p in (envlayers_cache / "layers" / "v1").iterdir() if not p.name.startswith(".")
    ]
    assert [p.name for p in layers] == list(keys)


def test_14_killed_build_is_never_used(ws: Path, envlayers_cache: Path) -> None:
    assert cli("sync", "--project", str(ws)).returncode == 0
    root = envlayers_cache / "layers" / "v1"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "envlayers",
            "env",
            "--no-sync",
            "--with",
            "plugin",
            "--project",
            str(ws),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if root.exists() and any(p.name.startswith(".tmp-") for p in root.iterdir()):
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    published = [p for p in root.iterdir() if not p.name.startswith(".")] if root.exists() else []
    for p in published:  # a build that won the race is complete, never half
        assert (p / "envlayers-layer.json").exists()
    result = cli("env", "--no-sync", "--with", "plugin", "--project", str(ws), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert run_in(report["interpreter"], "import plugin").returncode == 0
    assert not [p for p in root.iterdir() if p.name.startswith(".tmp-")]


def _held_uv(tmp_path: Path, pidfile: Path, go: Path) -> Path:
    """uv behind a wrapper whose `pip install` says its pid and waits for `go` to exist."""
    wrapper = tmp_path / "uv-held"
    real = uv_bin()
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import os, sys, time\n"
        "if sys.argv[1:3] == ['pip', 'install']:\n"
        f"    with open({str(pidfile)!r} + '.tmp', 'w') as fh:\n"
        "        fh.write(str(os.getpid()))\n"
        f"    os.replace({str(pidfile)!r} + '.tmp', {str(pidfile)!r})\n"
        f"    while not os.path.exists({str(go)!r}):\n"
        "        time.sleep(0.02)\n"
        f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n",
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    return wrapper


def test_14b_a_killed_builds_installer_never_works_beside_the_next_build(
    tmp_path: Path, wheelhouse: Path, envlayers_cache: Path
) -> None:
    """`kill -9` of envlayers leaves the installer it started running (its own process group,
    so that a cancel can kill its tree). The next build of that layer waits for it to end,
    then starts clean: nothing of the dead build is written after, or beside, the new one."""
    ws = workspace(tmp_path / "ws", "uv", wheelhouse)
    assert cli("sync", "--project", str(ws)).returncode == 0
    root = envlayers_cache / "layers" / "v1"
    pidfile, go = tmp_path / "installer.pid", tmp_path / "go"
    held = {**os.environ, "ENVLAYERS_UV": str(_held_uv(tmp_path, pidfile, go))}
    args = ("env", "--no-sync", "--with", "plugin", "--project", str(ws))
    first = subprocess.Popen(
        cli_cmd(*args),
        env=held,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_until(pidfile.exists, 120, what="the first build's installer")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    orphan = psutil.Process(int(pidfile.read_text()))
    assert running(orphan)  # the installer outlived the envlayers that started it
    out, err = tmp_path / "second.out", tmp_path / "second.err"
    with out.open("wb") as fo, err.open("wb") as fe:
        second = subprocess.Popen(cli_cmd(*args, "-v", "--format", "json"), stdout=fo, stderr=fe)
        wait_until(
            lambda: second.poll() is not None or b"waiting for another" in err.read_bytes(),
            120,
            what="the second build to finish or wait",
        )
        finished_beside = second.poll() is not None
        go.touch()  # the dead build's installer goes on: uv writes into its build folder
        assert second.wait(timeout=300) == 0, err.read_text()
    wait_until(lambda: not running(orphan), 120, what="the dead build's installer to end")
    assert not finished_beside, "the next build ran while the dead build's installer wrote"
    assert not [p for p in root.iterdir() if p.name.startswith(".tmp-")]
    report = json.loads(out.read_text())
    (layer,) = report["layers"]
    assert (Path(layer["path"]) / "envlayers-layer.json").exists()
    assert run_in(report["interpreter"], "import plugin").returncode == 0


def test_15_unresolvable_request_changes_nothing(
    ws: Path, engine: Engine, envlayers_cache: Path
) -> None:
    good = engine.compose(ws, Options(with_=("plugin",)))
    active = (ws / ".envlayers" / "active.json").read_bytes()

    def published() -> list[str]:
        return sorted(
            p.name
            for p in (envlayers_cache / "layers" / "v1").iterdir()
            if not p.name.startswith(".")
        )

    layers = published()
    base_sp = (
        sorted(p.name for p in Path(good.sys_path[-1]).parent.iterdir()) if good.sys_path else []
    )
    with pytest.raises(InstallFailed) as info:
        engine.compose(ws, Options(with_=("nosuchpkg-xyz",)))
    assert "nosuchpkg-xyz" in str(info.value)
    assert (ws / ".envlayers" / "active.json").read_bytes() == active
    assert published() == layers
    assert not [
        p for p in (envlayers_cache / "layers" / "v1").iterdir() if p.name.startswith(".tmp-")
    ]
    if good.sys_path:
        assert sorted(p.name for p in Path(good.sys_path[-1]).parent.iterdir()) == base_sp
    assert engine.report(ws).interpreter == good.interpreter
    result = cli("env", "--with", "nosuchpkg-xyz", "--project", str(ws))
    assert result.returncode == 1 and "nosuchpkg-xyz" in result.stderr
    bad = cli("env", "--with", "alpha>>=1", "--project", str(ws))
    assert bad.returncode == 2 and "alpha>>=1" in bad.stderr
    with pytest.raises(InvalidInput):
        engine.compose(ws, Options(with_=("--index-url=http://evil/",)))


def test_16_interpreter_outlives_the_command(ws: Path) -> None:
    result = cli("env", "--with", "plugin", "--project", str(ws), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    out = run_in(report["interpreter"], "import plugin, beta; print('ok')")
    assert out.stdout.strip() == "ok", out.stderr
    # And the report of the existing composition points at the same, still-working path.
    again = cli("env", "--no-sync", "--with", "plugin", "--project", str(ws), "--format", "json")
    assert json.loads(again.stdout)["interpreter"] == report["interpreter"]


def test_9_long_paths_use_the_sh_shebang_form_and_still_run(
    tmp_path: Path, installer_name: str, wheelhouse: Path, engine: Engine
) -> None:
    # Past 127 characters installers write the `/bin/sh` + `'''exec'` form; ours must too.
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "ws"
    root = workspace(deep, installer_name, wheelhouse)
    report = engine.compose(root, Options(with_=("eta",)))
    assert len(report.interpreter) > 127
    env = {**os.environ, **report.env()}
    env.pop("PYTHONPATH", None)
    for tool, expected in (("zeta", report.interpreter), ("beta-tool", "beta-tool from eta")):
        script = Path(report.virtual_env) / "bin" / tool
        head = script.read_text().splitlines()[:2]
        assert head[0] == "#!/bin/sh" and report.interpreter in head[1]
        out = subprocess.run([str(script)], capture_output=True, text=True, env=env, check=False)
        assert expected in out.stdout, out.stderr
