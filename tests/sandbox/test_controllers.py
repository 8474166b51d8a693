"""Deployment, ReplicaSet and Endpoints controllers with real pod processes, watched through the
official `kubernetes.aio` client."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from kubernetes.aio import client, watch

from aksmcp_tui.sandbox.cluster import SandboxCluster

pytestmark = pytest.mark.timeout(120)

SERVER = (
    "import http.server, os\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers()\n"
    "        self.wfile.write(b'ok')\n"
    "    def log_message(self, *a): pass\n"
    "print('serving', flush=True)\n"
    "http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\n"
)


def web_deployment(name: str, replicas: int, version: str = "1", ready: bool = True, **strategy: Any) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "web",
        "image": "python:3",
        "command": [sys.executable, "-c", SERVER],
        "env": [{"name": "VERSION", "value": version}],
        "ports": [{"containerPort": 8080, "name": "http"}],
        "readinessProbe": {
            "httpGet": {"path": "/", "port": 8080 if ready else 9},
            "periodSeconds": 1,
            "initialDelaySeconds": 0,
        },
    }
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"terminationGracePeriodSeconds": 2, "containers": [container]},
        },
    }
    if strategy:
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": strategy}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: last={last!r}")


def condition(deploy: Any, kind: str) -> Any:
    return next((c for c in deploy.status.conditions or [] if c.type == kind), None)


async def available(apps: client.AppsV1Api, name: str, replicas: int) -> Any:
    deploy = await apps.read_namespaced_deployment(name, "default")
    status = deploy.status
    ok = (
        status.observed_generation == deploy.metadata.generation
        and status.updated_replicas == replicas
        and status.available_replicas == replicas
        and (status.replicas or 0) == replicas
        and condition(deploy, "Available") is not None
        and condition(deploy, "Available").status == "True"
        and condition(deploy, "Progressing").reason == "NewReplicaSetAvailable"
    )
    return deploy if ok else None


async def test_rollout_scale_and_template_change(sandbox: SandboxCluster, sandbox_api: Any) -> None:
    apps = client.AppsV1Api(sandbox_api)
    core = client.CoreV1Api(sandbox_api)
    await apps.create_namespaced_deployment("default", web_deployment("web", 2, maxSurge=1, maxUnavailable=0))
    first = await eventually(lambda: available(apps, "web", 2), what="web available")
    assert condition(first, "Progressing").status == "True"
    replica_sets = (await apps.list_namespaced_replica_set("default", label_selector="app=web")).items
    assert len(replica_sets) == 1
    rs = replica_sets[0]
    hash_label = rs.metadata.labels["pod-template-hash"]
    assert rs.metadata.name == f"web-{hash_label}"
    assert rs.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    assert rs.metadata.owner_references[0].kind == "Deployment"

    # scale up then down
    await apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 3}})
    await eventually(lambda: available(apps, "web", 3), what="scaled to 3")
    await apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 1}})
    await eventually(lambda: available(apps, "web", 1), what="scaled to 1")
    await apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 2}})
    await eventually(lambda: available(apps, "web", 2), what="scaled back to 2")

    # a template change rolls out a new ReplicaSet, never exceeding replicas + maxSurge pods
    # nor dropping below replicas - maxUnavailable available ones
    peak = 0
    lowest_available = 99

    async def observe() -> None:
        nonlocal peak, lowest_available
        async for event in watch.Watch().stream(apps.list_namespaced_deployment, "default", timeout_seconds=60):
            status = event["object"].status
            if status is None:
                continue
            peak = max(peak, status.replicas or 0)
            lowest_available = min(lowest_available, status.available_replicas or 0)

    observer = asyncio.create_task(observe())
    await asyncio.sleep(0.2)
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "VERSION", "value": "2"}]}]}}}
    }
    patched = await apps.patch_namespaced_deployment("web", "default", patch)
    assert patched.metadata.generation > first.metadata.generation
    rolled = await eventually(lambda: available(apps, "web", 2), what="rollout of version 2")
    observer.cancel()
    assert peak <= 3 and lowest_available >= 2
    replica_sets = (await apps.list_namespaced_replica_set("default", label_selector="app=web")).items
    by_revision = {rs.metadata.annotations["deployment.kubernetes.io/revision"]: rs for rs in replica_sets}
    assert set(by_revision) == {"1", "2"}
    assert by_revision["1"].spec.replicas == 0 and by_revision["2"].spec.replicas == 2
    assert rolled.status.observed_generation == rolled.metadata.generation
    pods = (await core.list_namespaced_pod("default", label_selector="app=web")).items
    live = [pod for pod in pods if pod.metadata.deletion_timestamp is None]
    assert {env.value for pod in live for env in pod.spec.containers[0].env} == {"2"}
    events = (await core.list_namespaced_event("default", field_selector="involvedObject.name=web")).items
    messages = [event.message for event in events if event.reason == "ScalingReplicaSet"]
    assert any("Scaled up replica set" in message for message in messages)
    assert any("Scaled down replica set" in message for message in messages)

    # Service endpoints list the ready pods
    await core.create_namespaced_service(
        "default",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]},
        },
    )

    async def endpoint_pods() -> set[str]:
        endpoints = await core.read_namespaced_endpoints("web", "default")
        subsets = endpoints.subsets or []
        names = {a.target_ref.name for s in subsets for a in s.addresses or []}
        return names if len(names) == 2 and subsets[0].ports[0].port == 8080 else set()

    assert await eventually(endpoint_pods, what="endpoints") == {pod.metadata.name for pod in live}
    slices = await client.DiscoveryV1Api(sandbox_api).list_namespaced_endpoint_slice(
        "default", label_selector="kubernetes.io/service-name=web"
    )
    (endpoint_slice,) = slices.items
    assert {e.target_ref.name for e in endpoint_slice.endpoints if e.conditions.ready} == {
        p.metadata.name for p in live
    }


async def test_deleted_pod_is_replaced(sandbox: SandboxCluster, sandbox_api: Any) -> None:
    apps = client.AppsV1Api(sandbox_api)
    core = client.CoreV1Api(sandbox_api)
    await apps.create_namespaced_deployment("default", web_deployment("keeper", 1))
    await eventually(lambda: available(apps, "keeper", 1), what="keeper available")
    original = (await core.list_namespaced_pod("default", label_selector="app=keeper")).items[0].metadata.name
    await core.delete_namespaced_pod(original, "default")

    async def replaced() -> bool:
        pods = (await core.list_namespaced_pod("default", label_selector="app=keeper")).items
        names = {pod.metadata.name for pod in pods}
        return original not in names and len(names) == 1

    await eventually(replaced, what="replacement pod")
    await eventually(lambda: available(apps, "keeper", 1), what="keeper available again")


async def test_progress_deadline_exceeded_when_pods_never_get_ready(sandbox: SandboxCluster, sandbox_api: Any) -> None:
    apps = client.AppsV1Api(sandbox_api)
    body = web_deployment("stuck", 1, ready=False)
    body["spec"]["progressDeadlineSeconds"] = 2
    await apps.create_namespaced_deployment("default", body)

    async def exceeded() -> Any:
        deploy = await apps.read_namespaced_deployment("stuck", "default")
        progressing = condition(deploy, "Progressing")
        return progressing is not None and progressing.reason == "ProgressDeadlineExceeded" and deploy

    deploy = await eventually(exceeded, within=30, what="ProgressDeadlineExceeded")
    assert condition(deploy, "Progressing").status == "False"
    assert condition(deploy, "Available").status == "False"


async def test_deleting_a_deployment_collects_its_replica_sets_and_pods(
    sandbox: SandboxCluster, sandbox_api: Any
) -> None:
    apps = client.AppsV1Api(sandbox_api)
    core = client.CoreV1Api(sandbox_api)
    await apps.create_namespaced_deployment("default", web_deployment("temp", 1))
    await eventually(lambda: available(apps, "temp", 1), what="temp available")
    await apps.delete_namespaced_deployment("temp", "default")

    async def collected() -> bool:
        sets = (await apps.list_namespaced_replica_set("default", label_selector="app=temp")).items
        pods = (await core.list_namespaced_pod("default", label_selector="app=temp")).items
        return not sets and not pods

    await eventually(collected, what="garbage collection")


async def test_foreground_deletion_waits_for_dependents(sandbox: SandboxCluster, sandbox_api: Any) -> None:
    apps = client.AppsV1Api(sandbox_api)
    core = client.CoreV1Api(sandbox_api)
    await apps.create_namespaced_deployment("default", web_deployment("fg", 1))
    await eventually(lambda: available(apps, "fg", 1), what="fg available")
    await apps.delete_namespaced_deployment("fg", "default", propagation_policy="Foreground")
    deleting = await apps.read_namespaced_deployment("fg", "default")
    assert deleting.metadata.deletion_timestamp is not None
    assert "foregroundDeletion" in deleting.metadata.finalizers

    async def all_gone() -> bool:
        deployments = (await apps.list_namespaced_deployment("default", field_selector="metadata.name=fg")).items
        pods = (await core.list_namespaced_pod("default", label_selector="app=fg")).items
        sets = (await apps.list_namespaced_replica_set("default", label_selector="app=fg")).items
        return not deployments and not pods and not sets

    await eventually(all_gone, what="foreground deletion")
