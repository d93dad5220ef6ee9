"""The benchmark's worlds: wheelhouses, one workspace per tool, the isolated environment.

Every tool gets the same inputs: the same interpreter, the same wheels, the same requirements.
envlayers syncs `<root>/<name>-envlayers`; uv syncs its own copy `<root>/<name>-uv` (with a
`[tool.uv]` table pointing at the same wheels and a `uv.lock` made once, offline); pip installs
into its own venv. Nothing here touches the network except `realistic_wheelhouse()`, which
fills `bench/.cache/wheelhouse` once from this machine's configured indexes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.isolation import isolation_changes  # noqa: E402
from tests.support.projects import toml_value, write_project  # noqa: E402
from tests.support.wheels import WheelSpec, build_wheelhouse  # noqa: E402

__all__ = [
    "CACHE",
    "REALISTIC",
    "ROOT",
    "Workspaces",
    "bench_env",
    "cold_specs",
    "compile_envlayers",
    "envlayers_cmd",
    "find_base_python",
    "flags_specs",
    "index_flags",
    "make_workspaces",
    "realistic_wheelhouse",
    "reset_dir",
    "run_checked",
    "scale_specs",
    "small_specs",
    "uv_bin",
]

CACHE = ROOT / "bench" / ".cache"
# The cold-build request of issue 6: real packages, a realistic closure (about 12 wheels).
REALISTIC = ("rich", "httpx")


def compile_envlayers() -> None:
    """Byte-compile the measured envlayers' sources (the copy this interpreter imports, which
    may be another checkout's), as `pip install` does for a user's copy."""
    import compileall

    import envlayers

    compileall.compile_dir(str(Path(envlayers.__file__).parent), quiet=1)


def uv_bin() -> str:
    import uv

    return str(uv.find_uv_bin())


def envlayers_cmd() -> list[str]:
    """The `envlayers` console script users run (beside this interpreter), or `-m envlayers`."""
    script = Path(sys.executable).with_name("envlayers")
    return [str(script)] if script.exists() else [sys.executable, "-m", "envlayers"]


def find_base_python() -> str:
    """The interpreter the managed envs use: the runner's own CPython version from pyenv."""
    want = f"{sys.version_info[0]}.{sys.version_info[1]}"
    found = sorted(Path("/root/.pyenv/versions").glob(f"{want}.*/bin/python{want}"))
    if found:
        return str(found[-1])
    return os.path.realpath(sys.executable)


def bench_env(tmp: Path, **extra: str) -> dict[str, str]:
    """os.environ isolated from this machine's pip/uv configuration; offline."""
    env = dict(os.environ)
    to_set, to_delete = isolation_changes(env, tmp / "uv-cache")
    for key in to_delete:
        env.pop(key, None)
    env.update(to_set)
    env["ENVLAYERS_CACHE_DIR"] = str(tmp / "envlayers-cache")
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["PIP_NO_INPUT"] = "1"
    # Users are online: with UV_OFFLINE set, envlayers skips revalidating find-links wheels
    # (uv refuses --refresh offline), which would hide that cost. Every command here passes
    # --no-index (or uv's --offline flag), so nothing reaches the network either way.
    env.pop("UV_OFFLINE", None)
    # Users' installs have byte-code; without it every run would recompile envlayers' modules.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra)
    return env


