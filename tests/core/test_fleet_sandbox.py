"""The fleet watch, details and bootstrap against the real sandbox API server.

Deployments are created with the official `kubernetes.aio` client; the fleet is read through
core's own kube layer. Network trouble is made with a real TCP proxy (tests/core/conftest.py).
"""

from __future__ import annotations

import asyncio
import base64
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from aksmcp_tui.core.bootstrap import ensure_api_key_secret, ensure_reference_server
from aksmcp_tui.core.details import load_details
from aksmcp_tui.core.fleet import (
    FleetEvent,
    FleetProblem,
    FleetSnapshot,
    McpWorkload,
    WorkloadChanged,
    WorkloadRemoved,
    list_fleet,
    watch_fleet,
)
from aksmcp_tui.core.kube import KubeContext, KubeProblem
from aksmcp_tui.core.mcp_rule import Health

NS = "fleet-test"
SLEEPER = [sys.executable, "-c", "import time\nwhile True: time.sleep(60)"]
MCP_LABELS = {"app.kubernetes.io/component": "mcp-server"}


def deployment_body(name: str, *, labels: dict[str, str] | None = None, port_name: str | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": "example.test/sleeper:1", "command": SLEEPER}
    if port_name:
        container["ports"] = [{"name": port_name, "containerPort": 8080}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": labels or {}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    }


class Official:
    """The official kubernetes.aio client on the sandbox (the "other tools" in these tests)."""

    def __init__(self, api: Any) -> None:
        from kubernetes.aio import client

        self.client = client
        self.api = api
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)

    async def ensure_namespace(self, name: str = NS) -> None:
        from kubernetes.aio.client.exceptions import ApiException

        try:
            await self.core.create_namespace(self.client.V1Namespace.from_dict({"metadata": {"name": name}}))
        except ApiException as exc:
            if exc.status != 409:
                raise

    async def create(self, body: dict[str, Any]) -> None:
        await self.apps.create_namespaced_deployment(NS, self.client.V1Deployment.from_dict(body))

    async def scale(self, name: str, replicas: int) -> None:
        await self.apps.patch_namespaced_deployment_scale(name, NS, {"spec": {"replicas": replicas}})

    async def delete(self, name: str) -> None:
        await self.apps.delete_namespaced_deployment(name, NS)


@pytest.fixture
async def official(sandbox: Any) -> AsyncIterator[Official]:
    from kubernetes.aio import config

    api = await config.new_client_from_config(config_file=str(sandbox.kubeconfig_path))
    tools = Official(api)
    await tools.ensure_namespace()
    yield tools
    await api.close()


@pytest.fixture
async def kube(sandbox: Any) -> AsyncIterator[KubeContext]:
    context = await KubeContext.open("aksmcp-sandbox", str(sandbox.kubeconfig_path))
    yield context
    await context.close()


def kubeconfig_at(path: Path, server: str, token: str) -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "via",
        "contexts": [{"name": "via", "context": {"cluster": "c", "user": "u"}}],
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": token}}],
    }
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    return str(path)


