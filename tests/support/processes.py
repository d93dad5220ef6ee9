"""Children we can kill, and waiting for what they do.

- `Child(cmd, env=None)`: a process in its own session, run from the repository with the tests
  package importable; `kill()` SIGKILLs it and every descendant.
- `spawn(*args, env=None)`: a `Child` running the envlayers CLI.
- `fault_cmd(point, marker, *args)`: the CLI with a pause injected at `point`
  (`tests/reliability/faults.py`).
- `wait_until(predicate, timeout, what)`: poll until `predicate()` is true.
- `running(proc)`: whether a process (maybe an orphan, not our child) is still alive.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

from .cli import cli_cmd

__all__ = ["REPO", "Child", "fault_cmd", "running", "spawn", "wait_until"]

REPO = Path(__file__).resolve().parents[2]


def wait_until(
    predicate: Callable[[], object], timeout: float = 60.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def running(proc: psutil.Process) -> bool:
    # An orphan that died is reparented to pid 1, which may not reap it here: a zombie is gone.
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


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
    return Child(cli_cmd(*args), env)
