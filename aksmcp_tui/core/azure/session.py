"""One Azure session: the credential, the management clients, and a brief cache of what they listed.

Every call goes through the official async SDK clients (`azure-mgmt-*` `.aio`), pointed at the cloud's
Resource Manager endpoint (or `AKSMCP_ARM_ENDPOINT`). The SDK follows `nextLink` pages and honours 429
Retry-After in its retry policy; we never cap the pages. A subscription that fails (expired token,
forbidden, throttled past the retries) becomes an AzureProblem; the others still list.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from aksmcp_tui.core.azure.cloud import AzureCloud, resolve_cloud, transport_options
from aksmcp_tui.core.azure.credential import AzureSignInRequired, import_sdks, make_credential
from aksmcp_tui.core.azure.models import (
    AksCluster,
    AksListing,
    AzureProblem,
    NodePool,
    Registry,
    RegistryListing,
    Subscription,
    Tenant,
)

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

CACHE_SECONDS = 30.0  # long enough to move around the tree, short enough to see a cluster just created
PARALLEL_SUBSCRIPTIONS = 8  # subscriptions listed at once (ARM throttles per principal)

T = TypeVar("T")


class AzureError(Exception):
    """A problem for the user, worded for them (not a per-subscription one: those are AzureProblem)."""


def resource_group_of(resource_id: str) -> str:
    """ARM ids spell the segment `resourceGroups` or `resourcegroups`; the name follows it."""
    parts = resource_id.split("/")
    for index, part in enumerate(parts[:-1]):
        if part.lower() == "resourcegroups":
            return parts[index + 1]
    return ""


def describe_error(error: BaseException) -> tuple[str, str]:
    """(kind, message) of an SDK error, for a problem line."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    if isinstance(error, ClientAuthenticationError) and getattr(error, "response", None) is None:
        return "sign-in", f"sign-in failed: {_first_line(str(error))}"
    if isinstance(error, HttpResponseError):
        status = error.status_code or 0
        code = getattr(getattr(error, "error", None), "code", None) or ""
        message = getattr(getattr(error, "error", None), "message", None) or error.reason or str(error)
        detail = f"{message} ({code})" if code else message
        if status == 401:
            return "unauthorized", f"token expired or not valid here: {detail}; sign in again (az login)"
        if status == 403:
            return "forbidden", f"no access: {detail}"
        if status == 429:
            return "throttled", f"throttled by Azure Resource Manager, still after retrying: {detail}"
        if status == 404:
            return "not-found", detail
        return "error", f"HTTP {status}: {detail}"
    if isinstance(error, ServiceRequestError):
        return "error", f"cannot reach Azure Resource Manager: {_first_line(str(error))}"
    return "error", f"{type(error).__name__}: {_first_line(str(error))}"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _is_sign_in_failure(error: BaseException) -> bool:
    from azure.core.exceptions import ClientAuthenticationError

    return isinstance(error, ClientAuthenticationError) and getattr(error, "response", None) is None


