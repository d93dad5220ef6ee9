"""Timing and peak memory of one command, the way a user waits for it: wall time, whole tree.

`time_cmd()` runs a command (no shell), waits for it with `os.wait4` and returns its wall time
and the peak resident memory of the process and every child it waited for (`ru_maxrss` of
`wait4` covers the reaped descendants, so `uv run ... python` counts the python too).
`Series` holds the samples of one side of a row; `interleave()` alternates the sides so that
drift in the machine's load hits both equally.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CommandFailed", "Sample", "Series", "interleave", "time_call", "time_cmd"]


class CommandFailed(RuntimeError):
    """A measured command exited non-zero: a benchmark of a failure measures nothing."""

    def __init__(self, cmd: Sequence[str], returncode: int, stderr: str) -> None:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        super().__init__(f"exit {returncode}: {' '.join(cmd)}\n{tail}")
        self.cmd = tuple(cmd)
        self.returncode = returncode


@dataclass(frozen=True)
class Sample:
    seconds: float
    peak_rss_kb: int | None


@dataclass
class Series:
    """The samples of one side of a row (envlayers or its peer)."""

    label: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def peak_rss_mb(self) -> float | None:
        values = [s.peak_rss_kb for s in self.samples if s.peak_rss_kb is not None]
        return round(max(values) / 1024, 1) if values else None

    def to_json(self) -> dict[str, object]:
        return {
            "label": self.label,
            "medianMs": round(self.median * 1000, 2),
            "runsMs": [round(s.seconds * 1000, 2) for s in self.samples],
            "peakRssMB": self.peak_rss_mb,
        }


_GNU_TIME = "/usr/bin/time"


def time_cmd(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    check: bool = True,
) -> Sample:
    """Run `cmd` to completion; its wall time and the peak RSS of its process tree.

    The peak comes from GNU time (`%M`) when it is installed: a child forked by this runner
    inherits the runner's own high-water mark (the kernel carries it across exec), so
    `os.wait4` alone would report at least the runner's RSS. GNU time is a small C program.
    """
    gnu = os.path.exists(_GNU_TIME)
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
        full = [_GNU_TIME, "-f", "%M", "-o", rss.name, *cmd] if gnu else list(cmd)
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            full,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if check and proc.returncode != 0:
            err.seek(0)
            raise CommandFailed(cmd, proc.returncode, err.read().decode("utf-8", "replace"))
        peak: int | None = int(usage.ru_maxrss)  # kilobytes on Linux
        if gnu:
            lines = rss.read().split()
            peak = int(lines[-1]) if lines and lines[-1].isdigit() else None
    return Sample(elapsed, peak)


def time_call(fn: Callable[[], object]) -> Sample:
    """Wall time of an in-process call (no memory figure: the runner's own RSS says nothing)."""
    t0 = time.perf_counter()
    fn()
    return Sample(time.perf_counter() - t0, None)


def interleave(
    runs: int,
    sides: Sequence[tuple[Series, Callable[[], Sample]]],
    *,
    warmup: int = 1,
    before_each: Sequence[Callable[[], None] | None] | None = None,
) -> None:
    """Run every side `warmup` times (discarded), then `runs` rounds of one sample each."""
    prep = list(before_each) if before_each is not None else [None] * len(sides)
    for round_no in range(warmup + runs):
        for (series, measure), reset in zip(sides, prep, strict=True):
            if reset is not None:
                reset()
            sample = measure()
            if round_no >= warmup:
                series.samples.append(sample)
