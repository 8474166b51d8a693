"""Narrow RBAC, as AKS developers often have it: deployments readable in their own namespace only,
sometimes no pods at all. The sandbox has no RBAC, so a real HTTP proxy on 127.0.0.1 stands in front
of a real in-process SandboxCluster and answers 403 Forbidden (a Kubernetes Status, as the API server
does) for what the account may not read; everything else (discovery, lists, watch streams) is the
sandbox's own answer, forwarded as it comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import ClientSession, ClientTimeout, web

from aksmcp_tui.core.fleet import (
    FleetEvent,
    FleetHealthLimited,
    FleetProblem,
    FleetScopeNarrowed,
    FleetSnapshot,
    McpWorkload,
    WorkloadChanged,
    WorkloadRemoved,
    list_fleet,
    list_fleet_scoped,
    watch_fleet,
)
from aksmcp_tui.core.kube import KubeContext, KubeProblem
from aksmcp_tui.core.mcp_rule import Health
from aksmcp_tui.sandbox.cluster import SandboxCluster

from .test_fleet_sandbox import CRD

pytestmark = pytest.mark.timeout(120)

TEAM = "team-a"
OTHER = "team-b"
_NAMESPACED = re.compile(r"^/apis?/(?:[^/]+/)?v[^/]*/namespaces/([^/]+)/([^/]+)")
_CLUSTER_SCOPE = re.compile(r"^/apis?/(?:[^/]+/)?v[^/]*/(deployments|pods|mcpservers)$")


def _forbidden(resource: str, where: str) -> web.Response:
    group = ' in API group "apps"' if resource == "deployments" else ""
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'{resource} is forbidden: User "dev@contoso.com" cannot list resource "{resource}"{group} {where}',
        "reason": "Forbidden",
        "details": {"kind": resource},
        "code": 403,
    }
    return web.json_response(body, status=403)


class RbacProxy:
    """A real HTTP proxy that plays RBAC for a developer who may read namespace `allowed` only:
    403 for deployments/pods at cluster scope and in other namespaces; with `deny_pods`, for pods
    everywhere. `denied` counts the 403s by resource."""

    def __init__(self, upstream: str, allowed: str) -> None:
        self.upstream = upstream
        self.allowed = allowed
        self.deny_pods = False
        self.allow_cluster_scope = False  # True: an account that may still read all namespaces
        self.denied: Counter[str] = Counter()
        self.refusal_delay: dict[str, float] = {}  # resource -> seconds before its 403 is sent
        self._denials = asyncio.Condition()
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None

    def _refusal(self, path: str) -> web.Response | None:
        cluster = _CLUSTER_SCOPE.match(path)
        if cluster and not self.allow_cluster_scope:
            self.denied[cluster.group(1)] += 1
            return _forbidden(cluster.group(1), "at the cluster scope")
        namespaced = _NAMESPACED.match(path)
        if namespaced and not self.allow_cluster_scope:
            namespace, resource = namespaced.groups()
            if namespace != self.allowed or (resource == "pods" and self.deny_pods):
                self.denied[resource] += 1
                return _forbidden(resource, f'in the namespace "{namespace}"')
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        refusal = self._refusal(request.path)
        if refusal is not None:
            resource = next((r for r in self.refusal_delay if f"/{r}" in request.path), None)
            if resource is not None:
                await asyncio.sleep(self.refusal_delay[resource])
            async with self._denials:
                self._denials.notify_all()
            return refusal
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "accept", "content-type")}
        body = await request.read()
        async with self._session.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=body or None
        ) as upstream:
            response = web.StreamResponse(
                status=upstream.status,
                headers={"Content-Type": upstream.headers.get("Content-Type", "application/json")},
            )
            await response.prepare(request)
            # a client that closed its watch (the fleet watch stopped or narrowed) ends the stream
            with contextlib.suppress(ConnectionError):
                async for chunk in upstream.content.iter_any():  # watch events pass through as they come
                    await response.write(chunk)
                await response.write_eof()
            return response

    async def wait_denied(self, resource: str, count: int, within: float = 20.0) -> None:
        """Until `count` requests for `resource` were refused (retries no fleet event announces)."""
        async with asyncio.timeout(within), self._denials:
            await self._denials.wait_for(lambda: self.denied[resource] >= count)

    async def start(self) -> None:
        self._session = ClientSession(timeout=ClientTimeout(total=None))
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()


def write_kubeconfig(path: Path, server: str, token: str, namespace: str | None) -> str:
    context: dict[str, Any] = {"cluster": "aks", "user": "dev"}
    if namespace:
        context["namespace"] = namespace
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "aks-dev",
        "contexts": [{"name": "aks-dev", "context": context}],
        "clusters": [{"name": "aks", "cluster": {"server": server}}],
        "users": [{"name": "dev", "user": {"token": token}}],
    }
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    return str(path)


def mcp_deployment(namespace: str, name: str) -> dict[str, Any]:
    container = {
        "name": "main",
        "image": "example.test/sleeper:1",
        "command": [sys.executable, "-c", "import time\nwhile True: time.sleep(60)"],
        "ports": [{"name": "mcp", "containerPort": 8080}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    }


async def create(admin: KubeContext, namespace: str, name: str) -> None:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    await admin.request("POST", path, body=mcp_deployment(namespace, name), content_type="application/json")


class Cluster:
    """The sandbox (full access, for the test's own writes) behind the RBAC proxy."""

    def __init__(self, sandbox: SandboxCluster, proxy: RbacProxy, admin: KubeContext, tmp_path: Path) -> None:
        self.sandbox = sandbox
        self.proxy = proxy
        self.admin = admin
        self.tmp_path = tmp_path

    def kubeconfig(self, namespace: str | None = TEAM) -> str:
        name = f"kubeconfig-{namespace or 'none'}"
        return write_kubeconfig(self.tmp_path / name, self.proxy.url, self.sandbox.token, namespace)


@contextlib.asynccontextmanager
async def rbac_cluster(sandbox: SandboxCluster, tmp_path: Path) -> AsyncIterator[Cluster]:
    """The sandbox behind a 403 proxy, seeded with `tools` in TEAM and `not-mine` in OTHER
    (also used by tests/ui/test_rbac_fallback.py)."""
    admin = await KubeContext.open(kubeconfig=str(sandbox.kubeconfig_path))
    proxy = RbacProxy(sandbox.url, TEAM)
    await proxy.start()
    try:
        for namespace in (TEAM, OTHER):
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            await admin.request("POST", "/api/v1/namespaces", body=body, content_type="application/json")
        await create(admin, TEAM, "tools")
        await create(admin, OTHER, "not-mine")
        yield Cluster(sandbox, proxy, admin, tmp_path)
    finally:
        await proxy.close()
        await admin.close()


@pytest.fixture
async def cluster(sandbox: SandboxCluster, tmp_path: Path) -> AsyncIterator[Cluster]:
    async with rbac_cluster(sandbox, tmp_path) as seeded:
        yield seeded


class Mirror:
    """Consumes a fleet watch in the background; keeps every event and the current fleet."""

    def __init__(self, events: AsyncIterator[FleetEvent]) -> None:
        self.events = events
        self.seen: list[FleetEvent] = []
        self.fleet: dict[tuple[str, str, str], McpWorkload] = {}
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for event in self.events:
            self.seen.append(event)
            if isinstance(event, FleetSnapshot):
                self.fleet = {w.key: w for w in event.workloads}
            elif isinstance(event, WorkloadChanged):
                self.fleet[event.workload.key] = event.workload
            elif isinstance(event, WorkloadRemoved):
                self.fleet.pop(event.key, None)
            async with self._changed:
                self._changed.notify_all()

    async def until(self, predicate: Callable[[Mirror], bool], what: str, within: float = 30.0) -> None:
        try:
            async with asyncio.timeout(within), self._changed:
                await self._changed.wait_for(lambda: predicate(self))
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; events: {self.seen!r}") from None

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.seen if isinstance(e, kind)]

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        close = getattr(self.events, "aclose", None)
        if close is not None:
            await close()


