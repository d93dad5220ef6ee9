"""A composition stands on one interpreter: changing the base's Python (`sync --python`, or
`python = ...` in `[tool.envlayers]`) never leaves a layer built for the old one on `sys.path`.

`pyver` is shipped as one wheel per CPython (`cp311-none-any`, `cp312-none-any`) whose module
refuses to import under another Python, as a compiled extension would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cli, run_in
from tests.support.wheels import STANDARD_WHEELS, WheelSpec, build_wheelhouse
from tests.support.workspaces import workspace

pytestmark = pytest.mark.slow

_GUARD = (
    "import sys\n"
    "BUILT_FOR = {v!r}\n"
    "if '%d.%d' % sys.version_info[:2] != BUILT_FOR:\n"
    "    raise ImportError('pyver was built for Python ' + BUILT_FOR)\n"
    "__version__ = '1.0'\n"
)


def _pyver(version: str) -> WheelSpec:
    tag = "cp" + version.replace(".", "") + "-none-any"
    return WheelSpec(
        "pyver", "1.0", modules={"pyver/__init__.py": _GUARD.format(v=version)}, tag=tag
    )


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> Path:
    specs = [*STANDARD_WHEELS, _pyver("3.11"), _pyver("3.12")]
    return build_wheelhouse(tmp_path_factory.mktemp("pyver-house"), specs)


def _json(*args: str) -> Any:
    out = cli(*args, "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _compositions(ws: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = _json("compositions", "list", "--project", str(ws))
    return rows


def _imports(python: str) -> str:
    probe = run_in(python, "import sys, pyver; print('%d.%d' % sys.version_info[:2])")
    assert probe.returncode == 0, probe.stderr
    return probe.stdout.strip()


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_sync_to_another_python_never_keeps_the_old_layer(
    installer: str, tmp_path: Path, house: Path
) -> None:
    ws = workspace(tmp_path / "ws", installer, house, python="3.11", dependencies=("beta",))
    _json("sync", "--project", str(ws))
    first = _json("env", "--project", str(ws), "--with", "pyver")
    assert _imports(first["interpreter"]) == "3.11"
    old_layer = first["layers"][0]["key"]

    after = _json("sync", "--project", str(ws), "--python", "3.12")
    assert after["pythonVersion"].startswith("3.12")
    # The 3.11 layer is not offered on 3.12: no reuse, a warning, the listing says stale.
    for entry in after["layers"]:
        assert entry["key"] != old_layer
    assert any("3.11" in w and "envlayers env" in w for w in after["warnings"]), after["warnings"]
    assert [c["valid"] for c in _compositions(ws)] == [False]
    for d in after["sysPath"]:
        assert "python3.11" not in d

    again = _json("env", "--project", str(ws), "--python", "3.12", "--with", "pyver")
    assert again["layers"][0]["key"] != old_layer
    assert again["layers"][0]["reused"] is False
    assert not again["warnings"]
    assert _imports(again["interpreter"]) == "3.12"
    record = json.loads(
        (Path(again["virtualEnv"]) / "envlayers-composition.json").read_text("utf-8")
    )
    assert record["base"]["version"].startswith("3.12")
    assert record["layers"] == [again["layers"][0]["key"]]
    assert all("python3.11" not in d for d in record["overlayDirs"])
    assert [c["valid"] for c in _compositions(ws)] == [True]


def test_python_setting_change_rebuilds_layers_for_the_new_python(
    tmp_path: Path, house: Path
) -> None:
    ws = workspace(tmp_path / "ws", "uv", house, python="3.11", dependencies=("beta",))
    first = _json("env", "--project", str(ws), "--with", "pyver")
    assert _imports(first["interpreter"]) == "3.11"
    text = (ws / "pyproject.toml").read_text("utf-8")
    (ws / "pyproject.toml").write_text(text.replace('python = "3.11"', 'python = "3.12"'), "utf-8")
    again = _json("env", "--project", str(ws), "--with", "pyver")
    assert again["layers"][0]["key"] != first["layers"][0]["key"]
    assert _imports(again["interpreter"]) == "3.12"
    assert [c["valid"] for c in _compositions(ws)] == [True]


def test_compose_refuses_a_layer_of_another_interpreter(tmp_path: Path, house: Path) -> None:
    from envlayers.core import interpreter as _interp
    from envlayers.core.compose import ensure_composed
    from envlayers.core.engine import Engine
    from envlayers.core.errors import OperationFailed

    ws = workspace(tmp_path / "ws", "uv", house, python="3.11", dependencies=("beta",))
    engine = Engine()
    report = engine.compose(ws, _options("pyver"))
    layer = engine.layers.load(report.layers[0]["key"])  # type: ignore[arg-type]
    assert layer is not None
    _json("sync", "--project", str(ws), "--python", "3.12")
    base = _interp.probe(ws / ".venv" / "bin" / "python")
    with pytest.raises(OperationFailed, match=r"3\.11"):
        ensure_composed(ws, "other", base=base, layers=[layer])
    assert not (ws / ".envlayers" / "other").exists()


def _options(*with_: str) -> Any:
    from envlayers.config import Options

    return Options(with_=with_)
