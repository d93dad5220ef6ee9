"""Standard streams at the edge, shared by the fast path and the full command line (stdlib only)."""

from __future__ import annotations

import os
import sys

__all__ = ["stdout_closed"]


def stdout_closed() -> int:
    """The reader went away early (`envlayers sync | head -2`): stop quietly with status 0,
    as uv does. Later writes (and the interpreter's flush at exit) go to the null device."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):
            os.dup2(devnull, stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return 0
