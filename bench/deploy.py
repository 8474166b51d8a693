"""Benchmark: `aksmcp deploy` to the sandbox. Prints a table and saves bench/results/deploy.json.

    .venv/bin/python bench/deploy.py [--runs 3] [--no-docker]

Figures (goal from issue 12: init → first tool call under 60 s with a warm Docker cache):
- a deploy of the reference server (--image, pods as local processes): wall time of each step
  (render, apply, rollout to Available, smoke test) and in total, median over runs, each run a new
  namespace;
- a re-deploy of unchanged input (nothing changes in the cluster): the same steps;
- with a Docker engine and Debian's docker-registry: `aksmcp init` → build → push → deploy with the
  sandbox running the pushed image as a container → the first successful `tools/call` (the example
  tool) through a forward; the Docker cache is warmed by one deploy first (the base image and the
  dependency wheels are local: nothing is pulled).
The sandbox runs on its own thread in this process. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "deploy.json"
sys.path.insert(0, str(ROOT))

REFERENCE_IMAGE = "ghcr.io/aksmcp/aksmcp-server:0.1.0"
STEPS = ("build", "push", "render", "apply", "rollout", "smoke test")
GOALS = {"init_to_first_tool_call_s": 60.0}
RUNTIME_PATCH = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: aksmcp-server, namespace: mcp-system}\n"
    "spec:\n  template:\n    metadata:\n      annotations: {sandbox.aksmcp.dev/runtime: docker}\n"
)


async def timed_deploy(options: Any) -> tuple[bool, dict[str, float], str]:
    """Run one flow; (ok, seconds per step and "total", last summary)."""
    from aksmcp_tui.core.deploy import events as ev
    from aksmcp_tui.core.deploy.flow import DeployFlow

    started: dict[str, float] = {}
    took: dict[str, float] = {}
    begin = time.perf_counter()
    summary = ""
    ok = False
    async for event in DeployFlow(options).run():
        now = time.perf_counter()
        if isinstance(event, ev.StepStarted):
            started.setdefault(event.step, now)
        elif isinstance(event, ev.StepDone | ev.StepFailed) and event.step in started:
            took[event.step] = now - started[event.step]
        elif isinstance(event, ev.Finished):
            ok, summary = event.ok, event.summary
    took["total"] = time.perf_counter() - begin
    return ok, took, summary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_registry(root: Path) -> tuple[subprocess.Popen[bytes] | None, str | None]:
    if os.environ.get("AKSMCP_TEST_REGISTRY"):
        return None, os.environ["AKSMCP_TEST_REGISTRY"]
    binary = shutil.which("docker-registry")
    if binary is None:
        return None, None
    port = _free_port()
    root.mkdir(parents=True, exist_ok=True)
    (root / "registry.yml").write_text(
        f"version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {root / 'data'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
    )
    process = subprocess.Popen(
        [binary, "serve", str(root / "registry.yml")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            return process, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.25)
    process.terminate()
    return None, None


async def first_tool_call(kubeconfig: Path, namespace: str, name: str) -> float:
    """Seconds until `greet` answers through a forward (the deploy's smoke test did tools/list)."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    from aksmcp_tui.core.deploy.smoke import read_api_key
    from aksmcp_tui.core.forward import open_tunnel
    from aksmcp_tui.core.kube import KubeContext

    begin = time.perf_counter()
    kube = await KubeContext.open("aksmcp-sandbox", str(kubeconfig))
    try:
        key = await read_api_key(kube, namespace, f"{name}-api-key")
        async with open_tunnel(kube, namespace, f"deploy/{name}", "mcp") as tunnel:
            await tunnel.wait_ready(30)
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http,
                Client(streamable_http_client(tunnel.mcp_url, http_client=http)) as client,
            ):
                result = await client.call_tool("greet", {"name": "bench"})
                assert not result.is_error, result
    finally:
        await kube.close()
    return time.perf_counter() - begin


def docker_ready() -> bool:
    try:
        import docker

        docker.from_env(timeout=10).ping()
        return True
    except Exception:
        return False


def provide_base_image() -> bool:
    script = ROOT / "tests" / "docker_support" / "build_python_base.py"
    return subprocess.run([sys.executable, str(script)], capture_output=True, timeout=1500).returncode == 0


def wheels_for(project: Path, *, no_deps: bool = False) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            *(["--no-deps"] if no_deps else []),
            str(project),
            "--wheel-dir",
            str(project / "wheels"),
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )


