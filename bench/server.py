"""Benchmark: tools/call throughput and latency over Streamable HTTP, aksmcp-server vs. a plain SDK server.

    .venv/bin/python bench/server.py [--requests N] [--eras modern,legacy] [--concurrency 1,8,32]

Both servers run as subprocesses on 127.0.0.1 with the same tools (system_info, file_operation reading a
small file). The plain server is `MCPServer(...).streamable_http_app()` with SDK defaults under
`uvicorn.run` with uvicorn defaults. The load client is aiohttp sending well-formed requests:
"modern" = 2026-07-28 POSTs (MCP-Protocol-Version, Mcp-Method, Mcp-Name headers and `_meta`);
"legacy" = a 2025-11-25 initialize handshake once, then POSTs with the session id the server issued (if
any). Answers are checked (HTTP 200, a result with isError false). Figures are printed and saved to
bench/results/server.json. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "server.json"
MODERN = "2026-07-28"
LEGACY = "2025-11-25"

PLAIN_SDK_SERVER = """
import sys
import uvicorn
from mcp.server import MCPServer
from aksmcp_server.config import Settings
from aksmcp_server.tools import register_tools
from pathlib import Path

server = MCPServer("plain-sdk")
register_tools(server, Settings(workspace=Path(sys.argv[2])))
uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


@dataclass
class Cell:
    server: str
    era: str
    tool: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_ready(url: str, limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.post(url, data=b"{}", headers={"content-type": "application/json"}) as resp:
                    await resp.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
    raise TimeoutError(f"server at {url} did not come up")


def start_ours(workspace: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AKSMCP_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aksmcp_server",
            "--transport",
            "http",
            "--port",
            str(port),
            "--workspace",
            str(workspace),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_plain(workspace: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", PLAIN_SDK_SERVER, str(port), str(workspace)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def tool_call(request_id: int, tool: str, era: str) -> dict[str, Any]:
    arguments: dict[str, Any] = {} if tool == "system_info" else {"operation": "read", "path": "small.txt"}
    params: dict[str, Any] = {"name": tool, "arguments": arguments}
    if era == "modern":
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"},
        }
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


async def legacy_headers(session: aiohttp.ClientSession, url: str) -> dict[str, str]:
    base = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
    }
    async with session.post(url, json=init, headers=base) as resp:
        await resp.read()
        session_id = resp.headers.get("mcp-session-id")
    headers = {**base, "mcp-protocol-version": LEGACY}
    if session_id:
        headers["mcp-session-id"] = session_id
    async with session.post(
        url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
    ) as resp:
        await resp.read()
    return headers


async def run_cell(url: str, server: str, era: str, tool: str, concurrency: int, total: int) -> Cell:
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        if era == "modern":
            headers = {
                "content-type": "application/json",
                "accept": "application/json, text/event-stream",
                "mcp-protocol-version": MODERN,
                "mcp-method": "tools/call",
                "mcp-name": tool,
            }
        else:
            headers = await legacy_headers(session, url)
        bodies = [json.dumps(tool_call(i + 1, tool, era)).encode() for i in range(total)]
        # Warm-up: connections open, caches filled.
        for body in bodies[: min(20, total)]:
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
        latencies: list[float] = []
        errors = 0
        next_index = 0

        async def worker() -> None:
            nonlocal next_index, errors
            while next_index < total:
                body = bodies[next_index]
                next_index += 1
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as resp:
                    payload = await resp.read()
                    ok = resp.status == 200 and b'"isError":false' in payload
                latencies.append(time.perf_counter() - started)
                if not ok:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return Cell(
        server=server,
        era=era,
        tool=tool,
        concurrency=concurrency,
        requests=len(latencies),
        errors=errors,
        seconds=round(elapsed, 3),
        rps=round(len(latencies) / elapsed, 1),
        p50_ms=round(statistics.median(latencies) * 1000, 2),
        p99_ms=round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
    )


def print_table(cells: list[Cell]) -> None:
    print(f"{'era':7} {'tool':14} {'conc':>4} | {'server':12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'err':>4}")
    print("-" * 76)
    for cell in cells:
        print(
            f"{cell.era:7} {cell.tool:14} {cell.concurrency:>4} | {cell.server:12} {cell.rps:>8.1f} "
            f"{cell.p50_ms:>8.2f} {cell.p99_ms:>8.2f} {cell.errors:>4}"
        )
    print()
    print(f"{'era':7} {'tool':14} {'conc':>4} | {'speed-up':>8} {'p99 ours/sdk':>12}")
    by_key = {(c.server, c.era, c.tool, c.concurrency): c for c in cells}
    for cell in cells:
        if cell.server != "aksmcp":
            continue
        plain = by_key.get(("sdk-default", cell.era, cell.tool, cell.concurrency))
        if plain:
            print(
                f"{cell.era:7} {cell.tool:14} {cell.concurrency:>4} | {cell.rps / plain.rps:>7.2f}x "
                f"{cell.p99_ms:>6.2f}/{plain.p99_ms:<6.2f}"
            )


async def main_async(args: argparse.Namespace) -> None:
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    eras = args.eras.split(",")
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        (workspace / "small.txt").write_text("hello from the benchmark\n" * 8)
        servers = {"aksmcp": start_ours, "sdk-default": start_plain}
        for name, start in servers.items():
            if args.only and name != args.only:
                continue
            port = free_port()
            proc = start(workspace, port)
            url = f"http://127.0.0.1:{port}/mcp"
            try:
                await wait_ready(url)
                for era in eras:
                    for tool in ("system_info", "file_operation"):
                        for concurrency in concurrencies:
                            total = args.requests if concurrency > 1 else max(args.requests // 4, 100)
                            cell = await run_cell(url, name, era, tool, concurrency, total)
                            print(f"  {name} {era} {tool} c={concurrency}: {cell.rps} req/s", file=sys.stderr)
                            cells.append(cell)
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    cells.sort(key=lambda c: (c.era, c.tool, c.concurrency, c.server))
    print_table(cells)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                },
                "client": "aiohttp, keep-alive, one connection per concurrent worker",
                "cells": [asdict(c) for c in cells],
            },
            indent=2,
        )
    )
    print(f"saved {RESULTS.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per cell at concurrency > 1")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--eras", default="modern,legacy")
    parser.add_argument("--only", choices=["aksmcp", "sdk-default"], help="benchmark one server only")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
