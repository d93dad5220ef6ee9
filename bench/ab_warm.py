"""Old code against new on the warm paths, interleaved in one loop: the no-op `sync`, the report
of an existing composition, a request the base satisfies, and a bare `python -c pass`.

The bench's rows compare envlayers with its peers; a change to envlayers itself is best judged
by running both versions alternately on the same machine state. Each version gets its own copy
of the workspace (their stored reports differ) and one shared, isolated cache.

Usage: python bench/ab_warm.py --old OLD/bin/envlayers --new NEW/bin/envlayers \
           --workspace DIR [--with REQ] [--runs 30]
DIR is a workspace whose `[tool.envlayers]` names its wheels (e.g. a `make bench` scratch
folder's `small-envlayers`, kept with `python bench/run.py --only small --keep`); `--with` is a
requirement it can build a layer from (default `xtra`), and one its base satisfies is taken
from its dependencies.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fixtures import bench_env


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, capture_output=True, check=False)
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True)
    parser.add_argument("--new", required=True)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--with", dest="with_", default="xtra")
    parser.add_argument("--runs", type=int, default=30)
    ns = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="envlayers-ab-"))
    try:
        env = bench_env(tmp)
        copies = {}
        for name in ("old", "new"):
            copies[name] = tmp / name
            shutil.copytree(
                ns.workspace, copies[name], ignore=shutil.ignore_patterns(".venv", ".envlayers")
            )
        deps = tomllib.loads((ns.workspace / "pyproject.toml").read_text("utf-8"))["project"]
        satisfied = str(deps["dependencies"][0]).split(">")[0].split("=")[0].strip()
        cases = {
            "no-op sync": ["sync"],
            f"report (env --with {ns.with_})": ["env", "--with", ns.with_, "--format", "json"],
            f"base satisfies (env --with {satisfied})": ["env", "--with", satisfied],
        }
        exe = {"old": ns.old, "new": ns.new}
        for name, ws in copies.items():  # the set-up: sync, build, store the reports
            for words in cases.values():
                for _ in range(2):
                    cmd = [exe[name], *words, "--project", str(ws)]
                    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
                    if done.returncode != 0:
                        print(f"{name}: {' '.join(words)} failed:\n{done.stderr}", file=sys.stderr)
                        return 1
        for label, words in cases.items():
            times: dict[str, list[float]] = {"old": [], "new": [], "python": []}
            for _ in range(ns.runs):
                for name, ws in copies.items():
                    times[name].append(_timed([exe[name], *words, "--project", str(ws)], env))
                times["python"].append(_timed([sys.executable, "-c", "pass"], env))
            m = {k: statistics.median(v) for k, v in times.items()}
            print(
                f"{label}: old {m['old']:.1f} ms, new {m['new']:.1f} ms "
                f"(new/old {m['new'] / m['old']:.2f}x), python -c pass {m['python']:.1f} ms"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
