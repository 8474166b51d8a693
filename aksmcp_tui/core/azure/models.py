"""What the Azure branch shows: tenants, subscriptions, AKS clusters, registries, per-subscription problems.

Plain frozen dataclasses with `to_json()`: the CLI prints them, the dashboard renders them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str | None = None
    domain: str | None = None


@dataclass(frozen=True)
class Subscription:
    id: str
    name: str
    tenant_id: str | None
    state: str | None = None


@dataclass(frozen=True)
class NodePool:
    name: str
    count: int
    vm_size: str | None
    mode: str | None
    kubernetes_version: str | None
    power_state: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "count": self.count,
            "vm_size": self.vm_size,
            "mode": self.mode,
            "kubernetes_version": self.kubernetes_version,
            "power_state": self.power_state,
        }


@dataclass(frozen=True)
class AksCluster:
    name: str
    resource_group: str
    subscription_id: str
    location: str
    kubernetes_version: str | None
    power_state: str | None  # "Running" | "Stopped"
    provisioning_state: str | None
    entra_id: bool  # managed Entra ID integration (aadProfile)
    azure_rbac: bool  # Azure RBAC for Kubernetes authorization
    private: bool
    node_pools: tuple[NodePool, ...]
    id: str = ""
    fqdn: str | None = None
    local_accounts: bool = True
    kubelet_object_id: str | None = None
    kubelet_client_id: str | None = None
    subscription_name: str | None = None
    tenant_id: str | None = None

    @property
    def stopped(self) -> bool:
        return (self.power_state or "").lower() == "stopped"

    @property
    def node_count(self) -> int:
        return sum(pool.count for pool in self.node_pools)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "resource_group": self.resource_group,
            "subscription_id": self.subscription_id,
            "subscription_name": self.subscription_name,
            "tenant_id": self.tenant_id,
            "location": self.location,
            "kubernetes_version": self.kubernetes_version,
            "power_state": self.power_state,
            "provisioning_state": self.provisioning_state,
            "entra_id": self.entra_id,
            "azure_rbac": self.azure_rbac,
            "private": self.private,
            "local_accounts": self.local_accounts,
            "fqdn": self.fqdn,
            "id": self.id,
            "node_pools": [pool.to_json() for pool in self.node_pools],
        }


@dataclass(frozen=True)
class Registry:
    name: str
    resource_group: str
    subscription_id: str
    login_server: str
    location: str | None
    sku: str | None
    id: str
    admin_user_enabled: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "resource_group": self.resource_group,
            "subscription_id": self.subscription_id,
            "login_server": self.login_server,
            "location": self.location,
            "sku": self.sku,
            "admin_user_enabled": self.admin_user_enabled,
            "id": self.id,
        }


@dataclass(frozen=True)
class AzureProblem:
    """One subscription that did not answer; the rest of the listing is still good."""

    subscription_id: str
    message: str
    kind: str = "error"  # "unauthorized" | "forbidden" | "throttled" | "not-found" | "error"

    def to_json(self) -> dict[str, Any]:
        return {"subscription_id": self.subscription_id, "message": self.message, "kind": self.kind}


@dataclass(frozen=True)
class AksListing:
    tenants: tuple[Tenant, ...]
    subscriptions: tuple[Subscription, ...]
    clusters: tuple[AksCluster, ...]
    problems: tuple[AzureProblem, ...] = field(default=())

    @property
    def answered(self) -> int:
        """How many subscriptions answered (a listing with problems everywhere answered none)."""
        failed = {p.subscription_id for p in self.problems}
        return sum(1 for s in self.subscriptions if s.id not in failed)

    def to_json(self) -> dict[str, Any]:
        return {
            "clusters": [c.to_json() for c in self.clusters],
            "problems": [p.to_json() for p in self.problems],
        }


@dataclass(frozen=True)
class RegistryListing:
    registries: tuple[Registry, ...]
    problems: tuple[AzureProblem, ...] = ()
    asked: int = 0  # subscriptions asked

    @property
    def answered(self) -> int:
        return self.asked - len({p.subscription_id for p in self.problems})

    def to_json(self) -> dict[str, Any]:
        return {
            "registries": [r.to_json() for r in self.registries],
            "problems": [p.to_json() for p in self.problems],
        }
