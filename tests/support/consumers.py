"""What the consumer tests drive besides envlayers: a debug adapter's env, pyright, the venv.

- `debugger_env(config, inherited)` merges a launch configuration's `env` the way the debug
  adapter does.
- `pyright_bin()` installs the pinned pyright from `tests/e2e/pyright` with `npm ci` once.
- `site_packages_of_this_venv()`: the test venv's packages, which a debuggee must never see.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sysconfig
from collections.abc import Mapping
from pathlib import Path

from envlayers.core.flock import FileLock

__all__ = ["PYRIGHT_DIR", "debugger_env", "pyright_bin", "site_packages_of_this_venv"]

PYRIGHT_DIR = Path(__file__).resolve().parents[1] / "e2e" / "pyright"


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
