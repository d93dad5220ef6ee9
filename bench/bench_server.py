"""Language-server figures: `envlayers.report` latency and the server's resident memory.

Runs the real server (`python -m envlayers serve`) over stdio with pygls' client, offline
against a folder of tiny wheels. Prints one JSON object (and a short text summary on stderr):
- report latency over N requests on an existing composition: median and 99th percentile
  (targets: median < 2 ms, p99 < 10 ms), measured as round trips of a lean JSON-RPC client
  (what an editor's client sees) and, for comparison, of pygls' own Python client;
- RSS after start (after `initialize`) and after 50 / 100 / 150 / 200 compositions
  (targets: < 60 MB, no growth after the first 50).

Usage: python bench/bench_server.py [--requests 1000] [--compositions 200] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.isolation import isolation_changes  # noqa: E402
from tests.support.projects import toml_value, write_project  # noqa: E402
from tests.support.wheels import STANDARD_WHEELS, build_wheelhouse  # noqa: E402

# Distinct stacks that compose() alternates between: built once, then reused.
STACKS = (["beta"], ["epsilon"], ["zeta"], ["beta", "epsilon"], ["plugin"])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def _ignore(ls: LanguageClient, params: Any) -> None:
    return None


async def _execute(client: LanguageClient, command: str, arg: dict[str, Any]) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=[arg])
    )


async def run(requests: int, compositions: int, tmp: Path) -> dict[str, Any]:
    wheels = build_wheelhouse(tmp / "wheels", STANDARD_WHEELS)
    tool = (
        "[tool.envlayers]\n"
        'installer = "uv"\n'
        "no-index = true\n"
        f"find-links = [{toml_value(str(wheels))}]\n"
    )
    ws = write_project(tmp / "ws", dependencies=["alpha==1.0"], build_system=False, tool=tool)
    env = dict(os.environ)
    to_set, to_delete = isolation_changes(env, tmp / "uv-cache")
    for key in to_delete:
        env.pop(key, None)
    env.update(to_set)
    env["ENVLAYERS_CACHE_DIR"] = str(tmp / "cache")

    client = LanguageClient("envlayers-bench", "1")
    feature: Any = client.feature
    for method in ("envlayers/environmentChanged", types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS):
        feature(method)(_ignore)
    await client.start_io(sys.executable, "-m", "envlayers", "serve", env=env)
    server_pid = client._server.pid if client._server else 0
    proc = psutil.Process(server_pid)
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            workspace_folders=[types.WorkspaceFolder(uri=ws.as_uri(), name="ws")],
        )
    )
    client.initialized(types.InitializedParams())
    await asyncio.sleep(0.5)  # let the start-up refresh settle
    rss_start = proc.memory_info().rss

    arg = {"workspace": str(ws)}
    await _execute(client, "envlayers.sync", arg)
    await _execute(client, "envlayers.compose", {**arg, "with": ["beta"]})
    for _ in range(50):  # warm-up: caches, first-call imports
        await _execute(client, "envlayers.report", arg)
    latencies: list[float] = []
    for _ in range(requests):
        t0 = time.perf_counter()
        await _execute(client, "envlayers.report", arg)
        latencies.append((time.perf_counter() - t0) * 1000)

    rss_after: dict[int, int] = {}
    compose_ms: list[float] = []
    for i in range(1, compositions + 1):
        t0 = time.perf_counter()
        await _execute(client, "envlayers.compose", {**arg, "with": STACKS[i % len(STACKS)]})
        compose_ms.append((time.perf_counter() - t0) * 1000)
        if i % 50 == 0:
            rss_after[i] = proc.memory_info().rss

    raw = await raw_latency(env, ws, requests)

    await client.shutdown_async(None)
    client.exit(None)
    stop: Any = client.stop
    await stop()
    mb = 1024 * 1024
    first = rss_after.get(50, rss_start)
    last = rss_after.get(compositions, first)
    return {
        "reportRequests": requests,
        "reportMedianMs": round(statistics.median(raw), 3),
        "reportP99Ms": round(_percentile(raw, 99), 3),
        "reportMaxMs": round(max(raw), 3),
        "reportMedianMsPyglsClient": round(statistics.median(latencies), 3),
        "reportP99MsPyglsClient": round(_percentile(latencies, 99), 3),
        "rssAfterStartMB": round(rss_start / mb, 1),
        "rssAfterCompositionsMB": {str(k): round(v / mb, 1) for k, v in rss_after.items()},
        "rssGrowthAfter50MB": round((last - first) / mb, 1),
        "compositions": compositions,
        "composeReuseMedianMs": round(statistics.median(compose_ms), 1) if compose_ms else None,
        "targets": {"reportMedianMs": 2, "reportP99Ms": 10, "rssMB": 60},
    }


class _RawClient:
    """A lean JSON-RPC client over stdio (as an editor's is): the figure is the server's, not
    the time a Python LSP client spends (un)structuring messages."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.next_id = 0

    async def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        length = 0
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                raise EOFError("server closed its output")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        body = await self.proc.stdout.readexactly(length)
        message: dict[str, Any] = json.loads(body)
        return message

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def request(self, method: str, params: Any) -> Any:
        self.next_id += 1
        my_id = self.next_id
        self._send({"id": my_id, "method": method, "params": params})
        while True:
            msg = await self._read()
            if "method" in msg and "id" in msg:  # a request from the server: answer it
                self._send({"id": msg["id"], "result": None})
            elif msg.get("id") == my_id and "method" not in msg:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
                return msg.get("result")

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})


async def raw_latency(env: dict[str, str], ws: Path, requests: int) -> list[float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "envlayers",
        "serve",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    client = _RawClient(proc)
    await client.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": ws.as_uri(),
            "capabilities": {},
            "workspaceFolders": [{"uri": ws.as_uri(), "name": "ws"}],
        },
    )
    client.notify("initialized", {})
    params = {"command": "envlayers.report", "arguments": [{"workspace": str(ws)}]}
    for _ in range(50):
        await client.request("workspace/executeCommand", params)
    latencies: list[float] = []
    for _ in range(requests):
        t0 = time.perf_counter()
        await client.request("workspace/executeCommand", params)
        latencies.append((time.perf_counter() - t0) * 1000)
    await client.request("shutdown", None)
    client.notify("exit", None)
    await proc.wait()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--compositions", type=int, default=200)
    parser.add_argument("--json", help="also write the figures to this file")
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="envlayers-bench-") as tmp:
        figures = asyncio.run(run(ns.requests, ns.compositions, Path(tmp)))
    text = json.dumps(figures, indent=2)
    print(text)
    if ns.json:
        Path(ns.json).write_text(text + "\n", encoding="utf-8")
    print(
        f"report: median {figures['reportMedianMs']} ms, p99 {figures['reportP99Ms']} ms; "
        f"rss: {figures['rssAfterStartMB']} MB at start, "
        f"{figures['rssAfterCompositionsMB']} after compositions "
        f"(growth after 50: {figures['rssGrowthAfter50MB']} MB)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
