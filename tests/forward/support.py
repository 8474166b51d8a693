"""Workloads for forward tests: the reference MCP server and a plain HTTP echo, created with the
one kube layer (KubeContext) against the sandbox."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aksmcp_tui.core.kube import KubeContext, KubeProblem
from aksmcp_tui.sandbox.node.testing import HTTP_SERVER

SERVER_IMAGE = "ghcr.io/aksmcp/aksmcp-server:0.1.0"
T = TypeVar("T")

# Answers every connection with its pod name, then echoes: lets tests see which pod served them.
ECHO_SERVER = """
import os, socket, threading
def serve(conn):
    with conn:
        conn.sendall(('pod=' + os.environ.get('HOSTNAME', '') + '\\n').encode())
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(os.environ['SANDBOX_PORT_7000']))); s.listen(64)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


async def eventually(check: Callable[[], Awaitable[T]], within: float = 60.0, what: str = "") -> T:
    """Poll `check` until it returns something truthy (condition wait with a deadline, no fixed sleep)."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await check()
        except (KubeProblem, OSError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


async def ensure_namespace(kube: KubeContext, name: str) -> None:
    try:
        await kube.request(
            "POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )
    except KubeProblem as exc:
        if exc.kind != "conflict":
            raise


def server_deployment(name: str, replicas: int = 2, *, grace: int = 10, pre_stop: int = 1) -> dict[str, Any]:
    labels = {"app": name, "app.kubernetes.io/component": "mcp-server"}
    container = {
        "name": "server",
        "image": SERVER_IMAGE,
        "ports": [{"name": "mcp", "containerPort": 8080}],
        "env": [{"name": "AKSMCP_GRACE_SECONDS", "value": str(max(grace - pre_stop - 1, 1))}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "mcp"}, "periodSeconds": 1, "failureThreshold": 1},
        "lifecycle": {"preStop": {"sleep": {"seconds": pre_stop}}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"terminationGracePeriodSeconds": grace, "containers": [container]},
            },
        },
    }


def echo_deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    container = {
        "name": "echo",
        "image": "example.com/echo:1",
        "command": [sys.executable, "-c", ECHO_SERVER],
        "ports": [{"name": "echo", "containerPort": 7000}, {"name": "web", "containerPort": 8080}],
        "readinessProbe": {"tcpSocket": {"port": 7000}, "periodSeconds": 1},
    }
    web = {
        "name": "web",
        "image": "example.com/web:1",
        "command": [sys.executable, "-c", HTTP_SERVER.replace("os.environ['PORT']", "os.environ['SANDBOX_PORT_8080']")],
        "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"terminationGracePeriodSeconds": 2, "containers": [container, web]},
            },
        },
    }


def service(name: str, ports: list[dict[str, Any]], selector: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": selector or {"app": name}, "ports": ports},
    }


async def create(kube: KubeContext, namespace: str, obj: dict[str, Any]) -> Any:
    kind = obj["kind"]
    path = {
        "Deployment": f"/apis/apps/v1/namespaces/{namespace}/deployments",
        "Service": f"/api/v1/namespaces/{namespace}/services",
        "Pod": f"/api/v1/namespaces/{namespace}/pods",
    }[kind]
    return await kube.request("POST", path, body=obj)


async def ready_pods(kube: KubeContext, namespace: str, selector: str) -> list[str]:
    pods = await kube.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector)
    names = []
    for pod in pods.get("items") or []:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        conditions = {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions") or []}
        if conditions.get("Ready") == "True":
            names.append(pod["metadata"]["name"])
    return sorted(names)


async def wait_ready(kube: KubeContext, namespace: str, selector: str, count: int, within: float = 90.0) -> list[str]:
    async def check() -> list[str]:
        names = await ready_pods(kube, namespace, selector)
        return names if len(names) >= count else []

    return await eventually(check, within, f"{count} ready pods for {selector}")


async def delete_pod(kube: KubeContext, namespace: str, name: str, grace: int | None = None) -> None:
    query = {"gracePeriodSeconds": grace} if grace is not None else None
    await kube.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}", query=query)


async def rollout_restart(kube: KubeContext, namespace: str, name: str) -> None:
    """What `kubectl rollout restart` sends: a template annotation with the time."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + f"-{time.monotonic_ns()}"
    patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
    await kube.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
        body=patch,
        content_type="application/strategic-merge-patch+json",
    )


async def rollout_done(kube: KubeContext, namespace: str, name: str) -> bool:
    d = await kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    spec, status = d.get("spec") or {}, d.get("status") or {}
    want = spec.get("replicas", 1)
    return bool(
        status.get("observedGeneration") == d["metadata"].get("generation")
        and status.get("updatedReplicas") == want
        and status.get("availableReplicas") == want
        and status.get("replicas") == want
    )
