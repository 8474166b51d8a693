"""The kube layer against real HTTP: exec credential plugins (with refresh), and errors in plain words.

These run against `stub_api`, a tiny aiohttp API server on 127.0.0.1 (tests/core/conftest.py): the
sandbox accepts one static token, so exec-plugin tokens and a 403 for one namespace are served here.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from aksmcp_tui.core.fleet import FleetHealthLimited, FleetProblem, FleetSnapshot, list_fleet, watch_fleet
from aksmcp_tui.core.kube import KubeContext, KubeProblem

MCP_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "tools", "namespace": "team", "labels": {"app.kubernetes.io/component": "mcp-server"}},
    "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "s", "image": "img:1"}]}}},
    "status": {"readyReplicas": 1, "replicas": 1, "updatedReplicas": 1},
}


async def test_exec_plugin_token_is_used_cached_and_refreshed(
    stub_api: Any, fake_kubelogin: Any, kubeconfig_for: Any, exec_user: Any
) -> None:
    fake_kubelogin.install(lifetime=3)
    stub_api.deployments = [MCP_DEPLOYMENT]
    async with await KubeContext.open(kubeconfig=kubeconfig_for(stub_api.url, exec_user)) as kube:
        workloads = await list_fleet(kube)
        assert [w.name for w in workloads] == ["tools"]
        assert fake_kubelogin.invocations == 1
        assert set(stub_api.seen_tokens) == {"tok-1"}
        await kube.get("/apis/apps/v1/deployments")
        assert fake_kubelogin.invocations == 1  # cached while valid
        # The token expires 3 s after issue; the layer refreshes it shortly before that.
        deadline = time.monotonic() + 15
        while fake_kubelogin.invocations < 2:
            assert time.monotonic() < deadline, "token was never refreshed"
            await kube.get("/apis/apps/v1/deployments")
            await asyncio.sleep(0.1)
        assert fake_kubelogin.invocations == 2
        await kube.get("/apis/apps/v1/deployments")
        assert stub_api.seen_tokens[-1] == "tok-2"
        assert stub_api.seen_tokens.index("tok-2") > stub_api.seen_tokens.index("tok-1")


async def test_revoked_token_is_fetched_again_once(
    stub_api: Any, fake_kubelogin: Any, kubeconfig_for: Any, exec_user: Any
) -> None:
    fake_kubelogin.install(lifetime=3600)
    stub_api.accepted = {"tok-2"}  # tok-1 was revoked server-side
    async with await KubeContext.open(kubeconfig=kubeconfig_for(stub_api.url, exec_user)) as kube:
        await kube.get("/apis/apps/v1/deployments")
    assert stub_api.seen_tokens == ["tok-1", "tok-2"]
    assert fake_kubelogin.invocations == 2


async def test_exec_plugin_missing(stub_api: Any, fake_kubelogin: Any, kubeconfig_for: Any, exec_user: Any) -> None:
    exec_user["exec"]["command"] = "kubelogin-not-installed"
    async with await KubeContext.open(kubeconfig=kubeconfig_for(stub_api.url, exec_user)) as kube:
        with pytest.raises(KubeProblem) as err:
            await kube.get("/apis/apps/v1/deployments")
    assert err.value.kind == "credentials"
    assert "kubelogin-not-installed" in err.value.message and "az aks install-cli" in err.value.message
    assert stub_api.seen_tokens == []  # never sent an anonymous request


async def test_exec_plugin_failing(stub_api: Any, fake_kubelogin: Any, kubeconfig_for: Any, exec_user: Any) -> None:
    fake_kubelogin.install(fail=True)
    async with await KubeContext.open(kubeconfig=kubeconfig_for(stub_api.url, exec_user)) as kube:
        events = watch_fleet(kube, retry_initial=0.05, retry_max=0.1)
        first = await asyncio.wait_for(anext(events), 10)
        await events.aclose()
    assert isinstance(first, FleetProblem)
    assert first.problem.kind == "credentials"
    assert "AADSTS700082" in first.problem.message and first.retrying_in is not None


async def test_wrong_token_is_unauthorized(stub_api: Any, kubeconfig_for: Any) -> None:
    stub_api.accepted = {"right"}
    async with await KubeContext.open(kubeconfig=kubeconfig_for(stub_api.url, {"token": "wrong"})) as kube:
        with pytest.raises(KubeProblem) as err:
            await list_fleet(kube)
    assert err.value.kind == "unauthorized" and "401" in err.value.message


async def test_forbidden_namespace_is_reported_with_its_name(stub_api: Any, kubeconfig_for: Any) -> None:
    stub_api.forbidden_namespaces = {"secret-team"}
    stub_api.deployments = [MCP_DEPLOYMENT]
    async with await KubeContext.open(kubeconfig=kubeconfig_for(stub_api.url, {"token": "t"})) as kube:
        assert [w.name for w in await list_fleet(kube, "team")] == ["tools"]
        events = watch_fleet(kube, "secret-team", retry_initial=0.05, retry_max=0.1)
        first = await asyncio.wait_for(anext(events), 10)
        await events.aclose()
    assert isinstance(first, FleetProblem)
    assert first.problem.kind == "forbidden" and first.problem.namespace == "secret-team"
    assert "list deployments in namespace secret-team (403 Forbidden)" in first.problem.message


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_cluster(kubeconfig_for: Any) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with await KubeContext.open(kubeconfig=kubeconfig_for(url, {"token": "t"})) as kube:
        with pytest.raises(KubeProblem) as err:
            await list_fleet(kube)
        assert err.value.kind == "unreachable" and "connection refused" in err.value.message
        events = watch_fleet(kube, retry_initial=0.05, retry_max=0.1)
        problems = [await asyncio.wait_for(anext(events), 10) for _ in range(2)]
        await events.aclose()
    assert all(isinstance(p, FleetProblem) and p.problem.kind == "unreachable" for p in problems)
    assert not any(isinstance(p, FleetSnapshot) for p in problems)


async def test_unknown_host(kubeconfig_for: Any) -> None:
    async with await KubeContext.open(
        kubeconfig=kubeconfig_for("http://no-such-host.invalid:6443", {"token": "t"})
    ) as kube:
        with pytest.raises(KubeProblem) as err:
            await kube.get("/apis")
    assert err.value.kind == "unreachable"


async def test_timeout(stub_api: Any, kubeconfig_for: Any) -> None:
    async with await KubeContext.open(kubeconfig=kubeconfig_for(stub_api.url, {"token": "t"})) as kube:
        with pytest.raises(KubeProblem) as err:
            await kube.request("GET", "/stall", request_timeout=0.3)
    assert err.value.kind == "timeout"


async def test_open_errors_are_problems(tmp_path: Any, kubeconfig_for: Any) -> None:
    with pytest.raises(KubeProblem, match="not in the kubeconfig"):
        await KubeContext.open("nope", kubeconfig_for("http://127.0.0.1:1", {"token": "t"}))
    broken = tmp_path / "broken"
    broken.write_text("clusters: [")
    with pytest.raises(KubeProblem, match="not valid YAML"):
        await KubeContext.open(None, str(broken))


async def test_forbidden_pods_still_give_a_fleet(stub_api: Any, kubeconfig_for: Any) -> None:
    """Pods are only for health: without them the fleet still comes, with one notice saying why
    (FleetHealthLimited, not a FleetProblem: see tests/core/test_fleet_rbac.py)."""
    stub_api.forbidden_pods = True
    stub_api.deployments = [MCP_DEPLOYMENT]
    async with await KubeContext.open(kubeconfig=kubeconfig_for(stub_api.url, {"token": "t"})) as kube:
        assert [w.name for w in await list_fleet(kube)] == ["tools"]
        events = watch_fleet(kube, retry_initial=5, retry_max=5)
        first_two = [await asyncio.wait_for(anext(events), 10) for _ in range(2)]
        await events.aclose()
    problem = next(e for e in first_two if isinstance(e, FleetHealthLimited))
    snapshot = next(e for e in first_two if isinstance(e, FleetSnapshot))
    assert problem.problem is not None and problem.problem.kind == "forbidden"
    assert "list pods" in problem.problem.message and not snapshot.health_from_pods
    assert [w.name for w in snapshot.workloads] == ["tools"]


async def test_token_file_is_reread(
    stub_api: Any, kubeconfig_for: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aksmcp_tui.core.kube import TokenFileSource

    monkeypatch.setattr(TokenFileSource, "REREAD_SECONDS", 0.0)
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    async with await KubeContext.open(kubeconfig=kubeconfig_for(stub_api.url, {"tokenFile": str(token_file)})) as kube:
        await kube.get("/apis")
        token_file.write_text("rotated\n")
        await kube.get("/apis")
    assert stub_api.seen_tokens == ["first", "rotated"]
