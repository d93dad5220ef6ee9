"""`proc.run()`, `CancelToken` and `child_env()`: real child processes, no mocks."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from envlayers.core.errors import Cancelled, OperationFailed
from envlayers.core.proc import CancelToken, child_env, run

PY = sys.executable


def _py(code: str) -> list[str]:
    return [PY, "-c", code]


# --------------------------------------------------------------------------- run()


def test_run_forwards_each_line_of_both_streams() -> None:
    seen: list[str] = []
    code = (
        "import sys\n"
        "for i in range(3):\n"
        "    print('out', i, flush=True)\n"
        "    print('err', i, file=sys.stderr, flush=True)\n"
    )
    result = run(_py(code), on_line=seen.append)
    assert result.returncode == 0
    assert result.stdout == "out 0\nout 1\nout 2\n"
    assert result.stderr == "err 0\nerr 1\nerr 2\n"
    assert sorted(seen) == sorted(["out 0", "out 1", "out 2", "err 0", "err 1", "err 2"])
    # each stream keeps its own order
    assert [s for s in seen if s.startswith("out")] == ["out 0", "out 1", "out 2"]


def test_run_lines_arrive_while_the_child_runs() -> None:
    first_seen = threading.Event()

    def on_line(line: str) -> None:
        if line == "first":
            first_seen.set()

    code = "import sys, time\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('second')\n"
    start = time.monotonic()
    worker = threading.Thread(target=run, args=(_py(code),), kwargs={"on_line": on_line})
    worker.start()
    assert first_seen.wait(timeout=10)
    assert time.monotonic() - start < 1.4  # the first line came before the child finished
    worker.join(timeout=20)


def test_run_returns_a_non_zero_exit() -> None:
    result = run(_py("import sys; print('bad', file=sys.stderr); sys.exit(3)"))
    assert result.returncode == 3
    assert result.stderr == "bad\n"
    assert result.cmd == (PY, "-c", "import sys; print('bad', file=sys.stderr); sys.exit(3)")


def test_run_redacts_output_and_command() -> None:
    seen: list[str] = []
    url = "https://user:s3cret@example.invalid/simple"
    result = run(_py(f"print({url!r})"), on_line=seen.append)
    assert "s3cret" not in result.stdout
    assert result.stdout == "https://****@example.invalid/simple\n"
    assert seen == ["https://****@example.invalid/simple"]
    assert all("s3cret" not in part for part in result.cmd)


def test_run_never_uses_a_shell() -> None:
    result = run([*_py("import sys; print(sys.argv[1])"), "$HOME; echo pwned"])
    assert result.stdout == "$HOME; echo pwned\n"


def test_run_gives_the_child_no_stdin() -> None:
    result = run(_py("import sys; print(repr(sys.stdin.read()))"), timeout=20)
    assert result.stdout == "''\n"


def test_run_decodes_bad_utf8_without_failing() -> None:
    result = run(_py("import sys; sys.stdout.buffer.write(b'caf\\xe9\\n')"))
    assert result.stdout == "caf\ufffd\n"


def test_run_survives_a_failing_callback() -> None:
    def boom(line: str) -> None:
        raise ValueError(line)

    result = run(_py("for i in range(2000): print(i)"), on_line=boom)
    assert result.returncode == 0
    assert result.stdout.count("\n") == 2000


def test_run_missing_program_is_operation_failed(tmp_path: Path) -> None:
    with pytest.raises(OperationFailed, match="cannot run"):
        run([str(tmp_path / "no-such-program")])


def test_run_uses_cwd(tmp_path: Path) -> None:
    result = run(_py("import os; print(os.getcwd())"), cwd=tmp_path)
    assert Path(result.stdout.strip()).resolve() == tmp_path.resolve()


def test_run_default_env_strips_python_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/leak")
    monkeypatch.setenv("VIRTUAL_ENV", "/leak-venv")
    monkeypatch.setenv("ENVLAYERS_TEST_KEEP", "kept")
    code = (
        "import os\n"
        "for k in ('PYTHONPATH', 'VIRTUAL_ENV', 'ENVLAYERS_TEST_KEEP'):\n"
        "    print(k, os.environ.get(k))\n"
    )
    result = run([PY, "-I", "-c", code])
    assert result.stdout.splitlines() == [
        "PYTHONPATH None",
        "VIRTUAL_ENV None",
        "ENVLAYERS_TEST_KEEP kept",
    ]


def test_run_explicit_env_is_used_as_given() -> None:
    env = child_env({"ENVLAYERS_TEST_X": "x1"})
    result = run(_py("import os; print(os.environ['ENVLAYERS_TEST_X'])"), env=env)
    assert result.stdout == "x1\n"


# --------------------------------------------------------------------------- cancellation

_TREE = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen(['sleep', '60'])\n"
    "print('grandchild', child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_cancel_kills_the_whole_tree_quickly() -> None:
    token = CancelToken()
    pids: list[int] = []

    def on_line(line: str) -> None:
        if line.startswith("grandchild "):
            pids.append(int(line.split()[1]))
            token.cancel()

    start = time.monotonic()
    with pytest.raises(Cancelled):
        run(_py(_TREE), on_line=on_line, cancel=token, timeout=60)
    assert time.monotonic() - start < 3.0  # SIGTERM was enough; no 60 s sleep
    assert pids, "the child never reported its grandchild"
    assert _gone(pids[0]), "the grandchild outlived the cancellation"


def test_cancel_from_another_thread() -> None:
    token = CancelToken()
    timer = threading.Timer(0.5, token.cancel)
    timer.start()
    start = time.monotonic()
    with pytest.raises(Cancelled):
        run(["sleep", "60"], cancel=token)
    assert time.monotonic() - start < 3.0
    timer.join()


def test_timeout_kills_and_raises_cancelled() -> None:
    pids: list[int] = []
    start = time.monotonic()
    with pytest.raises(Cancelled, match="timed out"):
        run(
            _py(_TREE),
            on_line=lambda s: (
                pids.append(int(s.split()[1])) if s.startswith("grandchild") else None
            ),
            timeout=1.0,
        )
    assert time.monotonic() - start < 4.0
    assert pids and _gone(pids[0])


@pytest.mark.slow
def test_a_child_ignoring_sigterm_gets_sigkill() -> None:
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    token = CancelToken()
    start = time.monotonic()
    with pytest.raises(Cancelled):
        run(_py(code), on_line=lambda s: token.cancel(), cancel=token)
    assert time.monotonic() - start < 8.0


def test_already_cancelled_token_spawns_nothing(tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel()
    marker = tmp_path / "ran"
    with pytest.raises(Cancelled):
        run(_py(f"open({str(marker)!r}, 'w').close()"), cancel=token)
    time.sleep(0.2)
    assert not marker.exists()


# --------------------------------------------------------------------------- CancelToken


def test_token_callbacks_run_once_on_cancel() -> None:
    token = CancelToken()
    calls: list[str] = []
    token.add_callback(lambda: calls.append("a"))
    remove_b = token.add_callback(lambda: calls.append("b"))
    remove_b()
    token.raise_if_cancelled()  # not cancelled yet: no error
    assert calls == []
    token.cancel()
    token.cancel()
    assert token.cancelled
    assert calls == ["a"]
    with pytest.raises(Cancelled):
        token.raise_if_cancelled()


def test_token_starts_uncancelled() -> None:
    assert CancelToken().cancelled is False


def test_token_callback_added_after_cancel_runs_at_once() -> None:
    token = CancelToken()
    token.cancel()
    calls: list[int] = []
    remove = token.add_callback(lambda: calls.append(1))
    assert calls == [1]
    remove()  # harmless


def test_token_survives_a_failing_callback() -> None:
    token = CancelToken()
    calls: list[int] = []

    def boom() -> None:
        raise RuntimeError("boom")

    token.add_callback(boom)
    token.add_callback(lambda: calls.append(1))
    token.cancel()
    assert calls == [1]


def test_token_concurrent_cancel_calls_each_callback_once() -> None:
    token = CancelToken()
    lock = threading.Lock()
    counts = [0] * 50

    def make(i: int) -> None:
        def cb() -> None:
            with lock:
                counts[i] += 1

        token.add_callback(cb)

    for i in range(50):
        make(i)
    threads = [threading.Thread(target=token.cancel) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts == [1] * 50


# --------------------------------------------------------------------------- child_env


def test_child_env_strips_and_adds(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PYTHONPATH", "PYTHONHOME", "__PYVENV_LAUNCHER__", "VIRTUAL_ENV"):
        monkeypatch.setenv(name, "/x")
    monkeypatch.setenv("ENVLAYERS_TEST_KEEP", "1")
    env = child_env({"EXTRA": "2"})
    for name in ("PYTHONPATH", "PYTHONHOME", "__PYVENV_LAUNCHER__", "VIRTUAL_ENV"):
        assert name not in env
    assert env["ENVLAYERS_TEST_KEEP"] == "1"
    assert env["EXTRA"] == "2"
    assert "PYTHONPATH" in os.environ  # our own environment is untouched
