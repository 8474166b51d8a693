"""The Azure credential: DefaultAzureCredential, made lazily, and what its failures mean to a person.

Why lazy: importing azure-identity and building the chain costs CPU, and the first token request may
wait on the network. The dashboard asks for it from a worker, the CLI when a command needs it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aksmcp_tui.core.azure.cloud import AzureCloud, transport_options

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

SIGN_IN_HELP = (
    "No Azure sign-in was found. Any one of these works, then refresh:\n"
    "  • Azure CLI: run `az login` (then `az account set -s SUBSCRIPTION` to pick a default).\n"
    "  • Environment: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal.\n"
    "  • Workload identity (in an AKS pod): AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE,\n"
    "    which AKS sets when the pod's service account is federated.\n"
    "  • Managed identity (an Azure VM, App Service or pod with an identity): nothing to set; it is found by itself."
)


class AzureSignInRequired(Exception):
    """No credential in the chain could give a token; `detail` is what the chain said."""

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        self.reason = sign_in_reason(detail)
        super().__init__(SIGN_IN_HELP + (f"\nWhy: {self.reason}" if self.reason else ""))


def sign_in_reason(detail: str) -> str | None:
    """The line of the credential chain's report that says why a found sign-in failed (expired, revoked…).

    The chain reports every credential it tried; "unavailable" ones are just absent and say nothing."""
    for line in detail.splitlines():
        text = line.strip()
        lowered = text.lower()
        if "unavailable" in lowered or not text:
            continue
        if any(mark in lowered for mark in ("aadsts", "expired", "az login", "refresh token", "invalid_grant")):
            return text[:300]
    return None


def make_credential(cloud: AzureCloud) -> AsyncTokenCredential:
    """DefaultAzureCredential for `cloud` (the interactive browser stays excluded: a CLI must not pop one)."""
    from azure.identity.aio import DefaultAzureCredential

    return DefaultAzureCredential(authority=cloud.authority_host, **transport_options())


async def import_sdks() -> None:
    """Import the Azure SDK modules off the event loop (they take a noticeable fraction of a second)."""

    def load() -> None:
        import azure.identity.aio
        import azure.mgmt.containerservice.aio
        import azure.mgmt.resource.subscriptions.aio  # noqa: F401

    await asyncio.to_thread(load)


# what kubelogin's --login should be, from the credential that produced our token
_LOGIN_MODES = {
    "AzureCliCredential": "azurecli",
    "EnvironmentCredential": "spn",
    "ClientSecretCredential": "spn",
    "ClientCertificateCredential": "spn",
    "WorkloadIdentityCredential": "workloadidentity",
    "ManagedIdentityCredential": "msi",
}


def kubelogin_login_mode(credential: Any) -> str:
    """azurecli | spn | workloadidentity | msi, else devicecode (an interactive sign-in always works)."""
    used = getattr(credential, "_successful_credential", None) or credential
    return _LOGIN_MODES.get(type(used).__name__, "devicecode")


def credential_name(credential: Any) -> str | None:
    used = getattr(credential, "_successful_credential", None)
    return type(used).__name__ if used is not None else None
