"""Benchmark: tools/call through stdio→HTTP bridges vs. straight to the stdio server, both revisions.

    .venv/bin/python bench/bridge.py [--requests N] [--concurrency 1,8] [--eras modern,legacy]
                                     [--only direct,floor,aksmcp,mcp-proxy,supergateway] [--rounds N]
                                     [--pin CHILD_CPUS:OTHER_CPUS]

The child is the same everywhere: `mcp-server-time` (PyPI, from .tools/bin), tool `get_current_time`.
- direct:       JSON lines on the child's stdin/stdout (the limit a bridge can approach); "legacy" does the
                2025-11-25 initialize first, "modern" sends the 2026-07-28 `_meta` envelope per request;
                at concurrency N, N requests are outstanding on the one pipe.
- aksmcp:       `aksmcp-server bridge -- mcp-server-time` (modern: the shared child; legacy: one session,
                its own child).
- floor:        bench/bridge_floor.py, the least a bridge can do (raw HTTP, id remap, no checks): the cost of
                the extra process and hops alone, so aksmcp's shortfall can be split into its own work
                (floor → aksmcp) and what no bridge on this machine avoids (direct → floor); legacy only.
- mcp-proxy:    `mcp-proxy --port P -- mcp-server-time` (sparfenyuk, PyPI).
- supergateway: `supergateway --stdio mcp-server-time --outputTransport streamableHttp --stateful` (npm).
HTTP load comes from bench/server.py's minimal keep-alive client (N connections); answers are checked
(HTTP 200, a result with isError false); a bridge that cannot serve a revision shows its errors.

The load generator runs on uvloop when it is installed (it is a dependency of the server). Every
process of a cell is a competitor on a small machine, so each cell also reports CPU per call of the
bridge, of the stdio child(ren) and of this load generator: those figures move far less with other
load than calls/s and latencies do (they still grow on a crowded machine). The cells of one (era,
concurrency) run back to back (direct, then each bridge), `--rounds N` times, so each comparison is
made under the same machine load; the goals are judged on each round's pair and the median reported.
`--pin 0:1` puts every stdio child on CPU 0 and the rest (bridge, client) on CPU 1: the question it
answers is whether a shortfall at c=8 is the bridge's cost or the child losing CPU to its neighbours.
Figures are printed and saved to bench/results/bridge.json. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "bridge.json"
TOOLS_BIN = ROOT / ".tools" / "bin"
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
TOOL = "get_current_time"
ARGUMENTS = {"timezone": "UTC"}
CELL_SECONDS = 20.0  # a bridge that spawns a child per call would otherwise take hours for one cell
REQUEST_TIMEOUT_S = 30.0  # a bridge that stops answering ends its cell (counted as errors), not the run
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"},
}

# The raw HTTP client and helpers of bench/server.py (one load generator for every HTTP benchmark).
_spec = importlib.util.spec_from_file_location("bench_server", ROOT / "bench" / "server.py")
assert _spec is not None and _spec.loader is not None
bench_server = importlib.util.module_from_spec(_spec)
sys.modules["bench_server"] = bench_server  # dataclasses look their module up there
_spec.loader.exec_module(bench_server)
Connection = bench_server.Connection
raw_post = bench_server.raw_post
answer_ok = bench_server.answer_ok
free_port = bench_server.free_port
legacy_session_headers = bench_server.legacy_session_headers


@dataclass
class Cell:
    target: str
    era: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    calls_per_s: float
    p50_ms: float
    p99_ms: float
    bridge_cpu_us_per_call: float | None = None
    child_cpu_us_per_call: float | None = None
    client_cpu_us_per_call: float | None = None
    round: int = 1


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (Linux /proc): the bridge's stdio children."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                kids = [int(k) for k in Path(f"/proc/{parent}/task/{task}/children").read_text().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


PINNED: dict[str, set[int]] = {}


def pin(spec: str) -> None:
    """`--pin CHILD_CPUS:OTHER_CPUS`: this process (and the bridges it starts) on OTHER_CPUS, every stdio
    child on CHILD_CPUS, so the child never waits for the bridge or the client to leave its CPU."""
    child_cpus, _, other_cpus = spec.partition(":")
    PINNED["child"] = {int(c) for c in child_cpus.split(",")}
    os.sched_setaffinity(0, {int(c) for c in other_cpus.split(",")})


def pin_child(pids: list[int]) -> None:
    for pid in pids if "child" in PINNED else ():
        for task in os.listdir(f"/proc/{pid}/task"):  # every thread: the SDK reads stdin on a worker thread
            os.sched_setaffinity(int(task), PINNED["child"])


def cpu_of(pids: list[int]) -> float:
    return sum(bench_server.cpu_seconds(pid) or 0.0 for pid in pids)


def per_call_us(before: float, after: float, calls: int) -> float:
    return round((after - before) / calls * 1e6)


def tool(command: str) -> str:
    path = TOOLS_BIN / command
    if path.exists():
        return str(path)
    found = shutil.which(command)
    if found is None:
        raise SystemExit(f"{command} is not installed: run `bash .ci/install-tools`")
    return found


def tool_call(request_id: int, era: str) -> dict[str, Any]:
    params: dict[str, Any] = {"name": TOOL, "arguments": ARGUMENTS}
    if era == "modern":
        params["_meta"] = META
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def summarise(target: str, era: str, concurrency: int, latencies: list[float], errors: int, elapsed: float) -> Cell:
    latencies.sort()
    return Cell(
        target=target,
        era=era,
        concurrency=concurrency,
        requests=len(latencies),
        errors=errors,
        seconds=round(elapsed, 3),
        calls_per_s=round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        p50_ms=round(statistics.median(latencies) * 1000, 3) if latencies else 0.0,
        p99_ms=round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 3) if latencies else 0.0,
    )


# ------------------------------------------------------------------ direct stdio --


async def run_direct(era: str, concurrency: int, total: int) -> Cell:
    proc = await asyncio.create_subprocess_exec(
        tool("mcp-server-time"),
        "--local-timezone",
        "UTC",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        limit=16 * 1024 * 1024,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout
    waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def read() -> None:
        while line := await stdout.readline():
            message = json.loads(line)
            future = waiting.pop(message.get("id"), None)
            if future is not None:
                future.set_result(message)

    reader = asyncio.create_task(read())

    async def call(message: dict[str, Any]) -> dict[str, Any]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        waiting[message["id"]] = future
        stdin.write(json.dumps(message).encode() + b"\n")
        return await future

    try:
        if era == "legacy":
            init = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}
            await call({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init})
            stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        await call(tool_call(10**9, era))  # warm-up
        latencies: list[float] = []
        errors = 0
        next_id = 1
        pin_child([proc.pid])
        child_before, client_before = cpu_of([proc.pid]), time.process_time()

        async def worker() -> None:
            nonlocal next_id, errors
            while next_id <= total:
                request_id = next_id
                next_id += 1
                started = time.perf_counter()
                answer = await call(tool_call(request_id, era))
                latencies.append(time.perf_counter() - started)
                if answer.get("result", {}).get("isError") is not False:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
        child_after, client_after = cpu_of([proc.pid]), time.process_time()
    finally:
        stdin.close()
        reader.cancel()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    cell = summarise("direct", era, concurrency, latencies, errors, elapsed)
    if latencies:
        cell.child_cpu_us_per_call = per_call_us(child_before, child_after, len(latencies))
        cell.client_cpu_us_per_call = per_call_us(client_before, client_after, len(latencies))
    return cell


# ------------------------------------------------------------------ bridges over HTTP --


def start_bridge(name: str, port: int, workspace: Path) -> tuple[subprocess.Popen[bytes], str]:
    child = [tool("mcp-server-time"), "--local-timezone", "UTC"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKSMCP_")}
    if name == "aksmcp":
        argv = [sys.executable, "-m", "aksmcp_server", "bridge", "--port", str(port), "--workspace", str(workspace)]
        argv += ["--", *child]
        env["AKSMCP_LOG_LEVEL"] = os.environ.get("BENCH_LOG_LEVEL", "INFO")
    elif name == "floor":
        argv = [sys.executable, str(ROOT / "bench" / "bridge_floor.py"), str(port), "--", *child]
    elif name == "mcp-proxy":
        argv = [tool("mcp-proxy"), "--host", "127.0.0.1", "--port", str(port), "--", *child]
    elif name == "supergateway":
        argv = [tool("supergateway"), "--stdio", " ".join(child), "--outputTransport", "streamableHttp"]
        argv += ["--stateful", "--port", str(port), "--logLevel", "none"]
    else:
        raise ValueError(name)
    proc = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,  # supergateway stops when its stdin closes; /dev/null never does
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return proc, f"http://127.0.0.1:{port}/mcp"


async def wait_serving(url: str, proc: subprocess.Popen[bytes], limit_s: float = 60.0) -> None:
    """Until a legacy initialize is answered 200 (every bridge here speaks 2025-11-25)."""
    host_port = url.split("/")[2]
    host, port = host_port.rsplit(":", 1)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the bridge exited with {proc.returncode}")
        try:
            await legacy_session_headers(host, int(port), "/mcp")
            return
        except (OSError, asyncio.IncompleteReadError, ValueError):
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} did not come up")


async def run_http(target: str, url: str, era: str, concurrency: int, total: int, pid: int | None = None) -> Cell:
    host, port, path, headers = await bench_server.call_headers(url, era, TOOL)
    host_port = f"{host}:{port}"
    requests = [raw_post(host_port, path, headers, json.dumps(tool_call(i + 1, era)).encode()) for i in range(total)]
    connections = [await Connection.open(host, int(port)) for _ in range(concurrency)]
    latencies: list[float] = []
    errors = 0
    try:
        ok = True
        for conn in connections:  # warm-up: one request per connection
            try:
                status, response_headers, body = await asyncio.wait_for(conn.request(requests[0]), REQUEST_TIMEOUT_S)
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                ok = False
                break
            ok = ok and answer_ok(status, response_headers, body)
        if not ok:
            # This bridge cannot serve this revision: report that instead of a meaningless figure.
            return Cell(target, era, concurrency, 0, total, 0.0, 0.0, 0.0, 0.0)
        next_index = 0
        children = descendants(pid) if pid else []
        pin_child(children)
        cpu_before = bench_server.cpu_seconds(pid) if pid else None
        child_before, client_before = cpu_of(children), time.process_time()
        began = time.perf_counter()

        async def worker(conn: Any) -> None:
            nonlocal next_index, errors
            while next_index < total and time.perf_counter() - began < CELL_SECONDS:
                raw = requests[next_index]
                next_index += 1
                started = time.perf_counter()
                try:
                    status, response_headers, body = await asyncio.wait_for(conn.request(raw), REQUEST_TIMEOUT_S)
                except (TimeoutError, OSError, asyncio.IncompleteReadError):
                    errors += total - next_index + 1  # this connection is unusable: the rest are lost
                    next_index = total
                    return
                latencies.append(time.perf_counter() - started)
                if not answer_ok(status, response_headers, body):
                    errors += 1

        await asyncio.gather(*(worker(conn) for conn in connections))
        elapsed = time.perf_counter() - began
        cpu_after = bench_server.cpu_seconds(pid) if pid else None
        child_after, client_after = cpu_of(children), time.process_time()
    finally:
        for conn in connections:
            conn.close()
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError, TimeoutError):
            await asyncio.wait_for(bench_server.end_legacy_session(host, int(port), path, headers), 5.0)
    cell = summarise(target, era, concurrency, latencies, errors, elapsed)
    if cpu_before is not None and cpu_after is not None and latencies:
        cell.bridge_cpu_us_per_call = per_call_us(cpu_before, cpu_after, len(latencies))
    if latencies:
        if children:
            cell.child_cpu_us_per_call = per_call_us(child_before, child_after, len(latencies))
        cell.client_cpu_us_per_call = per_call_us(client_before, client_after, len(latencies))
    return cell


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ------------------------------------------------------------------ report --


def print_table(cells: list[Cell]) -> None:
    print(
        f"{'era':7} {'conc':>4} {'rnd':>3} | {'target':13} {'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
        f" | cpu us/call: {'bridge':>6} {'child':>6} {'client':>6}"
    )
    print("-" * 104)

    def cpu(value: float | None) -> str:
        return f"{value:>6.0f}" if value is not None else f"{'-':>6}"

    for cell in sorted(cells, key=lambda c: (c.era, c.concurrency, c.round)):
        print(
            f"{cell.era:7} {cell.concurrency:>4} {cell.round:>3} | {cell.target:13} {cell.calls_per_s:>8.1f} "
            f"{cell.p50_ms:>7.3f} {cell.p99_ms:>7.3f} {cell.errors:>6} | {'':12} {cpu(cell.bridge_cpu_us_per_call)}"
            f" {cpu(cell.child_cpu_us_per_call)} {cpu(cell.client_cpu_us_per_call)}"
        )


def goals(cells: list[Cell]) -> list[dict[str, Any]]:
    """The issue's goals: >= 90% of direct at c=8, < 0.5 ms added p50 at c=1, in both revisions.

    Judged per round (a bridge against the direct cell run just before it), median over the rounds.
    """
    by_key = {(c.target, c.era, c.concurrency, c.round): c for c in cells}
    rounds = sorted({c.round for c in cells})
    out = []
    for era in ("modern", "legacy"):
        for target in ("aksmcp", "floor", "mcp-proxy", "supergateway"):
            shares: list[float] = []
            added: list[float] = []
            for n in rounds:
                direct8, bridge8 = by_key.get(("direct", era, 8, n)), by_key.get((target, era, 8, n))
                direct1, bridge1 = by_key.get(("direct", era, 1, n)), by_key.get((target, era, 1, n))
                if direct8 and bridge8 and direct8.calls_per_s:
                    shares.append(round(bridge8.calls_per_s / direct8.calls_per_s, 3))
                if direct1 and bridge1 and bridge1.requests:
                    added.append(round(bridge1.p50_ms - direct1.p50_ms, 3))
            row: dict[str, Any] = {"target": target, "era": era}
            if shares:
                row["share_of_direct_c8"] = round(statistics.median(shares), 3)
                row["share_of_direct_c8_rounds"] = shares
            if added:
                row["added_p50_ms_c1"] = round(statistics.median(added), 3)
                row["added_p50_ms_c1_rounds"] = added
            if shares or added:
                out.append(row)
    return out


async def main_async(args: argparse.Namespace) -> None:
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    eras = args.eras.split(",")
    targets = args.only.split(",")
    cells: list[Cell] = []
    with tempfile.TemporaryDirectory() as tmp:
        bridges: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
        try:
            for target in (t for t in targets if t != "direct"):
                bridges[target] = start_bridge(target, free_port(), Path(tmp))
            for proc, url in bridges.values():
                await wait_serving(url, proc)
            # Back to back per (era, concurrency): direct, then each bridge, so a comparison is made
            # under one machine load rather than minutes apart.
            for n in range(1, args.rounds + 1):
                for era in eras:
                    for concurrency in concurrencies:
                        for target in targets:
                            if target == "floor" and era == "modern":
                                continue  # it does no translation: a 2025-11-25 yardstick only
                            if target == "direct":
                                cell = await run_direct(era, concurrency, args.requests)
                            else:
                                proc, url = bridges[target]
                                cell = await run_http(target, url, era, concurrency, args.requests, proc.pid)
                            cell.round = n
                            cells.append(cell)
        finally:
            for proc, _ in bridges.values():
                stop(proc)
    print_table(cells)
    summary = goals(cells)
    print()
    print("goal: >= 0.90 of direct calls/s at c=8 and < 0.5 ms added p50 at c=1, both revisions")
    print(f"(each figure: the median over {args.rounds} round(s) of a bridge against the direct run just before it)")
    for row in summary:
        share = row.get("share_of_direct_c8")
        added = row.get("added_p50_ms_c1")
        share_text = f"{share:.2f}" if share is not None else "-"
        added_text = f"{added:+.3f} ms" if added is not None else "-"
        print(
            f"  {row['era']:7} {row['target']:13} share of direct at c=8: {share_text:>5}"
            f"   added p50 at c=1: {added_text}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                },
                "requests_per_cell": args.requests,
                "rounds": args.rounds,
                "pinned": args.pin,
                "cell_seconds_cap": CELL_SECONDS,
                "load_average_at_end": os.getloadavg(),
                "child": "mcp-server-time 2026.10.19, tool get_current_time",
                "cells": [asdict(c) for c in cells],
                "goals": summary,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nsaved {RESULTS.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="tool calls per cell (default 2000)")
    parser.add_argument("--concurrency", default="1,8", help="comma list (default 1,8)")
    parser.add_argument("--eras", default="modern,legacy", help="modern (2026-07-28), legacy (2025-11-25)")
    parser.add_argument("--only", default="direct,floor,aksmcp,mcp-proxy,supergateway", help="comma list of targets")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every comparison N times (default 1)")
    parser.add_argument(
        "--pin", metavar="CHILD:OTHERS", help="CPU lists, e.g. 0:1: stdio children on CPU 0, everything else on 1"
    )
    args = parser.parse_args()
    if args.pin:
        pin(args.pin)
    try:
        # The load generator competes with the child and the bridge for 2 cores: uvloop roughly halves
        # its CPU per call, for the direct client and the HTTP client alike.
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with the server's dependencies
        asyncio.run(main_async(args))
    else:
        uvloop.run(main_async(args))


if __name__ == "__main__":
    main()
