"""The Azure branch of the cluster tree: tenants → subscriptions → AKS clusters, with details and a filter.

Only rendering lives here (what each node says and holds); the listing comes from
`aksmcp_tui.core.azure` through the tree's worker, so nothing here blocks or touches the network.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text

if TYPE_CHECKING:
    from textual.widgets.tree import TreeNode

    from aksmcp_tui.core.azure import AksCluster, AksListing, AzureProblem, Subscription
    from aksmcp_tui.ui.targets import ClusterTarget

AZURE_IDLE = "enter: sign in and list subscriptions → AKS clusters"


@dataclass(frozen=True)
class AzureRoot:
    """The branch itself: selecting it (again) lists afresh."""


@dataclass(frozen=True)
class AzureClusterNode:
    cluster: AksCluster
    context: ClusterTarget | None = None  # the kubeconfig context that already points at it


@dataclass(frozen=True)
class AzureCredentialsAction:
    """The "get credentials" leaf under a cluster."""

    cluster: AksCluster


@dataclass(frozen=True)
class AzureInfo:
    """A line of text (help, a problem, a detail); selecting it does nothing."""

    text: str


AzureData = AzureRoot | AzureClusterNode | AzureCredentialsAction | AzureInfo


def matches(cluster: AksCluster, text: str) -> bool:
    """Case-insensitive match on what the tree shows of a cluster."""
    if not text:
        return True
    haystack = " ".join(
        str(part or "")
        for part in (
            cluster.name,
            cluster.resource_group,
            cluster.location,
            cluster.kubernetes_version,
            cluster.power_state,
            cluster.subscription_name,
            cluster.subscription_id,
            "entra" if cluster.entra_id else "",
            "private" if cluster.private else "",
        )
    ).lower()
    return all(word in haystack for word in text.lower().split())


def context_hosts(targets: Iterable[ClusterTarget]) -> dict[str, ClusterTarget]:
    """Kubeconfig contexts by their API server's host name (an AKS cluster's fqdn), first one wins."""
    from urllib.parse import urlparse

    hosts: dict[str, ClusterTarget] = {}
    for target in targets:
        host = urlparse(target.server or "").hostname
        if host:
            hosts.setdefault(host.lower(), target)
    return hosts


def cluster_label(cluster: AksCluster, context: ClusterTarget | None = None) -> Text:
    state = (cluster.power_state or "?").lower()
    mark, style = ("●", "green") if state == "running" else (("■", "yellow") if state == "stopped" else ("?", "dim"))
    if (cluster.provisioning_state or "Succeeded") not in ("Succeeded",):
        mark, style = "◌", "yellow"
    label = Text.assemble((f"{mark} ", style), cluster.name, (f"  {cluster.kubernetes_version or '?'}", "dim"))
    tags = []
    if cluster.entra_id:
        tags.append("entra")
    if cluster.private:
        tags.append("private")
    if cluster.stopped:
        tags.append("stopped")
    if tags:
        label.append(f"  [{', '.join(tags)}]", style="dim")
    if context is not None:
        label.append(f"  ✓ context {context.context}", style="green")
    return label


def cluster_details(cluster: AksCluster) -> list[str]:
    auth = (
        "Entra ID" + (" + Azure RBAC" if cluster.azure_rbac else " + Kubernetes RBAC")
        if cluster.entra_id
        else ("local accounts (certificates)")
    )
    pools = ", ".join(
        f"{p.name} ({p.count} node{'' if p.count == 1 else 's'}, {p.kubernetes_version or '?'}"
        + (f", {p.mode})" if p.mode else ")")
        for p in cluster.node_pools
    )
    return [
        f"resource group {cluster.resource_group} · {cluster.location}",
        f"Kubernetes {cluster.kubernetes_version or '?'} · power {cluster.power_state or '?'} · "
        f"provisioning {cluster.provisioning_state or '?'}",
        f"auth: {auth}" + ("" if cluster.local_accounts else " · local accounts disabled"),
        f"API server: {'private' if cluster.private else 'public'}" + (f" · {cluster.fqdn}" if cluster.fqdn else ""),
        f"node pools: {pools or 'none'} · {cluster.node_count} nodes",
    ]


def _subscription_label(sub: Subscription, shown: int, total: int, problem: AzureProblem | None) -> Text:
    if problem is not None:
        return Text.assemble(sub.name, ("  ⚠ ", "red"), (problem.kind, "red"))
    count = f"{shown}" if shown == total else f"{shown} of {total}"
    return Text.assemble(sub.name, (f"  ({count})", "dim"))


def _add_cluster(parent: TreeNode[Any], cluster: AksCluster, context: ClusterTarget | None) -> TreeNode[Any]:
    # details are added when the node is first expanded (add_cluster_details): with hundreds of
    # clusters, a filter keystroke re-renders a few hundred nodes instead of a few thousand
    label = cluster_label(cluster, context)
    return parent.add(label, data=AzureClusterNode(cluster, context), expand=False, allow_expand=True)


def add_cluster_details(node: TreeNode[Any], data: AzureClusterNode) -> None:
    if node.children:
        return
    cluster = data.cluster
    if data.context is not None:  # choosing it watches that context, like its node under Kubeconfig
        node.add_leaf(Text(f"→ open context {data.context.context}", style="bold green"), data=data.context)
    for line in cluster_details(cluster):
        node.add_leaf(Text(line, style="dim"), data=AzureInfo(line))
    node.add_leaf(Text("⤓ get credentials (merge into kubeconfig)", style="bold"), data=AzureCredentialsAction(cluster))


def render_listing(
    branch: TreeNode[Any], listing: AksListing, filter_text: str, contexts: dict[str, ClusterTarget] | None = None
) -> dict[str, TreeNode[Any]]:
    """Add the listing under the branch; returns the cluster nodes by cluster id (for tests and the cursor).
    `contexts`: kubeconfig contexts by API server host, to mark the clusters that already have one."""
    contexts = contexts or {}
    problems = {p.subscription_id: p for p in listing.problems}
    shown_total = 0
    nodes: dict[str, TreeNode[Any]] = {}
    tenants = {t.id: t for t in listing.tenants}
    by_subscription: dict[str, list[AksCluster]] = {}
    for cluster in listing.clusters:
        by_subscription.setdefault(cluster.subscription_id, []).append(cluster)
    tenant_ids = list(tenants) + sorted({s.tenant_id or "" for s in listing.subscriptions} - set(tenants))
    for tenant_id in tenant_ids:
        subs = [s for s in listing.subscriptions if (s.tenant_id or "") == tenant_id]
        if not subs:
            continue
        tenant = tenants.get(tenant_id)
        name = (tenant.name or tenant.domain or tenant.id) if tenant else (tenant_id or "unknown tenant")
        tenant_node = branch.add(Text.assemble(("tenant ", "dim"), name), data=AzureInfo(name), expand=True)
        for sub in subs:
            all_clusters = by_subscription.get(sub.id, [])
            sub_match = bool(filter_text) and filter_text.lower() in sub.name.lower()
            clusters = all_clusters if sub_match else [c for c in all_clusters if matches(c, filter_text)]
            problem = problems.get(sub.id)
            if filter_text and not clusters and problem is None:
                continue
            sub_node = tenant_node.add(
                _subscription_label(sub, len(clusters), len(all_clusters), problem),
                data=AzureInfo(sub.id),
                expand=True,
            )
            if problem is not None:
                sub_node.add_leaf(Text(f"⚠ {problem.message}", style="red"), data=AzureInfo(problem.message))
            elif not all_clusters:
                sub_node.add_leaf(Text("no AKS clusters", style="dim"), data=AzureInfo("no AKS clusters"))
            for cluster in clusters:
                context = contexts.get((cluster.fqdn or "").lower())
                nodes[cluster.id] = _add_cluster(sub_node, cluster, context)
            shown_total += len(clusters)
    if not listing.subscriptions:
        branch.add_leaf("this sign-in sees no subscriptions", data=AzureInfo("no subscriptions"))
    elif filter_text and shown_total == 0:
        branch.add_leaf(f"no cluster matches /{filter_text}", data=AzureInfo("no match"))
    return nodes


def branch_label(listing: AksListing | None, filter_text: str, state: str, shown: int) -> Text:
    label = Text("Azure")
    if state == "loading":
        label.append("  ◌ signing in / listing…", style="dim")
    elif state == "sign-in":
        label.append("  ⚠ not signed in", style="yellow")
    elif state == "error":
        label.append("  ⚠ error", style="red")
    elif listing is not None:
        total = len(listing.clusters)
        count = f"{shown} of {total} clusters  /{filter_text}" if filter_text else f"{total} clusters"
        label.append(f"  ({count})", style="dim")
        if listing.problems:
            label.append(f"  ⚠ {len(listing.problems)}", style="red")
    return label


def render_lines(branch: TreeNode[Any], lines: Iterable[str], style: str = "") -> None:
    for line in lines:
        branch.add_leaf(Text(line, style=style), data=AzureInfo(line))