def run_checked(
    cmd: Sequence[str], env: Mapping[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Set-up steps (not measured): fail loudly with the tool's own output."""
    proc = subprocess.run(
        list(cmd),
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
    return proc


def small_specs(count: int = 29) -> tuple[list[WheelSpec], list[str]]:
    """About 30 distributions with some dependency edges, and the project's direct deps."""
    specs: list[WheelSpec] = []
    for i in range(count):
        # Every third package depends on the next one: recursion, not just a flat list.
        requires = (f"dep{i + 1:02d}>=1.0",) if i % 3 == 0 and i + 1 < count else ()
        specs.append(WheelSpec(f"dep{i:02d}", "1.0", requires=requires))
    specs.append(WheelSpec("xtra", "1.0", requires=("xtra-dep>=1",)))
    specs.append(WheelSpec("xtra-dep", "1.0"))
    specs.extend(WheelSpec(f"lay{i:02d}", "1.0") for i in range(50))
    direct = [f"dep{i:02d}>=1.0" for i in range(count) if i % 3 != 1]
    return specs, direct


def scale_specs(count: int = 1000) -> tuple[list[WheelSpec], list[str]]:
    """`count` distributions in a binary tree of Requires-Dist, with markers and an extra."""
    specs: list[WheelSpec] = []
    for i in range(count):
        kids = [k for k in (2 * i + 1, 2 * i + 2) if k < count]
        requires = [f"s{k:04d}>=1.0" for k in kids]
        if i % 10 == 0:
            # A false marker: the walker must evaluate it for the target and skip the edge.
            requires.append('never-installed>=1; python_version < "3"')
        extras = {"more": (f"s{(i + 7) % count:04d}",)} if i % 25 == 0 else {}
        specs.append(WheelSpec(f"s{i:04d}", "1.0", requires=tuple(requires), extras=extras))
    specs.append(WheelSpec("xtra", "1.0", requires=("xtra-dep>=1",)))
    specs.append(WheelSpec("xtra-dep", "1.0"))
    direct = [f"s{i:04d}>=1.0" for i in range(50)] + ["s0000[more]"]
    return specs, direct


def realistic_wheelhouse(note: list[str]) -> Path | None:
    """`bench/.cache/wheelhouse` with rich and httpx and their closure, fetched once."""
    dest = CACHE / "wheelhouse"
    stamp = dest / ".complete"
    if stamp.exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    # The machine's own pip configuration (indexes, find-links) is wanted here, once.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--dest",
        str(dest),
        *REALISTIC,
    ]
    proc = subprocess.run(
        cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        note.append(
            f"cold-build rows skipped: `pip download {' '.join(REALISTIC)}` failed ({tail})"
        )
        return None
    stamp.write_text("ok\n", encoding="utf-8")
    return dest


@dataclass(frozen=True)
class Workspaces:
    """One scenario's three equivalent installs of the same requirements."""

    envlayers: Path  # envlayers' workspace (its base is <envlayers>/.venv)
    uv: Path  # uv's copy (its venv is <uv>/.venv)
    pip_venv: Path | None  # a venv that pip keeps in sync from `requirements`
    requirements: Path  # the project's dependencies as a requirements file
    wheelhouses: tuple[Path, ...]


def make_workspaces(
    root: Path,
    name: str,
    *,
    specs: Sequence[WheelSpec],
    direct: Sequence[str],
    python: str,
    env: Mapping[str, str],
    uv_env: Mapping[str, str],
    extra_wheelhouses: Sequence[Path] = (),
    with_pip: bool = True,
    index_in_pyproject: bool = True,
) -> Workspaces:
    """Build the wheels, write both workspaces, sync them once (and the pip venv).

    Without `index_in_pyproject` neither pyproject.toml names the wheels: every command is
    given `--no-index --find-links DIR` on its command line (`index_flags()`).
    """
    wheels = build_wheelhouse(root / f"{name}-wheels", specs)
    links = (wheels, *extra_wheelhouses)
    link_list = toml_value([str(p) for p in links])
    el_tool = f'[tool.envlayers]\npython = {toml_value(python)}\ninstaller = "uv"\n'
    uv_tool = ""
    flags: list[str] = []
    if index_in_pyproject:
        el_tool += f"no-index = true\nfind-links = {link_list}\n"
        uv_tool = f"[tool.uv]\nno-index = true\nfind-links = {link_list}\n"
    else:
        flags = index_flags(links)
    el_ws = write_project(
        root / f"{name}-envlayers", name="bench-app", dependencies=direct, tool=el_tool
    )
    uv_ws = write_project(root / f"{name}-uv", name="bench-app", dependencies=direct, tool=uv_tool)
    run_checked([*envlayers_cmd(), "sync", "--project", str(el_ws), *flags], env)
    run_checked([uv_bin(), "lock", "--offline", *flags], uv_env, cwd=uv_ws)
    run_checked([uv_bin(), "sync", "--inexact", "--offline", *flags], uv_env, cwd=uv_ws)
    reqs = root / f"{name}-requirements.txt"
    reqs.write_text("".join(f"{d}\n" for d in direct), encoding="utf-8")
    pip_venv: Path | None = None
    if with_pip:
        pip_venv = root / f"{name}-pip-venv"
        run_checked([uv_bin(), "venv", "--quiet", "--python", python, str(pip_venv)], env)
        # The project itself, editable, as the other two have it; then its requirements.
        index = ["--no-index", *[a for p in links for a in ("--find-links", str(p))]]
        target = ["--python", str(pip_venv / "bin" / "python")]
        what = ["-r", str(reqs), "-e", str(uv_ws)]
        run_checked([uv_bin(), "pip", "install", *target, *index, *what], env)
    return Workspaces(el_ws, uv_ws, pip_venv, reqs, tuple(links))


def index_flags(links: Sequence[Path]) -> list[str]:
    """`--no-index --find-links DIR ...`, spelt alike by envlayers, uv and pip."""
    return ["--no-index", *[a for p in links for a in ("--find-links", str(p))]]


def flags_specs() -> tuple[list[WheelSpec], list[str]]:
    """The small workspace's distributions, 40 wheels in all (the index-flags rows' DIR)."""
    specs, direct = small_specs()
    return [s for s in specs if not s.name.startswith("lay") or s.name < "lay09"], direct


def cold_specs(count: int) -> list[WheelSpec]:
    """Tiny wheels `cold00`... for cold builds that need a new layer key on every run."""
    return [
        WheelSpec(f"cold{i:02d}", "1.0", requires=(f"cold-dep{i:02d}",)) for i in range(count)
    ] + [WheelSpec(f"cold-dep{i:02d}", "1.0") for i in range(count)]


def reset_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
