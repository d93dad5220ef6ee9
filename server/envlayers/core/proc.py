"""The one place that spawns processes: no shell, no inherited stdout, killable trees.

Our stdout is the language server's JSON-RPC channel, so a child never inherits it: both of
its streams are piped and forwarded line by line (credentials redacted) to a callback.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from envlayers.core.errors import Cancelled, OperationFailed
from envlayers.core.flock import inherited
from envlayers.core.redact import redact

__all__ = [
    "CancelToken",
    "ProcResult",
    "Terminated",
    "child_env",
    "install_signal_handlers",
    "redact",
    "run",
    "stop_children",
]

log = logging.getLogger(__name__)

# Variables that would make a child Python import our packages or mistake its own prefix.
_STRIPPED_ENV = ("PYTHONPATH", "PYTHONHOME", "__PYVENV_LAUNCHER__", "VIRTUAL_ENV")

# scheme://userinfo@ : userinfo stops at the authority's end; greedy so `p@ss@host` is covered.
# SIGTERM first; a tree that ignores it gets SIGKILL after this many seconds.
_KILL_GRACE = 3.0
# How long to wait for a stream after its process exited (a daemonised grandchild may hold it).
_DRAIN_TIMEOUT = 5.0
_POLL = 0.05


class Terminated(BaseException):
    """SIGTERM/SIGHUP (or SIGINT in a process that asked for it) arrived: unwind and exit.

    A BaseException, like KeyboardInterrupt, so no `except Exception` swallows it and every
    `finally` on the way out (temporary folders, locks) still runs.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


# Every child `run()` started that has not been reaped: a signal stops them all.
_LIVE: dict[int, subprocess.Popen[bytes]] = {}
_LIVE_LOCK = threading.Lock()


def stop_children() -> None:
    """Stop the process group of every child still running, and wait for each."""
    with _LIVE_LOCK:
        procs = list(_LIVE.values())
    for proc in procs:
        _kill_tree(proc)


def install_signal_handlers(*, interrupt: bool = False) -> None:
    """On SIGTERM and SIGHUP (and SIGINT with `interrupt`), stop every installer we started,
    wait for it, then raise `Terminated` in the main thread.

    Children run in their own session (so a terminal's Ctrl-C does not tear an install in
    half behind our back): without this, a signal to envlayers would orphan them.
    """
    if sys.platform == "win32" or threading.current_thread() is not threading.main_thread():
        return  # pragma: no cover
    sigs = [signal.SIGTERM, signal.SIGHUP]
    if interrupt:
        sigs.append(signal.SIGINT)
    for sig in sigs:
        signal.signal(sig, _on_signal)


def _on_signal(signum: int, _frame: object) -> None:
    stop_children()
    raise Terminated(signum)


class CancelToken:
    """A thread-safe cancellation flag with callbacks that run once, on cancel."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._next_id = 0

    def cancel(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for fn in callbacks:
            _call_quietly(fn)

    @property
    def cancelled(self) -> bool:
        with self._lock:
            return self._cancelled

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled()

    def add_callback(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Run `fn` once when cancelled (now, if already cancelled); returns a remover."""
        with self._lock:
            if not self._cancelled:
                ident = self._next_id
                self._next_id += 1
                self._callbacks[ident] = fn

                def remove() -> None:
                    with self._lock:
                        self._callbacks.pop(ident, None)

                return remove
        _call_quietly(fn)
        return _noop


def _noop() -> None:
    return None


def _call_quietly(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:  # a faulty callback must not stop the others
        log.exception("cancel callback %r failed", fn)


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment minus what would leak our Python into a child's, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED_ENV}
    if extra:
        env.update(extra)
    return env


@dataclass(frozen=True)
class ProcResult:
    cmd: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    on_line: Callable[[str], None] | None = None,
    cancel: CancelToken | None = None,
    timeout: float | None = None,
) -> ProcResult:
    """Run `cmd` (never through a shell) and return its redacted output.

    Each output line goes (redacted) to `on_line` as it arrives. Cancellation through `cancel`
    or `timeout` kills the child's whole process tree and raises `Cancelled`. A command that
    cannot be started raises `OperationFailed`; a non-zero exit is returned, not raised.
    """
    argv = [os.fspath(a) for a in cmd]
    if not argv:
        raise ValueError("empty command")
    shown = tuple(redact(a) for a in argv)
    if cancel is not None:
        cancel.raise_if_cancelled()
    log.debug("run: %s", _join(shown))
    popen_env = dict(child_env() if env is None else env)

    kwargs: dict[str, object] = {}
    if sys.platform == "win32":  # pragma: no cover - the tree kill below is POSIX-first
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        kwargs["start_new_session"] = True  # own process group: cancellation kills the tree
    try:
        # The child holds our locks too: killed, we may leave it running (its own group).
        with inherited() as locks:
            proc = subprocess.Popen(  # argv list, never a shell
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=popen_env,
                cwd=None if cwd is None else os.fspath(cwd),
                pass_fds=locks,
                **kwargs,  # type: ignore[call-overload]
            )
    except OSError as exc:
        raise OperationFailed(f"cannot run {shown[0]}: {exc.strerror or exc}") from exc
    with _LIVE_LOCK:
        _LIVE[proc.pid] = proc
    try:
        return _supervise(proc, shown, on_line=on_line, cancel=cancel, timeout=timeout)
    finally:
        with _LIVE_LOCK:
            _LIVE.pop(proc.pid, None)


