"""Inter-process file locks: `flock()` on POSIX, `msvcrt.locking()` on Windows.

What `filelock` gave us, in the few lines we use, without its import (about 15 ms on every
command that builds or syncs). A lock is held through an open descriptor, so the kernel lets
go when its holder dies; two `FileLock` objects on one path exclude each other even in one
process (two descriptors); one object is re-entrant. The lock file is opened without following
a symbolic link: a repository cannot point envlayers' lock at a file elsewhere.

A held lock is handed to every child `proc.run` starts (`inherited()`): the installers run in
their own process group, so when envlayers is killed (`kill -9`, an editor closing its server)
an installer it started can outlive it and go on writing into the build folder. Holding a copy
of the descriptor, that orphan keeps the lock until it exits, and the next build of the same
layer or workspace waits for it instead of working beside it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType

__all__ = ["FileLock", "Timeout", "inherited"]

_POLL = 0.05
# The descriptors of the locks this process holds, for `inherited()`.
_HELD: set[int] = set()
_HELD_LOCK = threading.Lock()
_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class Timeout(TimeoutError):
    """The lock was still held by another when the timeout ran out."""

    def __init__(self, lock_file: str) -> None:
        super().__init__(f"the lock {lock_file} could not be acquired")
        self.lock_file = lock_file


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _open(path: str) -> int:
    try:
        return os.open(path, _FLAGS, 0o600)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EROFS) or not os.path.isfile(path):
            raise
    # A lock file we may not write (a read-only cache): a shared descriptor still locks.
    return os.open(path, (_FLAGS & ~(os.O_RDWR | os.O_CREAT)) | os.O_RDONLY)


class FileLock:
    """An exclusive lock on `lock_file`; `timeout` seconds to wait (negative: forever);
    `on_wait` is called once each time another holds it and we have to wait."""

    def __init__(
        self, lock_file: str, timeout: float = -1, on_wait: Callable[[], None] | None = None
    ) -> None:
        self.lock_file = lock_file
        self.timeout = timeout
        self.on_wait = on_wait
        self._fd: int | None = None
        self._depth = 0

    @property
    def is_locked(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            self._depth += 1
            return
        fd = _open(self.lock_file)
        deadline = time.monotonic() + self.timeout
        on_wait = self.on_wait
        try:
            while not _try_lock(fd):
                if self.timeout >= 0 and time.monotonic() >= deadline:
                    raise Timeout(self.lock_file)
                if on_wait is not None:
                    on_wait()
                    on_wait = None
                time.sleep(_POLL)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._depth = fd, 1
        with _HELD_LOCK:
            _HELD.add(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        self._depth -= 1
        if self._depth > 0:
            return
        fd, self._fd = self._fd, None
        with _HELD_LOCK:  # not handed to a child from here on (see `inherited`)
            _HELD.discard(fd)
            try:
                _unlock(fd)
            finally:
                os.close(fd)

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


@contextlib.contextmanager
def inherited() -> Iterator[tuple[int, ...]]:
    """Copies of the descriptors of every lock held now, for a child to inherit (`pass_fds`).

    A copy shares the lock with its original (one open file description): the child holds it
    as long as it lives, and our `release()` still lets go for both. The copies are closed
    when the block ends; the child has its own by then. Empty on Windows.
    """
    if sys.platform == "win32":  # pragma: no cover - msvcrt locks are not inherited
        yield ()
        return
    copies: list[int] = []
    with _HELD_LOCK:  # a lock released meanwhile is never handed out, nor its reused number
        for fd in _HELD:
            try:
                copies.append(os.dup(fd))
            except OSError:  # out of descriptors: the child runs, without this guard
                break
    try:
        yield tuple(copies)
    finally:
        for fd in copies:
            with contextlib.suppress(OSError):
                os.close(fd)
