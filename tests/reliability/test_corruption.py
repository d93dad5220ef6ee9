"""Corruption: damaged layers, vanished interpreters, bad metadata and edited overlays are
detected, reported, rebuilt, and never used as they are."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from envlayers.config import Options
from envlayers.core.compose import OVERLAY_MODULE
from envlayers.core.engine import Engine
from envlayers.core.layers import LAYER_META, LayerCache
from tests.support.cli import run_in
from tests.support.disk import assert_cache_sound, layers_root
from tests.support.workspaces import uv_workspace

pytestmark = pytest.mark.slow

PLUGIN = Options(with_=("plugin",), no_sync=True)


@pytest.fixture
def ws(tmp_path: Path, wheelhouse: Path) -> Path:
    root = uv_workspace(tmp_path / "ws", wheelhouse)
    Engine().sync(root)
    return root


def _layer_path(report_layers: object) -> Path:
    assert isinstance(report_layers, tuple) and len(report_layers) == 1
    return Path(str(report_layers[0]["path"]))


def _site(layer: Path) -> Path:
    (site,) = layer.glob("lib/python3.*/site-packages")
    return site


def _rm_module(layer: Path) -> None:
    shutil.rmtree(_site(layer) / "plugin")


def _rm_dist_info(layer: Path) -> None:
    shutil.rmtree(next(_site(layer).glob("plugin-*.dist-info")))


def _rm_site(layer: Path) -> None:
    shutil.rmtree(_site(layer))


def _rm_bin(layer: Path) -> None:
    shutil.rmtree(layer / "bin")


def _truncate_meta(layer: Path) -> None:
    data = (layer / LAYER_META).read_bytes()
    (layer / LAYER_META).write_bytes(data[: len(data) // 2])


def _garbage_meta(layer: Path) -> None:
    (layer / LAYER_META).write_bytes(os.urandom(512))


def _wrong_shape_meta(layer: Path) -> None:
    meta = json.loads((layer / LAYER_META).read_text())
    meta["packages"] = "plugin"
    (layer / LAYER_META).write_text(json.dumps(meta))


def _other_key_meta(layer: Path) -> None:
    meta = json.loads((layer / LAYER_META).read_text())
    meta["key"] = "0" * 24
    (layer / LAYER_META).write_text(json.dumps(meta))


def _no_meta(layer: Path) -> None:
    (layer / LAYER_META).unlink()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "module-deleted": _rm_module,
    "dist-info-deleted": _rm_dist_info,
    "site-packages-deleted": _rm_site,
    "bin-deleted": _rm_bin,
    "meta-truncated": _truncate_meta,
    "meta-garbage": _garbage_meta,
    "meta-wrong-shape": _wrong_shape_meta,
    "meta-other-key": _other_key_meta,
    "meta-missing": _no_meta,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_layer_is_detected_reported_and_rebuilt(
    damage: str, ws: Path, envlayers_cache: Path
) -> None:
    engine = Engine()
    first = engine.compose(ws, PLUGIN)
    layer = _layer_path(first.layers)
    DAMAGE[damage](layer)
    # Reported: the report no longer offers the damaged composition as the interpreter.
    report = engine.report(ws)
    assert report.interpreter == report.base_interpreter, damage
    assert report.layers == ()
    assert any("damaged" in w or "missing" in w for w in report.warnings), report.warnings
    # Rebuilt: the same request builds the layer again, at the same key, and it works.
    again = engine.compose(ws, PLUGIN)
    assert again.layers[0]["key"] == first.layers[0]["key"]
    assert again.layers[0]["reused"] is False
    out = run_in(again.interpreter, "import plugin; print(plugin.__version__)")
    assert out.stdout.strip() == "1.0", out.stderr
    assert_cache_sound(envlayers_cache)
    listed = {row["key"]: row for row in engine.list_layers()}
    assert listed[str(first.layers[0]["key"])]["valid"] is True


def _fake_python(prefix: Path, version: str = "3.12", *, build: int = 0) -> Path:
    """A private copy of a CPython binary (its stdlib linked): ours to remove or upgrade."""
    real = sorted(Path("/root/.pyenv/versions").glob(f"{version}.*/bin/python{version}"))
    if not real:
        pytest.skip(f"no CPython {version} here")
    home = real[-1].parent.parent
    (prefix / "bin").mkdir(parents=True)
    for sub in ("lib", "include"):
        (prefix / sub).symlink_to(home / sub)
    exe = prefix / "bin" / f"python{version}"
    # Trailing bytes change nothing the loader reads, but make another build of the file.
    exe.write_bytes(real[-1].read_bytes() + b"\0" * build)
    exe.chmod(0o755)
    return exe


def _upgrade_in_place(exe: Path) -> None:
    """A package manager replacing the binary: same path, new file."""
    data = exe.read_bytes()
    exe.unlink()
    exe.write_bytes(data + b"\0")
    exe.chmod(0o755)


def test_base_python_upgraded_in_place_or_removed(
    tmp_path: Path, wheelhouse: Path, envlayers_cache: Path
) -> None:
    exe = _fake_python(tmp_path / "py")
    ws = uv_workspace(tmp_path / "ws", wheelhouse)
    text = (ws / "pyproject.toml").read_text().replace('python = "3.12"', f'python = "{exe}"')
    (ws / "pyproject.toml").write_text(text)
    engine = Engine()
    first = engine.compose(ws, Options(with_=("plugin",)))
    old_key = str(first.layers[0]["key"])

    _upgrade_in_place(exe)
    upgraded = engine.compose(ws, Options(with_=("plugin",)))
    assert upgraded.layers[0]["key"] != old_key, "a layer of the old interpreter was reused"
    assert run_in(upgraded.interpreter, "import plugin").returncode == 0

    # Removed: the layers built from it dangle and are refused; the report says so.
    shutil.rmtree(tmp_path / "py")
    cache = LayerCache(layers_root(envlayers_cache))
    assert cache.load(str(upgraded.layers[0]["key"])) is None
    report = engine.report(ws)
    assert report.sync.state == "missing" and report.layers == ()
    assert report.warnings
    listed = {row["key"]: row["valid"] for row in engine.list_layers()}
    assert listed[str(upgraded.layers[0]["key"])] is False
    # A new interpreter at the same path: the base and a new layer are made from it.
    _fake_python(tmp_path / "py", build=2)
    again = engine.compose(ws, Options(with_=("plugin",)))
    assert again.layers[0]["key"] not in (old_key, upgraded.layers[0]["key"])
    out = run_in(again.interpreter, "import plugin, beta; print('ok')")
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("edit", ["appended", "replaced", "deleted", "module-edited"])
def test_hand_edited_overlay_is_detected_and_rebuilt(edit: str, ws: Path) -> None:
    engine = Engine()
    first = engine.compose(ws, PLUGIN)
    (site,) = Path(first.virtual_env).glob("lib/python3.*/site-packages")
    pth = site / f"{OVERLAY_MODULE}.pth"
    original = pth.read_text()
    if edit == "appended":
        pth.write_text(original + "import os; os.environ['HACKED'] = '1'\n")
    elif edit == "replaced":
        pth.write_text("/somewhere/else\n")
    elif edit == "deleted":
        pth.unlink()
    else:
        module = site / f"{OVERLAY_MODULE}.py"
        module.write_text(module.read_text().replace("site.addsitedir(d)", "pass"))
    report = engine.report(ws)
    assert report.interpreter == report.base_interpreter, "an edited overlay was offered"
    assert any("damaged" in w for w in report.warnings), report.warnings
    again = engine.compose(ws, PLUGIN)
    assert again.interpreter == first.interpreter
    assert pth.read_text() == original
    out = run_in(again.interpreter, "import os, plugin; print(os.environ.get('HACKED'))")
    assert out.stdout.strip() == "None", out.stderr
