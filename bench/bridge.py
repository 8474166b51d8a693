"""Benchmark: tools/call through stdio→HTTP bridges vs. straight to the stdio server, both revisions.

    .venv/bin/python bench/bridge.py [--requests N] [--concurrency 1,8] [--eras modern,legacy]
                                     [--only direct,floor,aksmcp,aksmcp-normal,mcp-proxy,supergateway]
                                     [--rounds N]
                                     [--slices N] [--pin CHILD_CPUS:OTHER_CPUS]

The child is the same everywhere: `mcp-server-time` (PyPI, from .tools/bin), tool `get_current_time`.
- direct:       JSON lines on the child's stdin/stdout (the limit a bridge can approach); "legacy" does the
                2025-11-25 initialize first, "modern" sends the 2026-07-28 `_meta` envelope per request;
                at concurrency N, N requests are outstanding on the one pipe.
- aksmcp:       `aksmcp-server bridge -- mcp-server-time` (modern: the shared child; legacy: one session,
                its own child).
- aksmcp-normal: the same with `--sched-policy normal`: what running the bridge's threads under
                SCHED_BATCH (its default: the child gets the CPU first, bridge/scheduling.py) is worth.
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
load than calls/s and latencies do (they still grow on a crowded machine). "child wait" is the time the
child's threads spent runnable but not running (schedstat), per call: where a child-bound cell loses
its calls/s.

The targets of one (era, concurrency) share the machine's load: each is opened once (its child started,
its session opened and warmed), then the cell's calls run in `--slices N` slices, the targets taking
turns slice by slice in an order that rotates and reverses (`run_cell`), so a burst of other tenants'
load falls on all of them alike.
(With whole cells run one after the other, the same direct cell ranged 395-920 calls/s at c=8 and the
floor 0.65-1.34 of direct, from that load alone.) `--rounds N` repeats it all; the goals are judged on
each round's pair and the median reported.
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
from dataclasses import asdict, dataclass, field
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
REUSE_IDLE_S = 2.0  # keep-alive connections idle longer are replaced before a slice (servers close them at 5 s)
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
    child_wait_us_per_call: float | None = None  # runnable, waiting for a CPU (all the child's threads)
    client_cpu_us_per_call: float | None = None
    round: int = 1


def threads_of(pid: int) -> list[str]:
    """The thread ids of a live process (Linux /proc), none once it is gone."""
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (Linux /proc): the bridge's stdio children."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in threads_of(parent):
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


def run_queue_waits(pids: list[int]) -> dict[int, int]:
    """Nanoseconds each thread of `pids` has spent runnable but not running (Linux schedstat), by thread id.

    CPU per call says what the child's work costs; this says how long the work sat waiting for a CPU,
    which is where a child loses calls/s to its neighbours (and to its own threads) on a small machine.
    """
    waits: dict[int, int] = {}
    for pid in pids:
        for task in threads_of(pid):
            try:
                waits[int(task)] = int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return waits


def waited_s(before: dict[int, int], after: dict[int, int]) -> float | None:
    """Run-queue wait between two `run_queue_waits` (a thread that ended in between takes its share with it);
    None where the kernel keeps no schedstat."""
    if not after:
        return None
    return sum(ns - before.get(tid, 0) for tid, ns in after.items()) / 1e9


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


# ------------------------------------------------------------------ targets --


@dataclass
class Tally:
    """What one target did over the slices of a cell: answers, errors, time under load and CPU."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    bridge_cpu: float = 0.0
    child_cpu: float = 0.0
    child_wait: float | None = 0.0  # None once a slice could not measure it
    client_cpu: float = 0.0
    measured_bridge: bool = False
    measured_child: bool = False
    child_unmeasurable: bool = False

    def add_wait(self, seconds: float | None) -> None:
        self.child_wait = None if seconds is None or self.child_wait is None else self.child_wait + seconds

    def cell(self, target: str, era: str, concurrency: int) -> Cell:
        cell = summarise(target, era, concurrency, self.latencies, self.errors, self.elapsed)
        calls = len(self.latencies)
        if calls:
            cell.client_cpu_us_per_call = round(self.client_cpu / calls * 1e6)
            if self.measured_bridge:
                cell.bridge_cpu_us_per_call = round(self.bridge_cpu / calls * 1e6)
            if self.measured_child:
                cell.child_cpu_us_per_call = round(self.child_cpu / calls * 1e6)
                if self.child_wait is not None:
                    cell.child_wait_us_per_call = round(self.child_wait / calls * 1e6)
        return cell


