"""Helpers for the observe tests: a cuttable TCP proxy in front of the sandbox, namespaces, pods."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import yaml

from aksmcp_tui.core.kube import KubeContext, KubeProblem

_names = itertools.count()


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 whose live connections can be cut at will (a dropped stream),
    while new connections keep working (the resume must get through)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._writers.difference_update((writer, up_writer))

    def cut(self) -> None:
        """Drop every open connection (abort: no FIN handshake niceties)."""
        self.cuts += 1
        for writer in list(self._writers):
            transport = writer.transport
            transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()


def kubeconfig_via(kubeconfig: Path, port: int, out: Path) -> Path:
    """A copy of the sandbox kubeconfig whose server is the proxy (same CA, same 127.0.0.1 cert)."""
    data = yaml.safe_load(kubeconfig.read_text())
    for cluster in data["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    out.write_text(yaml.safe_dump(data))
    out.chmod(0o600)
    return out


def https_port(kubeconfig: Path) -> int:
    data = yaml.safe_load(kubeconfig.read_text())
    return int(data["clusters"][0]["cluster"]["server"].rsplit(":", 1)[1])


async def new_namespace(kube: KubeContext, prefix: str = "obs") -> str:
    name = f"{prefix}-{next(_names)}-{id(kube) % 10000}"
    await kube.request(
        "POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    return name


def deployment_of(name: str, container: dict[str, Any], replicas: int, *, grace: int) -> dict[str, Any]:
    """A Deployment of one container, selecting app=NAME."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": grace},
            },
        },
    }


def mcp_listed(obj: dict[str, Any]) -> dict[str, Any]:
    """The same Deployment with the label that makes the dashboard list it as an MCP server."""
    name = obj["metadata"]["name"]
    labels = {"app": name, "app.kubernetes.io/component": "mcp-server"}
    obj["metadata"]["labels"] = labels
    obj["spec"]["template"]["metadata"]["labels"] = labels
    return obj


def python_deployment(name: str, code: str, *, replicas: int = 1, env: dict[str, str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "app",
        "image": "sandbox.test/python:1",
        "command": [sys.executable, "-u", "-c", code],
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
    }
    return deployment_of(name, container, replicas, grace=2)


async def create(kube: KubeContext, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
    group = "/apis/apps/v1" if obj["apiVersion"] == "apps/v1" else "/api/v1"
    plural = obj["kind"].lower() + "s"
    result: dict[str, Any] = await kube.request("POST", f"{group}/namespaces/{namespace}/{plural}", body=obj)
    return result


async def wait_until(check: Callable[[], Any], *, within: float = 30.0, what: str = "") -> Any:
    """Poll an (async or sync) condition until it is truthy; fail with `what` after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)


async def running_pods(kube: KubeContext, namespace: str, app: str) -> list[str]:
    listing = await kube.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=f"app={app}")
    names = []
    for pod in listing.get("items") or []:
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        if statuses and all((s.get("state") or {}).get("running") for s in statuses):
            names.append(pod["metadata"]["name"])
    return sorted(names)


@contextlib.asynccontextmanager
async def opened(kubeconfig: Path) -> AsyncIterator[KubeContext]:
    kube = await KubeContext.open("aksmcp-sandbox", str(kubeconfig))
    try:
        yield kube
    finally:
        await kube.close()


__all__ = ["CuttableProxy", "KubeProblem", "create", "kubeconfig_via", "new_namespace", "opened", "wait_until"]


def server_deployment(name: str, workspace: Path, *, replicas: int = 1) -> dict[str, Any]:
    """The reference aksmcp-server (the sandbox runs it from source), test tools on, port named mcp."""
    env = {"AKSMCP_ENABLE_TEST_TOOLS": "true", "AKSMCP_WORKSPACE": str(workspace), "AKSMCP_GRACE_SECONDS": "1"}
    container: dict[str, Any] = {
        "name": "server",
        "image": "ghcr.io/aksmcp/aksmcp-server:0.1.0",
        "ports": [{"name": "mcp", "containerPort": 8080}],
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 1},
    }
    return deployment_of(name, container, replicas, grace=3)


SANDBOX_PORT_ANNOTATION = "sandbox.aksmcp.dev/port-"


async def ready_pods(kube: KubeContext, namespace: str, app: str) -> list[dict[str, Any]]:
    listing = await kube.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=f"app={app}")
    ready = []
    for pod in listing.get("items") or []:
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        conditions = (pod.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            ready.append(pod)
    return sorted(ready, key=lambda p: p["metadata"]["name"])


async def pod_url(kube: KubeContext, namespace: str, pod: str, port: int = 8080) -> str:
    """Where the sandbox node mapped a pod's container port on 127.0.0.1 (its own annotation)."""
    obj = await kube.get(f"/api/v1/namespaces/{namespace}/pods/{pod}")
    return f"http://127.0.0.1:{obj['metadata']['annotations'][SANDBOX_PORT_ANNOTATION + str(port)]}"


def sandbox_opener(kube: KubeContext, namespace: str) -> Any:
    """Reaches a pod's metrics port directly (the sandbox maps it to loopback), for the parts of the
    metrics tests that are about counting, not about the tunnel."""

    @contextlib.asynccontextmanager
    async def open_pod(pod: str) -> AsyncIterator[str]:
        yield await pod_url(kube, namespace, pod)

    return open_pod
