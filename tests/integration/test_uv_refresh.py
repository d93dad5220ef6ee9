"""Layers built with uv (real uv, behind a wrapper that logs its argv): installed with the
base interpreter into the new venv's prefix, scripts pointed at the layer; an unchanged
find-links folder is never revalidated; a wheel rebuilt in place under the same name is caught
and installed again; a damaged refresh record costs a compare, nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from envlayers.core.layercheck import adoption_problem
from envlayers.core.layers import LayerCache
from envlayers.core.paths import CacheLayout
from envlayers.core.scripts import shebang_python
from tests.support.cli import cli, run_in
from tests.support.isolation import uv_bin
from tests.support.projects import write_project
from tests.support.wheels import build_wheel
from tests.support.workspaces import workspace

pytestmark = pytest.mark.slow


def _logging_uv(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "uv-argv.jsonl"
    wrapper = tmp_path / "uv-wrapper"
    real = uv_bin()
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as fh:\n"
        "    fh.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n",
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    return wrapper, log


def _installs(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    log.unlink()
    return [c for c in calls if c[:2] == ["pip", "install"]]


def _rebuild(links: Path, value: int) -> None:
    wheel = build_wheel(
        links, "localonly", "1.0", modules={"localonly/__init__.py": f"V = {value}\n"}
    )
    st = wheel.stat()  # real rebuilds are seconds apart
    os.utime(wheel, ns=(st.st_atime_ns, st.st_mtime_ns + value * 2_000_000_000))


@pytest.fixture
def setup(tmp_path: Path, wheelhouse: Path) -> tuple[Path, Path, dict[str, str], Path]:
    links = tmp_path / "links"
    _rebuild(links, 1)
    build_wheel(
        links,
        "second",
        "1.0",
        modules={"second/__init__.py": "def main():\n    import sys; print(sys.executable)\n"},
        console_scripts={"second-tool": "second:main"},
    )
    ws = workspace(tmp_path / "ws", "uv", wheelhouse, links, dependencies=("beta",))
    wrapper, log = _logging_uv(tmp_path)
    # Users are online: offline, uv refuses to revalidate and envlayers does not ask it to.
    env = {"ENVLAYERS_UV": str(wrapper), "UV_OFFLINE": "0"}
    return ws, links, env, log


def _env(ws: Path, env: dict[str, str], *withs: str) -> dict[str, Any]:
    args = [a for w in withs for a in ("--with", w)]
    result = cli("env", "--project", str(ws), *args, "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_a_layer_is_installed_into_its_prefix_and_its_scripts_name_the_layer(
    setup: tuple[Path, Path, dict[str, str], Path],
) -> None:
    ws, _links, env, log = setup
    report = _env(ws, env, "second")
    calls = _installs(log)
    layer_call = calls[-1]
    assert "--prefix" in layer_call and "second" in layer_call
    # The base interpreter (whose description uv has cached), not the new venv's.
    assert not layer_call[layer_call.index("--python") + 1].startswith(str(CacheLayout.at().root))
    (layer,) = report["layers"]
    cache = LayerCache(CacheLayout.at().layers)
    loaded = cache.load(layer["key"])
    assert loaded is not None
    script = loaded.scripts / "second-tool"
    assert shebang_python(script.read_text(encoding="utf-8")) == str(loaded.path / "bin" / "python")
    # RECORD tells the truth about the rewritten script: the layer is adopted as it is.
    assert adoption_problem(loaded.key, loaded.path, loaded.site_packages, loaded.packages) is None
    out = run_in(report["interpreter"], "import second, beta; print(second.__file__)")
    assert out.returncode == 0 and str(loaded.path) in out.stdout, out.stderr


def test_an_unchanged_folder_is_not_revalidated_and_a_rebuilt_wheel_is_caught(
    setup: tuple[Path, Path, dict[str, str], Path],
) -> None:
    ws, links, env, log = setup
    first = _env(ws, env, "localonly")
    assert run_in(first["interpreter"], "import localonly; print(localonly.V)").stdout == "1\n"
    # Every install so far: wheels only, nothing revalidated (a refresh makes uv query the
    # interpreter again and re-read the folder).
    assert all("--refresh-package" not in c for c in _installs(log))
    # Another layer from the same, unchanged folder: one uv run, no refresh.
    other = _env(ws, env, "second")
    (call,) = _installs(log)
    assert "--refresh-package" not in call
    assert run_in(other["interpreter"], "import second").returncode == 0
    # The wheel rebuilt in place: uv's cache still holds V = 1 under that name. The install
    # is compared with the file, found stale, and done again with a refresh.
    _rebuild(links, 2)
    rebuilt = _env(ws, env, "localonly")
    plain, again = _installs(log)
    assert "--refresh-package" not in plain
    assert again[again.index("--refresh-package") + 1] == "localonly"
    assert again[again.index("--reinstall-package") + 1] == "localonly"
    assert run_in(rebuilt["interpreter"], "import localonly; print(localonly.V)").stdout == "2\n"
    # Now vouched for: a new layer with it runs uv once, no refresh, and gets V = 2.
    both = _env(ws, env, "localonly", "second")
    (call,) = _installs(log)
    assert "--refresh-package" not in call
    assert run_in(both["interpreter"], "import localonly; print(localonly.V)").stdout == "2\n"


@pytest.mark.parametrize(
    "garbage",
    ["not json", "[]", '{"format": 1, "caches": []}', '{"format": 1, "caches": {"x": 3}}'],
)
def test_a_damaged_refresh_record_costs_a_compare(
    setup: tuple[Path, Path, dict[str, str], Path], garbage: str
) -> None:
    ws, links, env, _log = setup
    _env(ws, env, "localonly")
    record = CacheLayout.at().uv_refresh
    assert record.is_file()
    record.write_text(garbage, encoding="utf-8")
    _rebuild(links, 3)
    report = _env(ws, env, "localonly")
    assert run_in(report["interpreter"], "import localonly; print(localonly.V)").stdout == "3\n"
    assert json.loads(record.read_text(encoding="utf-8"))["format"] == 1


def test_an_sdist_is_revalidated_once_up_front_then_vouched_for(
    tmp_path: Path, setup: tuple[Path, Path, dict[str, str], Path]
) -> None:
    ws, links, env, log = setup
    project = write_project(tmp_path / "sdistpkg", name="sdistpkg")
    code = "import sys; sys.path.insert(0, '_backend'); import tinybackend as b; "
    code += "print(b.build_sdist(sys.argv[1]))"
    made = subprocess.run(  # the project's own backend makes its sdist
        [sys.executable, "-c", code, str(links)],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    assert (links / made.stdout.strip()).is_file()
    _env(ws, env)  # the base first: its installs are not what this test watches
    _installs(log)
    first = _env(ws, env, "sdistpkg")
    (call,) = _installs(log)  # refreshed up front (an sdist cannot be compared): one run
    assert call[call.index("--refresh-package") + 1] == "sdistpkg"
    assert run_in(first["interpreter"], "import sdistpkg").returncode == 0
    both = _env(ws, env, "sdistpkg", "second")
    (call,) = _installs(log)  # now vouched for: no refresh
    assert "--refresh-package" not in call
    assert run_in(both["interpreter"], "import sdistpkg, second").returncode == 0
