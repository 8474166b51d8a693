"""Subscriptions → AKS clusters through the real SDK and DefaultAzureCredential against the fake ARM."""

from __future__ import annotations

import pytest

from aksmcp_tui.core.azure import AzureSession, AzureSignInRequired, resolve_cloud
from aksmcp_tui.core.azure.cloud import UnknownCloud

from .conftest import SUB_A, SUB_B, SUB_C, AzureEnv, point_azure_at, seed_world
from .fake_arm import FakeCluster

CLUSTERS_PATH = r"/providers/Microsoft\.ContainerService/managedClusters$"


async def test_every_page_of_subscriptions_and_clusters_is_followed(azure_env: AzureEnv) -> None:
    state = azure_env.state
    state.page_size = 2
    subs = [f"0000000{i}-aaaa-bbbb-cccc-000000000000" for i in range(5)]  # 3 pages of subscriptions
    for index, sub in enumerate(subs):
        azure_env.fake.add_subscription(sub, f"Sub {index}")
    state.clusters += [FakeCluster(subs[0], "rg", f"aks-{i:02d}") for i in range(7)]  # 4 pages
    state.clusters += [FakeCluster(subs[4], "rg", "aks-last")]

    async with AzureSession() as session:
        listing = await session.list_clusters()

    assert sorted(c.name for c in listing.clusters) == [*(f"aks-{i:02d}" for i in range(7)), "aks-last"]
    assert [s.id for s in listing.subscriptions] == subs
    assert listing.problems == ()
    sub_pages = azure_env.fake.requests(r"^/subscriptions$")
    assert [r.query.get("$skiptoken") for r in sub_pages] == [None, "2", "4"]
    cluster_pages = azure_env.fake.requests(f"^/subscriptions/{subs[0]}{CLUSTERS_PATH}")
    assert [r.query.get("$skiptoken") for r in cluster_pages] == [None, "2", "4", "6"]
    # the real credential got its token from the managed-identity endpoint, for the ARM audience
    token_requests = azure_env.fake.requests(r"^/msi/token$")
    assert token_requests and token_requests[0].query["resource"] == "https://management.azure.com"
    assert token_requests[0].query["api-version"] == "2019-08-01"


