"""Drive `envlayers serve` over stdio with pytest-lsp's real client.

`lsp_session()` starts the server as `python -m envlayers serve` with the test's isolated
environment, records `envlayers/environmentChanged` notifications and always shuts the
server down (killing it if it does not exit in time), so a failing test never hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient, make_test_lsp_client

from tests.support.projects import toml_value, write_project

__all__ = [
    "CAPABILITIES",
    "ENVIRONMENT_CHANGED",
    "SERVER_COMMAND",
    "RawClient",
    "Session",
    "SlowPackage",
    "error_of",
    "execute",
    "lsp_session",
    "progress_streams",
    "raw_client",
    "send_request",
    "slow_package",
    "wait_for",
    "workspace_project",
]

ENVIRONMENT_CHANGED = "envlayers/environmentChanged"
SERVER_COMMAND = [sys.executable, "-m", "envlayers", "serve"]

CAPABILITIES = types.ClientCapabilities(
    window=types.WindowClientCapabilities(work_done_progress=True),
    workspace=types.WorkspaceClientCapabilities(
        configuration=True,
        workspace_folders=True,
        did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(
            dynamic_registration=True
        ),
        execute_command=types.ExecuteCommandClientCapabilities(dynamic_registration=False),
    ),
    text_document=types.TextDocumentClientCapabilities(
        synchronization=types.TextDocumentSyncClientCapabilities(did_save=True),
        publish_diagnostics=types.PublishDiagnosticsClientCapabilities(),
        code_action=types.CodeActionClientCapabilities(
            code_action_literal_support=types.ClientCodeActionLiteralOptions(
                code_action_kind=types.ClientCodeActionKindOptions(
                    value_set=[types.CodeActionKind.QuickFix]
                )
            )
        ),
    ),
)


def workspace_project(
    root: Path,
    wheelhouse: Path | Sequence[Path],
    *,
    dependencies: Sequence[str] = ("alpha==1.0",),
    installer: str = "uv",
    extra_tool: str = "",
    name: str = "demo-app",
    requires_python: str = ">=3.9",
) -> Path:
    """A fixture workspace that installs offline from the given wheel folders only."""
    folders = [wheelhouse] if isinstance(wheelhouse, Path) else list(wheelhouse)
    tool = (
        "[tool.envlayers]\n"
        f"installer = {toml_value(installer)}\n"
        "no-index = true\n"
        f"find-links = {toml_value([str(f) for f in folders])}\n" + extra_tool
    )
    return write_project(
        root,
        name=name,
        dependencies=dependencies,
        build_system=False,
        tool=tool,
        requires_python=requires_python,
    )


_SLOW_BACKEND = """\
\"\"\"A PEP 517 backend whose build_wheel waits (to test cancellation); stdlib only.\"\"\"
import base64, hashlib, os, time, zipfile

STATE = {state!r}
NAME = {name!r}
DIST_INFO = NAME + "-1.0.dist-info"
METADATA = "Metadata-Version: 2.1\\nName: " + NAME + "\\nVersion: 1.0\\n"


def _hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open(os.path.join(STATE, "pids", str(os.getpid())), "w") as fh:
        fh.write("build_wheel")
    with open(os.path.join(STATE, "builds.log"), "a") as fh:
        fh.write("build\\n")
    with open(os.path.join(STATE, "delay.txt")) as fh:
        time.sleep(float(fh.read()))
    wheel_text = b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files = [(NAME + ".py", b"VALUE = 1\\n"), (DIST_INFO + "/METADATA", METADATA.encode()),
             (DIST_INFO + "/WHEEL", wheel_text)]
    record = "".join("%s,%s,%d\\n" % (a, _hash(d), len(d)) for a, d in files)
    record += DIST_INFO + "/RECORD,,\\n"
    files.append((DIST_INFO + "/RECORD", record.encode()))
    wheel = NAME + "-1.0-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as zf:
        for arc, data in files:
            zf.writestr(arc, data)
    return wheel
