"""Writes the editor tier's offline fixtures: a wheelhouse and workspaces that install from it.

Run with the repository's `.venv/bin/python` (it imports `tests.support.wheels`):

    python vscode-extension/editor-test/fixture.py DEST [--installer uv|pip]

DEST gets `wheels/` (the suite's standard tiny wheels, plus real ipykernel and its closure
repacked from the running venv, which "Install Jupyter Kernel" layers) and one workspace per name in
WORKSPACES, each a tiny project whose `[tool.envlayers]` says `no-index = true` and
`find-links = [DEST/wheels]`, with `app.py` (the debug program) and `.vscode/launch.json`.
Prints a JSON object of the paths on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.support.repack import kernel_wheelhouse  # noqa: E402
from tests.support.wheels import STANDARD_WHEELS, build_wheelhouse  # noqa: E402

__all__ = ["WORKSPACES", "main", "write_workspace"]

# trusted: the main walk-through; restricted: opened in Restricted Mode; racing: "Add Layer"
# entered while its first sync still runs.
WORKSPACES = ("trusted", "restricted", "racing")

_APP = '''\
"""The debug program: proves which interpreter ran it and that the layer imports."""

import json
import os
import sys

import plugin

proof = {
    "executable": sys.executable,
    "prefix": sys.prefix,
    "plugin_file": plugin.WHERE,
    "plugin_version": plugin.__version__,
}
stopped_here = True  # the test's breakpoint
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "proof.json"), "w") as f:
    json.dump(proof, f)
'''

_LAUNCH = {
    "version": "0.2.0",
    "configurations": [
        {
            "name": "App on the composed env",
            "type": "debugpy",
            "request": "launch",
            "program": "${workspaceFolder}/app.py",
            "console": "internalConsole",
            "envlayers": True,
        }
    ],
}


def _pyproject(name: str, wheels: Path, installer: str) -> str:
    return f"""\
[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = [
    "alpha==1.0",
]

[tool.envlayers]
installer = "{installer}"
no-index = true
find-links = [{json.dumps(str(wheels))}]

[tool.envlayers.profiles.tools]
with = ["zeta"]
"""


def write_workspace(root: Path, name: str, wheels: Path, installer: str) -> Path:
    ws = root / name
    (ws / ".vscode").mkdir(parents=True, exist_ok=True)
    (ws / "pyproject.toml").write_text(_pyproject(f"editor-{name}", wheels, installer))
    (ws / "app.py").write_text(_APP)
    (ws / ".vscode" / "launch.json").write_text(json.dumps(_LAUNCH, indent=2) + "\n")
    return ws


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--installer", choices=("uv", "pip", "auto"), default="auto")
    args = parser.parse_args(argv)
    dest: Path = args.dest.resolve()
    wheels = build_wheelhouse(dest / "wheels", STANDARD_WHEELS)
    kernel_wheelhouse(wheels)
    out: dict[str, str] = {"wheels": str(wheels)}
    for name in WORKSPACES:
        out[name] = str(write_workspace(dest, name, wheels, args.installer))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
