"""Jupyter, for real: kernelspecs that jupyter_client finds by name and starts, whose kernels
import the project and the layers, and see nothing of the Jupyter process that launched them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from envlayers.config import Options
from envlayers.core.engine import Engine
from envlayers.core.errors import InvalidInput
from envlayers.core.kernelspecs import carry_kernelspecs, remove_kernelspecs, user_kernels_dir
from tests.support.cli import clean_environ, cli
from tests.support.repack import kernel_wheelhouse
from tests.support.workspaces import consumer_workspace

pytestmark = [
    pytest.mark.consumer,
    pytest.mark.jupyter,
    pytest.mark.slow,
    pytest.mark.xdist_group("consumer-jupyter"),
]

_JUPYTER_VARS = ("JUPYTER_PATH", "JUPYTER_PLATFORM_DIRS", "JUPYTER_PREFER_ENV_PATH")

# Runs inside a kernel: what it can import, and from where.
_PROBE = """
import importlib, importlib.metadata as md, json, os, shutil, sys
found = {}
for mod in MODULES:
    try:
        found[mod] = getattr(importlib.import_module(mod), "__file__", None)
    except ImportError:
        found[mod] = None
print(json.dumps({
    "prefix": sys.prefix,
    "executable": sys.executable,
    "found": found,
    "alpha": md.version("alpha"),
    "alphaModule": importlib.import_module("alpha").__version__,
    "virtualEnv": os.environ.get("VIRTUAL_ENV"),
    "pythonPath": os.environ.get("PYTHONPATH"),
    "python": shutil.which("python"),
}))
"""

# Runs under a composed interpreter: jupyter_client there starts a kernel by name (argv[1]).
_LAUNCHER = """
import json, sys
from jupyter_client.manager import start_new_kernel

km, kc = start_new_kernel(kernel_name=sys.argv[1], startup_timeout=90)
out, errors = [], []

def hook(msg):
    if msg["msg_type"] == "stream":
        out.append(msg["content"]["text"])
    elif msg["msg_type"] == "error":
        errors.append("\\n".join(msg["content"]["traceback"]))

try:
    kc.execute_interactive(sys.stdin.read(), output_hook=hook, timeout=90)
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
print(json.dumps({"out": "".join(out), "errors": errors, "launcherPrefix": sys.prefix}))
"""


@pytest.fixture(scope="session")
def kernel_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ipykernel and its closure, repacked from this venv: the offline source of kernel layers."""
    return kernel_wheelhouse(tmp_path_factory.mktemp("kernel-wheels"))


@pytest.fixture
def jupyter_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep Jupyter and IPython away from the real home: data, runtime and config in tmp."""
    home = tmp_path / "jupyter-home"
    for var in _JUPYTER_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(home / "runtime"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("IPYTHONDIR", str(home / "ipython"))
    return home


@pytest.fixture
def engine() -> Engine:
    return Engine()


def _in_kernel(python: str, kernel: str, code: str, env: dict[str, str]) -> dict[str, object]:
    """Start `kernel` from a Jupyter client running under `python`; run `code`; its JSON line."""
    proc = subprocess.run(
        [python, "-c", _LAUNCHER, kernel],
        input=code,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["errors"] == [], result["errors"]
    out = str(result["out"]).strip().splitlines()
    assert out, result
    kernel_said: dict[str, object] = json.loads(out[-1])
    kernel_said["launcherPrefix"] = result["launcherPrefix"]
    return kernel_said


def _probe(*modules: str) -> str:
    return f"MODULES = {list(modules)!r}\n" + _PROBE


def _start_here(kernel: str, code: str) -> dict[str, object]:
    """Start `kernel` by name with this process's jupyter_client (the one of the test venv)."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name=kernel, startup_timeout=90)
    chunks: list[str] = []
    errors: list[str] = []

    def hook(msg: dict[str, object]) -> None:
        content = msg["content"]
        assert isinstance(content, dict)
        if msg["msg_type"] == "stream":
            chunks.append(str(content["text"]))
        elif msg["msg_type"] == "error":
            errors.append("\n".join(content["traceback"]))

    try:
        kc.execute_interactive(code, output_hook=hook, timeout=90)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert errors == [], errors
    said: dict[str, object] = json.loads("".join(chunks).strip().splitlines()[-1])
    return said


@pytest.fixture
def ws(tmp_path: Path, wheelhouse: Path, kernel_wheels: Path) -> Iterator[Path]:
    yield consumer_workspace(tmp_path / "nbproj", wheelhouse, kernel_wheels)


