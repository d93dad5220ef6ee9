"""A live progress line on a terminal's stderr while the CLI installs, builds or composes.

One line, rewritten in place with `\\r`, cut to the terminal's width and cleared at the end:
`envlayers: <step> | <the installer's latest line>`. The step comes from the engine's own log
records (creating the environment, syncing, building a layer, composing) and from what the
installer prints (uv's `Resolved` / `Prepared` / `Installed` and pip's `Collecting` /
`Downloading` / `Installing collected packages`). Imported only on the slow path by
`envlayers.cli` (never by `envlayers._entry` or `envlayers.core.fastpath`); the core knows
nothing of it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from typing import TextIO

__all__ = ["Progress", "step_of_line", "step_of_record"]

_PREFIX = "envlayers: "
_CLEAR = "\r\x1b[K"
# Redraws of the same step at most this often; a new step is drawn at once.
_MIN_INTERVAL = 0.05

_COUNT = re.compile(r"^(Resolved|Prepared|Installed|Uninstalled|Audited)\s+(\d+)\s+package")


def step_of_line(line: str) -> str | None:
    """The step an installer's output line starts, or None when it starts none."""
    text = line.strip()
    match = _COUNT.match(text)
    if match is not None:  # uv: each line closes a phase, so it names the next one
        word, count = match.group(1), int(match.group(2))
        plural = "package" if count == 1 else "packages"
        if word == "Resolved":
            return f"downloading {count} {plural}"
        if word == "Prepared":
            return f"installing {count} {plural}"
        if word == "Uninstalled":
            return "installing"
        return None
    if text.startswith(("Collecting ", "Processing ", "Looking in ", "Obtaining ")):
        return "resolving"
    if text.startswith("Downloading "):
        return "downloading"
    if text.startswith("Installing collected packages:"):
        names = [n for n in text.partition(":")[2].split(",") if n.strip()]
        return f"installing {len(names)} package{'' if len(names) == 1 else 's'}"
    if text.startswith("Building wheel") or text.startswith("Building editable"):
        return "building"
    return None


def step_of_record(message: str) -> str | None:
    """The step an engine log message (envlayers.core.*) starts, or None."""
    if message.startswith("creating the workspace environment"):
        return "creating the environment"
    if message.startswith("syncing "):
        return "syncing"
    if message.startswith("building layer "):
        what = message.partition(" for ")[2]
        return f"building a layer for {what}" if what else "building a layer"
    if message.startswith("layer ") and "resolving" in message:
        return "building a layer again"
    if message.startswith("composing "):
        return "composing"
    return None


def _width(stream: TextIO) -> int:
    try:
        return max(20, os.get_terminal_size(stream.fileno()).columns)
    except (OSError, ValueError, AttributeError):
        return 80


class Progress(logging.Handler):
    """The live line; also a logging handler that turns engine records into steps.

    `echo` (from `-v`) also prints every installer line above the live line.
    """

    def __init__(self, stream: TextIO, *, echo: bool = False) -> None:
        super().__init__(level=logging.DEBUG)
        # Records at this level and above are printed above the line (the CLI sets it from -v).
        self.echo_level = logging.WARNING
        self._stream = stream
        self._echo = echo
        self._lock = threading.Lock()
        self._head = "starting"  # the engine's step
        self._sub = ""  # the installer's step within it
        self._last = ""
        self._shown = False
        self._drawn_at = 0.0
        self._closed = False
        self._width = _width(stream)

    # -- sinks ------------------------------------------------------------------------------
    def set_step(self, step: str) -> None:
        """A new step of the engine; an install within it starts by resolving."""
        with self._lock:
            if self._closed:
                return
            self._head = step
            self._sub = "resolving" if step.startswith(("syncing", "building")) else ""
            self._last = ""
            self._draw(force=True)

    def line(self, line: str) -> None:
        """One line of the installer's output (called from the output-reading threads)."""
        text = line.replace("\r", " ").replace("\t", " ").strip()
        with self._lock:
            if self._closed:
                return
            if self._echo:
                self._write(f"{_CLEAR}  {text}\n")
                self._shown = False
            step = step_of_line(text)
            if step is not None:
                self._sub = step
            if text:
                self._last = text
            self._draw(force=step is not None or self._echo)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            step = step_of_record(record.getMessage()) if record.levelno == logging.INFO else None
        except Exception:  # a bad record must not break the command
            return
        if record.levelno >= self.echo_level:
            with self._lock:
                if self._closed:  # after the line is gone: a plain message, as logging's
                    self._write(f"{text}\n")
                else:
                    self._write(f"{_CLEAR}{text}\n")
                    self._shown = False
                    if step is None:
                        self._draw(force=True)
        if step is not None:
            self.set_step(step)

    def close(self) -> None:
        """Clear the line (idempotent); nothing is drawn afterwards."""
        with self._lock:
            if not self._closed and self._shown:
                self._write(_CLEAR)
            self._closed = True
            self._shown = False
        super().close()

    # -- drawing ----------------------------------------------------------------------------
    def _draw(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._drawn_at < _MIN_INTERVAL:
            return
        self._drawn_at = now
        text = f"{_PREFIX}{self._head}: {self._sub}" if self._sub else f"{_PREFIX}{self._head}"
        if self._last:
            text += f" | {self._last}"
        limit = self._width - 1  # never the last column: some terminals wrap there
        if len(text) > limit:
            text = text[: max(0, limit - 3)] + "..."
        self._write(f"{_CLEAR}{text}")
        self._shown = True

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            self._closed = True  # the terminal went away: draw no more
