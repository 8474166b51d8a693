"""The node inside a real SandboxCluster, driven with the official kubernetes client through the
kubeconfig (TLS + bearer token): the reference server image, port-forward to /healthz, logs,
an external kill and a crash loop."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.stream import portforward

from aksmcp_tui.sandbox import SandboxCluster
from aksmcp_tui.sandbox.node.testing import pid_alive, wait_for

pytestmark = pytest.mark.timeout(150)

REPO = Path(__file__).resolve().parents[2]
SERVER_IMAGE = "ghcr.io/aksmcp/aksmcp-server:0.1.0"


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Crash back-off of 0.2 s doubling to 2 s instead of 10 s to 5 min (read when the node starts)."""
    monkeypatch.setenv("AKSMCP_SANDBOX_BACKOFF_BASE", "0.2")
    monkeypatch.setenv("AKSMCP_SANDBOX_BACKOFF_MAX", "2")


@pytest.fixture
async def cluster(fast_backoff: None, sandbox: SandboxCluster) -> AsyncIterator[SandboxCluster]:
    """The shared `sandbox` fixture, started after fast_backoff; checks that no pod process outlives it."""
    assert sandbox.node.backoff_base == 0.2
    pids: list[int] = []
    try:
        yield sandbox
    finally:
        pids = sandbox.node.pids()
        await sandbox.stop()
    for pid in pids:
        await wait_for(lambda pid=pid: not pid_alive(pid), within=10, what=f"pod process {pid} gone after teardown")


def core_api(sb: SandboxCluster) -> client.CoreV1Api:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(sb.kubeconfig_path), client_configuration=configuration)
    return client.CoreV1Api(client.ApiClient(configuration))


async def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """The sync client blocks: run it off the event loop that serves the cluster."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def wait_pod(core: client.CoreV1Api, name: str, ns: str, check: Any, within: float = 60) -> Any:
    async def probe() -> Any:
        pod = await call(core.read_namespaced_pod, name, ns)
        return pod if check(pod) else None

    return await wait_for(probe, within=within, interval=0.2, what=f"pod {ns}/{name}")


def ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def http_get(pf: Any, port: int, path: str, headers: str = "") -> bytes:
    sock = pf.socket(port)
    sock.setblocking(True)
    sock.settimeout(30)
    sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n{headers}\r\n".encode())
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


async def test_reference_server_image_serves_healthz_through_port_forward(cluster: SandboxCluster) -> None:
    core = core_api(cluster)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "server", "namespace": "default"},
        "spec": {
            "containers": [
                {
                    "name": "server",
                    "image": SERVER_IMAGE,
                    "ports": [{"containerPort": 8080, "name": "mcp"}],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "mcp"}, "periodSeconds": 1},
                }
            ]
        },
    }
    await call(core.create_namespaced_pod, "default", pod)
    await wait_pod(core, "server", "default", ready)

    def forward() -> bytes:
        pf = portforward(core.connect_get_namespaced_pod_portforward, "server", "default", ports="8080")
        return http_get(pf, 8080, "/healthz")

    response = await call(forward)
    assert response.startswith(b"HTTP/1.1 200") or response.startswith(b"HTTP/1.0 200"), response[:200]
    logs = await call(core.read_namespaced_pod_log, "server", "default")
    assert logs.strip(), "the server wrote nothing to its log"


async def test_base_manifest_pod_template_runs_with_secret_file_and_workspace(cluster: SandboxCluster) -> None:
    """The Deployment's own pod template (envFrom ConfigMap, API key Secret mounted as a file, emptyDir
    workspace, startup/readiness/liveness probes, preStop sleep) runs the real server."""
    core = core_api(cluster)
    docs = {
        d["kind"]: d
        for f in ("namespace.yaml", "configmap.yaml", "deployment.yaml")
        for d in yaml.safe_load_all((REPO / "manifests" / "base" / f).read_text())
        if d
    }
    await call(core.create_namespace, docs["Namespace"])
    await call(core.create_namespaced_config_map, "mcp-system", docs["ConfigMap"])
    key = secrets.token_urlsafe(24)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "aksmcp-server-api-key", "namespace": "mcp-system"},
        "data": {
            "api-key": base64.b64encode(key.encode()).decode(),
            "state-key": base64.b64encode(secrets.token_bytes(32)).decode(),
        },
    }
    await call(core.create_namespaced_secret, "mcp-system", secret)
    template = docs["Deployment"]["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {**template["metadata"], "name": "from-template"}}
    pod["spec"] = template["spec"]
    await call(core.create_namespaced_pod, "mcp-system", pod)
    await wait_pod(core, "from-template", "mcp-system", ready, within=90)

    def forward() -> tuple[bytes, bytes, bytes]:
        results = []
        for path, headers in (("/healthz", ""), ("/mcp", ""), ("/mcp", f"Authorization: Bearer {key}\r\n")):
            pf = portforward(core.connect_get_namespaced_pod_portforward, "from-template", "mcp-system", ports="8080")
            results.append(http_get(pf, 8080, path, headers))
        return results[0], results[1], results[2]

    healthz, anonymous, with_key = await call(forward)
    assert b" 200 " in healthz.split(b"\r\n", 1)[0]
    assert b" 401 " in anonymous.split(b"\r\n", 1)[0], anonymous[:300]
    assert b" 401 " not in with_key.split(b"\r\n", 1)[0], with_key[:300]


async def test_killed_process_restarts_and_crash_loop_backs_off(cluster: SandboxCluster) -> None:
    core = core_api(cluster)
    sleeper = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "sleeper", "namespace": "default"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "sandbox.test/sleep:1",
                    "command": [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"],
                }
            ]
        },
    }
    crasher = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "crasher", "namespace": "default"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "sandbox.test/crash:1",
                    "command": [sys.executable, "-c", "print('bye'); raise SystemExit(1)"],
                }
            ]
        },
    }
    await call(core.create_namespaced_pod, "default", sleeper)
    await call(core.create_namespaced_pod, "default", crasher)
    running = await wait_pod(core, "sleeper", "default", lambda p: ready(p))
    pid = int(running.metadata.annotations["sandbox.aksmcp.dev/pid-c"])
    os.kill(pid, signal.SIGKILL)
    restarted = await wait_pod(
        core, "sleeper", "default", lambda p: p.status.container_statuses[0].restart_count == 1 and ready(p)
    )
    assert restarted.status.container_statuses[0].last_state.terminated.exit_code == 137

    def crash_looping(p: Any) -> bool:
        status = p.status.container_statuses[0]
        return bool(
            status.state.waiting and status.state.waiting.reason == "CrashLoopBackOff" and status.restart_count >= 2
        )

    crashed = await wait_pod(core, "crasher", "default", crash_looping)
    assert crashed.status.container_statuses[0].last_state.terminated.exit_code == 1
    assert await call(core.read_namespaced_pod_log, "crasher", "default", previous=True) == "bye\n"
    events = await call(core.list_namespaced_event, "default", field_selector="involvedObject.name=crasher")
    assert "BackOff" in {e.reason for e in events.items}

    await call(core.delete_namespaced_pod, "sleeper", "default")
    await wait_for(lambda: not pid_alive(pid), within=10)

    async def deleted() -> bool:
        pods = await call(core.list_namespaced_pod, "default")
        return "sleeper" not in {p.metadata.name for p in pods.items}

    await wait_for(deleted, within=40, what="sleeper removed")
