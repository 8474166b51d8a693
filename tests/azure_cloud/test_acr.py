"""ACR: list, docker credentials through /oauth2/exchange, and the AcrPull check both ways."""

from __future__ import annotations

import pytest

from aksmcp_tui.core.azure import AzureSession
from aksmcp_tui.core.azure.acr import ACR_USERNAME, AcrError, acr_docker_credentials, check_pull

from .conftest import SUB_A, SUB_B, SUB_C, AzureEnv, seed_world
from .fake_arm import ACR_PULL_ROLE, READER_ROLE, FakeRegistry, RoleAssignment, fake_jwt


def _claims(token: str) -> dict[str, object]:
    import base64
    import json

    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def test_docker_credentials_come_from_the_token_exchange(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    username, password = await acr_docker_credentials("myacr.azurecr.io")
    assert username == ACR_USERNAME == "00000000-0000-0000-0000-000000000000"
    assert _claims(password)["aud"] == "myacr.azurecr.io"  # the refresh token the registry issued
    (exchange,) = azure_env.fake.requests(r"^/acr/oauth2/exchange$", "POST")
    assert exchange.form["grant_type"] == "access_token"
    assert exchange.form["service"] == "myacr.azurecr.io"
    assert exchange.form["tenant"] == azure_env.state.tenant_id
    # the Entra token exchanged is the one the managed identity issued for Resource Manager
    assert _claims(exchange.form["access_token"])["aud"] == "https://management.azure.com"
    # a short name means the cloud's suffix
    assert (await acr_docker_credentials("myacr"))[0] == ACR_USERNAME


async def test_docker_credentials_errors_are_clear(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    with pytest.raises(AcrError, match=r"not an Azure Container Registry .*NAME\.azurecr\.io"):
        await acr_docker_credentials("ghcr.io")
    with pytest.raises(AcrError, match=r"refused the token exchange \(HTTP 401\)"):
        await acr_docker_credentials("unknown.azurecr.io")


async def test_registries_of_every_subscription(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    azure_env.state.registries.append(FakeRegistry(SUB_B, "rg-prod", "prodacr"))
    async with AzureSession() as session:
        listing = await session.list_registries()
    assert [(r.name, r.login_server, r.resource_group, r.subscription_id, r.sku) for r in listing.registries] == [
        ("myacr", "myacr.azurecr.io", "rg-acr", SUB_A, "Basic"),
        ("prodacr", "prodacr.azurecr.io", "rg-prod", SUB_B, "Basic"),
    ]
    assert [p.subscription_id for p in listing.problems] == [SUB_C]


async def test_acr_pull_check_both_ways(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    state = azure_env.state
    registry = state.registries[0]
    dev = next(c for c in state.clusters if c.name == "aks-dev")
    prod = next(c for c in state.clusters if c.name == "aks-prod")
    # dev's kubelet identity: AcrPull on the registry (what --attach-acr creates)
    state.role_assignments.append(RoleAssignment(registry.id, dev.kubelet_object_id, ACR_PULL_ROLE, SUB_A))
    # prod's kubelet identity: only an unrelated role elsewhere; another principal has AcrPull
    state.role_assignments.append(RoleAssignment(f"/subscriptions/{SUB_B}", prod.kubelet_object_id, "0000", SUB_B))
    state.role_assignments.append(RoleAssignment(registry.id, "someone-else", ACR_PULL_ROLE, SUB_A))

    async with AzureSession() as session:
        ok = await check_pull(session, "aks-dev", "rg-dev", "myacr.azurecr.io")
        missing = await check_pull(session, "aks-prod", "rg-prod", "myacr")

    assert ok.can_pull and ok.via == f"AcrPull on {registry.id}" and ok.fix == ()
    assert not missing.can_pull and missing.principal_id == prod.kubelet_object_id
    assert "ImagePullBackOff" in missing.message
    assert missing.fix[0] == (
        f"az aks update --name aks-prod --resource-group rg-prod --subscription {SUB_B} --attach-acr {registry.id}"
    )
    assert f"--assignee-object-id {prod.kubelet_object_id}" in missing.fix[1] and "--role AcrPull" in missing.fix[1]
    # the check asked ARM for the principal's assignments on the registry scope
    queries = azure_env.fake.requests("roleAssignments$")
    assert queries and all("principalId eq '" in q.query["$filter"] for q in queries)


async def test_a_role_inherited_from_the_resource_group_counts(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    state = azure_env.state
    prod = next(c for c in state.clusters if c.name == "aks-prod")
    scope = f"/subscriptions/{SUB_A}/resourceGroups/rg-acr"
    state.role_assignments.append(RoleAssignment(scope, prod.kubelet_object_id, READER_ROLE, SUB_A))
    async with AzureSession() as session:
        result = await check_pull(session, "aks-prod", "rg-prod", "myacr")
    assert result.can_pull and result.via == f"Reader on {scope}"


async def test_pull_check_of_unknown_registry_or_cluster(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    from aksmcp_tui.core.azure import AzureError

    async with AzureSession() as session:
        with pytest.raises(AcrError, match=r"no registry nope\.azurecr\.io"):
            await check_pull(session, "aks-dev", "rg-dev", "nope")
        with pytest.raises(AzureError, match="no AKS cluster 'ghost'"):
            await check_pull(session, "ghost", "rg-dev", "myacr")


def test_fake_jwt_round_trip() -> None:
    assert _claims(fake_jwt({"tid": "t"})) == {"tid": "t"}


async def test_a_sovereign_registry_uses_its_clouds_audience(azure_env: AzureEnv) -> None:
    azure_env.state.registries.append(FakeRegistry(SUB_A, "rg", "cnacr", suffix=".azurecr.cn"))
    username, _ = await acr_docker_credentials("cnacr.azurecr.cn")  # no AZURE_CLOUD: the suffix tells
    assert username == ACR_USERNAME
    token_requests = azure_env.fake.requests(r"^/msi/token$")
    assert {r.query["resource"] for r in token_requests} == {"https://management.chinacloudapi.cn"}
