"""kubelogin's --login follows the credential that actually signed in (az CLI, service principal, workload
identity, managed identity, else device code)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml
from azure.identity.aio import AzureCliCredential, EnvironmentCredential, WorkloadIdentityCredential

from aksmcp_tui.core.azure import AzureSession, resolve_cloud
from aksmcp_tui.core.azure.credential import kubelogin_login_mode
from aksmcp_tui.core.azure.credentials import get_credentials, kubelogin_args

from .conftest import AzureEnv, point_azure_at, seed_world
from .fake_arm import AKS_SERVER_ID, AZURE_CLI_CLIENT_ID, fake_jwt

EXEC_ARGS = [
    "get-token",
    "--environment",
    "AzurePublicCloud",
    "--server-id",
    AKS_SERVER_ID,
    "--client-id",
    AZURE_CLI_CLIENT_ID,
    "--tenant-id",
    "tid",
    "--login",
    "devicecode",
]


async def test_credential_kinds_map_to_login_modes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_TENANT_ID", "tid")
    monkeypatch.setenv("AZURE_CLIENT_ID", "cid")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-a-real-secret")
    token_file = tmp_path / "token"
    token_file.write_text("federated")
    credentials = {
        "azurecli": AzureCliCredential(),
        "spn": EnvironmentCredential(),
        "workloadidentity": WorkloadIdentityCredential(tenant_id="t", client_id="c", token_file_path=str(token_file)),
    }
    for mode, credential in credentials.items():
        assert kubelogin_login_mode(credential) == mode
        await credential.close()
    assert kubelogin_login_mode(object()) == "devicecode"


def test_kubelogin_args_per_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    cloud = resolve_cloud("AzureCloud")
    monkeypatch.setenv("AZURE_CLIENT_ID", "sp-client")
    monkeypatch.setenv("AZURE_TENANT_ID", "sp-tenant")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s3cret")
    assert kubelogin_args(EXEC_ARGS, "azurecli", cloud) == [
        "get-token",
        "--login",
        "azurecli",
        "--server-id",
        AKS_SERVER_ID,
    ]
    spn = kubelogin_args(EXEC_ARGS, "spn", cloud)
    assert spn == [
        "get-token", "--login", "spn", "--server-id", AKS_SERVER_ID, "--environment", "AzurePublicCloud",
        "--client-id", "sp-client", "--tenant-id", "sp-tenant",
    ]  # fmt: skip
    assert "s3cret" not in spn  # kubelogin reads the secret from the environment at run time
    assert kubelogin_args(EXEC_ARGS, "workloadidentity", cloud)[:3] == ["get-token", "--login", "workloadidentity"]
    assert kubelogin_args(EXEC_ARGS, "devicecode", cloud) == [
        "get-token", "--login", "devicecode", "--server-id", AKS_SERVER_ID, "--environment", "AzurePublicCloud",
        "--client-id", AZURE_CLI_CLIENT_ID, "--tenant-id", "tid",
    ]  # fmt: skip


async def test_signed_in_with_the_az_cli_means_kubelogin_azurecli(
    azure_env: AzureEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real AzureCliCredential in the chain, with a stand-in `az` (the CLI is not installed here)."""
    seed_world(azure_env)
    point_azure_at(monkeypatch, azure_env.fake, signed_in=False)  # no managed identity this time
    bin_dir = azure_env.home / "bin"
    bin_dir.mkdir(parents=True)
    expires = int(time.time()) + 3600
    token = fake_jwt({"aud": "https://management.azure.com", "tid": azure_env.state.tenant_id})
    az = bin_dir / "az"
    az.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{azure_env.home}/az.log"\n'
        f'echo \'{{"accessToken": "{token}", "expires_on": {expires}, "tokenType": "Bearer", '
        f'"tenant": "{azure_env.state.tenant_id}"}}\'\n'
    )
    az.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    async with AzureSession() as session:
        result = await get_credentials(session, await session.find_cluster("aks-entra", "rg-dev"))
    assert result.login_mode == "azurecli"
    user = yaml.safe_load(azure_env.kubeconfig.read_text())["users"][0]["user"]
    assert user["exec"]["args"] == ["get-token", "--login", "azurecli", "--server-id", AKS_SERVER_ID]
    assert (
        "account get-access-token --output json --resource https://management.azure.com"
        in (azure_env.home / "az.log").read_text()
    )


async def test_an_expired_az_cli_sign_in_says_why(azure_env: AzureEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """az answers like it does when the refresh token has expired: the help says so, not just "sign in"."""
    from aksmcp_tui.core.azure import AzureSignInRequired

    seed_world(azure_env)
    point_azure_at(monkeypatch, azure_env.fake, signed_in=False)
    bin_dir = azure_env.home / "bin"
    bin_dir.mkdir(parents=True)
    az = bin_dir / "az"
    az.write_text(
        "#!/bin/sh\n"
        'echo "ERROR: AADSTS700082: The refresh token has expired due to inactivity. '
        "Please run 'az login' to setup account.\" >&2\n"
        "exit 1\n"
    )
    az.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    async with AzureSession() as session:
        with pytest.raises(AzureSignInRequired) as raised:
            await session.list_clusters()
    assert raised.value.reason is not None and "AADSTS700082" in raised.value.reason
    assert "Why: " in str(raised.value) and "az login" in str(raised.value)
