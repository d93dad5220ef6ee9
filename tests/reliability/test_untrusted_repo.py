"""A repository written by an attacker can never make envlayers delete, replace or write
anything outside that repository's `.venv`, `.envlayers/` and the user's cache.

Each test lays out a realistic hostile checkout next to a folder of the victim's (files with
content, a venv, a dotfile folder), runs the real CLI as a user would, and proves with a
content digest of every file (and link) that the victim's folder is byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from envlayers.core.layers import LAYER_META
from tests.support.cli import cli, run_in
from tests.support.disk import published
from tests.support.workspaces import workspace

pytestmark = pytest.mark.slow


def tree(root: Path) -> dict[str, str]:
    """Every entry under `root`: a file's sha256, a link's target, a folder's mode."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = f"dir:{stat.S_IMODE(p.stat().st_mode):o}"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """The user's own things beside the checkout: notes, a `.ssh`, a working venv."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE KEY\n", encoding="utf-8")
    (home / "Documents" / "taxes").mkdir(parents=True)
    (home / "Documents" / "taxes" / "2026.txt").write_text("numbers\n", encoding="utf-8")
    venv = home / "envs" / "work"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3")
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.2\n", encoding="utf-8")
    (venv / "precious.txt").write_text("do not delete\n", encoding="utf-8")
    return home


@pytest.fixture
def repo(tmp_path: Path, wheelhouse: Path) -> Path:
    ws = workspace(tmp_path / "checkout", "uv", wheelhouse, dependencies=("beta",))
    assert cli("sync", "--project", str(ws)).returncode == 0
    return ws


def _refused(result: object, *words: str) -> str:
    code, err = getattr(result, "returncode"), getattr(result, "stderr")  # noqa: B009
    assert code != 0, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return str(err)


@pytest.mark.parametrize("name", ["{ssh}", "../../home/.ssh", "..", "."])
def test_a_committed_active_json_cannot_name_a_folder_elsewhere(
    repo: Path, victim: Path, name: str
) -> None:
    before = tree(victim)
    evil = name.replace("{ssh}", str(victim / ".ssh"))
    (repo / ".envlayers" / "active.json").write_text(
        json.dumps({"format": 1, "name": evil, "layers": []}), encoding="utf-8"
    )
    first = cli("sync", "--project", str(repo))
    assert first.returncode == 0, first.stderr
    assert "ignoring" in first.stderr and "invalid composition name" in first.stderr
    for args in (["env"], ["env", "--format", "json"], ["compositions", "list"]):
        result = cli(*args, "--project", str(repo))
        assert result.returncode == 0, result.stderr
    assert tree(victim) == before
    assert (repo / "src").is_dir() and (repo / "pyproject.toml").is_file()


@pytest.mark.parametrize("venv", ["../home/envs/work", ".", "", "{abs}", "~/x", "src/../.."])
def test_a_venv_setting_outside_the_workspace_is_refused_before_any_change(
    repo: Path, victim: Path, venv: str
) -> None:
    before, mine = tree(victim), tree(repo)
    value = venv.replace("{abs}", str(victim / "envs" / "work"))
    text = (repo / "pyproject.toml").read_text(encoding="utf-8")
    (repo / "pyproject.toml").write_text(
        text.replace("[tool.envlayers]\n", f"[tool.envlayers]\nvenv = {json.dumps(value)}\n"),
        encoding="utf-8",
    )
    err = _refused(cli("sync", "--project", str(repo)), "venv", "pyproject.toml")
    assert "inside the workspace" in err or "must not be empty" in err
    assert tree(victim) == before
    mine.pop("pyproject.toml")
    after = tree(repo)
    after.pop("pyproject.toml")
    assert after == mine  # the working .venv, the sources, everything as it was


