"""Disk trouble: a full or read-only cache fails a build clearly and keeps the previous
composition usable.

Real faults where the sandbox permits them: a small tmpfs (`mount -t tmpfs -o size=...`) as
the cache, filled up, then remounted read-only (`chmod` does not stop root; `chattr +i` does
not work on tmpfs). Where mounting is not permitted those tests skip, and the seam test below
injects ENOSPC / EROFS at the one function that creates the layer's folder.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envlayers.config import Options
from envlayers.core import venv as _venv
from envlayers.core.engine import Engine
from envlayers.core.errors import EnvlayersError
from tests.support.cli import cli, run_in
from tests.support.disk import assert_cache_sound, leftovers
from tests.support.workspaces import uv_workspace

pytestmark = pytest.mark.slow


def _mount(*args: str) -> bool:
    result = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    return result.returncode == 0


@pytest.fixture
def small_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    point = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    point.mkdir()
    if os.geteuid() != 0 or not _mount(
        "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(point)
    ):
        pytest.skip("cannot mount a tmpfs here; the seam test covers this")
    monkeypatch.setenv("ENVLAYERS_CACHE_DIR", str(point))
    try:
        yield point
    finally:
        _mount("-o", "remount,rw", str(point))
        subprocess.run(["umount", "-l", str(point)], check=False)


def _fill(folder: Path) -> None:
    """Write until the filesystem says no more (big blocks, then small ones)."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 20, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)


def _still_usable(ws: Path, before: dict[str, object]) -> None:
    report = Engine().report(ws)
    assert report.interpreter == before["interpreter"]
    assert [la["key"] for la in report.layers] == [la["key"] for la in before["layers"]]  # type: ignore[attr-defined]
    out = run_in(report.interpreter, "import plugin, beta; print('ok')")
    assert out.stdout.strip() == "ok", out.stderr


def test_full_disk_then_read_only_cache(
    tmp_path: Path, wheelhouse: Path, small_cache: Path
) -> None:
    ws = uv_workspace(tmp_path / "ws", wheelhouse)
    first = cli("env", "--with", "plugin", "--project", str(ws), "--format", "json")
    assert first.returncode == 0, first.stderr
    before = json.loads(first.stdout)

    _fill(small_cache)
    full = cli("env", "--no-sync", "--with", "eta", "--project", str(ws))
    assert full.returncode == 1, full.stderr
    assert full.stderr.startswith("envlayers: error:")
    assert "No space left on device" in full.stderr, full.stderr
    assert "Traceback" not in full.stderr, full.stderr[-3000:]
    _still_usable(ws, before)

    (small_cache / "filler").unlink()
    assert leftovers(small_cache) == []  # the failed build cleaned up after itself
    assert _mount("-o", "remount,ro", str(small_cache))
    ro = cli("env", "--no-sync", "--with", "eta", "--project", str(ws))
    assert ro.returncode == 1, ro.stderr
    assert "Read-only file system" in ro.stderr, ro.stderr
    if "Traceback" in ro.stderr:
        pytest.fail(ro.stderr)
    _still_usable(ws, before)
    # Reusing what is already in a read-only cache still works.
    again = cli("env", "--no-sync", "--with", "plugin", "--project", str(ws), "--format", "json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["interpreter"] == before["interpreter"]

    assert _mount("-o", "remount,rw", str(small_cache))
    fixed = cli("env", "--no-sync", "--with", "eta", "--project", str(ws), "--format", "json")
    assert fixed.returncode == 0, fixed.stderr
    assert_cache_sound(small_cache)


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS])
def test_disk_errors_injected_at_the_seam(
    err: int,
    tmp_path: Path,
    wheelhouse: Path,
    monkeypatch: pytest.MonkeyPatch,
    envlayers_cache: Path,
) -> None:
    ws = uv_workspace(tmp_path / "ws", wheelhouse)
    engine = Engine()
    before = engine.compose(ws, Options(with_=("plugin",))).to_json()
    real = _venv.create_venv

    def failing(dest: Path, *args: Any, **kwargs: Any) -> None:
        real(dest, *args, **kwargs)
        raise OSError(err, os.strerror(err), str(dest))

    with monkeypatch.context() as mp, pytest.raises(EnvlayersError) as info:
        mp.setattr(_venv, "create_venv", failing)
        engine.compose(ws, Options(with_=("eta",), no_sync=True))
    assert os.strerror(err) in str(info.value)
    assert info.value.exit_code == 1
    _still_usable(ws, before)
    assert leftovers(envlayers_cache) == []
