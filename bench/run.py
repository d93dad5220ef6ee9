"""`make bench`: envlayers against uv, pip and pip-run, side by side in one run (issue 6).

Every row times envlayers and its peer on the same inputs (same interpreter, same wheels, same
requests), alternating them, and reports the medians, their ratio (envlayers / peer), the target
and a verdict, plus the peak resident memory of each side's process tree. Offline: tiny local
wheels built on the spot, and for the cold-build rows real wheels fetched once into
`bench/.cache/wheelhouse` (skipped with a note when they cannot be fetched).

Prints one table and writes the same figures to `bench/results.json` (the previous file, if
any, is read first and its ratios are shown beside the new ones).

Usage: python bench/run.py [--quick] [--runs N] [--cold-runs N] [--only ID ...] [--keep]
       python bench/run.py --markdown [FILE]   # render a results.json as a Markdown table
       python bench/run.py --compare BEFORE... AFTER   # two runs' rows side by side
"""

from __future__ import annotations

import argparse
import glob
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _fixtures import (
    REALISTIC,
    ROOT,
    Workspaces,
    bench_env,
    cold_specs,
    compile_envlayers,
    envlayers_cmd,
    find_base_python,
    flags_specs,
    index_flags,
    make_workspaces,
    realistic_wheelhouse,
    reset_dir,
    run_checked,
    scale_specs,
    small_specs,
    uv_bin,
)
from _measure import Sample, Series, interleave, time_call, time_cmd

RESULTS = ROOT / "bench" / "results.json"
SERVER_SCRIPT = ROOT / "bench" / "bench_server.py"


@dataclass
class Target:
    """`ratio <= value` (kind "ratio") or `envlayers median <= value ms` (kind "abs-ms"/"abs-mb")."""

    text: str
    kind: str = "none"
    value: float = 0.0
    source: str = "issue 6"


@dataclass
class Row:
    id: str
    title: str
    ours: Series
    peer: Series | None
    target: Target
    note: str = ""
    unit: str = "ms"  # "ms" or "MB" (memory-only rows)
    value: float | None = None  # for rows measured elsewhere (the server)
    skipped: bool = False

    @property
    def ours_value(self) -> float | None:
        if self.value is not None:
            return self.value
        return self.ours.median * 1000 if self.ours.samples else None

    @property
    def peer_value(self) -> float | None:
        return self.peer.median * 1000 if self.peer and self.peer.samples else None

    @property
    def ratio(self) -> float | None:
        ours, peer = self.ours_value, self.peer_value
        return ours / peer if ours is not None and peer else None

    @property
    def verdict(self) -> str:
        if self.skipped:
            return "skipped"
        t = self.target
        if t.kind == "ratio" and self.ratio is not None:
            return "ok" if self.ratio <= t.value else "MISS"
        if t.kind in ("abs-ms", "abs-mb") and self.ours_value is not None:
            return "ok" if self.ours_value <= t.value else "MISS"
        return "info"

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "unit": self.unit,
            "envlayers": {
                **(self.ours.to_json() if self.ours.samples else {"label": self.ours.label}),
                "value": _round(self.ours_value),
            },
            "peer": None
            if self.peer is None
            else {
                **(self.peer.to_json() if self.peer.samples else {"label": self.peer.label}),
                "value": _round(self.peer_value),
            },
            "ratio": _round(self.ratio, 3),
            "target": {
                "text": self.target.text,
                "kind": self.target.kind,
                "value": self.target.value,
                "source": self.target.source,
            },
            "verdict": self.verdict,
            "note": self.note,
        }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class Context:
    tmp: Path
    python: str
    env: dict[str, str]
    uv_env: dict[str, str]
    runs: int
    cold_runs: int
    quick: bool
    notes: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    only: frozenset[str] = frozenset()
    server: dict[str, object] | None = None

    def wanted(self, group: str) -> bool:
        return not self.only or group in self.only

    def log(self, text: str) -> None:
        # Progress goes to stderr so stdout holds just the table.
        print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# -- commands ---------------------------------------------------------------------------------
def el(ctx: Context, *args: str, env: dict[str, str] | None = None) -> Callable[[], Sample]:
    cmd = [*envlayers_cmd(), *args]
    return lambda: time_cmd(cmd, env=env or ctx.env)


def uv(
    ctx: Context, ws: Path, *args: str, env: dict[str, str] | None = None
) -> Callable[[], Sample]:
    cmd = [uv_bin(), *args]
    return lambda: time_cmd(cmd, env=env or ctx.uv_env, cwd=ws)


