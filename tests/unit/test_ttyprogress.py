"""The progress line's step words from installer lines and engine records, and its drawing."""

from __future__ import annotations

import io
import logging

import pytest

from envlayers.ttyprogress import Progress, step_of_line, step_of_record


@pytest.mark.parametrize(
    ("line", "step"),
    [
        ("Resolved 3 packages in 5ms", "downloading 3 packages"),
        ("Resolved 1 package in 5ms", "downloading 1 package"),
        ("Prepared 2 packages in 1ms", "installing 2 packages"),
        ("Installed 2 packages in 3ms", None),
        ("Collecting rich", "resolving"),
        ("Processing ./wheels/alpha-1.0-py3-none-any.whl", "resolving"),
        ("  Downloading rich-13.0-py3-none-any.whl (240 kB)", "downloading"),
        ("Installing collected packages: alpha, beta, gamma", "installing 3 packages"),
        (" + alpha==1.0", None),
        ("", None),
    ],
)
def test_installer_lines(line: str, step: str | None) -> None:
    assert step_of_line(line) == step


def test_engine_records() -> None:
    assert (
        step_of_record("building layer ab12 for rich, httpx") == "building a layer for rich, httpx"
    )
    assert step_of_record("syncing /w/.venv with uv") == "syncing"
    assert step_of_record("composing /w/.envlayers/x from 1 layer(s)") == "composing"
    assert step_of_record("creating the workspace environment /w/.venv with /py") == (
        "creating the environment"
    )
    assert step_of_record("probed /py: cpython 3.12") is None


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_drawing_cut_to_width_and_cleared() -> None:
    out = _Tty()
    progress = Progress(out)
    progress.set_step("building a layer for " + "x" * 200)
    progress.line("Resolved 2 packages in 1ms")
    progress.close()
    progress.line("late line")  # after close: nothing more
    text = out.getvalue()
    drawn = [d for d in text.split("\r\x1b[K") if d]
    assert drawn[0].startswith("envlayers: building a layer for x")
    assert all(len(d) <= 79 for d in drawn)  # no terminal size: 80 columns
    assert drawn[-1].endswith("...")
    assert text.endswith("\r\x1b[K") and "late line" not in text


def test_records_above_the_line_and_after_it() -> None:
    out = _Tty()
    progress = Progress(out, echo=True)
    progress.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("envlayers.test_ttyprogress")
    log.addHandler(progress)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        progress.set_step("syncing")
        log.warning("careful")
        progress.line("Collecting alpha")  # echo: printed above the line too
        progress.close()
        log.warning("after")
    finally:
        log.removeHandler(progress)
    text = out.getvalue()
    assert "\r\x1b[Kcareful\n" in text and "\r\x1b[K  Collecting alpha\n" in text
    assert text.endswith("after\n")
