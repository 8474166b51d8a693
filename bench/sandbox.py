"""Sandbox benchmark: prints a table and saves bench/results/sandbox.json.

1. Time to Available for a 3-replica Deployment of the reference server (real processes).
2. List latency with 2,000 Deployments and 6,000 pods (sandbox started with --no-node, so the
   controllers create the ReplicaSets and pods but no process runs; pods stay Pending).
3. Watch fan-out: time for one change to reach 20 concurrent watchers.

Each part runs against a sandbox daemon in its own process (`python -m aksmcp_tui.sandbox serve`),
so client work and server work do not share an event loop.

    .venv/bin/python bench/sandbox.py [--deployments 2000] [--replicas 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

RESULTS = Path(__file__).resolve().parent / "results" / "sandbox.json"


class Daemon:
    def __init__(self, state_dir: Path, run_node: bool) -> None:
        self.state_dir = state_dir
        self.run_node = run_node
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.token = ""

    def __enter__(self) -> Daemon:
        args = [sys.executable, "-m", "aksmcp_tui.sandbox", "serve", "--state-dir", str(self.state_dir), "--port", "0"]
        if not self.run_node:
            args.append("--no-node")
        log = open(self.state_dir.parent / f"{self.state_dir.name}.log", "wb")
        self.process = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        endpoint = self.state_dir / "endpoint.json"
        while time.monotonic() < deadline:
            if endpoint.exists() and (self.state_dir / "daemon.pid").exists():
                data = json.loads(endpoint.read_text())
                self.url = data["url"]
                self.token = (self.state_dir / "token").read_text().strip()
                return self
            time.sleep(0.05)
        raise RuntimeError("sandbox did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(60)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def request(session: aiohttp.ClientSession, daemon: Daemon, method: str, path: str, body: Any = None) -> Any:
    async with session.request(method, daemon.url + path, json=body, headers=daemon.headers) as response:
        data = await response.read()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data)


def deployment(name: str, replicas: int, image: str = "ghcr.io/aksmcp/aksmcp-server:0.1.0") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "mcp",
                            "image": image,
                            "args": ["--transport", "http"],
                            "env": [{"name": "AKSMCP_AUTH_MODE", "value": "none"}],
                            "ports": [{"containerPort": 8080, "name": "mcp"}],
                            "readinessProbe": {
                                "httpGet": {"path": "/readyz", "port": "mcp"},
                                "periodSeconds": 1,
                            },
                        }
                    ]
                },
            },
        },
    }


async def time_to_available(root: Path) -> dict[str, float]:
    with Daemon(root / "available", run_node=True) as daemon:
        async with aiohttp.ClientSession() as session:
            results = []
            for attempt in range(2):
                name = f"ref-{attempt}"
                started = time.perf_counter()
                await request(
                    session, daemon, "POST", "/apis/apps/v1/namespaces/default/deployments", deployment(name, 3)
                )
                while True:
                    deploy = await request(
                        session, daemon, "GET", f"/apis/apps/v1/namespaces/default/deployments/{name}"
                    )
                    conditions = {c["type"]: c for c in deploy.get("status", {}).get("conditions", [])}
                    if (
                        conditions.get("Available", {}).get("status") == "True"
                        and deploy["status"].get("availableReplicas") == 3
                    ):
                        break
                    if time.perf_counter() - started > 120:
                        raise RuntimeError(f"{name} not available after 120 s: {deploy.get('status')}")
                    await asyncio.sleep(0.05)
                results.append(time.perf_counter() - started)
                await request(session, daemon, "DELETE", f"/apis/apps/v1/namespaces/default/deployments/{name}")
    return {"first_s": results[0], "second_s": results[1]}


async def list_latency(root: Path, count: int, replicas: int) -> dict[str, Any]:
    namespaces = 20
    with Daemon(root / "lists", run_node=False) as daemon:
        connector = aiohttp.TCPConnector(limit=16)
        async with aiohttp.ClientSession(connector=connector) as session:
            for index in range(namespaces):
                body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{index}"}}
                await request(session, daemon, "POST", "/api/v1/namespaces", body)
            started = time.perf_counter()
            semaphore = asyncio.Semaphore(16)

            async def create(index: int) -> None:
                async with semaphore:
                    body = deployment(f"d-{index}", replicas, image="ghcr.io/aksmcp/aksmcp-server:0.1.0")
                    ns = f"team-{index % namespaces}"
                    await request(session, daemon, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments", body)

            await asyncio.gather(*(create(index) for index in range(count)))
            created = time.perf_counter() - started
            want = count * replicas
            while True:
                pods = await request(session, daemon, "GET", "/api/v1/pods?limit=1")
                total = len(pods["items"]) + int(pods["metadata"].get("remainingItemCount", 0))
                if total >= want:
                    break
                if time.perf_counter() - started > 600:
                    raise RuntimeError(f"only {total} of {want} pods after 600 s")
                await asyncio.sleep(0.2)
            populated = time.perf_counter() - started

            async def timed(path: str, runs: int = 7) -> dict[str, float]:
                samples = []
                size = 0
                for _ in range(runs):
                    begin = time.perf_counter()
                    async with session.get(daemon.url + path, headers=daemon.headers) as response:
                        data = await response.read()
                    samples.append(time.perf_counter() - begin)
                    size = len(data)
                return {"median_ms": statistics.median(samples) * 1000, "max_ms": max(samples) * 1000, "bytes": size}

            figures = {
                "deployments": count,
                "pods": want,
                "create_deployments_s": created,
                "controllers_populated_pods_s": populated,
                "list_all_deployments": await timed("/apis/apps/v1/deployments"),
                "list_all_pods": await timed("/api/v1/pods"),
                "list_pods_one_namespace": await timed("/api/v1/namespaces/team-3/pods"),
                "list_pods_label_selector": await timed("/api/v1/pods?labelSelector=app%3Dd-17"),
                "list_deployments_page_500": await timed("/apis/apps/v1/deployments?limit=500"),
            }
            figures["official_client_list_all_deployments_ms"] = await official_client_list(daemon)
            return figures


async def official_client_list(daemon: Daemon) -> float:
    """The same list through kubernetes.aio (includes the client's pydantic model building)."""
    from kubernetes.aio import client
    from kubernetes.aio.config import new_client_from_config

    api = await new_client_from_config(config_file=str(daemon.state_dir / "kubeconfig"))
    try:
        apps = client.AppsV1Api(api)
        samples = []
        for _ in range(3):
            begin = time.perf_counter()
            result = await apps.list_deployment_for_all_namespaces()
            samples.append(time.perf_counter() - begin)
            assert len(result.items) > 0
        return statistics.median(samples) * 1000
    finally:
        await api.close()


async def watch_fan_out(root: Path, watchers: int = 20, rounds: int = 10) -> dict[str, float]:
    with Daemon(root / "watch", run_node=False) as daemon:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=watchers + 4)) as session:
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "beacon"}, "data": {"n": "0"}}
            created = await request(session, daemon, "POST", "/api/v1/namespaces/default/configmaps", body)
            since = created["metadata"]["resourceVersion"]
            arrivals: list[list[float]] = [[] for _ in range(rounds)]
            complete = [asyncio.Event() for _ in range(rounds)]
            ready = asyncio.Event()
            connected = 0

            async def watcher() -> None:
                nonlocal connected
                path = f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={since}&timeoutSeconds=120"
                async with session.get(daemon.url + path, headers=daemon.headers) as response:
                    connected += 1
                    if connected == watchers:
                        ready.set()
                    async for line in response.content:
                        event = json.loads(line)
                        n = int(event["object"]["data"]["n"])
                        if 1 <= n <= rounds:
                            arrivals[n - 1].append(time.perf_counter())
                            if len(arrivals[n - 1]) == watchers:
                                complete[n - 1].set()
                        if n == rounds:
                            return

            tasks = [asyncio.create_task(watcher()) for _ in range(watchers)]
            await asyncio.wait_for(ready.wait(), 30)
            await asyncio.sleep(0.3)
            sent: list[float] = []
            for n in range(1, rounds + 1):
                sent.append(time.perf_counter())
                patch = {"data": {"n": str(n)}}
                async with session.patch(
                    daemon.url + "/api/v1/namespaces/default/configmaps/beacon",
                    json=patch,
                    headers={**daemon.headers, "Content-Type": "application/merge-patch+json"},
                ) as response:
                    await response.read()
                await asyncio.wait_for(complete[n - 1].wait(), 10)
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
            spreads = [(max(times) - start) * 1000 for times, start in zip(arrivals, sent, strict=True)]
            return {
                "watchers": watchers,
                "rounds": rounds,
                "median_ms": statistics.median(spreads),
                "max_ms": max(spreads),
            }


