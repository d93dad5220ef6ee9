"""Every credential route, end to end: a real index behind basic auth, the real CLI, pip and uv.

A local HTTP server (127.0.0.1, basic auth: 401 without the right credentials) serves a
find-links page, a simple index and a wheel. Each route hands it credentials in a URL: the
install must succeed (the import works, so the installer got them) and the token must appear
nowhere: no file under the workspace or the envlayers cache (read as bytes), no CLI output
(also with -v), no installer's command line while it runs, no server log.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest

from tests.support import lsp as lsp_support
from tests.support.cli import run_in
from tests.support.lsp import execute, lsp_session
from tests.support.projects import write_project
from tests.support.wheels import build_wheel
from tests.support.workspaces import BASE_PYTHON

pytestmark = pytest.mark.slow

TOKEN = "tok-8c1f5e0b7d-SECRET"
OTHER_TOKEN = "tok-2b9a44e6c1-ROTATED"
PKG = "secretpkg"
WHEEL = f"{PKG}-1.0-py3-none-any.whl"


class AuthIndex:
    """A find-links page (`/links/`), a simple index (`/simple/`) and the wheel, behind basic
    auth; `seen` counts requests that carried valid credentials."""

    def __init__(self, wheel: Path, accepted: tuple[tuple[str, str], ...]) -> None:
        self.wheel = wheel.read_bytes()
        self.accepted = {base64.b64encode(f"{u}:{p}".encode()).decode() for u, p in accepted}
        self.seen = 0
        self.refused = 0
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self.answer(body=False)

            def do_GET(self) -> None:
                self.answer(body=True)

            def answer(self, *, body: bool) -> None:
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Basic ") or auth[6:] not in index.accepted:
                    index.refused += 1
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="test"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                index.seen += 1
                data, kind = index.page(self.path.split("?")[0])
                if data is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def page(self, path: str) -> tuple[bytes | None, str]:
        html = "text/html"
        link = f'<html><body><a href="/files/{WHEEL}">{WHEEL}</a></body></html>'.encode()
        if path in ("/links", "/links/", f"/simple/{PKG}", f"/simple/{PKG}/"):
            return link, html
        if path in ("/simple", "/simple/"):
            return f'<html><body><a href="/simple/{PKG}/">{PKG}</a></body></html>'.encode(), html
        if path == f"/files/{WHEEL}":
            return self.wheel, "application/octet-stream"
        return None, html

    def url(self, path: str, user: str = "alice", token: str = TOKEN) -> str:
        return f"http://{user}:{token}@127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthIndex]:
    wheel = build_wheel(tmp_path_factory.mktemp("authwheel"), PKG, "1.0")
    server = AuthIndex(wheel, (("alice", TOKEN), ("bob", OTHER_TOKEN)))
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    # uv must reach the loopback index (the isolation makes it offline).
    monkeypatch.delenv("UV_OFFLINE", raising=False)


def _project(root: Path, installer: str, *, deps: tuple[str, ...] = (), tool: str = "") -> Path:
    table = f'[tool.envlayers]\ninstaller = "{installer}"\npython = "{BASE_PYTHON}"\n' + tool
    return write_project(root, dependencies=deps, build_system=False, tool=table)


@contextlib.contextmanager
def _cmdline_watch(pid: int) -> Iterator[list[str]]:
    """Poll the process tree of `pid`: every descendant's command line, while it runs."""
    seen: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        try:
            parent = psutil.Process(pid)
        except psutil.NoSuchProcess:
            return
        while not stop.is_set():
            with contextlib.suppress(psutil.Error):
                for child in parent.children(recursive=True):
                    with contextlib.suppress(psutil.Error, OSError):
                        raw = Path(f"/proc/{child.pid}/cmdline").read_bytes()
                        line = raw.replace(b"\0", b" ").decode("utf-8", "replace")
                        if " -m envlayers " not in line:
                            seen.append(line)
            time.sleep(0.005)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(10)


