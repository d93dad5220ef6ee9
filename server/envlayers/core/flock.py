"""Inter-process file locks: `flock()` on POSIX, `msvcrt.locking()` on Windows.

What `filelock` gave us, in the few lines we use, without its import (about 15 ms on every
command that builds or syncs). A lock is held through an open descriptor, so the kernel lets
go when its holder dies; two `FileLock` objects on one path exclude each other even in one
process (two descriptors); one object is re-entrant. The lock file is opened without following
a symbolic link: a repository cannot point envlayers' lock at a file elsewhere.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from types import TracebackType

__all__ = ["FileLock", "Timeout"]

_POLL = 0.05
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
    """An exclusive lock on `lock_file`; `timeout` seconds to wait (negative: forever)."""

    def __init__(self, lock_file: str, timeout: float = -1) -> None:
        self.lock_file = lock_file
        self.timeout = timeout
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
        try:
            while not _try_lock(fd):
                if self.timeout >= 0 and time.monotonic() >= deadline:
                    raise Timeout(self.lock_file)
                time.sleep(_POLL)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._depth = fd, 1

    def release(self) -> None:
        if self._fd is None:
            return
        self._depth -= 1
        if self._depth > 0:
            return
        fd, self._fd = self._fd, None
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
