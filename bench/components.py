"""Production-components benchmark: prints a table and saves bench/results/components.json.

1. Each generator (`aksmcp auth|tls|monitor|scale|ci ...`) on a fresh `aksmcp init` project, in-process:
   first run (writes) and second run (idempotent: nothing to change).
2. Rendering every combination of components (36): `kubectl kustomize` vs aksmcp's own renderer.
3. `aksmcp auth rotate` on the sandbox under load: a 2-replica deployment (API key + TLS + monitoring,
   deployed with `aksmcp deploy`) keeps receiving tools/call with the old key from a client that picks a
   ready pod per call (as a Service would) while the key rotates and the pods roll; then `--finish`.
   Figures: rotation time, calls served, failed calls, call latency percentiles.

    .venv/bin/python bench/components.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results" / "components.json"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "11111111-2222-3333-4444-555555555555"
GENERATORS = {
    "auth enable --api-key": ["auth", "enable", "--api-key"],
    "auth enable --entra": ["auth", "enable", "--entra", "--tenant", TENANT, "--client-id", CLIENT],
    "tls enable": ["tls", "enable", "--host", "mcp.contoso.com", "--issuer", "letsencrypt-prod"],
    "monitor setup": ["monitor", "setup"],
    "scale configure --cpu": ["scale", "configure", "--min", "2", "--max", "8", "--cpu", "70"],
    "scale configure --rps-per-pod": ["scale", "configure", "--min", "2", "--max", "8", "--rps-per-pod", "20"],
    "ci generate github": ["ci", "generate", "github", "--registry", "myacr01.azurecr.io", "--repo", "c/w"],
}


def _quiet(args: list[str]) -> int:
    from aksmcp_tui.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(args)


def bench_generators(work: Path, repeat: int) -> dict[str, dict[str, float]]:
    from aksmcp_tui.core.deploy.scaffold import init_project

    figures = {}
    for label, args in GENERATORS.items():
        first, second = [], []
        for i in range(repeat):
            root = work / f"gen-{len(figures)}-{i}"
            init_project("weather", directory=root, namespace="tools", registry="myacr01.azurecr.io")
            for times in (first, second):
                started = time.perf_counter()
                assert _quiet([*args, "--project", str(root)]) == 0
                times.append((time.perf_counter() - started) * 1000)
        figures[label] = {"first_ms": statistics.median(first), "again_ms": statistics.median(second)}
    return figures


def bench_render(work: Path) -> dict[str, float]:
    from aksmcp_tui.core.manifests import render_kustomization
    from tests.components.test_render import COMBINATIONS, _build

    kubectl, ours = [], []
    for index, combination in enumerate(COMBINATIONS):
        root = _build(work / f"combo-{index}", *combination, name="weather", namespace="tools")
        started = time.perf_counter()
        subprocess.run(["kubectl", "kustomize", str(root / "manifests")], check=True, capture_output=True)
        kubectl.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        render_kustomization(root / "manifests")
        ours.append((time.perf_counter() - started) * 1000)
    return {
        "combinations": len(COMBINATIONS),
        "kubectl_kustomize_median_ms": statistics.median(kubectl),
        "aksmcp_renderer_median_ms": statistics.median(ours),
        "kubectl_kustomize_total_s": sum(kubectl) / 1000,
        "aksmcp_renderer_total_s": sum(ours) / 1000,
    }


async def _rotation(work: Path) -> dict[str, Any]:
    import httpx2

    from aksmcp_tui.core import components
    from aksmcp_tui.core.kube import KubeContext
    from aksmcp_tui.sandbox.testing import ThreadedSandbox
    from tests.components.support import crd_manifests
    from tests.components.test_render import _build

    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "system_info",
            "arguments": {},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }
    headers = {
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "system_info",
    }
    with ThreadedSandbox(work / "sandbox", bookmark_interval=0.5) as sandbox:
        kubeconfig = str(sandbox.kubeconfig_path)
        async with await KubeContext.open(kubeconfig=kubeconfig) as kube:
            for crd in crd_manifests():
                await kube.request(
                    "PATCH",
                    f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}",
                    query={"fieldManager": "bench", "force": "true"},
                    body=crd,
                    content_type="application/apply-patch+yaml",
                )
            root = _build(work / "rotate", "apikey", True, True, None, namespace="tools")
            deploy = ["deploy", str(root), "--kubeconfig", kubeconfig, "--image", "ghcr.io/aksmcp/aksmcp-server:0.1.0"]
            started = time.perf_counter()
            code = await asyncio.to_thread(_quiet, [*deploy, "--yes"])
            deploy_s = time.perf_counter() - started
            assert code == 0, "aksmcp deploy failed"
            secret = await kube.get("/api/v1/namespaces/tools/secrets/weather-api-key")
            old_key = base64.b64decode(secret["data"]["api-key"]).decode()

            async def ready_ports() -> list[int]:
                pods = await kube.get("/api/v1/namespaces/tools/pods", labelSelector="app.kubernetes.io/name=weather")
                ports = []
                for pod in pods["items"]:
                    ready = any(
                        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or []
                    )
                    port = (pod["metadata"].get("annotations") or {}).get("sandbox.aksmcp.dev/port-8080")
                    if ready and port and not pod["metadata"].get("deletionTimestamp"):
                        ports.append(int(port))
                return sorted(ports)

            latencies: list[float] = []
            failures = 0
            statuses: dict[int, int] = {}
            stop = asyncio.Event()

            async def load(http: Any) -> None:
                nonlocal failures
                for n in itertools.count():
                    if stop.is_set():
                        return
                    ports = await ready_ports()
                    t0 = time.perf_counter()
                    response = await http.post(
                        f"http://127.0.0.1:{ports[n % len(ports)]}/mcp",
                        json=call,
                        headers={**headers, "x-api-key": old_key},
                    )
                    latencies.append((time.perf_counter() - t0) * 1000)
                    failures += response.status_code != 200
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

            async with httpx2.AsyncClient(timeout=30) as http:
                task = asyncio.create_task(load(http))
                started = time.perf_counter()
                steps = [s async for s in components.rotate_api_key(kube, "tools", "weather", within=300)]
                rotate_s = time.perf_counter() - started
                stop.set()
                await task
                assert steps[-1].status == "done", steps[-1]
                started = time.perf_counter()
                finish = [s async for s in components.rotate_api_key(kube, "tools", "weather", finish=True)]
                finish_s = time.perf_counter() - started
                assert finish[-1].status == "done", finish[-1]
    ordered = sorted(latencies)
    return {
        "deploy_s": deploy_s,
        "rotate_s": rotate_s,
        "finish_s": finish_s,
        "calls_during_rotation": len(latencies),
        "failed_calls": failures,
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
        "call_p50_ms": ordered[len(ordered) // 2],
        "call_p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per generator (median)")
    args = parser.parse_args()
    if shutil.which("kubectl") is None:
        print("kubectl is needed for the render comparison", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="aksmcp-bench-components-") as tmp:
        work = Path(tmp)
        generators = bench_generators(work, args.repeat)
        render = bench_render(work)
        rotation = asyncio.run(_rotation(work))
    print(f"{'generator':34} {'first run':>10} {'again (no-op)':>14}")
    for label, figures in generators.items():
        print(f"{label:34} {figures['first_ms']:8.1f} ms {figures['again_ms']:11.1f} ms")
    print()
    print(
        f"render {render['combinations']} combinations: "
        f"kubectl kustomize median {render['kubectl_kustomize_median_ms']:.1f} ms "
        f"(total {render['kubectl_kustomize_total_s']:.2f} s), aksmcp renderer median "
        f"{render['aksmcp_renderer_median_ms']:.1f} ms (total {render['aksmcp_renderer_total_s']:.2f} s)"
    )
    print()
    print(f"aksmcp deploy (API key + TLS + monitoring, 2 replicas): {rotation['deploy_s']:.1f} s")
    print(
        f"auth rotate under load: {rotation['rotate_s']:.1f} s, {rotation['calls_during_rotation']} calls, "
        f"{rotation['failed_calls']} failed (HTTP statuses {rotation['statuses']}), "
        f"p50 {rotation['call_p50_ms']:.1f} ms, p99 {rotation['call_p99_ms']:.1f} ms"
    )
    print(f"auth rotate --finish: {rotation['finish_s']:.1f} s")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"generators": generators, "render": render, "rotation": rotation}, indent=2) + "\n")
    print(f"\nsaved {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