def test_an_explicit_environment_variable_may_name_a_venv_elsewhere(
    repo: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "shared-envs" / "demo"
    result = cli("sync", "--project", str(repo), env={"ENVLAYERS_VENV": str(elsewhere)})
    assert result.returncode == 0, result.stderr
    assert run_in(elsewhere / "bin" / "python", "import beta").returncode == 0


def test_a_venv_linked_out_of_the_workspace_is_not_followed(repo: Path, victim: Path) -> None:
    before = tree(victim)
    os.rename(repo / ".venv", repo / "old-venv")
    (repo / ".venv").symlink_to(victim / "envs" / "work")
    _refused(cli("sync", "--project", str(repo)), "outside the workspace")
    _refused(cli("env", "--with", "gamma", "--project", str(repo)), "outside the workspace")
    assert tree(victim) == before


@pytest.mark.parametrize("what", ["conda", "project"])
def test_a_folder_that_is_not_a_venv_is_never_replaced(repo: Path, victim: Path, what: str) -> None:
    """`.venv` exists but is no virtual environment: envlayers must recreate it, and refuses."""
    import shutil

    shutil.rmtree(repo / ".venv")
    fake = repo / ".venv"
    if what == "conda":
        (fake / "conda-meta").mkdir(parents=True)
        (fake / "bin").mkdir()
        (fake / "bin" / "python").symlink_to("/usr/bin/python3")
    else:
        (fake / ".git").mkdir(parents=True)
        (fake / "main.py").write_text("print('mine')\n", encoding="utf-8")
    before = tree(fake)
    err = _refused(cli("sync", "--project", str(repo)), str(fake))
    assert "move it away" in err
    assert tree(fake) == before


def test_a_state_folder_linked_elsewhere_is_not_written_through(
    repo: Path, victim: Path, wheelhouse: Path
) -> None:
    before = tree(victim)
    import shutil

    shutil.rmtree(repo / ".envlayers")
    (repo / ".envlayers").symlink_to(victim / "Documents")
    text = (repo / "pyproject.toml").read_text(encoding="utf-8")
    (repo / "pyproject.toml").write_text(
        text + '\n[tool.envlayers.profiles.taxes]\nwith = ["gamma"]\n', encoding="utf-8"
    )
    for args in (["env", "--profile", "taxes"], ["sync"], ["compositions", "remove", "taxes"]):
        _refused(cli(*args, "--project", str(repo)), ".envlayers")
    assert tree(victim) == before


def test_a_cache_others_can_write_is_refused(repo: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared-cache"
    shared.mkdir()
    shared.chmod(0o777)  # a /tmp-style cache anyone could plant a layer in
    before = tree(shared)
    env = {"ENVLAYERS_CACHE_DIR": str(shared)}
    err = _refused(cli("env", "--with", "gamma", "--project", str(repo), env=env), str(shared))
    assert "writable by other users" in err
    assert tree(shared) == before


def test_a_planted_or_edited_layer_is_never_adopted(repo: Path, envlayers_cache: Path) -> None:
    first = cli("env", "--with", "gamma", "--project", str(repo), "--format", "json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    (layer,) = report["layers"]
    site = next(Path(layer["path"]).glob("lib/python3.*/site-packages"))
    module = next(p for p in (site / "gamma.py", site / "gamma" / "__init__.py") if p.exists())
    evil = module.read_bytes().replace(b"1", b"6", 1) or b"X = 1\n"
    tmp = module.with_name(module.name + ".new")  # a new inode: uv hard-links from its cache
    tmp.write_bytes(evil[: len(evil)])
    os.replace(tmp, module)
    # The next request of the same layer notices the edit (its RECORD hash) and rebuilds it.
    again = cli("env", "--with", "gamma", "-v", "--project", str(repo), "--format", "json")
    assert again.returncode == 0, again.stderr
    assert module.read_bytes() != evil
    assert published(envlayers_cache) == [layer["key"]]
    # A layer folder owned by someone else is refused outright.
    meta = Path(layer["path"]) / LAYER_META
    if os.geteuid() == 0:
        os.chown(layer["path"], 65534, 65534)
        changed = meta.read_text(encoding="utf-8")
        meta.write_text(changed, encoding="utf-8")
        text = (repo / "pyproject.toml").read_text(encoding="utf-8")
        (repo / "pyproject.toml").write_text(text + "\n", encoding="utf-8")
        err = _refused(cli("env", "--with", "gamma", "--project", str(repo)), layer["key"])
        assert "another user" in err