def print_table(results: dict[str, Any]) -> None:
    rows: list[tuple[str, str]] = []
    available = results.get("time_to_available")
    if available:
        rows.append(("3-replica reference server → Available (cold)", f"{available['first_s']:.2f} s"))
        rows.append(("3-replica reference server → Available (2nd)", f"{available['second_s']:.2f} s"))
    lists = results.get("list_latency")
    if lists:
        rows.append((f"create {lists['deployments']} deployments over HTTP", f"{lists['create_deployments_s']:.1f} s"))
        rows.append(
            (f"… until controllers made {lists['pods']} pods", f"{lists['controllers_populated_pods_s']:.1f} s")
        )
        for key in (
            "list_all_deployments",
            "list_all_pods",
            "list_pods_one_namespace",
            "list_pods_label_selector",
            "list_deployments_page_500",
        ):
            figure = lists[key]
            rows.append(
                (key.replace("_", " "), f"{figure['median_ms']:.1f} ms median ({figure['bytes'] / 1e6:.1f} MB)")
            )
        rows.append(
            ("kubernetes.aio list all deployments", f"{lists['official_client_list_all_deployments_ms']:.0f} ms")
        )
    fan = results.get("watch_fan_out")
    if fan:
        rows.append(
            (
                f"one change reaches {fan['watchers']} watchers",
                f"{fan['median_ms']:.1f} ms median, {fan['max_ms']:.1f} ms max",
            )
        )
    width = max(len(label) for label, _ in rows)
    print(f"{'measurement':<{width}}  result")
    print(f"{'-' * width}  {'-' * 30}")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deployments", type=int, default=2000)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--skip-available", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="aksmcp-bench-") as temporary:
        root = Path(temporary)
        if not args.skip_available:
            results["time_to_available"] = await time_to_available(root)
        results["list_latency"] = await list_latency(root, args.deployments, args.replicas)
        results["watch_fan_out"] = await watch_fan_out(root)
    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nsaved {RESULTS}")


if __name__ == "__main__":
    asyncio.run(main())