def pair(
    ctx: Context,
    row_id: str,
    title: str,
    ours: Callable[[], Sample],
    peer_label: str,
    peer: Callable[[], Sample],
    target: Target,
    *,
    runs: int | None = None,
    resets: tuple[Callable[[], None] | None, Callable[[], None] | None] = (None, None),
    warmup: int = 1,
    note: str = "",
) -> Row:
    ctx.log(f"{row_id}: {title}")
    row = Row(row_id, title, Series("envlayers"), Series(peer_label), target, note=note)
    assert row.peer is not None
    interleave(
        runs or ctx.runs,
        [(row.ours, ours), (row.peer, peer)],
        warmup=warmup,
        before_each=list(resets),
    )
    ctx.rows.append(row)
    return row


# -- rows -------------------------------------------------------------------------------------
def rows_small(ctx: Context, ws: Workspaces) -> None:
    """Issue 6 rows 1, 2 and 4 (and issue 2's two rows) on a ~30-distribution workspace."""
    p = str(ws.envlayers)
    pair(
        ctx,
        "noop-sync-uv",
        "no-op sync, 30 dists: `envlayers sync` vs `uv sync --inexact`",
        el(ctx, "sync", "--project", p),
        "uv sync --inexact --offline",
        uv(ctx, ws.uv, "sync", "--inexact", "--offline", "--quiet"),
        Target("<= 2x uv", "ratio", 2.0, "issue 6 (issue 2: <= 3x)"),
    )
    if ws.pip_venv is not None:
        links = [a for w in ws.wheelhouses for a in ("--find-links", str(w))]
        pip_cmd = [sys.executable, "-m", "pip", "--python", str(ws.pip_venv / "bin" / "python")]
        pip_cmd += ["install", "--quiet", "--no-index", *links, "-r", str(ws.requirements)]
        pair(
            ctx,
            "noop-sync-pip",
            "no-op sync, 30 dists: `envlayers sync` vs `pip install -r` (all satisfied)",
            el(ctx, "sync", "--project", p),
            "pip install -r (satisfied)",
            lambda: time_cmd(pip_cmd, env=ctx.env),
            Target(">= 10x faster than pip", "ratio", 0.1),
        )
    el(ctx, "env", "--project", p, "--with", "xtra", "--format", "json")()  # build the layer once
    uv(ctx, ws.uv, "run", "--offline", "--with", "xtra", "python", "-c", "pass")()
    pair(
        ctx,
        "report-cli",
        "report of an existing composition: `envlayers env --with X --format json` vs "
        "`uv run --with X python -c pass`",
        el(ctx, "env", "--project", p, "--with", "xtra", "--format", "json"),
        "uv run --with X python -c pass",
        uv(ctx, ws.uv, "run", "--offline", "--with", "xtra", "python", "-c", "pass"),
        Target("<= 0.5x uv", "ratio", 0.5, "issue 6 and issue 2"),
    )
    pair(
        ctx,
        "base-satisfies",
        "compose, base satisfies the request (no layer): `envlayers env --with dep05` vs "
        "`uv run --with dep05 python -c pass`",
        el(ctx, "env", "--project", p, "--with", "dep05", "--format", "json"),
        "uv run --with dep05 python -c pass",
        uv(ctx, ws.uv, "run", "--offline", "--with", "dep05", "python", "-c", "pass"),
        Target("<= 0.5x uv", "ratio", 0.5, "ours (issue 6 sets none; same work as the report)"),
    )


def rows_cold(ctx: Context, ws: Workspaces) -> None:
    """Issue 6 row 3: build a layer of real packages whose wheels the installer already has."""
    p = str(ws.envlayers)
    withs = [a for r in REALISTIC for a in ("--with", r)]
    cache = Path(ctx.env["ENVLAYERS_CACHE_DIR"])
    uv_cache = Path(ctx.env["UV_CACHE_DIR"])

    def reset_ours() -> None:
        reset_dir(cache / "layers")
        reset_dir(cache / "compositions")
        for d in glob.glob(str(ws.envlayers / ".envlayers" / "with-*")):
            reset_dir(Path(d))

    def reset_uv() -> None:
        # uv keeps `--with` environments in its cache; the wheels stay (the installer's cache).
        for d in glob.glob(str(uv_cache / "environments-v*")):
            reset_dir(Path(d))

    # Warm the installers' own caches with these wheels, outside the measurement.
    el(ctx, "env", "--project", p, *withs, "--format", "json")()
    uv(ctx, ws.uv, "run", "--offline", *withs, "python", "-c", "pass")()
    if not glob.glob(str(uv_cache / "environments-v*")):
        ctx.notes.append("uv's cache had no environments-v* folder: uv's cold runs may be warm")
    pair(
        ctx,
        "cold-uv",
        "cold layer build (rich, httpx; wheels in uv's cache): envlayers (uv) vs `uv run --with`",
        el(ctx, "env", "--project", p, *withs, "--format", "json"),
        "uv run --with rich --with httpx python -c pass",
        uv(ctx, ws.uv, "run", "--offline", *withs, "python", "-c", "pass"),
        Target("<= 1.2x uv", "ratio", 1.2),
        runs=ctx.cold_runs,
        resets=(reset_ours, reset_uv),
        warmup=0,
    )
    # pip-run picks uv when `uv` is on PATH: give it a PATH with pip only.
    pip_bin = ctx.tmp / "pip-only-bin"
    pip_bin.mkdir(exist_ok=True)
    if not (pip_bin / "pip").exists():
        (pip_bin / "pip").symlink_to(Path(sys.executable).with_name("pip"))
    xdg = ctx.tmp / "pip-run-xdg"
    links = [a for w in ws.wheelhouses for a in ("--find-links", str(w))]
    pip_run_env = {
        **ctx.env,
        "PATH": f"{pip_bin}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "PIP_RUN_RETENTION_STRATEGY": "persist",
        "XDG_CACHE_HOME": str(xdg),
    }
    pip_run_cmd = [sys.executable, "-m", "pip_run", "--no-index", *links, *REALISTIC, "--"]
    pip_run_cmd += ["-c", "pass"]
    pair(
        ctx,
        "cold-pip",
        "cold layer build (rich, httpx): envlayers (pip) vs pip-run (persist mode)",
        el(ctx, "env", "--project", p, *withs, "--installer", "pip", "--format", "json"),
        "pip-run rich httpx -- -c pass (persist)",
        lambda: time_cmd(pip_run_cmd, env=pip_run_env),
        Target("<= 1x pip-run", "ratio", 1.0),
        runs=ctx.cold_runs,
        resets=(reset_ours, lambda: reset_dir(xdg)),
        warmup=0,
        note="pip-run installs with `pip install --target` into its cache and runs with PYTHONPATH",
    )