class AzureSession:
    """Create one per dashboard (or CLI run); close it when done. Nothing touches the network until asked."""

    def __init__(
        self,
        cloud: AzureCloud | None = None,
        *,
        credential: AsyncTokenCredential | None = None,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.cloud = cloud or resolve_cloud()
        self._credential = credential
        self._owns_credential = credential is None
        self._cache_seconds = cache_seconds
        self._cache: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> AzureSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._credential is not None and self._owns_credential:
            close = getattr(self._credential, "close", None)
            if close is not None:
                await close()
            self._credential = None

    async def credential(self) -> AsyncTokenCredential:
        async with self._lock:
            if self._credential is None:
                await import_sdks()
                self._credential = make_credential(self.cloud)
            return self._credential

    def forget(self) -> None:
        """Drop the cache (the dashboard's refresh)."""
        self._cache.clear()

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any azure-mgmt client: this cloud's ARM endpoint, token audience, CA bundle."""
        return {"base_url": self.cloud.arm_endpoint, "credential_scopes": [self.cloud.arm_scope], **transport_options()}

    async def _cached(self, key: tuple[str, ...], load: Callable[[], Awaitable[T]], refresh: bool) -> T:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and not refresh and now - hit[0] < self._cache_seconds:
            return hit[1]
        value = await load()
        self._cache[key] = (time.monotonic(), value)
        return value

    # ------------------------------------------------------------------ subscriptions and tenants
    async def subscriptions(self, *, refresh: bool = False) -> list[Subscription]:
        """Every subscription the sign-in sees; raises AzureSignInRequired or AzureError."""
        return await self._cached(("subscriptions",), self._load_subscriptions, refresh)

    async def _load_subscriptions(self) -> list[Subscription]:
        from azure.mgmt.resource.subscriptions.aio import SubscriptionClient

        credential = await self.credential()
        try:
            async with SubscriptionClient(credential, **self.client_options()) as client:
                return [
                    Subscription(
                        id=str(s.subscription_id),
                        name=str(s.display_name or s.subscription_id),
                        tenant_id=s.tenant_id,
                        state=_text(s.state),
                    )
                    async for s in client.subscriptions.list()
                ]
        except Exception as error:
            if _is_sign_in_failure(error):
                raise AzureSignInRequired(str(error)) from error
            raise AzureError(f"cannot list subscriptions: {describe_error(error)[1]}") from error

    async def tenants(self, subscriptions: list[Subscription] | None = None) -> list[Tenant]:
        """Tenants with their names when the tenants API answers, else just the ids the subscriptions name."""
        from azure.mgmt.resource.subscriptions.aio import SubscriptionClient

        ids = {s.tenant_id for s in subscriptions or [] if s.tenant_id}
        found: dict[str, Tenant] = {}
        try:
            async with SubscriptionClient(await self.credential(), **self.client_options()) as client:
                async for t in client.tenants.list():
                    if t.tenant_id:
                        found[t.tenant_id] = Tenant(t.tenant_id, t.display_name, t.default_domain)
        except Exception:
            pass  # names are a nicety: the ids from the subscriptions still group the tree
        for tenant_id in ids:
            found.setdefault(tenant_id, Tenant(tenant_id))
        return sorted(found.values(), key=lambda t: (t.name or t.id).lower())

    async def resolve_subscription(self, wanted: str, *, refresh: bool = False) -> Subscription:
        """A subscription by id or display name (as `az --subscription` takes either)."""
        subscriptions = await self.subscriptions(refresh=refresh)
        for s in subscriptions:
            if s.id.lower() == wanted.lower():
                return s
        by_name = [s for s in subscriptions if s.name.lower() == wanted.lower()]
        if len(by_name) == 1:
            return by_name[0]
        if len(by_name) > 1:
            raise AzureError(f"more than one subscription is named {wanted!r}; pass its id")
        known = ", ".join(f"{s.name} ({s.id})" for s in subscriptions) or "none"
        raise AzureError(f"no subscription {wanted!r} for this sign-in (known: {known})")

    async def _chosen(self, subscription: str | None, refresh: bool = False) -> list[Subscription]:
        if subscription:
            return [await self.resolve_subscription(subscription, refresh=refresh)]
        return await self.subscriptions(refresh=refresh)

    # ------------------------------------------------------------------ AKS clusters
    async def list_clusters(self, subscription: str | None = None, *, refresh: bool = False) -> AksListing:
        """Every AKS cluster of every subscription (or of one), all pages; problems per subscription."""

        async def load() -> AksListing:
            subscriptions = await self._chosen(subscription, refresh)
            tenants = await self.tenants(subscriptions)
            clusters, problems = await _per_subscription(subscriptions, self._clusters_of)
            clusters.sort(key=lambda c: (c.subscription_name or "", c.resource_group.lower(), c.name.lower()))
            return AksListing(tuple(tenants), tuple(subscriptions), tuple(clusters), tuple(problems))

        return await self._cached(("clusters", subscription or ""), load, refresh)

    async def _clusters_of(self, subscription: Subscription) -> list[AksCluster]:
        from azure.mgmt.containerservice.aio import ContainerServiceClient

        credential = await self.credential()
        async with ContainerServiceClient(credential, subscription.id, **self.client_options()) as client:
            return [cluster_from_sdk(c, subscription) async for c in client.managed_clusters.list()]

    async def get_cluster(self, subscription_id: str, resource_group: str, name: str) -> AksCluster:
        from azure.core.exceptions import ResourceNotFoundError
        from azure.mgmt.containerservice.aio import ContainerServiceClient

        credential = await self.credential()
        sub = Subscription(subscription_id, subscription_id, None)
        try:
            async with ContainerServiceClient(credential, subscription_id, **self.client_options()) as client:
                return cluster_from_sdk(await client.managed_clusters.get(resource_group, name), sub)
        except ResourceNotFoundError as error:
            raise AzureError(
                f"no AKS cluster {name!r} in resource group {resource_group!r} of subscription {subscription_id}"
            ) from error
        except AzureSignInRequired:
            raise
        except Exception as error:
            if _is_sign_in_failure(error):
                raise AzureSignInRequired(str(error)) from error
            raise AzureError(f"cannot read cluster {name}: {describe_error(error)[1]}") from error

    async def find_cluster(self, name: str, resource_group: str, subscription: str | None = None) -> AksCluster:
        """The cluster NAME in RG: in the given subscription, else the one subscription that has it."""
        if subscription:
            sub = await self.resolve_subscription(subscription)
            cluster = await self.get_cluster(sub.id, resource_group, name)
            return _with_subscription(cluster, sub)
        listing = await self.list_clusters()
        matches = [c for c in listing.clusters if c.name == name and c.resource_group.lower() == resource_group.lower()]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            subs = ", ".join(c.subscription_id for c in matches)
            raise AzureError(
                f"cluster {name} in {resource_group} exists in several subscriptions ({subs}); pass --subscription"
            )
        hint = ""
        if listing.problems:
            hint = f" ({len(listing.problems)} subscription(s) could not be listed; see `aksmcp aks ls`)"
        raise AzureError(f"no AKS cluster {name!r} in resource group {resource_group!r} was found{hint}")

    # ------------------------------------------------------------------ registries
    async def list_registries(self, subscription: str | None = None, *, refresh: bool = False) -> RegistryListing:
        async def load() -> RegistryListing:
            subscriptions = await self._chosen(subscription, refresh)
            registries, problems = await _per_subscription(subscriptions, self._registries_of)
            registries.sort(key=lambda r: r.name.lower())
            return RegistryListing(tuple(registries), tuple(problems), len(subscriptions))

        return await self._cached(("registries", subscription or ""), load, refresh)

    async def _registries_of(self, subscription: Subscription) -> list[Registry]:
        from azure.mgmt.containerregistry.aio import ContainerRegistryManagementClient

        credential = await self.credential()
        async with ContainerRegistryManagementClient(credential, subscription.id, **self.client_options()) as client:
            return [
                Registry(
                    name=str(r.name),
                    resource_group=resource_group_of(str(r.id)),
                    subscription_id=subscription.id,
                    login_server=str(r.login_server or ""),
                    location=r.location,
                    sku=_text(r.sku.name) if r.sku else None,
                    id=str(r.id),
                    admin_user_enabled=bool(r.admin_user_enabled),
                )
                async for r in client.registries.list()
            ]


async def _per_subscription(
    subscriptions: list[Subscription], fetch: Callable[[Subscription], Awaitable[list[T]]]
) -> tuple[list[T], list[AzureProblem]]:
    """`fetch` for every subscription, a few at a time: all items, and a problem per subscription that failed.
    A sign-in failure is no subscription's problem: it is raised."""
    results = await _gather_limited([partial(fetch, s) for s in subscriptions], PARALLEL_SUBSCRIPTIONS)
    items: list[T] = []
    problems: list[AzureProblem] = []
    for sub, result in zip(subscriptions, results, strict=True):
        if isinstance(result, AzureSignInRequired):
            raise result
        if isinstance(result, BaseException):
            kind, message = describe_error(result)
            problems.append(AzureProblem(sub.id, message, kind))
        else:
            items.extend(result)
    return items, problems


async def _gather_limited(calls: list[Callable[[], Awaitable[T]]], limit: int) -> list[T | BaseException]:
    """Run the calls at most `limit` at a time; each result or the exception it raised, in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T | BaseException:
        async with semaphore:
            try:
                result = await call()
            except Exception as error:
                if _is_sign_in_failure(error):
                    return AzureSignInRequired(str(error))
                return error
            return result

    return list(await asyncio.gather(*(one(c) for c in calls)))


def _with_subscription(cluster: AksCluster, sub: Subscription) -> AksCluster:
    from dataclasses import replace

    return replace(cluster, subscription_id=sub.id, subscription_name=sub.name, tenant_id=sub.tenant_id)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))


def cluster_from_sdk(c: Any, subscription: Subscription) -> AksCluster:
    """An AksCluster from the SDK's ManagedCluster model."""
    aad = c.aad_profile
    access = c.api_server_access_profile
    kubelet = (c.identity_profile or {}).get("kubeletidentity")
    pools = tuple(
        NodePool(
            name=str(p.name),
            count=int(p.count or 0),
            vm_size=p.vm_size,
            mode=_text(p.mode),
            kubernetes_version=p.current_orchestrator_version or p.orchestrator_version,
            power_state=_text(p.power_state.code) if p.power_state else None,
        )
        for p in c.agent_pool_profiles or []
    )
    return AksCluster(
        name=str(c.name),
        resource_group=resource_group_of(str(c.id)),
        subscription_id=subscription.id,
        location=str(c.location),
        kubernetes_version=c.current_kubernetes_version or c.kubernetes_version,
        power_state=_text(c.power_state.code) if c.power_state else None,
        provisioning_state=c.provisioning_state,
        entra_id=bool(aad and aad.managed),
        azure_rbac=bool(aad and aad.enable_azure_rbac),
        private=bool(access and access.enable_private_cluster),
        node_pools=pools,
        id=str(c.id),
        fqdn=c.fqdn or c.private_fqdn,
        local_accounts=not bool(c.disable_local_accounts),
        kubelet_object_id=getattr(kubelet, "object_id", None),
        kubelet_client_id=getattr(kubelet, "client_id", None),
        subscription_name=subscription.name,
        tenant_id=subscription.tenant_id,
    )
