"""The live progress line, on a real pseudo-terminal: the steps show, each drawing fits the
terminal's width, the line is gone at the end; a pipe (CI) and `--quiet` get nothing extra."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.support.cli import cli
from tests.support.workspaces import workspace

pytestmark = pytest.mark.slow

_COLUMNS = 72
_CLEAR = "\r\x1b[K"


def _on_pty(*args: str, columns: int = _COLUMNS) -> tuple[int, str, str]:
    """(exit code, what the terminal got on stderr, stdout) of `envlayers ARGS`."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "envlayers", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    got = b""
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every writer of the terminal has closed it
                    break
                if not chunk:
                    break
                got += chunk
            elif proc.poll() is not None:
                break
        assert proc.stdout is not None
        out = proc.stdout.read().decode("utf-8")
        code = proc.wait(timeout=60)
    finally:
        os.close(master)
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, got.decode("utf-8", "replace"), out


@pytest.fixture(params=["uv", "pip"])
def ws(request: pytest.FixtureRequest, tmp_path: Path, wheelhouse: Path) -> Path:
    return workspace(tmp_path / "ws", str(request.param), wheelhouse, dependencies=("beta",))


def _drawings(text: str) -> list[str]:
    return [part for part in text.split(_CLEAR) if part]


def test_a_cold_env_shows_its_steps_on_a_terminal(ws: Path) -> None:
    code, tty, out = _on_pty(
        "env", "--project", str(ws), "--with", "alpha==1.0", "--format", "json"
    )
    assert code == 0, tty
    assert json.loads(out)["layers"][0]["requirements"] == ["alpha==1.0"]  # stdout stays clean
    drawn = _drawings(tty)
    assert drawn, repr(tty)
    assert all(d.startswith("envlayers: ") for d in drawn), drawn
    assert all(len(d) <= _COLUMNS - 1 for d in drawn), drawn  # cut to the terminal's width
    steps = " / ".join(drawn)
    for word in ("syncing: resolving", "building a layer for alpha==1.0", "composing"):
        assert word in steps, steps
    assert re.search(r"(downloading|installing) \d+ packages?", steps), steps
    # The installer's own latest line is shown beside the step.
    assert re.search(r" \| (Resolved|Collecting|Processing|Looking in|Using Python)", steps), steps
    assert tty.endswith(_CLEAR)  # and the line is cleared at the end

    # A repeat is answered by the fast path: nothing on the terminal at all.
    code, tty, out = _on_pty(
        "env", "--project", str(ws), "--with", "alpha==1.0", "--format", "json"
    )
    assert code == 0 and tty == "" and json.loads(out)["layers"]


def test_a_narrow_terminal_gets_a_cut_line(ws: Path) -> None:
    code, tty, _ = _on_pty("sync", "--project", str(ws), columns=30)
    assert code == 0, tty
    drawn = _drawings(tty)
    assert drawn and all(len(d) <= 29 for d in drawn), drawn
    assert any(d.endswith("...") for d in drawn), drawn


def test_quiet_silences_it_on_a_terminal(ws: Path) -> None:
    code, tty, out = _on_pty(
        "env", "--project", str(ws), "--with", "plugin", "--format", "json", "-q"
    )
    assert code == 0, tty
    assert tty == ""
    assert json.loads(out)["layers"]


def test_a_pipe_gets_nothing_extra(ws: Path) -> None:
    # The same cold work with stderr on a pipe, as in CI.
    proc = cli("env", "--project", str(ws), "--with", "epsilon", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert json.loads(proc.stdout)["layers"]
    # -v still prints the installer's lines there (plain, no redrawing).
    proc = cli("env", "--project", str(ws), "--with", "gamma", "-v", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() and "\r" not in proc.stderr and "\x1b" not in proc.stderr


def test_the_fast_path_never_imports_the_display() -> None:
    code = (
        "import sys, envlayers._entry, envlayers.core.fastpath;"
        "print('envlayers.ttyprogress' in sys.modules, 'envlayers.cli' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stdout.split() == ["False", "False"]
