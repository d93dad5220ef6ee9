"""Install-type jobs: one at a time per workspace, shared by identical requests, cancellable.

The event loop only schedules; every job's work runs on the `work` thread pool (report / list
use the `read` pool so they never queue behind an install). Jobs of one workspace run in the
order they arrive; an identical request that arrives while one is pending joins it. Cancelling
a job that is still queued answers at once; cancelling a running one stops its installer first.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from envlayers.core.errors import Cancelled
from envlayers.core.proc import CancelToken

__all__ = ["Scheduler", "StartProgress", "Work"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[Callable[[str], None], CancelToken], T]
SHUTDOWN_GRACE = 15.0


class RunningProgress(Protocol):
    def on_line(self, line: str) -> None: ...

    def end(self, outcome: str) -> None: ...


StartProgress = Callable[[str, Path, CancelToken], Awaitable[RunningProgress]]


@dataclass
class _Job:
    """One install-type operation; identical requests share it."""

    token: CancelToken
    task: asyncio.Task[Any] | None = None
    waiters: int = 0
    started: bool = False


@dataclass
class _Lane:
    """The queue of one workspace."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    jobs: dict[tuple[object, ...], _Job] = field(default_factory=dict)


class Scheduler:
    """Runs jobs per workspace and routes cancellation (client request, progress, shutdown)."""

    def __init__(self, start_progress: StartProgress) -> None:
        self._start_progress = start_progress
        self._lanes: dict[Path, _Lane] = {}
        self._request_cancels: dict[object, asyncio.Event] = {}
        self._tokens: set[CancelToken] = set()
        self.work_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="envlayers-work")
        self.read_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="envlayers-read")
        self.stopping = False

    async def in_read(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.read_pool, fn)

    async def in_work(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.work_pool, fn)

    async def run(
        self, root: Path, key: tuple[object, ...], title: str, work: Work[T], msg_id: object
    ) -> T:
        """Run `work` in `root`'s queue with progress; identical keys share one run."""
        loop = asyncio.get_running_loop()
        if self.stopping:
            raise Cancelled("the server is shutting down")
        lane = self._lanes.setdefault(root, _Lane())
        job = lane.jobs.get(key)
        if job is None or job.token.cancelled:
            job = _Job(CancelToken())
            job.task = loop.create_task(self._run_in_lane(root, lane, job, title, work))
            lane.jobs[key] = job
            self._tokens.add(job.token)
            job.task.add_done_callback(functools.partial(self._job_done, lane, key, job))
        job.waiters += 1
        assert job.task is not None
        cancelled = asyncio.Event()
        if msg_id is not None:
            self._request_cancels[msg_id] = cancelled
        waiter = loop.create_task(cancelled.wait())
        try:
            done, _ = await asyncio.wait({job.task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if job.task in done:
                if job.task.cancelled():
                    raise Cancelled("cancelled")
                result: T = job.task.result()
                return result
            job.waiters -= 1
            if job.waiters == 0:
                job.token.cancel()
                if not job.started:
                    job.task.cancel()  # still queued: nothing to stop, answer now
                # Answer only once the installer is stopped and its leftovers are gone.
                await asyncio.wait({job.task})
            raise Cancelled("cancelled by the client")
        finally:
            waiter.cancel()
            if msg_id is not None:
                self._request_cancels.pop(msg_id, None)

    def _job_done(
        self, lane: _Lane, key: tuple[object, ...], job: _Job, task: asyncio.Task[Any]
    ) -> None:
        if lane.jobs.get(key) is job:
            del lane.jobs[key]
        self._tokens.discard(job.token)
        if not task.cancelled():
            task.exception()  # retrieved here: a waiter may have left before it ended

    async def _run_in_lane(
        self, root: Path, lane: _Lane, job: _Job, title: str, work: Work[T]
    ) -> T:
        async with lane.lock:
            job.token.raise_if_cancelled()
            job.started = True
            progress = await self._start_progress(title, root, job.token)
            outcome = "failed"
            try:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(
                    self.work_pool, functools.partial(work, progress.on_line, job.token)
                )
                outcome = "done"
                return result
            except Cancelled:
                outcome = "cancelled"
                raise
            finally:
                progress.end(outcome)

    def cancel_request(self, msg_id: object) -> bool:
        """`$/cancelRequest`: True when `msg_id` is one of our jobs' requests."""
        event = self._request_cancels.get(msg_id)
        if event is None:
            return False
        event.set()
        return True

    def stop_all(self) -> None:
        """Shutdown / exit / lost client: stop every running installer, accept no new job."""
        self.stopping = True
        for token in list(self._tokens):
            token.cancel()

    async def drain(self, timeout: float = SHUTDOWN_GRACE) -> None:
        tasks = [j.task for lane in self._lanes.values() for j in lane.jobs.values() if j.task]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    def close(self) -> None:
        self.work_pool.shutdown(wait=True, cancel_futures=True)
        self.read_pool.shutdown(wait=True, cancel_futures=True)
