"""Leases on layers: a composition being built holds one on each layer it stands on, from
before the layer is looked up until the composition is registered as a user; `prune` and
`remove` never delete a leased layer.

A lease is a file `<layers>/.<key>.lease-<id>` that its holder keeps locked (`FileLock`: the
kernel lets go when the holder dies, so a crashed holder's lease is stale, not held). It is
created, and leases are checked, only under the key's build lock (`<layers>/.<key>.lock`), so a
remover that finds no live lease under that lock knows that none can appear before it is done.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

from envlayers.core.errors import OperationFailed
from envlayers.core.flock import FileLock, Timeout
from envlayers.core.fsutil import remove_file

__all__ = ["LeaseSet", "guarded", "leased"]

log = logging.getLogger(__name__)

_WAIT = 3600.0  # a lease waits for a build of the same layer, as a build would
_CHECK_WAIT = 2.0  # a remover does not wait long for a build: a layer being built is in use


def _build_lock(root: Path, key: str, timeout: float) -> FileLock:
    root.mkdir(parents=True, exist_ok=True)
    return FileLock(str(root / f".{key}.lock"), timeout=timeout)


def _lease_files(root: Path, key: str) -> list[Path]:
    prefix = f".{key}.lease-"
    try:
        return [root / n for n in os.listdir(root) if n.startswith(prefix)]
    except OSError:
        return []


class LeaseSet:
    """The leases of one compose; released together (a context manager)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._held: dict[str, FileLock] = {}

    def hold(self, key: str) -> None:
        """Lease the layer `key` (idempotent). Waits for a build of it in progress."""
        if key in self._held:
            return
        path = self.root / f".{key}.lease-{os.getpid()}-{os.urandom(4).hex()}"
        lease = FileLock(str(path), timeout=0)
        try:
            with _build_lock(self.root, key, _WAIT):
                lease.acquire()
        except Timeout as exc:
            raise OperationFailed(f"timed out waiting to lease layer {key}") from exc
        except OSError as exc:
            if exc.errno == errno.EROFS:
                # A read-only cache: nothing can prune it either, so no lease is needed to
                # compose from the layers it already holds.
                log.debug("not leasing layer %s: %s is read-only", key, self.root)
                return
            raise OperationFailed(f"cannot lease layer {key} in {self.root}: {exc}") from exc
        self._held[key] = lease

    def release(self) -> None:
        for key, lease in self._held.items():
            with contextlib.suppress(OSError):
                lease.release()
            with contextlib.suppress(OSError):
                remove_file(Path(lease.lock_file), roots=[self.root])
            log.debug("released the lease on layer %s", key)
        self._held.clear()

    def __enter__(self) -> LeaseSet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def leased(root: Path, key: str) -> bool:
    """Whether a live holder leases `key`; stale lease files are removed. The caller holds the
    key's build lock."""
    live = False
    for path in _lease_files(root, key):
        probe = FileLock(str(path), timeout=0)
        try:
            probe.acquire()
        except Timeout:
            live = True
            continue
        except OSError:
            live = True  # unreadable: assume held
            continue
        try:
            with contextlib.suppress(OSError):
                remove_file(path, roots=[root])  # its holder died without releasing it
        finally:
            probe.release()
    return live


@contextlib.contextmanager
def guarded(root: Path, key: str, keep: Callable[[], str | None]) -> Iterator[str | None]:
    """Under the key's build lock: yields why the layer must be kept (leased, being built, or
    `keep()`'s reason), or None when the caller may remove it before the block ends."""
    lock = _build_lock(root, key, _CHECK_WAIT)
    try:
        lock.acquire()
    except Timeout:
        yield "it is being built or leased right now"
        return
    try:
        if leased(root, key):
            yield "a composition is being built on it right now"
        else:
            yield keep()
    finally:
        lock.release()
