"""Benchmark: what a 2026-07-28 call that may need its client (sampling, elicitation, logging) costs through
the bridge, against a plain call on the shared child.

    .venv/bin/python bench/bridge_mrtr.py [--requests N] [--concurrency 1,8]

One `aksmcp-server bridge -- python tests/server/bridge_child.py` (the SDK test child), raw HTTP from
bench/server.py's keep-alive client (N connections), every answer checked:
- plain:   tools/call `echo`, no client capabilities: the shared child (the bridge's fast path).
- leased:  the same call declaring `elicitation`: a leased child for the call (no input asked).
- elicit:  tools/call `confirm` declaring `elicitation`: round one ends `input_required`, the retry
           carries the answer and `requestState`, round two completes; timed over both rounds.
Prints calls/s and p50/p99 per cell and how many leased children were started in all (reuse: at most
the concurrency, never one per call); saves bench/results/bridge_mrtr.json. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "bridge_mrtr.json"
CHILD = ROOT / "tests" / "server" / "bridge_child.py"
MODERN = "2026-07-28"

_spec = importlib.util.spec_from_file_location("bench_server", ROOT / "bench" / "server.py")
assert _spec is not None and _spec.loader is not None
bench_server = importlib.util.module_from_spec(_spec)
sys.modules["bench_server"] = bench_server
_spec.loader.exec_module(bench_server)
Connection = bench_server.Connection
raw_post = bench_server.raw_post


def call(request_id: int, name: str, arguments: dict[str, Any], caps: dict[str, Any], **extra: Any) -> bytes:
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": caps}
    params = {"name": name, "arguments": arguments, **extra, "_meta": meta}
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}).encode()


def headers(name: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": "tools/call",
        "Mcp-Name": name,
    }


def start_bridge(port: int, workspace: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "aksmcp_server", "bridge", "--port", str(port), "--workspace", workspace]
    argv += ["--pool-size", "16", "--", sys.executable, str(CHILD)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the bridge never became ready")


def child_starts(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith('mcp_bridge_child_starts_total{kind="input"} '):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def result_of(body: bytes, content_type: bytes) -> dict[str, Any]:
    if content_type.startswith(b"text/event-stream"):
        body = [line[5:].strip() for line in body.splitlines() if line.startswith(b"data:")][-1]
    return json.loads(body)["result"]


async def one(conn: Any, host: str, kind: str, request_id: int) -> None:
    if kind == "plain" or kind == "leased":
        caps = {} if kind == "plain" else {"elicitation": {}}
        status, head, body = await conn.request(
            raw_post(host, "/mcp", headers("echo"), call(request_id, "echo", {"text": "x"}, caps))
        )
        result = result_of(body, head.get(b"content-type", b""))
        assert status == 200 and result["content"][0]["text"] == "x", body
        return
    caps = {"elicitation": {}}
    arguments = {"question": "ok?"}
    status, head, body = await conn.request(
        raw_post(host, "/mcp", headers("confirm"), call(request_id, "confirm", arguments, caps))
    )
    first = result_of(body, head.get(b"content-type", b""))
    assert status == 200 and first["resultType"] == "input_required", body
    (key,) = first["inputRequests"]
    answers = {key: {"action": "accept", "content": {"answer": "yes"}}}
    retry = call(request_id + 1, "confirm", arguments, caps, inputResponses=answers, requestState=first["requestState"])
    status, head, body = await conn.request(raw_post(host, "/mcp", headers("confirm"), retry))
    final = result_of(body, head.get(b"content-type", b""))
    assert status == 200 and final["content"][0]["text"] == "accept: yes", body


async def cell(port: int, kind: str, concurrency: int, requests: int) -> dict[str, Any]:
    host = f"127.0.0.1:{port}"
    conns = [await Connection.open("127.0.0.1", port) for _ in range(concurrency)]
    latencies: list[float] = []
    counter = iter(range(10, 10 + 4 * requests, 2))
    per_conn = max(1, requests // concurrency)

    async def worker(conn: Any) -> None:
        for _ in range(per_conn):
            started = time.perf_counter()
            await one(conn, host, kind, next(counter))
            latencies.append(time.perf_counter() - started)

    # Warm-up, all connections at once: a leased child per connection exists before timing starts.
    await asyncio.gather(*(one(conn, host, kind, next(counter)) for conn in conns))
    started = time.perf_counter()
    await asyncio.gather(*(worker(conn) for conn in conns))
    elapsed = time.perf_counter() - started
    for conn in conns:
        conn.close()
    latencies.sort()
    return {
        "kind": kind,
        "concurrency": concurrency,
        "calls": len(latencies),
        "calls_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
    }


async def run(port: int, concurrencies: list[int], requests: int) -> list[dict[str, Any]]:
    cells = []
    for concurrency in concurrencies:
        for kind in ("plain", "leased", "elicit"):
            cells.append(await cell(port, kind, concurrency, requests))
            print(
                f"{kind:7} c={concurrency}: {cells[-1]['calls_per_s']:8.1f} calls/s  "
                f"p50 {cells[-1]['p50_ms']:6.2f} ms  p99 {cells[-1]['p99_ms']:6.2f} ms",
                flush=True,
            )
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", default="1,8")
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    port = bench_server.free_port()
    with tempfile.TemporaryDirectory() as workspace:
        bridge = start_bridge(port, workspace)
        try:
            wait_ready(port)
            cells = asyncio.run(run(port, concurrencies, args.requests))
            starts = child_starts(port)
        finally:
            bridge.terminate()
            bridge.wait(30)
    calls = sum(c["calls"] for c in cells if c["kind"] != "plain")
    print(f"leased children started: {starts:g} for {calls} leased calls (plus warm-up)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": platform.platform(),
        "cells": cells,
        "leased_children_started": starts,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"saved {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