def test_kernel_installed_by_cli_starts_by_name_and_imports_project_and_layers(
    ws: Path, jupyter_home: Path, engine: Engine
) -> None:
    args = ("--with", "alpha==2.0", "--with", "plugin", "--user")
    proc = cli("kernel", "install", "--project", str(ws), *args, clean=True)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    report = engine.report(ws)
    name = result["name"]
    assert result["addedIpykernel"] is True
    assert result["interpreter"] == report.interpreter
    assert result["composition"] == report.name and report.name is not None
    # The added kernel layer is part of the (now active) composition, on top of the request.
    (layer,) = report.layers
    assert layer["requirements"] == ["alpha==2.0", "ipykernel", "plugin"]

    # The same kernelspec in the composed env and in the user's kernels dir.
    env_dir = Path(report.virtual_env) / "share" / "jupyter" / "kernels" / name
    user_dir = jupyter_home / "data" / "kernels" / name
    assert Path(result["path"]) == env_dir and Path(result["userPath"]) == user_dir
    spec = json.loads((env_dir / "kernel.json").read_text())
    assert (user_dir / "kernel.json").read_text() == (env_dir / "kernel.json").read_text()
    assert spec["argv"] == [
        report.interpreter,
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
    ]
    assert Path(spec["argv"][0]).is_absolute()
    assert "nbproj" in spec["display_name"] and "plugin" in spec["display_name"]
    assert spec["metadata"]["interpreter"] == {"path": report.interpreter}
    assert spec["metadata"]["envlayers"]["virtualEnv"] == report.virtual_env
    assert spec["env"]["VIRTUAL_ENV"] == report.virtual_env
    assert "PYTHONPATH" not in spec["env"]
    assert (env_dir / "logo-64x64.png").is_file()

    # jupyter_client (this venv's) finds it by name and starts it.
    from jupyter_client.kernelspec import KernelSpecManager

    assert KernelSpecManager().get_kernel_spec(name).argv[0] == report.interpreter
    said = _start_here(name, _probe("demo_app", "plugin", "alpha"))
    found = said["found"]
    assert isinstance(found, dict)
    assert found["demo_app"] == str(ws / "src" / "demo_app" / "__init__.py")  # editable
    assert found["plugin"] is not None and str(found["plugin"]).startswith(str(layer["path"]))
    assert said["alpha"] == "2.0" and said["alphaModule"] == "2.0"  # the layer shadows the base
    assert said["prefix"] == report.virtual_env
    assert said["virtualEnv"] == report.virtual_env
    assert said["pythonPath"] is None
    assert said["python"] == str(Path(report.virtual_env) / "bin" / "python")

    # A Jupyter running in the composition finds the env's own copy without the user dir.
    listing = subprocess.run(
        [
            report.interpreter,
            "-c",
            "import json; from jupyter_client.kernelspec import "
            "KernelSpecManager as K; print(json.dumps(K().find_kernel_specs()))",
        ],
        capture_output=True,
        text=True,
        env=clean_environ({"JUPYTER_DATA_DIR": str(jupyter_home / "empty")}),
        timeout=120,
        check=False,
    )
    assert listing.returncode == 0, listing.stderr
    assert json.loads(listing.stdout)[name] == str(env_dir)


def test_reinstall_is_idempotent_and_removal_deletes_only_our_kernelspecs(
    ws: Path, jupyter_home: Path, engine: Engine
) -> None:
    first = engine.install_kernel(ws, Options(with_=("plugin",)), user=True)
    layers = engine.list_layers()
    spec_text = Path(str(first["path"]), "kernel.json").read_text()
    # Again through the active composition (no options): same kernel, no new layer.
    second = engine.install_kernel(ws, Options(), user=True)
    assert second["name"] == first["name"] and second["path"] == first["path"]
    assert second["addedIpykernel"] is False
    assert [la["key"] for la in engine.list_layers()] == [la["key"] for la in layers]
    assert Path(str(second["path"]), "kernel.json").read_text() == spec_text
    kernels = Path(str(first["path"])).parent
    assert sorted(p.name for p in kernels.iterdir() if p.name.startswith(".")) == []

    # A kernelspec we did not write is never replaced (here: ipykernel's own, linked in).
    layer_spec = kernels / "python3"
    assert layer_spec.is_symlink()
    before = (layer_spec / "kernel.json").read_text()
    with pytest.raises(InvalidInput, match="python3"):
        engine.install_kernel(ws, Options(), name="python3")
    assert (layer_spec / "kernel.json").read_text() == before
    with pytest.raises(InvalidInput, match="invalid kernel name"):
        engine.install_kernel(ws, Options(), name="Not A Name")

    foreign = user_kernels_dir() / "someone-else"
    foreign.mkdir(parents=True)
    (foreign / "kernel.json").write_text(json.dumps({"argv": ["x"], "display_name": "x"}))

    removed = remove_kernelspecs(Path(engine.report(ws).virtual_env))
    assert sorted(removed) == sorted([str(first["path"]), str(first["userPath"])])
    assert not Path(str(first["path"])).exists() and not Path(str(first["userPath"])).exists()
    assert foreign.is_dir() and layer_spec.is_symlink()


