"""Entra ID access tokens for a deployment that runs the auth-entra component, through azure-identity.

The Deployment's annotations (written by `aksmcp auth enable --entra`) say which tenant and which API;
the token comes from the developer's own sign-in: the Azure CLI (`az login`, also what `azure/login`
leaves in CI), the Azure Developer CLI, or a service principal / workload identity from the standard
AZURE_* environment variables. Managed identity is left out on purpose: it probes the instance metadata
address, which a laptop does not have and which a test must never touch.
"""

from __future__ import annotations

from typing import Any

from aksmcp_tui.core.components.annotations import entra_client_settings


class EntraTokenError(Exception):
    """No token could be had; the message says how to sign in."""


def token_scope(scope: str) -> str:
    """The scope to ask a token for: the API's `/.default` (every delegated scope already consented or
    pre-authorized, which is what the Azure CLI can request), from the scope the server advertises."""
    if scope.endswith("/.default"):
        return scope
    return scope.rsplit("/", 1)[0] + "/.default"  # "api://APP/access_as_user" -> "api://APP/.default"


def developer_credential(tenant: str) -> Any:
    """A credential chain for a developer or CI, never probing a metadata endpoint."""
    from azure.identity.aio import (
        AzureCliCredential,
        AzureDeveloperCliCredential,
        ChainedTokenCredential,
        EnvironmentCredential,
    )

    return ChainedTokenCredential(
        EnvironmentCredential(),
        AzureCliCredential(tenant_id=tenant),
        AzureDeveloperCliCredential(tenant_id=tenant),
    )


async def entra_access_token(tenant: str, scope: str, credential: Any | None = None) -> str:
    """A bearer token for the server's API; `credential` defaults to `developer_credential(tenant)`."""
    from azure.core.exceptions import ClientAuthenticationError

    owned = credential is None
    credential = credential or developer_credential(tenant)
    try:
        token = await credential.get_token(token_scope(scope), tenant_id=tenant)
    except ClientAuthenticationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EntraTokenError(
            f"no Entra ID token for {scope} in tenant {tenant}: {first}. Sign in with `az login --tenant {tenant}`."
        ) from None
    finally:
        if owned:
            await credential.close()
    return str(token.token)


async def bearer_for_deployment(deployment: dict[str, Any], credential: Any | None = None) -> str | None:
    """The Authorization value for calling this deployment, or None when it does not use Entra ID."""
    settings = entra_client_settings(deployment)
    if settings is None:
        return None
    tenant, _client_id, scope = settings
    return f"Bearer {await entra_access_token(tenant, scope, credential)}"
