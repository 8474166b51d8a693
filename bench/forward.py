"""Benchmark: the forward engine against the physical limit. Prints a table and saves
bench/results/forward.json.

    .venv/bin/python bench/forward.py [--mib 64] [--setups 200] [--calls 300] [--kills 20]

In one run, against a sandbox on this machine (the pod's port is a local port, so "direct" is the
physical limit of this box, with no API server in the path):
- bulk throughput (MB/s): one connection downloads N MiB from a pod, through the forward vs direct;
- connection setup latency: connect, send 1 byte, first byte back (p50/p95), forward vs direct;
- MCP tool calls/s with the official `mcp` SDK client (one session per round, sequential
  `system_info` calls) through the forward vs directly to the reference server pod, in alternating
  rounds (median of each);
- heal time after a pod kill with a spare replica (p50/p95 over K kills): from the DELETE of the
  pod that served the last connection to the first new connection that gets an answer.
Goals (issue 7): throughput >= 60% of direct, tool calls >= 80% of direct, setup p50 < 5 ms,
heal p95 < 1 s. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "forward.json"
sys.path.insert(0, str(ROOT))

NS = "bench-forward"
PORT_ANNOTATION = "sandbox.aksmcp.dev/port-"
GOALS = {"throughput_ratio": 0.6, "tool_calls_ratio": 0.8, "setup_p50_ms": 5.0, "heal_p95_s": 1.0}

# Port 7000: on connect, reads a decimal byte count and a newline, then sends that many bytes.
SOURCE_SERVER = """
import os, socket, threading
CHUNK = b"\\0" * (1 << 20)
def serve(conn):
    with conn:
        f = conn.makefile("rb")
        while True:
            line = f.readline()
            if not line:
                return
            left = int(line)
            while left:
                n = min(left, len(CHUNK))
                conn.sendall(CHUNK[:n] if n < len(CHUNK) else CHUNK)
                left -= n
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["SANDBOX_PORT_7000"]))); s.listen(128)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def source_deployment(replicas: int) -> dict[str, Any]:
    labels = {"app": "source"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "source"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "source",
                            "image": "example.com/source:1",
                            "command": [sys.executable, "-c", SOURCE_SERVER],
                            "ports": [{"name": "data", "containerPort": 7000}],
                            "readinessProbe": {"tcpSocket": {"port": 7000}, "periodSeconds": 1},
                        }
                    ],
                },
            },
        },
    }


async def fetch(port: int, size: int) -> float:
    """Seconds to receive `size` bytes on a fresh connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    start = time.perf_counter()
    writer.write(f"{size}\n".encode())
    left = size
    while left:
        chunk = await reader.read(1 << 20)
        if not chunk:
            raise RuntimeError("stream ended early")
        left -= len(chunk)
    elapsed = time.perf_counter() - start
    writer.close()
    return elapsed


async def setup_latency(port: int) -> float:
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"1\n")
    await reader.readexactly(1)
    elapsed = time.perf_counter() - start
    writer.close()
    return elapsed


async def round_trips(port: int, count: int) -> list[float]:
    """1-byte request/answer round trips on one open connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    times = []
    for _ in range(count):
        start = time.perf_counter()
        writer.write(b"1\n")
        await reader.readexactly(1)
        times.append(time.perf_counter() - start)
    writer.close()
    return times


async def probe_costs(url: str, count: int) -> dict[str, float]:
    """Why the health probe is a minimal JSON-RPC POST: its cost vs the SDK client's connect + list_tools."""
    import aiohttp
    from mcp import Client

    from aksmcp_tui.core.forward.probe import probe_mcp

    minimal: list[float] = []
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            start = time.perf_counter()
            result = await probe_mcp(session, url)
            if not result.ok:
                raise RuntimeError(f"probe failed: {result.error}")
            minimal.append(time.perf_counter() - start)
    sdk: list[float] = []
    for _ in range(count):
        start = time.perf_counter()
        async with Client(url) as client:
            await client.list_tools()
        sdk.append(time.perf_counter() - start)
    return {
        "probes": count,
        "minimal_post_p50": round(statistics.median(minimal) * 1000, 2),
        "sdk_client_p50": round(statistics.median(sdk) * 1000, 2),
    }


async def fetch_websocket(kube: Any, pod: str, size: int) -> float:
    """The API server's own limit: the same download read straight off the port-forward websocket."""
    from aksmcp_tui.core.forward.stream import PortForwardStream

    stream = await PortForwardStream.open(kube, NS, pod, 7000)
    start = time.perf_counter()
    await stream.send(f"{size}\n".encode())
    left = size
    while left:
        result = await stream.receive()
        if result.data is None:
            raise RuntimeError(f"stream ended early: {result.error}")
        left -= len(result.data)
    elapsed = time.perf_counter() - start
    await stream.close()
    return elapsed


