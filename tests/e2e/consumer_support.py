"""Helpers for the consumer tests: real Jupyter kernels, debugpy, pyright, shells.

- `repack_closure()` turns distributions installed in *this* test venv (ipykernel and its
  dependency closure) back into wheels, so a layer with `ipykernel` can be built offline:
  the machine has no pip cache and tests must not touch the index. Each wheel keeps the
  original `WHEEL` tags (compiled ones are `cp311`), so fixture workspaces use Python 3.11.
- `consumer_workspace()` writes a fixture workspace wired to the offline wheelhouses.
- `debugger_env()` merges a launch configuration's `env` the way the debug adapter does.
- `pyright_bin()` installs the pinned pyright from `tests/e2e/pyright` with `npm ci` once.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from filelock import FileLock
from packaging.requirements import Requirement
from packaging.tags import parse_tag
from packaging.utils import canonicalize_name

from tests.support.projects import write_project
from tests.support.wheels import escape_name

__all__ = [
    "KERNEL_PYTHON",
    "PYRIGHT_DIR",
    "clean_environ",
    "consumer_workspace",
    "debugger_env",
    "dist_closure",
    "envlayers_cli",
    "kernel_wheelhouse",
    "pyright_bin",
    "repack_closure",
    "repack_installed",
    "site_packages_of_this_venv",
    "tool_table",
]

# Repacked compiled wheels (pyzmq, tornado, debugpy, psutil) are built for the test venv's Python.
KERNEL_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
PYRIGHT_DIR = Path(__file__).resolve().parent / "pyright"
# dist-info files that an installer writes itself; a wheel must not carry them.
_INSTALLER_FILES = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})


def dist_closure(roots: Iterable[str]) -> list[md.Distribution]:
    """The installed distributions that `roots` need here, recursively (extras off)."""
    seen: dict[str, md.Distribution] = {}
    todo = [canonicalize_name(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        dist = md.distribution(name)
        seen[name] = dist
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return [seen[k] for k in sorted(seen)]


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def _wheel_tag(wheel_text: str) -> str:
    """The compressed tag set: `cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64`."""
    tags = [
        t
        for line in wheel_text.splitlines()
        if line.startswith("Tag:")
        for t in parse_tag(line[4:].strip())
    ]
    if not tags:
        return "py3-none-any"

    def uniq(values: Iterable[str]) -> str:
        return ".".join(dict.fromkeys(values))

    return "-".join(
        (
            uniq(t.interpreter for t in tags),
            uniq(t.abi for t in tags),
            uniq(t.platform for t in tags),
        )
    )


def _entry_point_scripts(dist: md.Distribution) -> set[str]:
    return {ep.name for ep in dist.entry_points if ep.group in ("console_scripts", "gui_scripts")}


def repack_installed(dist: md.Distribution, dest: Path) -> Path:
    """Write `dist` (installed here) back into a wheel in `dest`, from its RECORD."""
    name = canonicalize_name(dist.metadata["Name"])
    version = dist.version
    wheel_text = dist.read_text("WHEEL") or ""
    files = dist.files or []
    site = Path(str(dist.locate_file(""))).resolve()
    prefix = Path(sys.prefix).resolve()
    scripts = _entry_point_scripts(dist)
    data_dir = f"{escape_name(name)}-{version}.data"
    info_dir: str | None = None
    members: list[tuple[str, Path]] = []
    for rel in files:
        parts = rel.parts
        if "__pycache__" in parts or rel.suffix in (".pyc", ".pyo"):
            continue
        if parts[0] != "..":
            if parts[0].endswith(".dist-info"):
                info_dir = parts[0]
                if len(parts) == 2 and parts[1] in _INSTALLER_FILES:
                    continue
            members.append((rel.as_posix(), site / rel))
            continue
        # Files outside site-packages: console scripts are regenerated, data is carried.
        full = Path(os.path.normpath(site / rel))
        try:
            inside = full.relative_to(prefix).as_posix()
        except ValueError:
            continue
        if inside.startswith("bin/"):
            if full.name not in scripts:
                members.append((f"{data_dir}/scripts/{full.name}", full))
        elif inside.startswith(("share/", "etc/")):
            members.append((f"{data_dir}/data/{inside}", full))
    if info_dir is None:
        raise RuntimeError(f"{name} {version}: no dist-info in its RECORD")
    tag = _wheel_tag(wheel_text)
    out = dest / f"{escape_name(name)}-{version}-{tag}.whl"
    record: list[str] = []
    # Stored, not deflated: these wheels live for one session and debugpy alone is ~20 MB.
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for arc, path in members:
            if not path.is_file():
                continue
            data = path.read_bytes()
            zf.writestr(arc, data)
            record.append(f"{arc},{_record_hash(data)},{len(data)}")
        record.append(f"{info_dir}/RECORD,,")
        zf.writestr(f"{info_dir}/RECORD", "\n".join(record) + "\n")
    return out


def repack_closure(roots: Sequence[str], dest: Path) -> Path:
    """A find-links folder holding wheels of `roots` and everything they need, offline."""
    dest.mkdir(parents=True, exist_ok=True)
    for dist in dist_closure(roots):
        repack_installed(dist, dest)
    return dest


def kernel_wheelhouse(dest: Path) -> Path:
    """Wheels of `ipykernel` and its closure (what an added kernel layer installs)."""
    return repack_closure(["ipykernel"], dest)


def tool_table(*links: Path, installer: str = "uv", extra: str = "") -> str:
    return (
        "[tool.envlayers]\n"
        f'installer = "{installer}"\n'
        f'python = "{KERNEL_PYTHON}"\n'
        "no-index = true\n"
        f"find-links = {json.dumps([str(p) for p in links])}\n" + extra
    )


def consumer_workspace(
    root: Path,
    *links: Path,
    name: str = "demo-app",
    dependencies: Sequence[str] = ("alpha==1.0", "beta"),
    installer: str = "uv",
    extra_tool: str = "",
) -> Path:
    """A workspace whose project installs editable and whose base holds `dependencies`."""
    return write_project(
        root,
        name=name,
        dependencies=dependencies,
        tool=tool_table(*links, installer=installer, extra=extra_tool),
    )


def clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without what would leak into a child Python."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    }
    if extra:
        env.update(extra)
    return env


def debugger_env(config: Mapping[str, object], inherited: Mapping[str, str]) -> dict[str, str]:
    """The environment a debug adapter gives the debuggee: the config's `env` over the inherited.

    VS Code's Python debugger starts from the configuration's variables, then adds every inherited
    one it does not set (`mergeVariables`), so `PATH` and `VIRTUAL_ENV` are the configuration's.
    VS Code first substitutes `${env:NAME}` with the launching environment's value.
    """
    raw = config.get("env")
    assert isinstance(raw, dict), config
    env = dict(inherited)
    for key, value in raw.items():
        text = str(value)
        for name, inherited_value in inherited.items():
            text = text.replace("${env:" + name + "}", inherited_value)
        env[str(key)] = text
    return env


def pyright_bin() -> Path | None:
    """The pinned pyright's CLI, installed by `npm ci` once per lock file; None without npm."""
    npm = shutil.which("npm")
    node = shutil.which("node")
    if npm is None or node is None:
        return None
    lock = PYRIGHT_DIR / "package-lock.json"
    stamp = PYRIGHT_DIR / "node_modules" / ".envlayers-installed"
    want = hashlib.sha256(lock.read_bytes()).hexdigest()
    # Several xdist workers may get here at once: one runs npm ci, the others wait.
    with FileLock(str(PYRIGHT_DIR / ".npm-ci.lock"), timeout=600):
        if not stamp.is_file() or stamp.read_text(encoding="utf-8") != want:
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=PYRIGHT_DIR,
                check=False,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"npm ci in {PYRIGHT_DIR} failed:\n{proc.stdout}{proc.stderr}")
            stamp.write_text(want, encoding="utf-8")
    return PYRIGHT_DIR / "node_modules" / "pyright" / "index.js"


def site_packages_of_this_venv() -> str:
    """Where the test venv keeps its packages: a debuggee must never see it."""
    return sysconfig.get_paths()["purelib"]


def envlayers_cli(
    *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m envlayers ARGS` with this venv's Python and a clean environment."""
    return subprocess.run(
        [sys.executable, "-m", "envlayers", *args],
        capture_output=True,
        text=True,
        env=clean_environ(env),
        timeout=300,
        check=False,
    )