async def test_429_waits_for_retry_after_then_lists(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    azure_env.state.throttle[f"^/subscriptions/{SUB_B}{CLUSTERS_PATH}"] = [2, 1]  # two 429s, Retry-After: 1

    async with AzureSession() as session:
        listing = await session.list_clusters()

    assert "aks-prod" in [c.name for c in listing.clusters]
    assert SUB_B not in [p.subscription_id for p in listing.problems]
    calls = azure_env.fake.requests(f"^/subscriptions/{SUB_B}{CLUSTERS_PATH}")
    assert [c.status for c in calls] == [429, 429, 200]
    # each retry came no sooner than the Retry-After the fake asked for
    assert calls[1].at - calls[0].at >= 0.95
    assert calls[2].at - calls[1].at >= 0.95


async def test_401_and_403_on_one_subscription_each_leave_the_rest_listed(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    azure_env.state.failing[SUB_B] = (401, "InvalidAuthenticationToken", "The access token has expired.")

    async with AzureSession() as session:
        listing = await session.list_clusters()

    assert {c.name for c in listing.clusters} == {"aks-dev", "aks-entra", "aks-stopped"}
    problems = {p.subscription_id: p for p in listing.problems}
    assert set(problems) == {SUB_B, SUB_C}
    assert problems[SUB_B].kind == "unauthorized"
    assert "The access token has expired" in problems[SUB_B].message and "az login" in problems[SUB_B].message
    assert problems[SUB_C].kind == "forbidden"
    assert "AuthorizationFailed" in problems[SUB_C].message
    assert listing.answered == 1


async def test_cluster_fields_entra_private_stopped_and_node_pools(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    async with AzureSession() as session:
        listing = await session.list_clusters(SUB_A)
    by_name = {c.name: c for c in listing.clusters}
    assert set(by_name) == {"aks-dev", "aks-entra", "aks-stopped"}  # one subscription asked
    dev, entra, stopped = by_name["aks-dev"], by_name["aks-entra"], by_name["aks-stopped"]

    assert (dev.resource_group, dev.location, dev.kubernetes_version) == ("rg-dev", "westeurope", "1.32.4")
    assert (dev.power_state, dev.provisioning_state) == ("Running", "Succeeded")
    assert (dev.entra_id, dev.azure_rbac, dev.private, dev.local_accounts) == (False, False, False, True)
    assert [(p.name, p.count, p.kubernetes_version, p.mode) for p in dev.node_pools] == [
        ("system", 1, "1.32.4", "System"),
        ("user", 3, "1.31.9", "User"),
    ]
    assert dev.node_count == 4 and dev.subscription_name == "Dev"

    assert (entra.entra_id, entra.azure_rbac, entra.private, entra.local_accounts) == (True, True, True, False)
    assert entra.fqdn and ".privatelink." in entra.fqdn

    assert stopped.power_state == "Stopped" and stopped.stopped
    assert stopped.kubernetes_version == "1.30.2" and stopped.resource_group == "rg-ops"
    assert stopped.kubelet_object_id


async def test_subscription_by_name_and_tenants_with_names(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    async with AzureSession() as session:
        listing = await session.list_clusters("Prod")
    assert [c.name for c in listing.clusters] == ["aks-prod"]
    assert [(t.id, t.name) for t in listing.tenants] == [(azure_env.state.tenant_id, "Contoso")]


async def test_results_are_cached_briefly_and_refresh_asks_again(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    async with AzureSession() as session:
        await session.list_clusters()
        first = len(azure_env.fake.requests(CLUSTERS_PATH))
        await session.list_clusters()
        assert len(azure_env.fake.requests(CLUSTERS_PATH)) == first  # from the cache
        assert len(azure_env.fake.requests("^/subscriptions$")) == 1
        await session.list_clusters(refresh=True)
        assert len(azure_env.fake.requests(CLUSTERS_PATH)) == 2 * first
        assert len(azure_env.fake.requests("^/subscriptions$")) == 2  # a new subscription shows on refresh


async def test_no_credentials_says_how_to_sign_in_without_probing_imds(
    azure_env: AzureEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_azure_at(monkeypatch, azure_env.fake, signed_in=False)
    seed_world(azure_env)
    async with AzureSession() as session:
        with pytest.raises(AzureSignInRequired) as raised:
            await session.list_clusters()
    text = str(raised.value)
    for way in ("az login", "AZURE_CLIENT_SECRET", "Workload identity", "Managed identity"):
        assert way in text
    assert azure_env.fake.requests("/subscriptions") == []  # nothing was sent without a token
    assert azure_env.outside == []  # and 169.254.169.254 was never tried (the fixture checks again)


def test_clouds_and_endpoint_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AKSMCP_ARM_ENDPOINT", raising=False)
    monkeypatch.delenv("AKSMCP_ACR_ENDPOINT", raising=False)
    monkeypatch.delenv("AZURE_CLOUD", raising=False)
    public = resolve_cloud()
    assert (public.arm_endpoint, public.arm_scope) == (
        "https://management.azure.com",
        "https://management.azure.com/.default",
    )
    monkeypatch.setenv("AZURE_CLOUD", "AzureChinaCloud")
    china = resolve_cloud()
    assert china.arm_endpoint == "https://management.chinacloudapi.cn"
    assert china.is_registry("x.azurecr.cn") and not china.is_registry("x.azurecr.io")
    gov = resolve_cloud("usgov")  # --cloud wins over AZURE_CLOUD
    assert (gov.name, gov.authority_host) == ("AzureUSGovernment", "login.microsoftonline.us")
    monkeypatch.setenv("AKSMCP_ARM_ENDPOINT", "https://arm.internal.example/")
    assert resolve_cloud().arm_endpoint == "https://arm.internal.example"
    assert resolve_cloud().arm_scope == "https://management.chinacloudapi.cn/.default"  # audience stays the cloud's
    with pytest.raises(UnknownCloud, match="AzureCloud, AzureChinaCloud, AzureUSGovernment"):
        resolve_cloud("mars")


async def test_a_sovereign_cloud_asks_for_its_own_audience(
    azure_env: AzureEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_world(azure_env)
    monkeypatch.setenv("AZURE_CLOUD", "AzureUSGovernment")
    async with AzureSession() as session:
        listing = await session.list_clusters(SUB_A)
    assert len(listing.clusters) == 3
    resources = {r.query["resource"] for r in azure_env.fake.requests(r"^/msi/token$")}
    assert resources == {"https://management.usgovcloudapi.net"}