def _naive_check(site: str, direct: Sequence[str]) -> bool:
    """The stdlib baseline: importlib.metadata + packaging, recursive, extras and markers."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    dists = {
        canonicalize_name(d.metadata["Name"]): d
        for d in importlib.metadata.distributions(path=[site])
    }
    env = {k: str(v) for k, v in default_environment().items()}
    todo = [(Requirement(r), "") for r in direct]
    seen: set[tuple[str, str]] = set()
    while todo:
        req, _ = todo.pop()
        name = canonicalize_name(req.name)
        extras = tuple(sorted(req.extras)) or ("",)
        dist = dists.get(name)
        if dist is None or not req.specifier.contains(dist.version, prereleases=True):
            return False
        for extra in extras:
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            for line in dist.requires or []:
                sub = Requirement(line)
                if sub.marker is None or sub.marker.evaluate({**env, "extra": extra}):
                    todo.append((sub, extra))
    return True


def rows_scale(ctx: Context) -> None:
    """Issue 6 row 5 (1,000 distributions) and the matching CLI rows against uv."""
    specs, direct = scale_specs(1000)
    ctx.log("scale: building and syncing a 1,000-distribution workspace (set-up, not timed)")
    ws = make_workspaces(
        ctx.tmp,
        "scale",
        specs=specs,
        direct=direct,
        python=ctx.python,
        env=ctx.env,
        uv_env=ctx.uv_env,
        with_pip=False,
    )
    p = str(ws.envlayers)
    os.environ["ENVLAYERS_CACHE_DIR"] = ctx.env["ENVLAYERS_CACHE_DIR"]
    from envlayers.core.compose import base_site_dirs
    from envlayers.core.engine import Engine
    from envlayers.core.interpreter import probe
    from envlayers.core.inventory import Inventory
    from envlayers.core.satisfy import check, parse_request

    base = probe(ws.envlayers / ".venv" / "bin" / "python")
    sites = base_site_dirs(base)
    requests = [parse_request(d) for d in direct]
    found = len(Inventory.scan(sites))
    if found < 1000:
        raise RuntimeError(f"the scale base holds {found} distributions, not 1,000+")

    def ours() -> Sample:
        def work() -> None:
            result = check(requests, Inventory.scan(sites), base.marker_env)
            if not result.ok:
                raise RuntimeError(f"scale base unsatisfied: {result.unsatisfied[:1]}")

        return time_call(work)

    def peer() -> Sample:
        def work() -> None:
            if not _naive_check(sites[0], direct):
                raise RuntimeError("the baseline check found the scale base unsatisfied")

        return time_call(work)

    pair(
        ctx,
        "scale-check",
        f"1,000 dists ({found} installed): satisfaction check in-process (scan + check)",
        ours,
        "importlib.metadata walk (stdlib baseline)",
        peer,
        Target("< 100 ms", "abs-ms", 100.0),
        runs=max(ctx.runs, 5),
        note="in-process, so no memory figure",
    )
    el(ctx, "env", "--project", p, "--with", "xtra", "--format", "json")()
    uv(ctx, ws.uv, "run", "--offline", "--with", "xtra", "python", "-c", "pass")()
    engine = Engine()
    ws_path = ws.envlayers
    pair(
        ctx,
        "scale-report",
        "1,000 dists: `Engine.report()` in-process (server's report) vs a fresh "
        "`Inventory.scan` of the base",
        lambda: time_call(lambda: engine.report(ws_path)),
        "a fresh Inventory.scan of the base (no caches)",
        lambda: time_call(lambda: Inventory.scan(sites)),
        Target("-", "none"),
        note="no outside peer: the second column is the scan an uncached report would repeat",
    )
    pair(
        ctx,
        "scale-noop-sync",
        "1,000 dists: no-op `envlayers sync` vs `uv sync --inexact`",
        el(ctx, "sync", "--project", p),
        "uv sync --inexact --offline",
        uv(ctx, ws.uv, "sync", "--inexact", "--offline", "--quiet"),
        Target("<= 2x uv", "ratio", 2.0),
    )
    pair(
        ctx,
        "scale-report-cli",
        "1,000 dists: `envlayers env --with X --format json` vs `uv run --with X python -c pass`",
        el(ctx, "env", "--project", p, "--with", "xtra", "--format", "json"),
        "uv run --with X python -c pass",
        uv(ctx, ws.uv, "run", "--offline", "--with", "xtra", "python", "-c", "pass"),
        Target("<= 0.5x uv", "ratio", 0.5),
    )


def _cycle(*commands: Sequence[str]) -> Callable[[], list[str]]:
    """Each call returns the next command of `commands`, round and round."""
    state = {"n": -1}

    def nxt() -> list[str]:
        state["n"] += 1
        return list(commands[state["n"] % len(commands)])

    return nxt


def rows_first(ctx: Context) -> None:
    """Issue 13: cold `env --with X` (tiny wheels, a new key each run), first syncs, the
    `--no-sync` switch, and the warm no-op against a bare interpreter start."""
    rounds = ctx.runs + 1  # one warm-up round
    specs, direct = small_specs()
    specs = [s for s in specs if not s.name.startswith("lay")] + cold_specs(rounds)
    ctx.log("first: building and syncing a 30-distribution workspace (set-up, not timed)")
    ws = make_workspaces(
        ctx.tmp,
        "first",
        specs=specs,
        direct=direct,
        python=ctx.python,
        env=ctx.env,
        uv_env=ctx.uv_env,
        with_pip=False,
    )
    p = str(ws.envlayers)
    # uv's cache gets every cold wheel once (the "warm installer cache" of both sides).
    scratch = ctx.tmp / "first-warm-venv"
    run_checked([uv_bin(), "venv", "--quiet", "--python", ctx.python, str(scratch)], ctx.env)
    names = [s.name for s in specs if s.name.startswith("cold")]
    target = ["--python", str(scratch / "bin" / "python"), *index_flags(ws.wheelhouses)]
    run_checked([uv_bin(), "pip", "install", "--quiet", *target, *names], ctx.env)
    counter = {"ours": 0, "uv": 0}

    def cold_ours() -> Sample:
        i = counter["ours"]
        counter["ours"] += 1
        cmd = [*envlayers_cmd(), "env", "--project", p, "--with", f"cold{i:02d}"]
        return time_cmd([*cmd, "--format", "json"], env=ctx.env)

    def cold_uv() -> Sample:
        i = counter["uv"]
        counter["uv"] += 1
        cmd = [uv_bin(), "run", "--offline", "--with", f"cold{i:02d}", "python", "-c", "pass"]
        return time_cmd(cmd, env=ctx.uv_env, cwd=ws.uv)

    pair(
        ctx,
        "cold-env-uv",
        "cold layer + composition, 2 tiny wheels in uv's cache, a new key each run: "
        "`envlayers env --with X` vs `uv run --with X python -c pass`",
        cold_ours,
        "uv run --with X python -c pass (new X)",
        cold_uv,
        Target("<= 1.1x uv", "ratio", 1.1, "issue 13"),
    )

    def new_venv(prefix: Path) -> Callable[[], None]:
        return lambda: reset_dir(prefix)

    pair(
        ctx,
        "first-sync-uv",
        "first sync, 30 dists (new venv each run, warm cache): `envlayers sync` vs `uv sync`",
        el(ctx, "sync", "--project", p),
        "uv sync --offline (new .venv)",
        uv(ctx, ws.uv, "sync", "--inexact", "--offline", "--quiet"),
        Target("<= 1.1x uv", "ratio", 1.1, "issue 13"),
        resets=(new_venv(ws.envlayers / ".venv"), new_venv(ws.uv / ".venv")),
    )
    # What the gap is made of: uv's own share of our first sync (the one installer call, into
    # a new prefix, with the base interpreter uv already knows) against the same `uv sync`.
    prefix = ctx.tmp / "first-uv-prefix"
    uv_alone = [uv_bin(), "pip", "install", "--quiet", "--python", ctx.python, "--prefix"]
    uv_alone += [str(prefix), *index_flags(ws.wheelhouses), "-r", str(ws.requirements)]
    pair(
        ctx,
        "floor-first-sync-uv",
        "uv's share of our first sync: its `uv pip install --prefix` call alone (the project's "
        "editable comes from our cache) vs `uv sync`",
        lambda: time_cmd(uv_alone, env=ctx.env),
        "uv sync --offline (new .venv)",
        uv(ctx, ws.uv, "sync", "--inexact", "--offline", "--quiet"),
        Target("-"),
        resets=(new_venv(prefix), new_venv(ws.uv / ".venv")),
    )
    pip_venv = ctx.tmp / "first-pip-venv"
    pip_cmd = [sys.executable, "-m", "pip", "--python", str(pip_venv / "bin" / "python")]
    pip_cmd += ["install", "--quiet", "--disable-pip-version-check", *index_flags(ws.wheelhouses)]
    pip_cmd += ["-r", str(ws.requirements), "-e", str(ws.uv)]

    def fresh_pip_venv() -> None:
        reset_dir(pip_venv)
        run_checked([ctx.python, "-m", "venv", "--without-pip", str(pip_venv)], ctx.env)

    pair(
        ctx,
        "first-sync-pip",
        "first sync with pip, 30 dists (new venv each run): `envlayers sync --installer pip` vs "
        "`pip install -r` into a new venv",
        el(ctx, "sync", "--project", p, "--installer", "pip"),
        "pip install -r -e . (new venv, made untimed)",
        lambda: time_cmd(pip_cmd, env=ctx.env),
        Target("<= 1x pip", "ratio", 1.0, "issue 13"),
        resets=(new_venv(ws.envlayers / ".venv"), fresh_pip_venv),
        note="the peer's venv is made before its clock starts; ours is made inside the run",
    )
    run_checked([*envlayers_cmd(), "sync", "--project", p], ctx.env)  # back to uv's sync
    el(ctx, "env", "--project", p, "--with", "xtra", "--format", "json")()
    switch = _cycle(
        [
            *envlayers_cmd(),
            "env",
            "--project",
            p,
            "--with",
            "xtra",
            "--no-sync",
            "--format",
            "json",
        ],
        [*envlayers_cmd(), "env", "--project", p, "--with", "xtra", "--format", "json"],
    )
    pair(
        ctx,
        "nosync-switch",
        "`envlayers env --with X` alternating with and without `--no-sync` (every run follows "
        "a switch) vs `uv run --with X python -c pass`",
        lambda: time_cmd(switch(), env=ctx.env),
        "uv run --with X python -c pass",
        uv(ctx, ws.uv, "run", "--offline", "--with", "xtra", "python", "-c", "pass"),
        Target("<= 0.5x uv", "ratio", 0.5, "issue 13 (as report-cli)"),
    )
    imports = "import envlayers._entry, envlayers.cli, envlayers.core.engine"
    pair(
        ctx,
        "floor-imports",
        "what the slow path imports (the engine and everything it needs) vs a bare "
        "`python -c pass` of the same interpreter",
        lambda: time_cmd([sys.executable, "-c", imports], env=ctx.env),
        "python -c pass",
        lambda: time_cmd([sys.executable, "-c", "pass"], env=ctx.env),
        Target("-"),
    )
    pair(
        ctx,
        "noop-sync-python",
        "no-op `envlayers sync` vs a bare `python -c pass` of the interpreter envlayers runs on",
        el(ctx, "sync", "--project", p),
        "python -c pass",
        lambda: time_cmd([sys.executable, "-c", "pass"], env=ctx.env),
        Target("<= 1.5x python", "ratio", 1.5, "issue 13"),
    )


def rows_flags(ctx: Context) -> None:
    """Issue 13: the warm rows with the index settings on the command line, not in pyproject."""
    specs, direct = flags_specs()
    ctx.log(f"flags: a workspace whose {len(specs)} wheels are given with --find-links")
    ws = make_workspaces(
        ctx.tmp,
        "flags",
        specs=specs,
        direct=direct,
        python=ctx.python,
        env=ctx.env,
        uv_env=ctx.uv_env,
        with_pip=False,
        index_in_pyproject=False,
    )
    p = str(ws.envlayers)
    flags = index_flags(ws.wheelhouses)
    pair(
        ctx,
        "flags-noop-sync",
        f"no-op sync, `--no-index --find-links DIR` ({len(specs)} wheels) on the command line: "
        "`envlayers sync` vs `uv sync --inexact`",
        el(ctx, "sync", "--project", p, *flags),
        "uv sync --inexact --offline (same flags)",
        uv(ctx, ws.uv, "sync", "--inexact", "--offline", "--quiet", *flags),
        Target("<= 1.2x uv", "ratio", 1.2, "issue 13"),
    )
    el(ctx, "env", "--project", p, "--with", "xtra", *flags, "--format", "json")()
    uv(ctx, ws.uv, "run", "--offline", *flags, "--with", "xtra", "python", "-c", "pass")()
    pair(
        ctx,
        "flags-report-cli",
        "report of an existing composition, same flags: `envlayers env --with X` vs "
        "`uv run --with X python -c pass`",
        el(ctx, "env", "--project", p, "--with", "xtra", *flags, "--format", "json"),
        "uv run --with X python -c pass (same flags)",
        uv(ctx, ws.uv, "run", "--offline", *flags, "--with", "xtra", "python", "-c", "pass"),
        Target("<= 0.5x uv", "ratio", 0.5, "issue 13 (as report-cli)"),
    )


def rows_layers(ctx: Context, ws: Workspaces) -> None:
    """Issue 6 row 5: 50 cached layers listed and pruned."""
    count = 10 if ctx.quick else 50
    el_cache = ctx.tmp / "layers-envlayers-cache"
    uv_cache = ctx.tmp / "layers-uv-cache"
    el_env = {**ctx.env, "ENVLAYERS_CACHE_DIR": str(el_cache)}
    uv_env = {**ctx.uv_env, "UV_CACHE_DIR": str(uv_cache)}
    ctx.log(f"layers: building {count} layers with envlayers and {count} uv environments")
    p = str(ws.envlayers)
    for i in range(count):
        run_checked(
            [*envlayers_cmd(), "env", "--project", p, "--no-sync", "--with", f"lay{i:02d}"], el_env
        )
        run_checked(
            [uv_bin(), "run", "--offline", "--with", f"lay{i:02d}", "python", "-c", "pass"],
            uv_env,
            cwd=ws.uv,
        )
    envs = glob.glob(str(uv_cache / "environments-v*" / "*"))
    snap_el = ctx.tmp / "layers-envlayers-snapshot"
    snap_uv = ctx.tmp / "layers-uv-snapshot"
    shutil.copytree(el_cache, snap_el, symlinks=True)
    shutil.copytree(uv_cache, snap_uv, symlinks=True)

    def restore(src: Path, dest: Path) -> Callable[[], None]:
        def go() -> None:
            reset_dir(dest)
            shutil.copytree(src, dest, symlinks=True)

        return go

    pair(
        ctx,
        "layers-list",
        f"{count} cached layers: `envlayers layers list --format json` vs `uv cache size`",
        el(ctx, "layers", "list", "--format", "json", env=el_env),
        "uv cache size",
        uv(ctx, ws.uv, "cache", "size", env=uv_env),
        Target("-", "none"),
        note=f"uv has no list of its {len(envs)} `--with` environments; `cache size` walks the "
        "same cache",
    )
    pair(
        ctx,
        "layers-prune",
        f"{count} cached layers: `envlayers layers prune --all` vs `uv cache prune`",
        el(ctx, "layers", "prune", "--all", env=el_env),
        "uv cache prune",
        uv(ctx, ws.uv, "cache", "prune", env=uv_env),
        Target("-", "none"),
        resets=(restore(snap_el, el_cache), restore(snap_uv, uv_cache)),
        note="each run starts from the same snapshot of the cache",
    )


def rows_server(ctx: Context) -> None:
    """Issue 6 rows 2 and 6: the language server's report round trip and memory."""
    if not SERVER_SCRIPT.exists():
        ctx.notes.append(f"server rows skipped: {SERVER_SCRIPT} does not exist yet")
        return
    requests, compositions = (200, 50) if ctx.quick else (1000, 200)
    ctx.log(f"server: {requests} reports, {compositions} compositions (bench/bench_server.py)")
    out = ctx.tmp / "server.json"
    cmd = [sys.executable, str(SERVER_SCRIPT), "--requests", str(requests)]
    cmd += ["--compositions", str(compositions), "--json", str(out)]
    proc = subprocess.run(
        cmd, env=ctx.env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0 or not out.exists():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        ctx.notes.append(f"server rows failed: bench_server.py exit {proc.returncode}: {tail}")
        return
    data = json.loads(out.read_text(encoding="utf-8"))
    median = float(data["reportMedianMs"])
    ctx.rows.append(
        Row(
            "server-report",
            f"server `envlayers.report` round trip, median of {requests}",
            Series("envlayers"),
            None,
            Target("< 2 ms", "abs-ms", 2.0),
            value=median,
            note=f"p99 {data.get('reportP99Ms')} ms, max {data.get('reportMaxMs')} ms",
        )
    )
    rss = data.get("rssAfterCompositionsMB", {})
    last = rss.get(str(compositions)) if isinstance(rss, dict) else None
    if last is not None:
        ctx.rows.append(
            Row(
                "server-rss",
                f"server resident memory after {compositions} compositions",
                Series("envlayers"),
                None,
                Target("< 60 MB", "abs-mb", 60.0, "bench_server.py"),
                unit="MB",
                value=float(last),
                note=f"{data.get('rssAfterStartMB')} MB after start; growth after the first 50: "
                f"{data.get('rssGrowthAfter50MB')} MB",
            )
        )
    ctx.server = data


# -- output -----------------------------------------------------------------------------------
def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "MB":
        return f"{value:.1f} MB"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


def _rss(series: Series | None) -> str:
    if series is None or series.peak_rss_mb is None:
        return "-"
    return f"{series.peak_rss_mb:.0f}"


def table_rows(rows: Sequence[dict[str, object]]) -> list[list[str]]:
    """Rows of the printed/Markdown table from the JSON form (one renderer for both)."""
    out: list[list[str]] = []
    for r in rows:
        unit = str(r["unit"])
        ours = r["envlayers"]
        peer = r["peer"]
        assert isinstance(ours, dict)
        ratio = r["ratio"]
        target = r["target"]
        assert isinstance(target, dict)
        out.append(
            [
                str(r["id"]),
                _fmt(ours.get("value"), unit),
                str(peer["label"]) if isinstance(peer, dict) else "-",
                _fmt(peer.get("value"), unit) if isinstance(peer, dict) else "-",
                f"{ratio:.2f}x" if isinstance(ratio, float) else "-",
                str(target["text"]),
                str(r["verdict"]),
                (
                    f"{ours.get('peakRssMB') or '-'} / "
                    f"{(peer.get('peakRssMB') if isinstance(peer, dict) else None) or '-'}"
                ),
            ]
        )
    return out


HEADER = ["row", "envlayers", "peer", "peer time", "ratio", "target", "verdict", "peak RSS MB"]


def print_table(rows: Sequence[dict[str, object]], previous: dict[str, object] | None) -> None:
    body = table_rows(rows)
    header = [*HEADER]
    prev_ratio: dict[str, object] = {}
    if previous is not None:
        header.append("last ratio")
        old_rows = previous.get("rows")
        for r in old_rows if isinstance(old_rows, list) else []:
            if isinstance(r, dict):
                prev_ratio[str(r.get("id"))] = r.get("ratio")
        for line, r in zip(body, rows, strict=True):
            old = prev_ratio.get(str(r["id"]))
            line.append(f"{old:.2f}x" if isinstance(old, float) else "-")
    widths = [max(len(x) for x in col) for col in zip(header, *body, strict=True)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for line in body:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))