class Mirror:
    """What a consumer (the UI table) builds from the events."""

    def __init__(self, events: AsyncIterator[FleetEvent]) -> None:
        self.events = events
        self.rows: dict[tuple[str, str, str], McpWorkload] = {}
        self.seen: list[FleetEvent] = []

    def apply(self, event: FleetEvent) -> None:
        self.seen.append(event)
        if isinstance(event, FleetSnapshot):
            self.rows = {w.key: w for w in event.workloads}
        elif isinstance(event, WorkloadChanged):
            self.rows[event.workload.key] = event.workload
        elif isinstance(event, WorkloadRemoved):
            self.rows.pop(event.key, None)

    def row(self, name: str, kind: str = "Deployment") -> McpWorkload | None:
        return self.rows.get((NS, kind, name))

    async def until(self, condition: Callable[[Mirror], bool], within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while not condition(self):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"condition not met; last events: {self.seen[-5:]}"
            self.apply(await asyncio.wait_for(anext(self.events), remaining))


async def test_live_fleet_follows_deployments(kube: KubeContext, official: Official) -> None:
    events = watch_fleet(kube, retry_initial=0.2, retry_max=1)
    mirror = Mirror(events)
    try:
        await mirror.until(lambda m: any(isinstance(e, FleetSnapshot) for e in m.seen))
        assert mirror.row("tools") is None
        await official.create(deployment_body("tools", labels=MCP_LABELS))
        await official.create(deployment_body("plain"))
        await official.create(deployment_body("porty", port_name="mcp"))
        await mirror.until(lambda m: (r := m.row("tools")) is not None and r.health == Health.HEALTHY)
        tools = mirror.row("tools")
        assert tools is not None and (tools.ready, tools.desired, tools.matched_by) == (1, 1, "label")
        assert tools.image == "example.test/sleeper:1" and tools.context == "aksmcp-sandbox"
        await mirror.until(lambda m: m.row("porty") is not None)
        assert mirror.row("porty").matched_by == "port-name"  # type: ignore[union-attr]

        await official.scale("tools", 0)
        await mirror.until(lambda m: (r := m.row("tools")) is not None and r.health == Health.SCALED_DOWN)
        await official.delete("porty")
        await mirror.until(lambda m: m.row("porty") is None)
        assert any(isinstance(e, WorkloadRemoved) and e.key == (NS, "Deployment", "porty") for e in mirror.seen)
        assert not any(isinstance(e, WorkloadChanged) and e.workload.name == "plain" for e in mirror.seen)
        assert not any(isinstance(e, FleetProblem) for e in mirror.seen)
    finally:
        await events.aclose()

    listed = {w.name: w for w in await list_fleet(kube, NS)}
    assert set(listed) == {"tools"} and listed["tools"].health == Health.SCALED_DOWN


async def test_watch_resumes_after_server_timeout_without_relisting(
    sandbox: Any, official: Official, tcp_proxy: Any, tmp_path: Path
) -> None:
    proxy = await tcp_proxy(sandbox.url)
    config = kubeconfig_at(tmp_path / "kc", f"http://127.0.0.1:{proxy.port}", sandbox.token)
    async with await KubeContext.open(None, config) as kube:
        watches_before = proxy.watch_requests
        events = watch_fleet(kube, NS, watch_timeout=1, retry_initial=0.2)
        mirror = Mirror(events)
        try:
            await mirror.until(lambda m: any(isinstance(e, FleetSnapshot) for e in m.seen))
            target = proxy.watch_requests + 4  # every watch has ended and been resumed at least once more
            await proxy.wait_until(lambda p: p.watch_requests >= target)
            await official.create(deployment_body("late", labels=MCP_LABELS))
            await mirror.until(lambda m: m.row("late") is not None)
        finally:
            await events.aclose()
    assert proxy.watch_requests - watches_before >= 4
    assert sum(isinstance(e, FleetSnapshot) for e in mirror.seen) == 1  # resumed from resourceVersion
    assert not any(isinstance(e, FleetProblem) for e in mirror.seen)


async def test_outage_is_a_problem_with_back_off_then_recovers(
    sandbox: Any, official: Official, tcp_proxy: Any, tmp_path: Path
) -> None:
    proxy = await tcp_proxy(sandbox.url)
    config = kubeconfig_at(tmp_path / "kc", f"http://127.0.0.1:{proxy.port}", sandbox.token)
    async with await KubeContext.open(None, config) as kube:
        events = watch_fleet(kube, NS, retry_initial=0.1, retry_max=0.8)
        mirror = Mirror(events)
        try:
            await mirror.until(lambda m: any(isinstance(e, FleetSnapshot) for e in m.seen))
            proxy.refusing = True  # the cluster goes away: open connections cut, new ones refused
            proxy.drop_all()
            await mirror.until(lambda m: sum(isinstance(e, FleetProblem) for e in m.seen) >= 6)
            problems = [e for e in mirror.seen if isinstance(e, FleetProblem)]
            assert all(p.problem.kind == "unreachable" for p in problems), problems
            delays = [p.retrying_in or 0 for p in problems]
            assert max(delays) > 2 * min(delays) and max(delays) <= 0.8 * 1.1  # grows, capped
            await official.create(deployment_body("after-outage", labels=MCP_LABELS))
            proxy.refusing = False
            await mirror.until(lambda m: m.row("after-outage") is not None)
            last_problem = max(i for i, e in enumerate(mirror.seen) if isinstance(e, FleetProblem))
            assert any(isinstance(e, FleetSnapshot) for e in mirror.seen[last_problem:])  # relisted
        finally:
            await events.aclose()


async def test_dropped_watch_resumes(sandbox: Any, official: Official, tcp_proxy: Any, tmp_path: Path) -> None:
    proxy = await tcp_proxy(sandbox.url)
    config = kubeconfig_at(tmp_path / "kc", f"http://127.0.0.1:{proxy.port}", sandbox.token)
    async with await KubeContext.open(None, config) as kube:
        events = watch_fleet(kube, NS, retry_initial=0.1, retry_max=0.5)
        mirror = Mirror(events)
        try:
            await mirror.until(lambda m: any(isinstance(e, FleetSnapshot) for e in m.seen))
            before = proxy.watch_requests
            proxy.drop_all()  # a network blip: the watches are cut, the cluster is still there
            await proxy.wait_until(lambda p: p.watch_requests >= before + 2)
            await official.create(deployment_body("after-blip", labels=MCP_LABELS))
            await mirror.until(lambda m: m.row("after-blip") is not None)
        finally:
            await events.aclose()


async def test_expired_resource_version_relists(
    sandbox: Any, official: Official, tcp_proxy: Any, tmp_path: Path
) -> None:
    sandbox.store.history_limit = 3  # the sandbox keeps only 3 watch events per resource
    proxy = await tcp_proxy(sandbox.url)
    config = kubeconfig_at(tmp_path / "kc", f"http://127.0.0.1:{proxy.port}", sandbox.token)
    async with await KubeContext.open(None, config) as kube:
        events = watch_fleet(kube, NS, watch_timeout=1, retry_initial=0.2)
        mirror = Mirror(events)
        try:
            await mirror.until(lambda m: any(isinstance(e, FleetSnapshot) for e in m.seen))
            proxy.hold()  # the next reconnects wait: the client is "away"
            await proxy.wait_until(lambda p: p.held >= 2)
            for i in range(3):
                await official.create(deployment_body(f"burst-{i}", labels=MCP_LABELS))
            proxy.release()
            await mirror.until(lambda m: all(m.row(f"burst-{i}") for i in range(3)))
        finally:
            await events.aclose()
    snapshots = [e for e in mirror.seen if isinstance(e, FleetSnapshot)]
    assert len(snapshots) >= 2, "the 410 should have caused a relist"
    assert {f"burst-{i}" for i in range(3)} <= {w.name for w in snapshots[-1].workloads}
    assert not any(isinstance(e, FleetProblem) for e in mirror.seen)


async def test_wrong_token_is_unauthorized(sandbox: Any, tmp_path: Path) -> None:
    config = kubeconfig_at(tmp_path / "kc", sandbox.url, "not-the-token")
    async with await KubeContext.open(None, config) as kube:
        with pytest.raises(KubeProblem) as err:
            await list_fleet(kube)
        assert err.value.kind == "unauthorized"
        events = watch_fleet(kube, retry_initial=0.1)
        first = await asyncio.wait_for(anext(events), 10)
        await events.aclose()
    assert isinstance(first, FleetProblem) and first.problem.kind == "unauthorized"


async def test_details_of_a_deployment(kube: KubeContext, official: Official) -> None:
    await official.create(deployment_body("detailed", labels=MCP_LABELS, port_name="mcp"))
    service = {
        "metadata": {"name": "detailed", "namespace": NS},
        "spec": {"selector": {"app": "detailed"}, "ports": [{"name": "mcp", "port": 80, "targetPort": "mcp"}]},
    }
    await official.core.create_namespaced_service(NS, official.client.V1Service.from_dict(service))
    other = {"metadata": {"name": "other", "namespace": NS}, "spec": {"selector": {"app": "x"}, "ports": [{"port": 1}]}}
    await official.core.create_namespaced_service(NS, official.client.V1Service.from_dict(other))
    deadline = time.monotonic() + 30
    while True:
        details = await load_details(kube, NS, "Deployment", "detailed")
        if details.pods and all(p.ready for p in details.pods) and details.workload.health == Health.HEALTHY:
            break
        assert time.monotonic() < deadline, details
        await asyncio.sleep(0.2)
    [pod] = details.pods
    assert pod.phase == "Running" and pod.ready_containers == "1/1" and pod.name.startswith("detailed-")
    assert [s.name for s in details.services] == ["detailed"]
    assert details.services[0].ports == "mcp 80->mcp/TCP"
    assert details.selector == {"app": "detailed"}
    assert "Available" in {c.type for c in details.conditions}
    assert details.image == "example.test/sleeper:1"
    for event in details.events:
        assert event.object.split("/")[0] in ("Deployment", "ReplicaSet", "Pod")
    with pytest.raises(KubeProblem) as err:
        await load_details(kube, NS, "Deployment", "missing")
    assert err.value.kind == "not_found"


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "mcpservers.kagent.dev"},
    "spec": {
        "group": "kagent.dev",
        "scope": "Namespaced",
        "names": {"plural": "mcpservers", "singular": "mcpserver", "kind": "MCPServer", "listKind": "MCPServerList"},
        "versions": [
            {
                "name": "v1alpha1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


async def test_mcpserver_custom_resources_join_the_fleet(kube: KubeContext, official: Official) -> None:
    from aksmcp_tui.core.apply import apply_object

    events = watch_fleet(kube, NS, retry_initial=0.2, rediscover_interval=0.3)
    mirror = Mirror(events)
    kind = "MCPServer (kagent.dev)"
    try:
        await mirror.until(lambda m: any(isinstance(e, FleetSnapshot) for e in m.seen))
        # the CRD arrives while we watch (as when kagent is installed into a running cluster)
        await apply_object(kube, CRD)
        resource = {
            "apiVersion": "kagent.dev/v1alpha1",
            "kind": "MCPServer",
            "metadata": {"name": "everything", "namespace": NS},
            "spec": {"deployment": {"image": "ghcr.io/example/everything:1"}, "transportType": "stdio"},
        }
        deadline = time.monotonic() + 20
        while True:  # the CRD's API appears asynchronously, as on a real cluster
            try:
                await apply_object(kube, resource)
                break
            except KubeProblem as exc:
                assert exc.kind == "not_found" and time.monotonic() < deadline, exc
                await asyncio.sleep(0.2)
        await mirror.until(lambda m: m.row("everything", kind) is not None)
        row = mirror.row("everything", kind)
        assert row is not None and row.matched_by == "crd:kagent.dev" and row.image == "ghcr.io/example/everything:1"
        assert row.health == Health.UNKNOWN

        status = {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Running"}]}}
        await kube.request(
            "PATCH",
            f"/apis/kagent.dev/v1alpha1/namespaces/{NS}/mcpservers/everything/status",
            body=status,
            content_type="application/merge-patch+json",
        )
        await mirror.until(lambda m: (r := m.row("everything", kind)) is not None and r.health == Health.HEALTHY)
        listed = {w.key: w for w in await list_fleet(kube, NS)}
        assert listed[(NS, kind, "everything")].health == Health.HEALTHY

        await kube.request("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/mcpservers.kagent.dev")
        await mirror.until(lambda m: m.row("everything", kind) is None)
    finally:
        await events.aclose()


async def test_bootstrap_deploys_the_reference_server(kube: KubeContext) -> None:
    steps = [step async for step in ensure_reference_server(kube, wait_ready=90)]
    assert all(s.status in ("running", "done", "skipped") for s in steps), steps
    assert steps[-1].name == "rollout mcp-system/aksmcp-server" and steps[-1].status == "done"
    secret_step = next(s for s in steps if s.name.startswith("Secret"))
    assert secret_step.status == "done"
    [server] = [w for w in await list_fleet(kube, "mcp-system") if w.name == "aksmcp-server"]
    assert server.health == Health.HEALTHY and server.matched_by == "label"
    secret = await kube.get("/api/v1/namespaces/mcp-system/secrets/aksmcp-server-api-key")
    key = secret["data"]["api-key"]
    assert len(base64.b64decode(secret["data"]["state-key"])) >= 32  # the server refuses shorter keys
    # Running it again changes nothing that matters: the key stays, objects are re-applied.
    again = [step async for step in ensure_reference_server(kube)]
    assert next(s for s in again if s.name.startswith("Secret")).status == "skipped"
    assert all(s.status != "failed" for s in again), again
    secret = await kube.get("/api/v1/namespaces/mcp-system/secrets/aksmcp-server-api-key")
    assert secret["data"]["api-key"] == key
    deployment = await kube.get("/apis/apps/v1/namespaces/mcp-system/deployments/aksmcp-server")
    managers = {m.get("manager") for m in deployment["metadata"].get("managedFields") or []}
    assert "aksmcp" in managers


async def test_bootstrap_adds_a_missing_state_key_and_keeps_the_api_key(kube: KubeContext) -> None:
    path = "/api/v1/namespaces/mcp-system/secrets"
    await kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": "mcp-system"}})
    old = {"metadata": {"name": "aksmcp-server-api-key"}, "stringData": {"api-key": "kept"}}
    await kube.request("POST", path, body=old)
    assert await ensure_api_key_secret(kube, "mcp-system") is True
    data = (await kube.get(f"{path}/aksmcp-server-api-key"))["data"]
    assert base64.b64decode(data["api-key"]) == b"kept" and data["state-key"]
    assert await ensure_api_key_secret(kube, "mcp-system") is False


async def test_exec_plugin_against_the_sandbox_refreshes_under_a_live_watch(
    sandbox: Any, official: Official, fake_kubelogin: Any, tmp_path: Path
) -> None:
    """kubelogin (a fake on PATH that hands out the sandbox's token, valid 3 s) feeds a live watch:
    the token is refreshed before it expires and the watch keeps delivering."""
    fake_kubelogin.install(lifetime=3, token=sandbox.token)
    doc = yaml.safe_load(sandbox.kubeconfig_path.read_text())
    doc["users"][0]["user"] = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "kubelogin", "args": ["get-token"]}
    }
    config = tmp_path / "exec-kubeconfig"
    config.write_text(yaml.safe_dump(doc))
    async with await KubeContext.open(None, str(config)) as kube:
        events = watch_fleet(kube, NS, watch_timeout=1, retry_initial=0.2)
        mirror = Mirror(events)
        try:
            await mirror.until(lambda m: any(isinstance(e, FleetSnapshot) for e in m.seen))
            assert fake_kubelogin.invocations == 1
            deadline = time.monotonic() + 20
            while fake_kubelogin.invocations < 3:  # watches resume every second, each checks the token
                assert time.monotonic() < deadline, "the token was not refreshed"
                await kube.get("/api")
                await asyncio.sleep(0.2)
            await official.create(deployment_body("exec-seen", labels=MCP_LABELS))
            await mirror.until(lambda m: m.row("exec-seen") is not None)
        finally:
            await events.aclose()
    assert not any(isinstance(e, FleetProblem) for e in mirror.seen)


async def test_apply_reports_missing_kinds_and_stops(kube: KubeContext, official: Official) -> None:
    from aksmcp_tui.core.apply import Applied, ApplyFailed, apply_documents

    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied", "namespace": NS}}
    unknown = {"apiVersion": "toolhive.stacklok.dev/v1alpha1", "kind": "MCPServer", "metadata": {"name": "x"}}
    after = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "never", "namespace": NS}}
    events = [e async for e in apply_documents(kube, [config_map, unknown, after])]
    assert isinstance(events[0], Applied) and events[0].created and events[0].namespace == NS
    assert isinstance(events[1], ApplyFailed) and events[1].problem.kind == "not_found"
    assert 'no matches for kind "MCPServer" in version "toolhive.stacklok.dev/v1alpha1"' in events[1].problem.message
    assert len(events) == 2  # stopped at the first failure
    again = [e async for e in apply_documents(kube, [{**config_map, "data": {"k": "v"}}])]
    assert isinstance(again[0], Applied) and not again[0].created
    stored = await official.core.read_namespaced_config_map("applied", NS)
    assert stored.data == {"k": "v"}
    assert "aksmcp" in {m.manager for m in stored.metadata.managed_fields or []}
