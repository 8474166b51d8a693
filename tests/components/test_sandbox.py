"""The components on the sandbox (real API server, real server processes):

- every combination of components is server-side applied (dry run) with the vendored CRDs installed, so
  custom resources are checked against their schemas by the API server;
- API key + TLS + monitoring rolled out for real: a tool call with the key (SDK client), 401 without, a
  call through the Host the TLS component sets, and `aksmcp auth rotate` under load with zero failed calls;
- Entra ID + KEDA rolled out: the server refuses a call without a token and advertises the tenant.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from aksmcp_tui.cli import main
from aksmcp_tui.core import components
from aksmcp_tui.core.kube import KubeContext, KubeProblem
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from tests.components.support import (
    CLIENT_ID,
    TENANT,
    crd_manifests,
    kubectl_kustomize,
)
from tests.components.test_render import COMBINATIONS, _build

pytestmark = pytest.mark.timeout(300)

HOST = "mcp.contoso.com"
MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
CALL_HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
    "mcp-protocol-version": MODERN,
    "mcp-method": "tools/call",
    "mcp-name": "system_info",
}
CALL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "system_info", "arguments": {}, "_meta": META},
}
IMAGE = "ghcr.io/aksmcp/aksmcp-server:0.1.0"  # the sandbox runs the reference server for it


async def eventually(check: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedSandbox]:
    with ThreadedSandbox(tmp_path_factory.mktemp("components-sandbox"), bookmark_interval=0.5) as sandbox:
        yield sandbox


@contextlib.asynccontextmanager
async def kube_for(cluster: ThreadedSandbox) -> AsyncIterator[KubeContext]:
    async with await KubeContext.open(kubeconfig=str(cluster.kubeconfig_path)) as kube:
        # The CRDs of cert-manager, prometheus-operator and KEDA, from the vendored schemas (idempotent).
        for crd in crd_manifests():
            await kube.request(
                "PATCH",
                f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}",
                query={"fieldManager": "components-test", "force": "true"},
                body=crd,
                content_type="application/apply-patch+yaml",
            )
        for crd in crd_manifests():
            group, version = crd["spec"]["group"], crd["spec"]["versions"][0]["name"]

            async def served(
                group: str = group, version: str = version, kind: str = crd["spec"]["names"]["kind"]
            ) -> bool:
                try:
                    await kube.resource_for(f"{group}/{version}", kind)
                except KubeProblem:
                    return False
                return True

            await eventually(served, 30, f"{crd['metadata']['name']} served")
        yield kube


async def apply(kube: KubeContext, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
    info = await kube.resource_for(obj["apiVersion"], obj["kind"])
    body = yaml.safe_load(yaml.safe_dump(obj))
    if not info.namespaced:
        body["metadata"].pop("namespace", None)  # kustomize's namespace: does not know custom cluster kinds
    namespace = body["metadata"].get("namespace") if info.namespaced else None
    query = {"fieldManager": "components-test", "force": "true", "dryRun": "All" if dry_run else None}
    return await kube.request(
        "PATCH",
        info.path(namespace, body["metadata"]["name"]),
        query=query,
        body=body,
        content_type="application/apply-patch+yaml",
    )


async def apply_all(kube: KubeContext, objects: list[dict[str, Any]]) -> None:
    for obj in sorted(objects, key=lambda o: o["kind"] != "Namespace"):
        await apply(kube, obj)


async def test_every_combination_applies_with_crds_installed(
    cluster: ThreadedSandbox, tmp_path: Path, rendered_combinations: dict[Any, tuple[Path, list[dict[str, Any]]]]
) -> None:
    assert len(rendered_combinations) == len(COMBINATIONS)
    async with kube_for(cluster) as kube:
        await apply(kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tools"}})
        for _root, objects in rendered_combinations.values():
            for obj in objects:
                if obj["kind"] != "Namespace":
                    stored = await apply(kube, obj, dry_run=True)
                    assert stored["kind"] == obj["kind"]
        # The API server really checks custom resources against the vendored schemas: a broken one is refused.
        root = _build(tmp_path / "broken", None, False, False, "keda", namespace="tools")
        scaled = next(o for o in kubectl_kustomize(root / "manifests") if o["kind"] == "ScaledObject")
        scaled["spec"]["maxReplicaCount"] = "many"
        with pytest.raises(KubeProblem) as refused:
            await apply(kube, scaled, dry_run=True)
        assert "maxReplicaCount" in refused.value.message


async def ready_ports(kube: KubeContext, namespace: str) -> dict[str, int]:
    """pod name -> local port of its MCP container, for pods a Service would route to (ready, not deleting)."""
    pods = await kube.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector="app.kubernetes.io/name=weather")
    ports = {}
    for pod in pods["items"]:
        conditions = {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions") or []}
        port = (pod["metadata"].get("annotations") or {}).get("sandbox.aksmcp.dev/port-8080")
        if conditions.get("Ready") == "True" and not pod["metadata"].get("deletionTimestamp") and port:
            ports[pod["metadata"]["name"]] = int(port)
    return ports


async def rolled_out(kube: KubeContext, namespace: str, replicas: int) -> bool:
    deployed = await kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/weather")
    status = deployed.get("status") or {}
    return (
        status.get("observedGeneration") == deployed["metadata"]["generation"]
        and status.get("updatedReplicas") == replicas
        and status.get("availableReplicas") == replicas
        and status.get("replicas") == replicas
        and len(await ready_ports(kube, namespace)) == replicas
    )


async def call(http: httpx2.AsyncClient, port: int, key: str | None, host: str | None = None) -> httpx2.Response:
    headers = dict(CALL_HEADERS)
    if key is not None:
        headers["x-api-key"] = key
    if host is not None:
        headers["host"] = host
    return await http.post(f"http://127.0.0.1:{port}/mcp", json=CALL, headers=headers)


async def secret_keys(kube: KubeContext, namespace: str) -> dict[str, str]:
    secret = await kube.get(f"/api/v1/namespaces/{namespace}/secrets/weather-api-key")
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


async def deploy(cluster: ThreadedSandbox, root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    """`aksmcp deploy` of the project with the reference server image (no build): render with the
    deployment's parameters, apply, roll out, smoke test through a forward (with the API key)."""
    code = await asyncio.to_thread(
        main, ["deploy", str(root), "--kubeconfig", str(cluster.kubeconfig_path), "--image", IMAGE, "--yes", *extra]
    )
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    return out.out


