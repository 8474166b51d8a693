"""Benchmark: tools/call throughput and latency over Streamable HTTP, aksmcp-server vs. a plain SDK server.

    .venv/bin/python bench/server.py [--requests N] [--eras modern,legacy] [--concurrency 1,8,32]

Both servers run as subprocesses on 127.0.0.1 with the same tools (system_info, file_operation reading a
small file). The plain server is `MCPServer(...).streamable_http_app()` with SDK defaults under
`uvicorn.run` with uvicorn defaults (which pick uvloop/httptools when installed, as they are here).
The load client is a minimal keep-alive HTTP/1.1 client on raw asyncio streams (aiohttp's per-request
CPU would cap the figures on a 2-core machine shared with the server) sending well-formed requests:
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
    server_cpu_us_per_call: float | None = None


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (Linux), to report server CPU per call: less sensitive than req/s to
    other load on a shared machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


class Connection:
    """A minimal keep-alive HTTP/1.1 client on one socket.

    aiohttp costs more CPU per request than the servers under test, and the benchmark shares two cores
    with the server, so the load generator writes prebuilt request bytes and parses only the status
    line, Content-Length / chunked framing and the body.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            if line:
                key, _, value = line.partition(b":")
                headers[key.strip().lower()] = value.strip()
        if b"content-length" in headers:
            body = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = b""
        return status, headers, body

    def close(self) -> None:
        self.writer.close()


def raw_post(host_port: str, path: str, headers: dict[str, str], body: bytes, method: str = "POST") -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: {host_port}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def answer_ok(status: int, headers: dict[bytes, bytes], body: bytes) -> bool:
    if status != 200:
        return False
    if headers.get(b"content-type", b"").startswith(b"text/event-stream"):
        # SSE: the last `data:` line is the response.
        data = [line[5:].strip() for line in body.splitlines() if line.startswith(b"data:")]
        body = data[-1] if data else b""
    try:
        return json.loads(body)["result"]["isError"] is False
    except (ValueError, KeyError, TypeError):
        return False


async def legacy_session_headers(host: str, port: int, path: str) -> dict[str, str]:
    base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
    }
    conn = await Connection.open(host, port)
    try:
        _, headers, _ = await conn.request(raw_post(f"{host}:{port}", path, base, json.dumps(init).encode()))
        out = {**base, "MCP-Protocol-Version": LEGACY}
        if b"mcp-session-id" in headers:
            out["Mcp-Session-Id"] = headers[b"mcp-session-id"].decode()
        note = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()
        await conn.request(raw_post(f"{host}:{port}", path, out, note))
        return out
    finally:
        conn.close()


async def end_legacy_session(host: str, port: int, path: str, headers: dict[str, str]) -> None:
    """DELETE a 2025-11-25 session when a cell is done: a bridge gives each session a child from a bounded
    pool, so sessions left open would fill it after a few rounds."""
    if "Mcp-Session-Id" not in headers:
        return
    conn = await Connection.open(host, port)
    try:
        await conn.request(raw_post(f"{host}:{port}", path, headers, b"", method="DELETE"))
    finally:
        conn.close()


async def call_headers(url: str, era: str, tool: str) -> tuple[str, str, str, dict[str, str]]:
    """(host, port, path, headers) for tools/call posts to URL: the 2026-07-28 routing headers, or a
    2025-11-25 session opened first."""
    host_port = url.split("/")[2]
    host, port = host_port.rsplit(":", 1)
    path = "/" + url.split("/", 3)[3]
    if era == "modern":
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": "tools/call",
            "Mcp-Name": tool,
        }
    else:
        headers = await legacy_session_headers(host, int(port), path)
    return host, port, path, headers


async def run_cell(url: str, server: str, era: str, tool: str, concurrency: int, total: int) -> Cell:
    host, port, path, headers = await call_headers(url, era, tool)
    host_port = f"{host}:{port}"
    requests = [
        raw_post(host_port, path, headers, json.dumps(tool_call(i + 1, tool, era)).encode()) for i in range(total)
    ]
    connections = [await Connection.open(host, int(port)) for _ in range(concurrency)]
    try:
        for conn in connections:  # warm-up: one request per connection
            await conn.request(requests[0])
        latencies: list[float] = []
        errors = 0
        next_index = 0

        async def worker(conn: Connection) -> None:
            nonlocal next_index, errors
            while next_index < total:
                raw = requests[next_index]
                next_index += 1
                started = time.perf_counter()
                status, response_headers, body = await conn.request(raw)
                latencies.append(time.perf_counter() - started)
                if not answer_ok(status, response_headers, body):
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker(conn) for conn in connections))
        elapsed = time.perf_counter() - began
    finally:
        for conn in connections:
            conn.close()
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