class Target:
    """A target opened once per cell, then loaded slice by slice (`run`), then closed."""

    def __init__(self, name: str, era: str, concurrency: int) -> None:
        self.name, self.era, self.concurrency = name, era, concurrency
        self.tally = Tally()
        self.usable = True
        self.next_id = 1

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def run(self, count: int, cap_s: float) -> None:
        """`count` tool calls (fewer if `cap_s` runs out) at the target's concurrency, tallied."""
        raise NotImplementedError


class DirectTarget(Target):
    """JSON lines on the stdio child's pipes: the limit a bridge can approach."""

    proc: asyncio.subprocess.Process

    async def open(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            tool("mcp-server-time"),
            "--local-timezone",
            "UTC",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=16 * 1024 * 1024,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, stdout = self.proc.stdin, self.proc.stdout
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}

        async def read() -> None:
            while line := await stdout.readline():
                message = json.loads(line)
                future = self.waiting.pop(message.get("id"), None)
                if future is not None:
                    future.set_result(message)

        self.reader = asyncio.create_task(read())
        if self.era == "legacy":
            init = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}
            await self.call({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init})
            self.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        await self.call(tool_call(10**9, self.era))  # warm-up
        pin_child([self.proc.pid])

    async def call(self, message: dict[str, Any]) -> dict[str, Any]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[message["id"]] = future
        self.stdin.write(json.dumps(message).encode() + b"\n")
        return await future

    async def run(self, count: int, cap_s: float) -> None:
        tally, last = self.tally, self.next_id + count
        child_before, client_before = cpu_of([self.proc.pid]), time.process_time()
        waits_before = run_queue_waits([self.proc.pid])
        began = time.perf_counter()

        async def worker() -> None:
            while self.next_id < last and time.perf_counter() - began < cap_s:
                request_id = self.next_id
                self.next_id += 1
                started = time.perf_counter()
                answer = await self.call(tool_call(request_id, self.era))
                tally.latencies.append(time.perf_counter() - started)
                if answer.get("result", {}).get("isError") is not False:
                    tally.errors += 1

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        tally.elapsed += time.perf_counter() - began
        tally.child_cpu += cpu_of([self.proc.pid]) - child_before
        tally.add_wait(waited_s(waits_before, run_queue_waits([self.proc.pid])))
        tally.client_cpu += time.process_time() - client_before
        tally.measured_child = True

    async def close(self) -> None:
        self.stdin.close()
        self.reader.cancel()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class HttpTarget(Target):
    """A bridge over HTTP: one session per cell (2025-11-25), `concurrency` keep-alive connections."""

    def __init__(self, name: str, era: str, concurrency: int, url: str, pid: int) -> None:
        super().__init__(name, era, concurrency)
        self.url, self.pid = url, pid
        self.connections: list[Any] = []
        self.idle_since = 0.0

    async def open(self) -> None:
        self.host, self.port, self.path, self.headers = await bench_server.call_headers(self.url, self.era, TOOL)
        await self.connect()
        self.children = descendants(self.pid)
        pin_child(self.children)

    async def connect(self) -> None:
        """(Re)open the connections and warm each with a call, untimed, unless they were used moments ago:
        uvicorn and Node close a keep-alive connection idle for 5 s, which the other targets' slices
        can take, and a request sent as it closes would be lost."""
        if self.usable and self.connections and time.monotonic() - self.idle_since < REUSE_IDLE_S:
            return
        for conn in self.connections:
            conn.close()
        self.connections = [await Connection.open(self.host, int(self.port)) for _ in range(self.concurrency)]

        async def warm_up(conn: Any, request_id: int) -> bool:
            try:
                answer = await asyncio.wait_for(conn.request(self.request(request_id)), REQUEST_TIMEOUT_S)
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                return False
            return answer_ok(*answer)

        warm = [warm_up(conn, 10**9 + i) for i, conn in enumerate(self.connections)]  # ids no measured call has
        self.usable = all(await asyncio.gather(*warm))
        self.idle_since = time.monotonic()

    def request(self, request_id: int) -> bytes:
        body = json.dumps(tool_call(request_id, self.era)).encode()
        return raw_post(f"{self.host}:{self.port}", self.path, self.headers, body)

    async def run(self, count: int, cap_s: float) -> None:
        tally = self.tally
        await self.connect()
        if not self.usable:
            # This bridge cannot serve this revision: report that instead of a meaningless figure.
            tally.errors += count
            return
        requests = [self.request(self.next_id + i) for i in range(count)]  # built outside the timed part
        self.next_id += count
        next_index = 0
        bridge_before = bench_server.cpu_seconds(self.pid)
        child_before, client_before = cpu_of(self.children), time.process_time()
        waits_before = run_queue_waits(self.children)
        began = time.perf_counter()

        async def worker(conn: Any) -> None:
            nonlocal next_index
            while next_index < count and time.perf_counter() - began < cap_s:
                raw = requests[next_index]
                next_index += 1
                started = time.perf_counter()
                try:
                    status, headers, body = await asyncio.wait_for(conn.request(raw), REQUEST_TIMEOUT_S)
                except (TimeoutError, OSError, asyncio.IncompleteReadError):
                    tally.errors += count - next_index + 1  # this connection is unusable: the slice's rest are lost
                    next_index = count
                    self.usable = False  # new connections for the next slice
                    return
                tally.latencies.append(time.perf_counter() - started)
                if not answer_ok(status, headers, body):
                    tally.errors += 1

        await asyncio.gather(*(worker(conn) for conn in self.connections))
        tally.elapsed += time.perf_counter() - began
        self.idle_since = time.monotonic()
        bridge_after = bench_server.cpu_seconds(self.pid)
        if bridge_before is not None and bridge_after is not None:
            tally.bridge_cpu += bridge_after - bridge_before
            tally.measured_bridge = True
        tally.client_cpu += time.process_time() - client_before
        if self.children and not tally.child_unmeasurable:
            if set(descendants(self.pid)) == set(self.children):
                tally.child_cpu += cpu_of(self.children) - child_before
                tally.add_wait(waited_s(waits_before, run_queue_waits(self.children)))
                tally.measured_child = True
            else:
                # Children came and went during the slice (a child per call): their CPU is not countable
                # from here, so none is reported rather than a partial (or negative) figure.
                tally.child_unmeasurable = True
                tally.measured_child = False

    async def close(self) -> None:
        for conn in self.connections:
            conn.close()
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ValueError, TimeoutError):
            await asyncio.wait_for(
                bench_server.end_legacy_session(self.host, int(self.port), self.path, self.headers), 5.0
            )


