"""The cache trusts only folders of its own user that nobody else can write, and layer files
that still match their RECORD."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from envlayers.config import Options
from envlayers.core.engine import Engine
from envlayers.core.errors import OperationFailed
from envlayers.core.trust import check_private, ensure_private_dir, record_problem
from tests.support.workspaces import workspace

NOBODY = 65534


def test_a_new_cache_dir_is_private(tmp_path: Path) -> None:
    made = ensure_private_dir(tmp_path / "a" / "cache")
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    ensure_private_dir(made)  # an existing private one is fine


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777, 0o1777])
def test_a_cache_others_can_write_is_refused(tmp_path: Path, mode: int) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(mode)
    with pytest.raises(OperationFailed, match="writable by other users") as info:
        check_private(cache)
    assert str(cache) in str(info.value) and "chmod go-w" in str(info.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_cache_of_another_user_is_refused(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    os.chown(cache, NOBODY, NOBODY)
    with pytest.raises(OperationFailed, match="belongs to another user"):
        ensure_private_dir(cache)


def test_a_link_to_a_private_folder_is_fine_one_to_a_shared_one_is_not(tmp_path: Path) -> None:
    real = ensure_private_dir(tmp_path / "real")
    (tmp_path / "link").symlink_to(real)
    check_private(tmp_path / "link")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (tmp_path / "bad").symlink_to(shared)
    with pytest.raises(OperationFailed):
        check_private(tmp_path / "bad")


@pytest.fixture
def layer(tmp_path: Path, wheelhouse: Path) -> tuple[Path, Path]:
    ws = workspace(tmp_path / "ws", "uv", wheelhouse, dependencies=("beta",))
    report = Engine().compose(ws, Options(with_=("plugin",)))
    (entry,) = report.layers
    prefix = Path(str(entry["path"]))
    (site,) = prefix.glob("lib/python3.*/site-packages")
    return prefix, site


def test_a_layer_as_built_matches_its_record(layer: tuple[Path, Path]) -> None:
    prefix, site = layer
    assert record_problem(prefix, site, hashes=True) is None


def _rewrite(path: Path, data: bytes) -> None:
    # A new file, not the same inode: uv hard-links layer files from its own cache.
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def test_a_layer_file_edited_after_publishing_is_noticed(layer: tuple[Path, Path]) -> None:
    prefix, site = layer
    module = site / "plugin" / "__init__.py"
    text = module.read_bytes()
    _rewrite(module, text.replace(b"1", b"2", 1) if b"1" in text else text[:-1] + b"#")
    assert len(module.read_bytes()) == len(text)  # same size: only the hash can tell
    assert record_problem(prefix, site, hashes=False) is None
    problem = record_problem(prefix, site, hashes=True)
    assert problem is not None and "plugin/__init__.py" in problem and "changed" in problem
    _rewrite(module, text + b"import os\n")
    problem = record_problem(prefix, site, hashes=False)
    assert problem is not None and "plugin/__init__.py" in problem


def test_a_record_row_leading_outside_the_layer_is_refused(layer: tuple[Path, Path]) -> None:
    prefix, site = layer
    (info,) = site.glob("plugin-*.dist-info")
    with open(info / "RECORD", "a", encoding="utf-8") as fh:
        fh.write("../../../../../../etc/hostname,,\n")
    problem = record_problem(prefix, site, hashes=False)
    assert problem is not None and "outside" in problem