def _supervise(
    proc: subprocess.Popen[bytes],
    shown: tuple[str, ...],
    *,
    on_line: Callable[[str], None] | None,
    cancel: CancelToken | None,
    timeout: float | None,
) -> ProcResult:
    """Forward the child's lines, wait for its exit, or kill its tree on cancel/timeout."""
    out_lines: list[str] = []
    err_lines: list[str] = []
    readers = _start_readers(proc, out_lines, err_lines, on_line)
    reason = _wait(proc, cancel, timeout)
    if reason is not None:
        _kill_tree(proc)
        for t in readers:
            t.join(timeout=_DRAIN_TIMEOUT)
        log.debug("%s: %s", reason, _join(shown))
        raise Cancelled(f"{shown[0]} {reason}: {_join(shown)}")
    for t in readers:
        t.join(timeout=_DRAIN_TIMEOUT)
        if t.is_alive():
            log.warning("output of %s still open after it exited; not waiting for it", shown[0])
    result = ProcResult(
        cmd=shown,
        returncode=proc.returncode,
        stdout=_text(out_lines),
        stderr=_text(err_lines),
    )
    log.debug("exit %d: %s", result.returncode, shown[0])
    return result


def _start_readers(
    proc: subprocess.Popen[bytes],
    out_lines: list[str],
    err_lines: list[str],
    on_line: Callable[[str], None] | None,
) -> list[threading.Thread]:
    """One thread per stream, each line (redacted) kept and passed to `on_line` in turn."""
    emit_lock = threading.Lock()

    def emit(line: str) -> None:
        if on_line is None:
            return
        with emit_lock:  # one line at a time, whichever stream it came from
            try:
                on_line(line)
            except Exception:  # keep draining, or the child blocks on a full pipe
                log.exception("on_line callback failed")

    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, out_lines, emit), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, err_lines, emit), daemon=True),
    ]
    for t in readers:
        t.start()
    return readers


def _wait(
    proc: subprocess.Popen[bytes], cancel: CancelToken | None, timeout: float | None
) -> str | None:
    """Wait for the child's exit: None, or why it must be stopped (cancelled, timed out)."""
    woken = threading.Event()
    remove_cb = cancel.add_callback(woken.set) if cancel is not None else _noop
    deadline = None if timeout is None else time.monotonic() + timeout

    def wait_exit() -> None:
        proc.wait()
        woken.set()

    # A thread blocks in wait() so the exit wakes us at once (Popen.wait(timeout) sleeps in
    # growing steps of up to 50 ms after the child is gone).
    threading.Thread(target=wait_exit, daemon=True).start()
    try:
        while True:
            woken.wait(_POLL)
            if proc.poll() is not None:
                return None
            woken.clear()
            if cancel is not None and cancel.cancelled:
                return "cancelled"
            if deadline is not None and time.monotonic() >= deadline:
                return f"timed out after {timeout:g} s"
    except BaseException:
        _kill_tree(proc)
        raise
    finally:
        remove_cb()


def _pump(stream: IO[bytes], sink: list[str], emit: Callable[[str], None]) -> None:
    with stream:
        for raw in iter(stream.readline, b""):
            line = redact(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            sink.append(line)
            emit(line)


def _text(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def _join(args: Sequence[str]) -> str:
    return shlex.join(args)


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the child's process group, then SIGKILL what is left after a grace period."""
    if sys.platform == "win32":  # pragma: no cover
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_KILL_GRACE)
        return
    pgid = proc.pid  # start_new_session made the child its group's leader
    _signal_group(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=_KILL_GRACE)
    # Also after the leader exits: its children may linger in the group.
    _signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=_KILL_GRACE)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