def names(mirror: Mirror) -> set[tuple[str, str]]:
    return {(w.namespace, w.name) for w in mirror.fleet.values()}


async def test_all_namespaces_forbidden_narrows_to_the_context_namespace_and_stays_live(cluster: Cluster) -> None:
    async with await KubeContext.open(kubeconfig=cluster.kubeconfig(TEAM)) as kube:
        mirror = Mirror(watch_fleet(kube, retry_initial=0.1, retry_max=0.5))
        try:
            await mirror.until(lambda m: bool(m.of(FleetSnapshot)), "the first snapshot")
            narrowed = mirror.of(FleetScopeNarrowed)
            assert len(narrowed) == 1
            assert narrowed[0].namespace == TEAM
            assert narrowed[0].reason == "no access to all namespaces; showing namespace team-a"
            assert narrowed[0].problem is not None and narrowed[0].problem.kind == "forbidden"
            # the notice comes before the narrowed fleet, and the 403 is not shown as a problem
            assert mirror.seen.index(narrowed[0]) < mirror.seen.index(mirror.of(FleetSnapshot)[0])
            assert not mirror.of(FleetProblem) and not mirror.of(FleetHealthLimited)
            assert names(mirror) == {(TEAM, "tools")}  # not team-b's deployment
            assert cluster.proxy.denied["deployments"] >= 1

            # live: a deployment created later in team-a appears through the namespace's watch
            await create(cluster.admin, TEAM, "late")
            await mirror.until(lambda m: (TEAM, "late") in names(m), "the late deployment")
            assert any(isinstance(e, WorkloadChanged) and e.workload.name == "late" for e in mirror.seen)
            await mirror.until(
                lambda m: all(w.health == Health.HEALTHY for w in m.fleet.values()), "both healthy (with pods)"
            )
            await create(cluster.admin, OTHER, "still-not-mine")
            await create(cluster.admin, TEAM, "later")
            await mirror.until(lambda m: (TEAM, "later") in names(m), "a second late deployment")
            assert (OTHER, "still-not-mine") not in names(mirror)
            assert len(mirror.of(FleetScopeNarrowed)) == 1 and not mirror.of(FleetProblem)
            assert all(s.health_from_pods for s in mirror.of(FleetSnapshot))
        finally:
            await mirror.close()


