"""Helpers for the fault tests: workspaces, children we can kill, tree snapshots, cache checks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import psutil

from envlayers.core.layers import LayerCache, is_valid_key
from tests.integration.compose_support import workspace

__all__ = [
    "REPO",
    "Child",
    "assert_cache_sound",
    "envlayers_cmd",
    "fault_cmd",
    "layers_root",
    "leftovers",
    "published",
    "snapshot",
    "spawn",
    "uv_workspace",
    "wait_until",
]

REPO = Path(__file__).resolve().parents[2]


def uv_workspace(
    root: Path,
    wheelhouse: Path,
    *,
    dependencies: Sequence[str] = ("beta",),
    name: str = "demo-app",
    extra_tool: str = "",
) -> Path:
    """A small workspace that installs with uv from the wheelhouse (no build system: fast)."""
    return workspace(
        root,
        "uv",
        wheelhouse,
        dependencies=dependencies,
        name=name,
        extra_tool=extra_tool,
        build_system=False,
    )


def layers_root(cache: Path) -> Path:
    return cache / "layers" / "v1"


def published(cache: Path) -> list[str]:
    root = layers_root(cache)
    return sorted(p.name for p in root.iterdir() if is_valid_key(p.name)) if root.exists() else []


def leftovers(cache: Path) -> list[str]:
    """Temporary and trash folders of builds (locks are expected to stay)."""
    root = layers_root(cache)
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.name.startswith((".tmp-", ".trash-")))


def assert_cache_sound(cache: Path) -> None:
    """Every published layer is whole: it loads and every package of its metadata is there."""
    layers = LayerCache(layers_root(cache))
    for key in published(cache):
        layer = layers.load(key)
        assert layer is not None, f"published layer {key} does not load"
        assert layers.verify(layer) is None, layers.verify(layer)


def wait_until(
    predicate: Callable[[], object], timeout: float = 60.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def envlayers_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "envlayers", *args]


def fault_cmd(point: str, marker: Path, *args: str) -> list[str]:
    """The CLI with a pause injected at `point` (see `tests/reliability/faults.py`)."""
    return [sys.executable, "-m", "tests.reliability.faults", point, str(marker), *args]


class Child:
    """A child process in its own session; `kill()` SIGKILLs it and every descendant."""

    def __init__(self, cmd: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        full = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        full["PYTHONPATH"] = str(REPO)  # the fault injector lives in the tests package
        if env:
            full.update(env)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full,
            cwd=REPO,
            start_new_session=True,
        )
        self.ended: float | None = None

    def kill(self) -> None:
        """SIGKILL, like an OOM killer or a crashed editor: no handler runs, no cleanup."""
        try:
            family = [self.proc.pid] + [
                c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)
            ]
        except psutil.NoSuchProcess:
            family = [self.proc.pid]
        for pid in family:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.communicate(timeout=30)  # reap it and close our ends of its pipes
        # Installers run in their own sessions: make sure none is still writing.
        for pid in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(pid).wait(timeout=30)

    def result(self, timeout: float = 300) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        self.ended = self.ended or time.monotonic()
        return self.proc.returncode, out, err

    def report(self, timeout: float = 300) -> dict[str, object]:
        code, out, err = self.result(timeout)
        assert code == 0, err
        data: dict[str, object] = json.loads(out)
        return data


def spawn(*args: str, env: Mapping[str, str] | None = None) -> Child:
    return Child(envlayers_cmd(*args), env)


def snapshot(root: Path, *, skip: Sequence[Path] = ()) -> dict[str, tuple[str, int, int]]:
    """Every entry under `root` (but the `skip` folders): kind, size, mtime_ns."""
    skipped = {os.path.realpath(s) for s in skip}
    out: dict[str, tuple[str, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [
            d for d in dirnames if os.path.realpath(os.path.join(dirpath, d)) not in skipped
        ]
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            kind = "dir" if os.path.isdir(p) and not os.path.islink(p) else "file"
            out[os.path.relpath(p, root)] = (
                kind,
                st.st_size if kind == "file" else 0,
                st.st_mtime_ns if kind == "file" else 0,
            )
    return out


@contextlib.contextmanager
def chdir(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)