"""


@dataclass(frozen=True)
class SlowPackage:
    """A local project whose wheel build sleeps `delay` seconds; records each build."""

    root: Path
    state: Path
    name: str

    @property
    def requirement(self) -> str:
        return f"{self.name} @ {self.root.as_uri()}"

    def set_delay(self, seconds: float) -> None:
        (self.state / "delay.txt").write_text(str(seconds), encoding="utf-8")

    def pids(self) -> list[int]:
        return sorted(int(p.name) for p in (self.state / "pids").iterdir())

    def builds(self) -> int:
        log = self.state / "builds.log"
        return len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0


def slow_package(base: Path, name: str = "slowpkg", delay: float = 60.0) -> SlowPackage:
    root, state = base / name, base / f"{name}-state"
    (state / "pids").mkdir(parents=True)
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        "[build-system]\nrequires = []\n"
        'build-backend = "slowbackend"\nbackend-path = ["."]\n'
        f'[project]\nname = "{name}"\nversion = "1.0"\n',
        encoding="utf-8",
    )
    (root / "slowbackend.py").write_text(
        _SLOW_BACKEND.format(state=str(state), name=name), encoding="utf-8"
    )
    pkg = SlowPackage(root, state, name)
    pkg.set_delay(delay)
    return pkg


@dataclass
class Session:
    client: LanguageClient
    changes: list[dict[str, Any]] = field(default_factory=list)
    registrations: list[types.Registration] = field(default_factory=list)
    init: types.InitializeResult | None = None


async def execute(client: LanguageClient, command: str, arg: object = None) -> Any:
    """`workspace/executeCommand` with one argument (none when `arg` is None)."""
    params = types.ExecuteCommandParams(command=command, arguments=None if arg is None else [arg])
    return await client.workspace_execute_command_async(params)


def progress_streams(client: LanguageClient) -> dict[str, list[Any]]:
    """Progress values per token (begin, reports, end), as pytest-lsp recorded them."""
    return {str(k): list(v) for k, v in client.progress_reports.items()}


async def send_request(client: LanguageClient, method: str, params: Any, msg_id: str) -> Any:
    """A request with an id of our choosing (to cancel it by that id)."""
    send: Callable[..., Awaitable[Any]] = client.protocol.send_request_async
    return await send(method, params, msg_id=msg_id)


async def error_of(client: LanguageClient, command: str, arg: object = None) -> JsonRpcException:
    """The JSON-RPC error a command answers with (fails the test if it succeeds)."""
    try:
        result = await execute(client, command, arg)
    except JsonRpcException as exc:
        return exc
    raise AssertionError(f"{command} succeeded: {result!r}")


async def wait_for(
    predicate: Callable[[], object], timeout: float = 30.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def lsp_session(
    folders: Sequence[Path] = (),
    *,
    initialization_options: object = None,
    configuration: dict[str, Any] | None = None,
    capabilities: types.ClientCapabilities = CAPABILITIES,
) -> AsyncIterator[Session]:
    """A started and initialised client/server pair; shut down on exit."""
    client = make_test_lsp_client()
    _fix_code_action_hook(client)
    session = Session(client)
    if configuration is not None:
        client.set_configuration(configuration)

    def on_changed(ls: LanguageClient, params: Any) -> None:
        session.changes.append(_plain(params))

    def on_register(ls: LanguageClient, params: types.RegistrationParams) -> None:
        session.registrations.extend(params.registrations)

    feature: Callable[..., Any] = client.feature
    feature(ENVIRONMENT_CHANGED)(on_changed)
    feature(types.CLIENT_REGISTER_CAPABILITY)(on_register)

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    await client.start_io(*SERVER_COMMAND, env=env)
    try:
        session.init = await asyncio.wait_for(
            client.initialize_session(
                types.InitializeParams(
                    capabilities=capabilities,
                    workspace_folders=[
                        types.WorkspaceFolder(uri=f.as_uri(), name=f.name) for f in folders
                    ],
                    initialization_options=initialization_options,
                )
            ),
            timeout=30,
        )
        yield session
    finally:
        try:
            await asyncio.wait_for(client.shutdown_session(), timeout=30)
        except Exception:
            server = client._server
            if server is not None and server.returncode is None:
                server.kill()
        stop: Callable[[], Awaitable[None]] = client.stop
        await asyncio.wait_for(stop(), timeout=30)


def _fix_code_action_hook(client: LanguageClient) -> None:
    """lsprotocol 2025.0.0 reads every code action that has a `command` as a bare Command
    (its hook tests the key, not the type); a CodeAction's `command` is an object."""
    converter = client.protocol._converter

    def hook(obj: Any, _: type) -> types.Command | types.CodeAction:
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)
        return converter.structure(obj, types.CodeAction)

    converter.register_structure_hook(types.Command | types.CodeAction, hook)


def _plain(value: Any) -> Any:
    """pygls hands custom notifications' params over as attribute objects: back to JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        return [_plain(v) for v in value]
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    return value


class RawClient:
    """A bare JSON-RPC client over the server's stdio: sends exactly what a test writes
    (malformed params, requests before `initialize`, ...) and records every message back.

    Requests from the server (registration, configuration, progress) are answered with null.
    """

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.responses: dict[object, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls) -> RawClient:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        proc = await asyncio.create_subprocess_exec(
            *SERVER_COMMAND,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
            limit=2**24,
        )
        return cls(proc)

    def write(self, message: object) -> None:
        self.write_body(json.dumps(message).encode("utf-8"))

    def write_body(self, body: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def notify(self, method: str, params: object = None) -> None:
        self.write({"jsonrpc": "2.0", "method": method, "params": params})

    async def request(
        self, method: str, params: object = None, msg_id: object = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Send a request and wait for its response (the whole response message)."""
        msg_id = msg_id if msg_id is not None else f"raw-{len(self.responses)}-{time.monotonic()}"
        self.write({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return await self.response(msg_id, timeout)

    async def response(self, msg_id: object, timeout: float = 30.0) -> dict[str, Any]:
        await wait_for(lambda: msg_id in self.responses, timeout, f"the response to {msg_id!r}")
        return self.responses[msg_id]

    async def initialize(self, **params: Any) -> dict[str, Any]:
        base: dict[str, Any] = {"processId": None, "capabilities": {}, "rootUri": None}
        base.update(params)
        answer = await self.request("initialize", base)
        self.notify("initialized", {})
        return answer

    async def close(self, timeout: float = 30.0) -> int:
        """Close stdin (EOF) unless already closed and wait for the exit code."""
        assert self.proc.stdin is not None
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            code = await self.proc.wait()
        self._reader.cancel()
        return code

    def messages_shown(self) -> list[str]:
        return [
            str(n["params"]["message"])
            for n in self.notifications
            if n.get("method") == "window/showMessage"
        ]

    async def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            length = 0
            while True:
                line = await stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            message = json.loads(await stream.readexactly(length))
            if "method" in message and "id" in message:  # a request from the server
                self.write({"jsonrpc": "2.0", "id": message["id"], "result": None})
                self.notifications.append(message)
            elif "method" in message:
                self.notifications.append(message)
            else:
                self.responses[message["id"]] = message


@contextlib.asynccontextmanager
async def raw_client() -> AsyncIterator[RawClient]:
    client = await RawClient.start()
    try:
        yield client
    finally:
        if client.proc.returncode is None:
            client.proc.kill()
            await client.proc.wait()
        client._reader.cancel()