async def test_api_key_tls_monitoring_rollout_calls_and_rotation(
    cluster: ThreadedSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _build(tmp_path / "p", "apikey", True, True, None, namespace="tools")
    kubeconfig = str(cluster.kubeconfig_path)
    async with kube_for(cluster) as kube:
        await apply(kube, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tools"}})
        # `auth enable` with a cluster also creates the key Secret (random key, never printed).
        assert (
            await asyncio.to_thread(
                main, ["auth", "enable", "--api-key", "--project", str(root), "--kubeconfig", kubeconfig]
            )
            == 0
        )
        out = capsys.readouterr().out
        assert "Secret tools/weather-api-key: created with a random key" in out
        keys = await secret_keys(kube, "tools")
        old_key = keys["api-key"]
        assert old_key not in out and "api-key-previous" not in keys
        await deploy(cluster, root, capsys)
        await eventually(lambda: rolled_out(kube, "tools", 2), 60, "2 ready replicas")
        assert await secret_keys(kube, "tools") == keys, "deploy keeps the key Secret it finds"

        ports = await ready_ports(kube, "tools")
        port = next(iter(ports.values()))
        # the official SDK client with the key; 401 without it, or with a wrong one
        async with (
            httpx2.AsyncClient(headers={"x-api-key": old_key}) as http,
            Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)) as client,
        ):
            result = await client.call_tool("system_info", {})
            assert not result.is_error and result.structured_content["cpu_count"] >= 1
        async with httpx2.AsyncClient(timeout=30) as http:
            assert (await call(http, port, None)).status_code == 401
            assert (await call(http, port, "wrong-key-0123456789")).status_code == 401
            # through the Host the TLS component sets (what the Ingress forwards); a foreign Host is refused
            through_ingress = await call(http, port, old_key, host=HOST)
            assert through_ingress.status_code == 200 and "cpu_count" in through_ingress.text
            assert (await call(http, port, old_key, host="evil.example.net")).status_code in (403, 421)

            # rotation under load: calls with the old key keep going to whichever pods are ready
            stop = asyncio.Event()
            results: list[tuple[str, int]] = []

            async def load() -> None:
                for n in itertools.count():
                    if stop.is_set():
                        return
                    current = await ready_ports(kube, "tools")
                    name, pod_port = sorted(current.items())[n % len(current)]
                    response = await call(http, pod_port, old_key)
                    results.append((name, response.status_code))

            loader = asyncio.create_task(load())
            steps = []
            try:
                async for step in components.rotate_api_key(kube, "tools", "weather", within=180):
                    steps.append(step)
            finally:
                stop.set()
                await loader
            assert steps[-1].status == "done", steps
            failed = [r for r in results if r[1] != 200]
            assert failed == [] and len(results) >= 20, (len(results), failed[:5])
            pods_seen = {name for name, _ in results}
            assert len(pods_seen & set(ports)) >= 1 and len(pods_seen - set(ports)) >= 1, "calls spanned the roll"

            keys = await secret_keys(kube, "tools")
            new_key = keys["api-key"]
            assert keys["api-key-previous"] == old_key and new_key != old_key
            for pod_port in (await ready_ports(kube, "tools")).values():
                assert (await call(http, pod_port, new_key)).status_code == 200
                assert (await call(http, pod_port, old_key)).status_code == 200

            # a second rotation before --finish is refused: it would drop the key clients still use
            refused = [s async for s in components.rotate_api_key(kube, "tools", "weather", within=60)]
            assert refused[-1].status == "failed" and "--finish" in refused[-1].detail

            code = await asyncio.to_thread(
                main,
                ["auth", "rotate", "--project", str(root), "--kubeconfig", kubeconfig, "--finish"],
            )
            assert code == 0, capsys.readouterr()
            assert "api-key-previous" not in await secret_keys(kube, "tools")
            for pod_port in (await ready_ports(kube, "tools")).values():
                assert (await call(http, pod_port, new_key)).status_code == 200
                assert (await call(http, pod_port, old_key)).status_code == 401
        deployed = await kube.get("/apis/apps/v1/namespaces/tools/deployments/weather")
        marks = {c.name for c in components.deployed_components(deployed)}
        assert marks == {"auth-apikey", "ingress-tls", "monitoring"}