async def tool_calls(url: str, count: int) -> float:
    from mcp import Client

    async with Client(url) as client:
        await client.call_tool("system_info", {})  # warm
        start = time.perf_counter()
        for _ in range(count):
            result = await client.call_tool("system_info", {})
            if result.is_error:
                raise RuntimeError(f"tool error: {result.content}")
        return count / (time.perf_counter() - start)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from aksmcp_tui.core.forward import open_tunnel
    from aksmcp_tui.core.kube import KubeContext
    from aksmcp_tui.sandbox import daemon as sandbox_daemon
    from tests.forward.support import create, delete_pod, ensure_namespace, server_deployment, service, wait_ready

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="aksmcp-bench-forward-") as tmp:
        # The sandbox runs as its own process, as an API server does: on a thread of this process it
        # would share the GIL with the forward and halve what both can do.
        state = Path(tmp) / "sandbox"
        kubeconfig = await asyncio.to_thread(sandbox_daemon.ensure_running, state)
        try:
            kube = await KubeContext.open(kubeconfig=str(kubeconfig))
            await ensure_namespace(kube, NS)
            await create(kube, NS, source_deployment(2))
            await create(kube, NS, server_deployment("mcp", replicas=1))
            await create(kube, NS, service("mcp", [{"name": "mcp", "port": 80, "targetPort": "mcp"}]))
            pods = await wait_ready(kube, NS, "app=source", 2)
            (mcp_pod,) = await wait_ready(kube, NS, "app=mcp", 1, within=120)

            async def local_port(pod: str, container_port: int) -> int:
                obj = await kube.get(f"/api/v1/namespaces/{NS}/pods/{pod}")
                return int(obj["metadata"]["annotations"][f"{PORT_ANNOTATION}{container_port}"])

            size = args.mib << 20
            async with open_tunnel(kube, NS, f"pod/{pods[0]}", 7000) as tunnel:
                direct = await local_port(pods[0], 7000)
                for port in (direct, tunnel.local_port):
                    await fetch(port, 1 << 20)  # warm
                direct_s = [await fetch(direct, size) for _ in range(args.runs)]
                forward_s = [await fetch(tunnel.local_port, size) for _ in range(args.runs)]
                direct_mbs = args.mib * 1.048576 / statistics.median(direct_s)
                forward_mbs = args.mib * 1.048576 / statistics.median(forward_s)
                results["throughput"] = {
                    "mib_per_run": args.mib,
                    "runs": args.runs,
                    "direct_MBps": round(direct_mbs, 1),
                    "forward_MBps": round(forward_mbs, 1),
                    "ratio": round(forward_mbs / direct_mbs, 3),
                }
                raw_s = [await fetch_websocket(kube, pods[0], size) for _ in range(args.runs)]
                raw_mbs = args.mib * 1.048576 / statistics.median(raw_s)
                results["throughput"]["api_websocket_MBps"] = round(raw_mbs, 1)
                results["throughput"]["ratio_to_api_websocket"] = round(forward_mbs / raw_mbs, 3)
                for port in (direct, tunnel.local_port):
                    for _ in range(10):
                        await setup_latency(port)
                setups: dict[str, list[float]] = {"direct": [], "forward": [], "forward_back_to_back": []}
                for _ in range(args.setups):
                    # paced like clients that open connections now and then (an IDE, a metrics scrape)
                    await asyncio.sleep(args.setup_gap)
                    setups["direct"].append(await setup_latency(direct))
                    await asyncio.sleep(args.setup_gap)
                    setups["forward"].append(await setup_latency(tunnel.local_port))
                for _ in range(args.setups):
                    setups["forward_back_to_back"].append(await setup_latency(tunnel.local_port))
                results["setup_ms"] = {"count": args.setups, "gap_s": args.setup_gap}
                for name, port in (("direct", direct), ("forward", tunnel.local_port)):
                    rtts = await round_trips(port, args.setups)
                    results["setup_ms"][f"{name}_rtt_p50"] = round(statistics.median(rtts) * 1000, 2)
                for name, values in setups.items():
                    results["setup_ms"][f"{name}_p50"] = round(statistics.median(values) * 1000, 2)
                    results["setup_ms"][f"{name}_p95"] = round(pct(values, 0.95) * 1000, 2)

            async with open_tunnel(kube, NS, "svc/mcp") as tunnel:
                direct_url = f"http://127.0.0.1:{await local_port(mcp_pod, 8080)}/mcp"
                # alternating rounds, median of each: this box is shared, and load drifts
                direct_rounds: list[float] = []
                forward_rounds: list[float] = []
                for _ in range(args.rounds):
                    direct_rounds.append(await tool_calls(direct_url, args.calls // args.rounds))
                    forward_rounds.append(await tool_calls(tunnel.mcp_url, args.calls // args.rounds))
                direct_cps = statistics.median(direct_rounds)
                forward_cps = statistics.median(forward_rounds)
                results["tool_calls_per_s"] = {
                    "calls": args.calls,
                    "rounds": args.rounds,
                    "direct": round(direct_cps, 1),
                    "forward": round(forward_cps, 1),
                    "ratio": round(forward_cps / direct_cps, 3),
                }
                results["probe_ms"] = await probe_costs(tunnel.mcp_url, args.probes)

            heals: list[float] = []
            async with open_tunnel(kube, NS, "deploy/source", 7000) as tunnel:
                for _ in range(args.kills):
                    await wait_ready(kube, NS, "app=source", 2)
                    await tunnel.wait_ready(60)
                    # the pod that served the last connection is the one to kill
                    await setup_latency(tunnel.local_port)
                    victim = tunnel.status().pod
                    assert victim is not None
                    killed = time.perf_counter()
                    await delete_pod(kube, NS, victim, grace=0)
                    while True:
                        try:
                            await asyncio.wait_for(setup_latency(tunnel.local_port), 10)
                            if tunnel.status().pod != victim:
                                break
                        except (OSError, asyncio.IncompleteReadError, TimeoutError):
                            continue
                    heals.append(time.perf_counter() - killed)
            results["heal_s"] = {
                "kills": args.kills,
                "p50": round(statistics.median(heals), 3),
                "p95": round(pct(heals, 0.95), 3),
                "max": round(max(heals), 3),
            }
            await kube.close()
        finally:
            await asyncio.to_thread(sandbox_daemon.stop, state)
    return results


def report(results: dict[str, Any]) -> None:
    t, s, c, h = results["throughput"], results["setup_ms"], results["tool_calls_per_s"], results["heal_s"]
    rows = [
        (
            "bulk throughput MB/s",
            f"{t['direct_MBps']}",
            f"{t['forward_MBps']}",
            f"{t['ratio']:.0%} of direct",
            ">= 60%",
        ),
        (
            "  websocket alone MB/s",
            "-",
            f"{t['api_websocket_MBps']}",
            f"forward = {t['ratio_to_api_websocket']:.0%} of it",
            "(API server path limit)",
        ),
        (
            "setup latency p50 ms",
            f"{s['direct_p50']}",
            f"{s['forward_p50']}",
            f"p95 {s['forward_p95']} ms",
            "p50 < 5 ms",
        ),
        (
            "  back-to-back p50 ms",
            "-",
            f"{s['forward_back_to_back_p50']}",
            f"p95 {s['forward_back_to_back_p95']} ms",
            "(no time to refill the spare)",
        ),
        (
            "  round trip, open stream",
            f"{s['direct_rtt_p50']}",
            f"{s['forward_rtt_p50']}",
            "p50 ms",
            "(floor of setup latency)",
        ),
        ("MCP tool calls/s", f"{c['direct']}", f"{c['forward']}", f"{c['ratio']:.0%} of direct", ">= 80%"),
        (
            "  health probe p50 ms",
            "-",
            f"{results['probe_ms']['minimal_post_p50']}",
            f"SDK client: {results['probe_ms']['sdk_client_p50']} ms",
            "(why the probe is a plain POST)",
        ),
        ("heal after pod kill s", "-", f"p50 {h['p50']}", f"p95 {h['p95']} (max {h['max']})", "p95 < 1 s"),
    ]
    headers = ("measure", "direct", "forward", "result", "goal")
    widths = [max(len(r[i]) for r in (headers, *rows)) for i in range(5)]
    for row in (headers, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=64, help="MiB per bulk download")
    parser.add_argument("--runs", type=int, default=3, help="bulk downloads per path (median)")
    parser.add_argument("--setups", type=int, default=200, help="connection setups per path")
    parser.add_argument("--setup-gap", type=float, default=0.05, help="seconds between paced connection setups")
    parser.add_argument("--calls", type=int, default=300, help="MCP tool calls per path")
    parser.add_argument("--rounds", type=int, default=5, help="alternating direct/forward rounds of tool calls")
    parser.add_argument("--probes", type=int, default=20, help="MCP health probes per method")
    parser.add_argument("--kills", type=int, default=20, help="pod kills for the heal time")
    args = parser.parse_args()
    for var, sub in (("XDG_STATE_HOME", "state"), ("XDG_RUNTIME_DIR", "run")):
        os.environ.setdefault(var, tempfile.mkdtemp(prefix=f"aksmcp-bench-{sub}-"))
    results = asyncio.run(main(args))
    report(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "forward",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "goals": GOALS,
        "results": results,
    }
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"saved {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    cli()