def median_cell(runs: list[Cell]) -> Cell:
    """The run with the median throughput (the machine is shared, so single runs are noisy)."""
    ordered = sorted(runs, key=lambda c: c.rps)
    return ordered[len(ordered) // 2]


def print_table(cells: list[Cell]) -> None:
    header = f"{'era':7} {'tool':14} {'conc':>4} | {'server':12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
    print(f"{header} {'cpu us/call':>11} {'err':>4}")
    print("-" * 90)
    for cell in cells:
        cpu = f"{cell.server_cpu_us_per_call:>11.0f}" if cell.server_cpu_us_per_call is not None else f"{'-':>11}"
        print(
            f"{cell.era:7} {cell.tool:14} {cell.concurrency:>4} | {cell.server:12} {cell.rps:>8.1f} "
            f"{cell.p50_ms:>8.2f} {cell.p99_ms:>8.2f} {cpu} {cell.errors:>4}"
        )
    print()
    print(f"{'era':7} {'tool':14} {'conc':>4} | {'req/s x':>8} {'p99 ms ours/sdk':>16} {'cpu/call sdk/ours':>18}")
    by_key = {(c.server, c.era, c.tool, c.concurrency): c for c in cells}
    for cell in cells:
        if cell.server != "aksmcp":
            continue
        plain = by_key.get(("sdk-default", cell.era, cell.tool, cell.concurrency))
        if plain:
            efficiency = (
                f"{plain.server_cpu_us_per_call / cell.server_cpu_us_per_call:>17.2f}x"
                if plain.server_cpu_us_per_call and cell.server_cpu_us_per_call
                else f"{'-':>18}"
            )
            print(
                f"{cell.era:7} {cell.tool:14} {cell.concurrency:>4} | {cell.rps / plain.rps:>7.2f}x "
                f"{cell.p99_ms:>7.2f}/{plain.p99_ms:<8.2f} {efficiency}"
            )


async def main_async(args: argparse.Namespace) -> None:
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    eras = args.eras.split(",")
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        (workspace / "small.txt").write_text("hello from the benchmark\n" * 8)
        starters = {"aksmcp": start_ours, "sdk-default": start_plain}
        names = [args.only] if args.only else list(starters)
        procs: dict[str, subprocess.Popen[bytes]] = {}
        urls: dict[str, str] = {}
        try:
            for name in names:
                port = free_port()
                procs[name] = starters[name](workspace, port)
                urls[name] = f"http://127.0.0.1:{port}/mcp"
            for url in urls.values():
                await wait_ready(url)
            # Interleaved cell by cell, so both servers see the same machine load (the cores are shared).
            for era in eras:
                for tool in ("system_info", "file_operation"):
                    for concurrency in concurrencies:
                        total = args.requests if concurrency > 1 else max(args.requests // 4, 100)
                        runs: dict[str, list[Cell]] = {name: [] for name in names}
                        for _ in range(args.repeat):
                            for name in names:
                                cpu_before = cpu_seconds(procs[name].pid)
                                cell = await run_cell(urls[name], name, era, tool, concurrency, total)
                                cpu_after = cpu_seconds(procs[name].pid)
                                if cpu_before is not None and cpu_after is not None:
                                    cell.server_cpu_us_per_call = round((cpu_after - cpu_before) / total * 1e6, 1)
                                runs[name].append(cell)
                        for name in names:
                            cell = median_cell(runs[name])
                            print(f"  {name} {era} {tool} c={concurrency}: {cell.rps} req/s", file=sys.stderr)
                            cells.append(cell)
        finally:
            for proc in procs.values():
                proc.send_signal(signal.SIGTERM)
            for proc in procs.values():
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
                "client": "raw asyncio HTTP/1.1 keep-alive, one connection per concurrent worker, uvloop",
                "requests_per_cell": args.requests,
                "repeat": args.repeat,
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
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the median-throughput run is kept")
    parser.add_argument("--only", choices=["aksmcp", "sdk-default"], help="benchmark one server only")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