async def test_access_to_all_namespaces_revoked_while_watching_narrows_then(cluster: Cluster) -> None:
    cluster.proxy.allow_cluster_scope = True
    async with await KubeContext.open(kubeconfig=cluster.kubeconfig(TEAM)) as kube:
        # watch_timeout=1: the watches come back every second, so the revocation is seen at once
        mirror = Mirror(watch_fleet(kube, retry_initial=0.1, retry_max=0.5, watch_timeout=1))
        try:
            await mirror.until(lambda m: names(m) == {(TEAM, "tools"), (OTHER, "not-mine")}, "the whole fleet")
            assert not mirror.of(FleetScopeNarrowed)
            cluster.proxy.allow_cluster_scope = False  # the admin removes the ClusterRoleBinding
            await mirror.until(lambda m: bool(m.of(FleetScopeNarrowed)), "the narrowing")
            await mirror.until(lambda m: names(m) == {(TEAM, "tools")}, "team-a's fleet only")
            # the narrowed fleet comes as a snapshot after the notice, replacing the old one
            narrowed_at = mirror.seen.index(mirror.of(FleetScopeNarrowed)[0])
            assert any(isinstance(e, FleetSnapshot) for e in mirror.seen[narrowed_at:])
            assert len(mirror.of(FleetScopeNarrowed)) == 1
            assert not mirror.of(FleetProblem), mirror.seen
        finally:
            await mirror.close()


async def test_pods_forbidden_gives_one_notice_and_health_from_deployment_conditions(cluster: Cluster) -> None:
    cluster.proxy.deny_pods = True
    async with await KubeContext.open(kubeconfig=cluster.kubeconfig(TEAM)) as kube:
        # fast back-off: many quiet pod retries happen during the test
        mirror = Mirror(watch_fleet(kube, retry_initial=0.05, retry_max=0.1))
        try:
            tools = (TEAM, "Deployment", "tools")
            await mirror.until(
                lambda m: tools in m.fleet and m.fleet[tools].health == Health.HEALTHY,
                "tools healthy from the Deployment's status",
            )
            before = cluster.proxy.denied["pods"]
            await cluster.proxy.wait_denied("pods", before + 5)  # several quiet retries
            limited = mirror.of(FleetHealthLimited)
            assert len(limited) == 1, mirror.seen
            assert "no access to pods in namespace team-a" in limited[0].reason
            assert "health comes from Deployment conditions only" in limited[0].reason
            assert not mirror.of(FleetProblem), mirror.seen
            assert mirror.fleet[tools].health_reason == "1/1 ready" and mirror.fleet[tools].ready == 1
            assert all(not s.health_from_pods for s in mirror.of(FleetSnapshot))
            assert len(mirror.of(FleetScopeNarrowed)) == 1

            # access to pods granted: the next relist says health comes from the pods again
            cluster.proxy.deny_pods = False
            await mirror.until(
                lambda m: any(isinstance(e, FleetSnapshot) and e.health_from_pods for e in m.seen),
                "a snapshot with pods",
            )
            assert len(mirror.of(FleetHealthLimited)) == 1
        finally:
            await mirror.close()


async def test_one_shot_listing_narrows_too_and_list_fleet_does_not(cluster: Cluster) -> None:
    cluster.proxy.deny_pods = True
    async with await KubeContext.open(kubeconfig=cluster.kubeconfig(TEAM)) as kube:
        listing = await list_fleet_scoped(kube)
        assert listing.namespace == TEAM
        assert [(w.namespace, w.name) for w in listing.workloads] == [(TEAM, "tools")]
        assert listing.notices[0] == "no access to all namespaces; showing namespace team-a"
        assert "health comes from Deployment conditions only" in listing.notices[1]
        with pytest.raises(KubeProblem) as err:
            await list_fleet(kube)  # the plain call keeps its contract: no silent narrowing
        assert err.value.kind == "forbidden" and "all namespaces" in err.value.message
        explicit = await list_fleet_scoped(kube, TEAM)  # -n team-a: no narrowing notice
        assert explicit.namespace == TEAM and len(explicit.notices) == 1