def _cli(
    *args: str, cwd: Path, verbose: bool = True
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The CLI (with -v), and the command lines of its children seen while it ran (the
    token the user typed on envlayers' own command line is theirs to hide)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "envlayers", *args, *(["-v"] if verbose else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )
    with _cmdline_watch(proc.pid) as seen:
        out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), seen


# The user's own pyproject.toml holds the token on the routes that put it there.
_USER_FILES = ("pyproject.toml",)


def _leaks(*roots: Path, tokens: tuple[str, ...] = (TOKEN,)) -> list[str]:
    out: list[str] = []
    for root in roots:
        if (root / _USER_FILES[0]).is_file():
            assert (root / _USER_FILES[0]).stat().st_size > 0
        for dirpath, _, names in os.walk(root):
            for n in names:
                p = Path(dirpath) / n
                if p.is_symlink() or not p.is_file() or p == root / _USER_FILES[0]:
                    continue
                data = p.read_bytes()
                out += [f"{p}: {t}" for t in tokens if t.encode() in data]
    return out


def _assert_clean(
    texts: list[str], cmdlines: list[str], ws: Path, cache: Path, tokens: tuple[str, ...] = (TOKEN,)
) -> None:
    assert [t[:400] for t in texts for tok in tokens if tok in t] == []
    assert [c[:400] for c in cmdlines for tok in tokens if tok in c] == []
    assert _leaks(ws, cache, tokens=tokens) == []


def _imports(python: str) -> None:
    check = run_in(python, f"import {PKG}; print({PKG}.__version__)")
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "1.0"


INSTALLERS = pytest.mark.parametrize("installer", ["pip", "uv"])


def _route_args(route: str, index: AuthIndex) -> tuple[dict[str, object], list[str]]:
    """(project settings, CLI args) for one credential route."""
    req = f"{PKG} @ {index.url('/files/' + WHEEL)}"
    if route == "find-links":
        return {"tool": "no-index = true\n"}, [
            "env",
            "--with",
            PKG,
            "--find-links",
            index.url("/links/"),
        ]
    if route == "index-url":
        return {}, ["env", "--with", PKG, "--index-url", index.url("/simple/")]
    if route == "extra-index-url":
        return {"tool": f'index-url = "http://127.0.0.1:{index.port}/nothing/"\n'}, [
            "env",
            "--with",
            PKG,
            "--extra-index-url",
            index.url("/simple/"),
        ]
    if route == "tool-index-url":
        return {"deps": (PKG,), "tool": f'index-url = "{index.url("/simple/")}"\n'}, ["sync"]
    if route == "direct-url":
        return {"tool": "no-index = true\n"}, ["env", "--with", req]
    if route == "direct-url-dependency":
        return {"deps": (req,), "tool": "no-index = true\n"}, ["sync"]
    raise AssertionError(route)


@INSTALLERS
@pytest.mark.parametrize(
    "route",
    [
        "find-links",
        "index-url",
        "extra-index-url",
        "tool-index-url",
        "direct-url",
        "direct-url-dependency",
    ],
)
def test_credential_route_installs_and_never_leaks(
    tmp_path: Path, index: AuthIndex, envlayers_cache: Path, installer: str, route: str
) -> None:
    spec, args = _route_args(route, index)
    deps = spec.get("deps", ())
    assert isinstance(deps, tuple)
    ws = _project(tmp_path / "ws", installer, deps=deps, tool=str(spec.get("tool", "")))
    before = index.seen
    result, cmdlines = _cli(*args, "--project", str(ws), "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert index.seen > before  # the installer authenticated: it was given the credentials
    report = json.loads(result.stdout)
    _imports(str(report["interpreter"]))
    assert any("install" in c for c in cmdlines)  # the watch did see the installer run
    texts = [result.stdout, result.stderr]
    # Again (the fast path answers from report-cache.bin), as text, and the layer listing.
    again, more = _cli(*args, "--project", str(ws), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    listing, _ = _cli("layers", "list", "--format", "json", cwd=tmp_path, verbose=False)
    texts += [again.stdout, again.stderr, listing.stdout, listing.stderr]
    _assert_clean(texts, [*cmdlines, *more], ws, envlayers_cache)
    if args[0] == "env":  # the request is remembered, redacted rather than dropped
        active = (ws / ".envlayers" / "active.json").read_text(encoding="utf-8")
        assert f"****@127.0.0.1:{index.port}" in active


@INSTALLERS
def test_credentials_do_not_change_the_layer_key(
    tmp_path: Path, index: AuthIndex, envlayers_cache: Path, installer: str
) -> None:
    """The same wheel from the same host is the same layer, whoever's token fetched it."""
    ws = _project(tmp_path / "ws", installer, tool="no-index = true\n")
    keys: list[str] = []
    reused: list[bool] = []
    for user, token in (("alice", TOKEN), ("bob", OTHER_TOKEN)):
        req = f"{PKG} @ {index.url('/files/' + WHEEL, user, token)}"
        result, cmdlines = _cli(
            "env", "--with", req, "--project", str(ws), "--format", "json", cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        _imports(str(report["interpreter"]))
        keys += [str(layer["key"]) for layer in report["layers"]]
        _assert_clean(
            [result.stdout, result.stderr], cmdlines, ws, envlayers_cache, (TOKEN, OTHER_TOKEN)
        )
        reused.append(bool(report["layers"][0]["reused"]))
    assert len(keys) == 2 and keys[0] == keys[1]
    assert reused == [False, True]


def test_wrong_credentials_fail_without_echoing_them(
    tmp_path: Path, index: AuthIndex, envlayers_cache: Path
) -> None:
    ws = _project(tmp_path / "ws", "pip", tool="no-index = true\n")
    bad = index.url("/links/", "alice", "wrong-" + OTHER_TOKEN)
    result, cmdlines = _cli(
        "env", "--with", PKG, "--find-links", bad, "--project", str(ws), cwd=tmp_path
    )
    assert result.returncode != 0
    assert "****@127.0.0.1" in result.stderr
    _assert_clean([result.stdout, result.stderr], cmdlines, ws, envlayers_cache, (OTHER_TOKEN,))


def test_netrc_as_requirements_file_is_not_echoed(tmp_path: Path, envlayers_cache: Path) -> None:
    ws = _project(tmp_path / "ws", "pip", tool="no-index = true\n")
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login alice password {TOKEN}\n", encoding="utf-8")
    option = tmp_path / "opts.txt"
    option.write_text(f"--password={TOKEN}\n", encoding="utf-8")
    hashed = tmp_path / "hashed.txt"
    hashed.write_text(f"alpha --hash=sha256:{TOKEN}\n", encoding="utf-8")
    for path in (netrc, option, hashed):
        result, _ = _cli(
            "env", "--with-requirements", str(path), "--project", str(ws), cwd=tmp_path
        )
        assert result.returncode != 0
        assert f"{path}:1" in result.stderr  # names the file and the line
        assert TOKEN not in result.stdout + result.stderr
    assert _leaks(ws, envlayers_cache) == []


async def test_server_log_never_holds_the_index_token(
    tmp_path: Path, index: AuthIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _project(tmp_path / "ws", "uv")
    log_file = tmp_path / "server.log"
    command = [*lsp_support.SERVER_COMMAND, "--log-file", str(log_file), "-v"]
    monkeypatch.setattr(lsp_support, "SERVER_COMMAND", command)
    config = {"envlayers": {"indexUrl": index.url("/simple/")}}
    async with lsp_session([ws], initialization_options=config, configuration=config) as s:
        report = await execute(s.client, "envlayers.compose", {"workspace": str(ws), "with": [PKG]})
        texts = [str(report), *(m.message for m in s.client.log_messages)]
    _imports(str(report["interpreter"]))
    logged = log_file.read_text(encoding="utf-8")
    assert "indexUrl" in logged  # the verbose log does show the setting...
    assert TOKEN not in logged  # ...without its secret
    assert [t[:300] for t in texts if TOKEN in t] == []