def test_rebuilt_env_keeps_only_our_kernelspecs(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    kernels = old / "share" / "jupyter" / "kernels"
    meta = {"envlayers": {"virtualEnv": str(old)}}
    for name, spec in {
        "ours": {"argv": ["p"], "display_name": "ours", "metadata": meta},
        "theirs": {"argv": ["p"], "display_name": "theirs"},
    }.items():
        (kernels / name).mkdir(parents=True)
        (kernels / name / "kernel.json").write_text(json.dumps(spec))
    (kernels / "linked").symlink_to(kernels / "ours")  # a layer's kernelspec, linked in
    assert carry_kernelspecs(old, new) == ["ours"]
    new_kernels = new / "share" / "jupyter" / "kernels"
    assert sorted(p.name for p in new_kernels.iterdir()) == ["ours"]
    assert (new_kernels / "ours" / "kernel.json").read_text() == (
        kernels / "ours" / "kernel.json"
    ).read_text()
    assert carry_kernelspecs(old, new) == []  # already there: left alone


def test_user_kernels_dir_agrees_with_jupyter_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_core.paths import jupyter_data_dir

    for var in ("JUPYTER_DATA_DIR", "XDG_DATA_HOME", *_JUPYTER_VARS):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cases: list[dict[str, str]] = [
        {},
        {"XDG_DATA_HOME": str(tmp_path / "xdg")},
        {"JUPYTER_DATA_DIR": str(tmp_path / "jd")},
        {"JUPYTER_PLATFORM_DIRS": "1"},
        {"JUPYTER_PLATFORM_DIRS": "0", "XDG_DATA_HOME": str(tmp_path / "xdg2")},
    ]
    for case in cases:
        with monkeypatch.context() as mp:
            for key, value in case.items():
                mp.setenv(key, value)
            assert user_kernels_dir() == Path(jupyter_data_dir()) / "kernels", case


def test_kernel_launched_from_another_composition_sees_only_its_own(
    tmp_path: Path, wheelhouse: Path, kernel_wheels: Path, jupyter_home: Path, engine: Engine
) -> None:
    # A: a layer with plugin and alpha 2.0 over project demo-a; B: project demo-b, alpha 1.0.
    ws_a = consumer_workspace(tmp_path / "a", wheelhouse, kernel_wheels, name="demo-a")
    ws_b = consumer_workspace(tmp_path / "b", wheelhouse, kernel_wheels, name="demo-b")
    engine.install_kernel(ws_a, Options(with_=("plugin", "alpha==2.0")))
    kernel_b = engine.install_kernel(ws_b, Options(), user=True)
    report_a, report_b = engine.report(ws_a), engine.report(ws_b)
    assert report_a.interpreter != report_b.interpreter

    # A Jupyter process running in A's composition, in a terminal set up for A.
    env_a = clean_environ(report_a.env())
    said = _in_kernel(
        report_a.interpreter,
        str(kernel_b["name"]),
        _probe("demo_a", "demo_b", "plugin"),
        env_a,
    )
    assert said["launcherPrefix"] == report_a.virtual_env
    assert said["prefix"] == report_b.virtual_env
    assert said["found"] == {
        "demo_a": None,
        "demo_b": str(ws_b / "src" / "demo_b" / "__init__.py"),
        "plugin": None,
    }
    assert said["alpha"] == "1.0" and said["alphaModule"] == "1.0"
    assert said["pythonPath"] is None
    assert said["virtualEnv"] == report_b.virtual_env
    assert said["python"] == str(Path(report_b.virtual_env) / "bin" / "python")

    # And the launching side really had A's packages (the test is not vacuous).
    check = subprocess.run(
        [report_a.interpreter, "-c", "import demo_a, plugin, alpha; print(alpha.__version__)"],
        capture_output=True,
        text=True,
        env=env_a,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "2.0"