async def test_context_without_a_namespace_keeps_the_forbidden_problem(cluster: Cluster) -> None:
    async with await KubeContext.open(kubeconfig=cluster.kubeconfig(None)) as kube:
        assert not kube.namespace_explicit
        with pytest.raises(KubeProblem) as err:
            await list_fleet_scoped(kube)
        assert err.value.kind == "forbidden"
        events = watch_fleet(kube, retry_initial=0.05, retry_max=0.1)
        try:
            first = await asyncio.wait_for(anext(events), 15)
        finally:
            await events.aclose()
        assert isinstance(first, FleetProblem) and first.problem.kind == "forbidden"
        assert "all namespaces" in first.problem.message


async def aksmcp(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, while the sandbox and the proxy keep serving on this loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aksmcp_tui", *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return subprocess.CompletedProcess(args, proc.returncode or 0, out.decode(), err.decode())


async def test_aksmcp_ls_falls_back_to_the_context_namespace(cluster: Cluster, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    clean = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "XDG_STATE_HOME", "XDG_CONFIG_HOME")}
    env = {**clean, "HOME": str(home), "XDG_STATE_HOME": str(tmp_path / "state")}
    kubeconfig = cluster.kubeconfig(TEAM)

    result = await aksmcp("ls", "--kubeconfig", kubeconfig, env=env)
    assert result.returncode == 0, result.stderr
    assert "aksmcp: no access to all namespaces; showing namespace team-a" in result.stderr
    assert "Traceback" not in result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split()[:3] == ["NAMESPACE", "NAME", "KIND"]
    assert [row.split()[:3] for row in rows] == [[TEAM, "tools", "Deployment"]]

    data = json.loads((await aksmcp("ls", "--kubeconfig", kubeconfig, "-o", "json", env=env)).stdout)
    assert data["namespace"] == TEAM and data["notices"] == ["no access to all namespaces; showing namespace team-a"]
    assert [i["name"] for i in data["items"]] == ["tools"]

    # a context that names no namespace: the 403 with a hint, exit 1 (nothing to fall back to)
    result = await aksmcp("ls", "--kubeconfig", cluster.kubeconfig(None), env=env)
    assert result.returncode == 1 and "403 Forbidden" in result.stderr
    assert "aksmcp ls -n NAMESPACE" in result.stderr and "Traceback" not in result.stderr


async def test_mcpserver_resources_narrow_with_the_deployments_without_a_problem(cluster: Cluster) -> None:
    """kagent installed: its MCPServer list at cluster scope is forbidden too. That 403 may answer
    before the Deployments' one; it must not show as a problem, and the team's MCPServer shows."""
    admin = cluster.admin
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    await admin.request("POST", crds, body=CRD, content_type="application/json")
    resource = {
        "apiVersion": "kagent.dev/v1alpha1",
        "kind": "MCPServer",
        "metadata": {"name": "everything", "namespace": TEAM},
        "spec": {"deployment": {"image": "ghcr.io/example/everything:1"}},
    }
    path = f"/apis/kagent.dev/v1alpha1/namespaces/{TEAM}/mcpservers"
    for attempt in range(50):  # the new kind is served once the CRD is established
        try:
            await admin.request("POST", path, body=resource, content_type="application/json")
            break
        except KubeProblem as exc:
            if exc.kind != "not_found" or attempt == 49:
                raise
            await asyncio.sleep(0.1)
    # Make the race the test is about certain: the MCPServer 403 answers before the Deployments' one.
    cluster.proxy.refusal_delay["deployments"] = 0.5
    async with await KubeContext.open(kubeconfig=cluster.kubeconfig(TEAM)) as kube:
        mirror = Mirror(watch_fleet(kube, retry_initial=0.1, retry_max=0.5))
        try:
            kind = "MCPServer (kagent.dev)"
            await mirror.until(lambda m: (TEAM, kind, "everything") in m.fleet, "the team's MCPServer")
            assert cluster.proxy.denied["mcpservers"] >= 1  # the cluster-wide list was refused
            assert not mirror.of(FleetProblem), mirror.seen
            assert [e.namespace for e in mirror.of(FleetScopeNarrowed)] == [TEAM]
            assert {k[0] for k in mirror.fleet} == {TEAM}
        finally:
            await mirror.close()
