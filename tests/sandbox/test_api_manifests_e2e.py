"""End to end: the repository's manifests/base (rendered by `kubectl kustomize`) server-side
applied with the official async dynamic client, rolled out to Available with real reference
server processes, scaled, and rolled to a new template."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.aio import client
from kubernetes.aio.dynamic import DynamicClient

from aksmcp_tui.sandbox.cluster import SandboxCluster

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl binary to render the kustomize base"),
]

BASE = Path(__file__).resolve().parents[2] / "manifests" / "base"
NAMESPACE = "mcp-system"


def rendered_base() -> list[dict[str, Any]]:
    out = subprocess.run(["kubectl", "kustomize", str(BASE)], capture_output=True, text=True, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


async def available(apps: client.AppsV1Api, replicas: int, generation_at_least: int = 1) -> Any:
    deploy = await apps.read_namespaced_deployment("aksmcp-server", NAMESPACE)
    status = deploy.status
    conditions = {c.type: c for c in status.conditions or []}
    ok = (
        deploy.metadata.generation >= generation_at_least
        and status.observed_generation == deploy.metadata.generation
        and status.updated_replicas == replicas
        and status.available_replicas == replicas
        and (status.replicas or 0) == replicas
        and "Available" in conditions
        and conditions["Available"].status == "True"
        and conditions["Progressing"].reason == "NewReplicaSetAvailable"
    )
    return deploy if ok else None


async def eventually(check: Any, within: float = 90.0, what: str = "") -> Any:
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


@pytest.mark.skipif(not BASE.exists(), reason="manifests/base is not in this checkout")
async def test_base_manifests_roll_out_scale_and_update(sandbox: SandboxCluster, sandbox_api: Any) -> None:
    docs = rendered_base()
    dynamic = await DynamicClient(sandbox_api)
    core = client.CoreV1Api(sandbox_api)
    apps = client.AppsV1Api(sandbox_api)

    async def apply(doc: dict[str, Any]) -> Any:
        resource = await dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        return await resource.server_side_apply(
            body=doc, namespace=doc["metadata"].get("namespace"), field_manager="aksmcp-e2e", force_conflicts=True
        )

    namespaces = [doc for doc in docs if doc["kind"] == "Namespace"]
    for doc in namespaces:
        await apply(doc)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "aksmcp-server-api-key", "namespace": NAMESPACE},
        "stringData": {"api-key": secrets.token_urlsafe(24), "state-key": secrets.token_urlsafe(32)},
    }
    await core.create_namespaced_secret(NAMESPACE, secret)
    for doc in docs:
        if doc["kind"] != "Namespace":
            await apply(doc)
    # applying the same manifests again changes nothing the manifests own
    deploy_doc = next(doc for doc in docs if doc["kind"] == "Deployment")
    again = await apply(deploy_doc)
    assert again.metadata.generation == 1

    replicas = deploy_doc["spec"].get("replicas", 1)
    await eventually(lambda: available(apps, replicas), what="base Deployment available")
    pods = (await core.list_namespaced_pod(NAMESPACE, label_selector="app.kubernetes.io/name=aksmcp-server")).items
    assert len(pods) == replicas and all(pod.status.phase == "Running" for pod in pods)
    endpoints = await core.read_namespaced_endpoints("aksmcp-server", NAMESPACE)
    assert len(endpoints.subsets[0].addresses) == replicas

    await apps.patch_namespaced_deployment_scale("aksmcp-server", NAMESPACE, {"spec": {"replicas": replicas + 1}})
    await eventually(lambda: available(apps, replicas + 1), what="scaled up")

    current = await apps.read_namespaced_deployment("aksmcp-server", NAMESPACE)
    restart = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "e2e"}}}}}
    await apps.patch_namespaced_deployment("aksmcp-server", NAMESPACE, restart)
    rolled = await eventually(
        lambda: available(apps, replicas + 1, current.metadata.generation + 1), what="template change rolled out"
    )
    new_pods = (await core.list_namespaced_pod(NAMESPACE, label_selector="app.kubernetes.io/name=aksmcp-server")).items
    live = [pod for pod in new_pods if pod.metadata.deletion_timestamp is None]
    assert all(pod.metadata.annotations.get("kubectl.kubernetes.io/restartedAt") == "e2e" for pod in live)
    assert {pod.metadata.name for pod in live}.isdisjoint({pod.metadata.name for pod in pods})
    assert rolled.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
