"""Azure Container Registry: docker login without the az CLI, and "can this cluster pull from it?".

Login is what `az acr login` does: the Entra access token (Resource Manager audience) is exchanged at
`https://<login server>/oauth2/exchange` for an ACR refresh token, which docker accepts as the password
of the user 00000000-0000-0000-0000-000000000000.

The pull check looks for a role assignment that grants pull (AcrPull, or a broader role that includes
it) to the cluster's kubelet identity on the registry or a scope above it: exactly what
`az aks update --attach-acr` creates. When there is none, the exact `az` command that fixes it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from aksmcp_tui.core.azure.cloud import AzureCloud, ca_bundle, cloud_for_registry
from aksmcp_tui.core.azure.models import Registry
from aksmcp_tui.core.azure.session import AzureError, AzureSession, describe_error

ACR_USERNAME = "00000000-0000-0000-0000-000000000000"

# built-in roles whose actions include Microsoft.ContainerRegistry/registries/pull/read
PULL_ROLES = {
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
    "8311e382-0749-4cb8-b61a-304f252e45ec": "AcrPush",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
}


class AcrError(AzureError):
    pass


def normalize_registry(registry: str, cloud: AzureCloud) -> str:
    """A login server from `NAME`, `NAME.azurecr.io` or a URL; raises AcrError for a non-ACR host."""
    host = registry.strip().lower()
    for prefix in ("https://", "http://"):
        host = host.removeprefix(prefix)
    host = host.split("/", 1)[0]
    if "." not in host and host:
        host = host + cloud.acr_suffixes[0]
    if not cloud.is_registry(host):
        raise AcrError(
            f"{registry} is not an Azure Container Registry of {cloud.name} (expected NAME{cloud.acr_suffixes[0]})"
        )
    return host


def _tenant_of(token: str) -> str | None:
    """The tid claim, read (not verified: we are its holder) so ACR can tell which tenant issued it."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    tid = claims.get("tid") if isinstance(claims, dict) else None
    return str(tid) if tid else None


async def acr_docker_credentials(
    registry: str, *, cloud: AzureCloud | None = None, session: AzureSession | None = None
) -> tuple[str, str]:
    """(username, password) for `docker login REGISTRY`: the ACR refresh token from /oauth2/exchange."""
    import ssl

    import aiohttp

    cloud = cloud or (session.cloud if session else cloud_for_registry(registry.removeprefix("https://")))
    host = normalize_registry(registry, cloud)
    own = session is None
    session = session or AzureSession(cloud)
    try:
        credential = await session.credential()
        try:
            token = (await credential.get_token(cloud.arm_scope)).token
        except Exception as error:
            from aksmcp_tui.core.azure.credential import AzureSignInRequired

            raise AzureSignInRequired(str(error)) from error
    finally:
        if own:
            await session.close()
    form = {"grant_type": "access_token", "service": host, "access_token": token}
    tenant = _tenant_of(token)
    if tenant:
        form["tenant"] = tenant
    url = f"{cloud.acr_endpoint or 'https://' + host}/oauth2/exchange"
    bundle = ca_bundle()
    ssl_context = ssl.create_default_context(cafile=bundle) if bundle else ssl.create_default_context()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30), trust_env=True) as http,
            http.post(url, data=form, ssl=ssl_context) as response,
        ):
            text = await response.text()
            if response.status != 200:
                raise AcrError(f"{host} refused the token exchange (HTTP {response.status}): {_acr_message(text)}")
            body = json.loads(text)
    except aiohttp.ClientError as error:
        raise AcrError(f"cannot reach {host} for the token exchange: {error}") from error
    except ValueError as error:
        raise AcrError(f"{host} answered the token exchange with something that is not JSON") from error
    refresh = body.get("refresh_token") if isinstance(body, dict) else None
    if not refresh:
        raise AcrError(f"{host} answered the token exchange without a refresh_token")
    return ACR_USERNAME, str(refresh)


def _acr_message(text: str) -> str:
    try:
        body = json.loads(text)
        errors = body.get("errors") or [body]
        return "; ".join(str(e.get("message") or e.get("code") or e) for e in errors)
    except (ValueError, AttributeError):
        return text.strip()[:200]


@dataclass(frozen=True)
class PullCheck:
    cluster: str
    resource_group: str
    registry: str  # login server
    can_pull: bool
    via: str | None  # e.g. "AcrPull on /subscriptions/…/registries/myacr"
    principal_id: str | None
    message: str
    fix: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "resource_group": self.resource_group,
            "registry": self.registry,
            "can_pull": self.can_pull,
            "via": self.via,
            "principal_id": self.principal_id,
            "message": self.message,
            "fix": list(self.fix),
        }


async def find_registry(session: AzureSession, registry: str, subscription: str | None = None) -> Registry:
    host = normalize_registry(registry, session.cloud)
    listing = await session.list_registries(subscription)
    for item in listing.registries:
        if item.login_server.lower() == host:
            return item
    hint = f"; {len(listing.problems)} subscription(s) could not be listed" if listing.problems else ""
    raise AcrError(f"no registry {host} in the subscriptions this sign-in sees{hint} (see `aksmcp acr ls`)")


async def check_pull(
    session: AzureSession,
    cluster_name: str,
    resource_group: str,
    registry: str,
    subscription: str | None = None,
) -> PullCheck:
    """Can the cluster's kubelet identity pull from `registry`? Raises AzureError when it cannot be told."""
    from azure.mgmt.authorization.aio import AuthorizationManagementClient

    cluster = await session.find_cluster(cluster_name, resource_group, subscription)
    target = await find_registry(session, registry)
    principal = cluster.kubelet_object_id
    if not principal:
        raise AcrError(
            f"{cluster.name} has no kubelet managed identity (a service-principal cluster?); "
            f"check the service principal's AcrPull role on {target.id} by hand"
        )
    credential = await session.credential()
    try:
        async with AuthorizationManagementClient(
            credential, target.subscription_id, **session.client_options()
        ) as client:
            assignments = [
                a
                async for a in client.role_assignments.list_for_scope(target.id, filter=f"principalId eq '{principal}'")
            ]
    except Exception as error:
        raise AcrError(
            f"cannot read the role assignments of {target.login_server}: {describe_error(error)[1]}"
        ) from error
    registry_scope = target.id.lower().rstrip("/")
    for assignment in assignments:
        role = str(assignment.role_definition_id or "").rsplit("/", 1)[-1].lower()
        scope = str(assignment.scope or "").lower().rstrip("/")
        covers = registry_scope == scope or registry_scope.startswith(scope + "/")
        if assignment.principal_id == principal and role in PULL_ROLES and covers:
            via = f"{PULL_ROLES[role]} on {assignment.scope}"
            return PullCheck(
                cluster.name,
                cluster.resource_group,
                target.login_server,
                True,
                via,
                principal,
                f"{cluster.name} can pull from {target.login_server}: its kubelet identity has {via}",
            )
    fix = (
        f"az aks update --name {cluster.name} --resource-group {cluster.resource_group} "
        f"--subscription {cluster.subscription_id} --attach-acr {target.id}",
        f"az role assignment create --assignee-object-id {principal} --assignee-principal-type ServicePrincipal "
        f"--role AcrPull --scope {target.id}",
    )
    return PullCheck(
        cluster.name,
        cluster.resource_group,
        target.login_server,
        False,
        None,
        principal,
        f"{cluster.name} cannot pull from {target.login_server}: its kubelet identity ({principal}) has no AcrPull "
        "role on the registry (pods will show ImagePullBackOff)",
        fix,
    )