def markdown(data: dict[str, object]) -> str:
    rows = data["rows"]
    assert isinstance(rows, list)
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in table_rows(rows)]
    machine = data.get("machine", {})
    versions = data.get("versions", {})
    assert isinstance(machine, dict) and isinstance(versions, dict)
    lines.append("")
    lines.append(
        "Measured "
        + str(data.get("date"))
        + " on "
        + ", ".join(f"{k}: {v}" for k, v in machine.items())
        + "; "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f"; medians of {data.get('runs')} runs ({data.get('coldRuns')} for cold builds)."
    )
    return "\n".join(lines) + "\n"


def compare(befores: Sequence[dict[str, object]], after: dict[str, object]) -> str:
    """A Markdown table of the same rows before and after (rows missing before show `-`)."""
    old: dict[str, dict[str, object]] = {}
    for data in befores:
        rows = data.get("rows")
        for r in rows if isinstance(rows, list) else []:
            if isinstance(r, dict):
                old[str(r["id"])] = r
    head = ["row", "before", "before peer", "ratio", "after", "after peer", "ratio", "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = after.get("rows")
    assert isinstance(rows, list)
    for r in rows:
        unit = str(r["unit"])
        cells = [str(r["id"])]
        for side in (old.get(str(r["id"])), r):
            if side is None:
                cells += ["-", "-", "-"]
                continue
            ours, peer, ratio = side["envlayers"], side["peer"], side["ratio"]
            assert isinstance(ours, dict)
            cells.append(_fmt(ours.get("value"), unit))
            cells.append(_fmt(peer.get("value"), unit) if isinstance(peer, dict) else "-")
            cells.append(f"{ratio:.2f}x" if isinstance(ratio, float) else "-")
        target = r["target"]
        assert isinstance(target, dict)
        cells.append(f"{target['text']} ({r['verdict']})")
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _version_of(cmd: Sequence[str]) -> str:
    try:
        out = subprocess.run(
            list(cmd), capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
        )
    except OSError:
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "?"


def machine_info(python: str) -> tuple[dict[str, object], dict[str, str]]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        mem = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except ImportError:  # pragma: no cover - psutil is in the dev group
        mem = "?"
    machine: dict[str, object] = {
        "os": platform.platform(terse=True),
        "cpu": cpu,
        "cores": os.cpu_count() or 0,
        "memory": mem,
    }
    commit = _version_of(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    versions = {
        "envlayers": f"{importlib.metadata.version('envlayers')} ({commit})",
        "python (managed envs)": _version_of([python, "--version"]).replace("Python ", ""),
        "uv": _version_of([uv_bin(), "--version"]).replace("uv ", ""),
        "pip": importlib.metadata.version("pip"),
        "pip-run": importlib.metadata.version("pip-run"),
    }
    return machine, versions


# -- main -------------------------------------------------------------------------------------
GROUPS = ("small", "cold", "first", "flags", "scale", "layers", "server")


def run(ctx: Context) -> dict[str, object]:
    started = time.perf_counter()
    realistic = None
    if ctx.wanted("small") or ctx.wanted("cold"):
        realistic = realistic_wheelhouse(ctx.notes) if ctx.wanted("cold") else None
        specs, direct = small_specs()
        ctx.log("small: building and syncing a 30-distribution workspace (set-up, not timed)")
        ws = make_workspaces(
            ctx.tmp,
            "small",
            specs=specs,
            direct=direct,
            python=ctx.python,
            env=ctx.env,
            uv_env=ctx.uv_env,
            extra_wheelhouses=[realistic] if realistic else [],
        )
        if ctx.wanted("small"):
            rows_small(ctx, ws)
        if ctx.wanted("cold"):
            if realistic is not None:
                rows_cold(ctx, ws)
            else:
                rows_small_skipped(ctx)
        if ctx.wanted("layers"):
            rows_layers(ctx, ws)
    elif ctx.wanted("layers"):
        ctx.notes.append("the layers rows need the small workspace: add `--only small`")
    if ctx.wanted("first"):
        rows_first(ctx)
    if ctx.wanted("flags"):
        rows_flags(ctx)
    if ctx.wanted("scale"):
        rows_scale(ctx)
    if ctx.wanted("server"):
        rows_server(ctx)
    machine, versions = machine_info(ctx.python)
    return {
        "schemaVersion": 1,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": machine,
        "versions": versions,
        "runs": ctx.runs,
        "coldRuns": ctx.cold_runs,
        "quick": ctx.quick,
        "elapsedSeconds": round(time.perf_counter() - started, 1),
        "rows": [r.to_json() for r in ctx.rows],
        "server": ctx.server,
        "notes": ctx.notes,
    }


def rows_small_skipped(ctx: Context) -> None:
    for row_id in ("cold-uv", "cold-pip"):
        ctx.rows.append(
            Row(
                row_id,
                "cold layer build (rich, httpx)",
                Series("envlayers"),
                None,
                Target("-"),
                skipped=True,
                note="no real wheels (see notes)",
            )
        )


def uv_peer_env(env: dict[str, str], python: str, tmp: Path) -> dict[str, str]:
    """uv reads its project's `[tool.uv]` (so no UV_NO_CONFIG) but no user or system uv.toml."""
    empty = tmp / "no-uv-config"
    empty.mkdir(exist_ok=True)
    out = {k: v for k, v in env.items() if k != "UV_NO_CONFIG"}
    out.update(UV_PYTHON=python, XDG_CONFIG_HOME=str(empty), XDG_CONFIG_DIRS=str(empty))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="measured runs per row (default 7; quick 3)")
    parser.add_argument("--cold-runs", type=int, help="runs per cold-build row (default 3)")
    parser.add_argument("--quick", action="store_true", help="fewer runs, 10 layers, short server")
    parser.add_argument("--only", nargs="+", choices=GROUPS, default=[], help="row groups to run")
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the figures")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument(
        "--markdown",
        nargs="?",
        const=RESULTS,
        type=Path,
        metavar="FILE",
        help="print a results.json as a Markdown table and exit",
    )
    parser.add_argument(
        "--compare",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="BEFORE... AFTER: print the rows of AFTER beside those of the BEFORE files and exit",
    )
    ns = parser.parse_args(argv)
    if ns.compare:
        if len(ns.compare) < 2:
            parser.error("--compare needs at least one BEFORE file and the AFTER file")
        loaded = [json.loads(f.read_text(encoding="utf-8")) for f in ns.compare]
        print(compare(loaded[:-1], loaded[-1]), end="")
        return 0
    if ns.markdown is not None:
        print(markdown(json.loads(Path(ns.markdown).read_text(encoding="utf-8"))), end="")
        return 0
    previous = None
    if ns.json.exists():
        try:
            previous = json.loads(ns.json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
    tmp = Path(tempfile.mkdtemp(prefix="envlayers-bench-"))
    compile_envlayers()
    python = find_base_python()
    env = bench_env(tmp)
    ctx = Context(
        tmp=tmp,
        python=python,
        env=env,
        uv_env=uv_peer_env(env, python, tmp),
        runs=ns.runs or (3 if ns.quick else 7),
        cold_runs=ns.cold_runs or (1 if ns.quick else 3),
        quick=ns.quick,
        only=frozenset(ns.only),
    )
    try:
        data = run(ctx)
    finally:
        if ns.keep:
            ctx.log(f"scratch folder kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    ns.json.parent.mkdir(parents=True, exist_ok=True)
    ns.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print()
    print_table(data["rows"], previous)  # type: ignore[arg-type]
    for note in ctx.notes:
        print(f"note: {note}")
    print(f"\nfigures written to {ns.json} ({data['elapsedSeconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