async def test_entra_and_keda_rollout_refuses_calls_without_a_token(
    cluster: ThreadedSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _build(tmp_path / "p", "entra", True, False, "keda", namespace="entra-demo")
    async with kube_for(cluster) as kube:
        # deploy's smoke test authenticates with the API key, which Entra mode refuses (as it should)
        await deploy(cluster, root, capsys, "--no-smoke-test")
        await eventually(lambda: rolled_out(kube, "entra-demo", 1), 60, "1 ready replica (KEDA owns the count)")
        port = next(iter((await ready_ports(kube, "entra-demo")).values()))
        async with httpx2.AsyncClient(timeout=30) as http:
            refused = await call(http, port, None, host=HOST)
            assert refused.status_code == 401
            challenge = refused.headers["www-authenticate"]
            assert "resource_metadata=" in challenge and "missing bearer token" in challenge
            metadata = (await http.get(f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp")).json()
            assert metadata["authorization_servers"] == [f"https://login.microsoftonline.com/{TENANT}/v2.0"]
            assert metadata["resource"] == f"https://{HOST}/mcp"
            assert metadata["scopes_supported"] == [f"api://{CLIENT_ID}/access_as_user"]
        deployed = await kube.get("/apis/apps/v1/namespaces/entra-demo/deployments/weather")
        assert components.entra_client_settings(deployed) == (TENANT, CLIENT_ID, f"api://{CLIENT_ID}/access_as_user")