async def bench_docker(kubeconfig: Path, work: Path, registry: str) -> dict[str, Any]:
    from aksmcp_tui.core.deploy.flow import DeployOptions
    from aksmcp_tui.core.deploy.scaffold import init_project

    def init(name: str) -> Path:
        project = init_project(name, directory=work / name, namespace=f"bench-{name}").path
        (project / "manifests" / f"{name}-runtime.yaml").write_text(RUNTIME_PATCH)
        kfile = project / "manifests" / "kustomization.yaml"
        kfile.write_text(kfile.read_text() + f"patches:\n- path: {name}-runtime.yaml\n")
        return project

    warm = init("warm-up")
    wheels_for(warm)
    ok, warm_steps, summary = await timed_deploy(
        DeployOptions(path=warm, kubeconfig=str(kubeconfig), registry=registry, replicas=1)
    )
    if not ok:
        return {"error": f"warm-up deploy failed: {summary}"}
    # Timed: init → deploy (build, push, apply, rollout, smoke) → first tools/call. The wheels are the
    # same dependencies as the warm-up's (copied: a real user's pip cache plays this part).
    begin = time.perf_counter()
    project = init("first-call")
    shutil.copytree(warm / "wheels", project / "wheels")
    for stale in (project / "wheels").glob("aksmcp_server-*.whl"):
        stale.unlink()
    wheels_for(project, no_deps=True)  # only the project's own wheel is built; the rest are there
    ok, steps, summary = await timed_deploy(
        DeployOptions(path=project, kubeconfig=str(kubeconfig), registry=registry, replicas=1)
    )
    if not ok:
        return {"error": f"deploy failed: {summary}"}
    call = await first_tool_call(kubeconfig, "bench-first-call", "first-call")
    total = time.perf_counter() - begin
    return {
        "warm_up_steps_s": warm_steps,
        "steps_s": steps,
        "first_tool_call_s": call,
        "init_to_first_tool_call_s": total,
    }


async def bench(runs: int, use_docker: bool) -> dict[str, Any]:
    from aksmcp_tui.core.deploy.flow import DeployOptions
    from aksmcp_tui.core.deploy.scaffold import init_project
    from aksmcp_tui.sandbox.testing import ThreadedSandbox

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="aksmcp-bench-deploy-") as tmp:
        work = Path(tmp)
        for var in ("HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"):
            (work / var).mkdir(mode=0o700)
            os.environ[var] = str(work / var)
        with ThreadedSandbox(work / "sandbox", bookmark_interval=0.5) as sandbox:
            kubeconfig = sandbox.kubeconfig_path
            first: list[dict[str, float]] = []
            again: list[dict[str, float]] = []
            for run in range(runs):
                project = init_project(f"ref-{run}", directory=work / f"ref-{run}", namespace=f"bench-ref-{run}").path
                options = DeployOptions(path=project, kubeconfig=str(kubeconfig), image=REFERENCE_IMAGE, replicas=1)
                ok, took, summary = await timed_deploy(options)
                if not ok:
                    raise SystemExit(f"deploy failed: {summary}")
                first.append(took)
                ok, took, summary = await timed_deploy(options)
                if not ok:
                    raise SystemExit(f"re-deploy failed: {summary}")
                again.append(took)
            keys = ("render", "apply", "rollout", "smoke test", "total")
            results["reference_deploy_s"] = {k: statistics.median(r[k] for r in first) for k in keys}
            results["unchanged_redeploy_s"] = {k: statistics.median(r[k] for r in again) for k in keys}
            if use_docker and docker_ready() and provide_base_image():
                process, registry = start_registry(work / "registry")
                if registry is None:
                    results["docker"] = {"skipped": "no docker-registry"}
                else:
                    try:
                        results["docker"] = await bench_docker(kubeconfig, work, registry)
                    finally:
                        if process is not None:
                            process.terminate()
                            process.wait(10)
            else:
                results["docker"] = {"skipped": "no Docker engine (or base image) here"}
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-docker", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(bench(args.runs, not args.no_docker))
    print(f"aksmcp deploy to the sandbox ({args.runs} runs, median seconds)")
    print(f"{'step':<12} {'deploy':>8} {'re-deploy':>10}")
    for step in ("render", "apply", "rollout", "smoke test", "total"):
        print(f"{step:<12} {results['reference_deploy_s'][step]:>8.2f} {results['unchanged_redeploy_s'][step]:>10.2f}")
    docker = results["docker"]
    if "init_to_first_tool_call_s" in docker:
        print("init → build → push → deploy (container) → first tools/call, warm Docker cache:")
        for step, seconds in docker["steps_s"].items():
            print(f"  {step:<12} {seconds:>8.2f}")
        print(f"  first tools/call through a forward {docker['first_tool_call_s']:.2f}")
        goal = GOALS["init_to_first_tool_call_s"]
        print(f"  init → first tool call {docker['init_to_first_tool_call_s']:.2f} s (goal < {goal:.0f} s)")
    else:
        print(f"docker path: {docker}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": "deploy",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "runs": args.runs,
        "goals": GOALS,
        "results": results,
    }
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"saved {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