async def run_cell(targets: list[Target], total: int, slices: int) -> None:
    """Every target of one (era, concurrency), `total` calls each, in `slices` interleaved slices.

    The order rotates from slice to slice, so each target takes each place equally often, and runs
    backwards every other slice, so each follows every other (a slice after a busy one may inherit its
    leftovers: caches, a child still winding down): a burst of the other tenants' load lands on all of
    them alike instead of on whichever cell it happened to overlap.
    """
    opened: list[Target] = []
    try:
        for target in targets:
            await target.open()
            opened.append(target)
        per_slice = -(-total // slices)
        for k in range(slices):
            shift = k // 2 % len(targets)
            order = targets[shift:] + targets[:shift]
            for target in order if k % 2 == 0 else order[::-1]:
                await target.run(max(0, min(per_slice, total - k * per_slice)), CELL_SECONDS / slices)
    finally:
        for target in opened:
            await target.close()


def start_bridge(name: str, port: int, workspace: Path) -> tuple[subprocess.Popen[bytes], str]:
    child = [tool("mcp-server-time"), "--local-timezone", "UTC"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKSMCP_")}
    if name in ("aksmcp", "aksmcp-normal"):
        argv = [sys.executable, "-m", "aksmcp_server", "bridge", "--port", str(port), "--workspace", str(workspace)]
        argv += ["--sched-policy", "batch" if name == "aksmcp" else "normal", "--", *child]
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
        f" | cpu us/call: {'bridge':>6} {'child':>6} {'client':>6} | child wait us/call"
    )
    print("-" * 125)

    def cpu(value: float | None) -> str:
        return f"{value:>6.0f}" if value is not None else f"{'-':>6}"

    for cell in sorted(cells, key=lambda c: (c.era, c.concurrency, c.round)):
        print(
            f"{cell.era:7} {cell.concurrency:>4} {cell.round:>3} | {cell.target:13} {cell.calls_per_s:>8.1f} "
            f"{cell.p50_ms:>7.3f} {cell.p99_ms:>7.3f} {cell.errors:>6} | {'':12} {cpu(cell.bridge_cpu_us_per_call)}"
            f" {cpu(cell.child_cpu_us_per_call)} {cpu(cell.client_cpu_us_per_call)}"
            f" | {cpu(cell.child_wait_us_per_call)}"
        )


def goals(cells: list[Cell]) -> list[dict[str, Any]]:
    """The issue's goals: >= 90% of direct at c=8, < 0.5 ms added p50 at c=1, in both revisions.

    Judged per round (a bridge against the direct cell it was interleaved with), median over the rounds.
    """
    by_key = {(c.target, c.era, c.concurrency, c.round): c for c in cells}
    rounds = sorted({c.round for c in cells})
    out = []
    for era in ("modern", "legacy"):
        for target in ("aksmcp", "aksmcp-normal", "floor", "mcp-proxy", "supergateway"):
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
            for n in range(1, args.rounds + 1):
                for era in eras:
                    for concurrency in concurrencies:
                        cell_targets: list[Target] = []
                        for target in targets:
                            if target == "floor" and era == "modern":
                                continue  # it does no translation: a 2025-11-25 yardstick only
                            if target == "direct":
                                cell_targets.append(DirectTarget(target, era, concurrency))
                            else:
                                proc, url = bridges[target]
                                cell_targets.append(HttpTarget(target, era, concurrency, url, proc.pid))
                        await run_cell(cell_targets, args.requests, args.slices)
                        for t in cell_targets:
                            cell = t.tally.cell(t.name, era, concurrency)
                            cell.round = n
                            cells.append(cell)
        finally:
            for proc, _ in bridges.values():
                stop(proc)
    print_table(cells)
    summary = goals(cells)
    print()
    print("goal: >= 0.90 of direct calls/s at c=8 and < 0.5 ms added p50 at c=1, both revisions")
    print(
        f"(each figure: the median over {args.rounds} round(s) of a bridge against direct, their calls"
        f" interleaved in {args.slices} slices)"
    )
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
                "slices_per_cell": args.slices,
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
    parser.add_argument(
        "--only", default="direct,floor,aksmcp,aksmcp-normal,mcp-proxy,supergateway", help="comma list of targets"
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat every comparison N times (default 1)")
    parser.add_argument(
        "--slices", type=int, default=8, help="interleaved slices per cell (default 8; 1: each target's cell in one go)"
    )
    parser.add_argument(
        "--pin", metavar="CHILD:OTHERS", help="CPU lists, e.g. 0:1: stdio children on CPU 0, everything else on 1"
    )
    args = parser.parse_args()
    if args.requests < 1 or args.slices < 1 or args.rounds < 1:
        parser.error("--requests, --slices and --rounds must be at least 1")
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
