"""`core.flock.FileLock`: excludes another process and another object in this one, times out,
is re-entrant per object, lets go when its holder dies, and never follows a link."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envlayers.core.flock import FileLock, Timeout

_HOLD = """
import sys, time
from envlayers.core.flock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _holder(path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _stop(proc: subprocess.Popen[str], *, kill: bool) -> None:
    if kill:
        proc.kill()
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()


def test_another_process_holding_the_lock_makes_us_time_out(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    holder = _holder(path, 30)
    try:
        lock = FileLock(str(path), timeout=0.2)
        started = time.monotonic()
        with pytest.raises(Timeout) as caught:
            lock.acquire()
        assert time.monotonic() - started >= 0.2
        assert isinstance(caught.value, TimeoutError) and caught.value.lock_file == str(path)
        assert not lock.is_locked
    finally:
        _stop(holder, kill=True)
    # The kernel let go when the holder died: no stale lock to clean up.
    with FileLock(str(path), timeout=0) as lock:
        assert lock.is_locked


def test_two_objects_in_one_process_exclude_each_other_and_one_is_reentrant(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / ".lock")
    first, second = FileLock(path, timeout=0), FileLock(path, timeout=0)
    first.acquire()
    first.acquire()  # re-entrant: a count, not a second descriptor
    with pytest.raises(Timeout):
        second.acquire()
    first.release()
    with pytest.raises(Timeout):
        second.acquire()  # still held once
    first.release()
    second.acquire()
    assert second.is_locked and not first.is_locked
    second.release()
    second.release()  # releasing an unheld lock is a no-op


def test_a_waiting_lock_gets_it_once_the_holder_is_done(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    holder = _holder(path, 0.5)
    try:
        with FileLock(str(path), timeout=20) as lock:
            assert lock.is_locked
    finally:
        _stop(holder, kill=False)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX links")
def test_a_lock_file_that_is_a_link_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    link = tmp_path / "ws" / ".envlayers" / ".lock"
    link.parent.mkdir(parents=True)
    os.symlink(outside / "created-by-lock", link)
    with pytest.raises(OSError):
        FileLock(str(link), timeout=0).acquire()
    assert list(outside.iterdir()) == []


_PARENT = """
import sys, threading, time
from envlayers.core.flock import FileLock
from envlayers.core.proc import run
lock = FileLock(sys.argv[1])
lock.acquire()
child = (
    "import os, time\\nopen(%r, 'w').close()\\nwhile not os.path.exists(%r): time.sleep(0.02)"
    % (sys.argv[2] + ".ready", sys.argv[2])
)
threading.Thread(target=run, args=([sys.executable, "-c", child],), daemon=True).start()
print("started", flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")
def test_a_child_outliving_its_killed_parent_keeps_the_parents_lock(tmp_path: Path) -> None:
    path, go = tmp_path / ".lock", tmp_path / "go"
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(path), str(go)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None and parent.stdout.readline().strip() == "started"
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "go.ready").exists():  # the child runs
            assert time.monotonic() < deadline
            time.sleep(0.02)
        _stop(parent, kill=True)  # SIGKILL: no release; the child is in its own group, alive
        with pytest.raises(Timeout):
            FileLock(str(path), timeout=0.3).acquire()
    finally:
        go.touch()  # the child ends, and with it the last holder
        _stop(parent, kill=True)
    with FileLock(str(path), timeout=30) as lock:
        assert lock.is_locked


_FDS = "import json, os; print(json.dumps(sorted(int(n) for n in os.listdir('/proc/self/fd'))))"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_a_child_gets_the_locks_held_now_and_nothing_released(tmp_path: Path) -> None:
    from envlayers.core.proc import run

    def child_fds() -> list[int]:
        result = run([sys.executable, "-c", _FDS])
        assert result.returncode == 0, result.stderr
        fds: list[int] = json.loads(result.stdout)
        return fds

    alone = child_fds()  # stdio and listdir's own descriptor
    lock = FileLock(str(tmp_path / ".lock"))
    with lock:
        assert len(child_fds()) == len(alone) + 1
    assert child_fds() == alone
