"""`ENVLAYERS_UV`: an editor that found a uv (on PATH, next to the selected interpreter, in the
server's environment) hands it to the server, whose own Python may have none."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from envlayers.core.installer import UV_ENV, UvInstaller, find_uv, get_installer


def _fake_uv(folder: Path) -> Path:
    uv = folder / "uv"
    uv.write_text("#!/bin/sh\necho 'uv 0.0.0'\n", encoding="utf-8")
    uv.chmod(uv.stat().st_mode | stat.S_IXUSR)
    return uv


@pytest.mark.skipif(os.name == "nt", reason="POSIX executable bits")
def test_envlayers_uv_wins_over_the_package_and_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uv = _fake_uv(tmp_path)
    monkeypatch.setenv(UV_ENV, str(uv))
    assert find_uv() == str(uv)
    chosen = get_installer("auto")
    assert isinstance(chosen, UvInstaller) and chosen.name == "uv"


def test_a_bad_envlayers_uv_is_ignored_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(UV_ENV, str(tmp_path / "missing-uv"))
    monkeypatch.setenv("PATH", str(tmp_path))
    found = find_uv()
    assert found is None or Path(found).name.startswith("uv")
    assert found != str(tmp_path / "missing-uv")
    assert "is not an executable file" in caplog.text
