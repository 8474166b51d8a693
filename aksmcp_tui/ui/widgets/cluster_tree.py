"""The cluster tree: kubeconfig contexts, the sandbox, and the Azure branch (tenants → subscriptions → AKS).

The Azure branch stays idle (no sign-in, no network) until its leaf is chosen; then a worker lists
through `aksmcp_tui.core.azure` and the branch renders the result, problems on the nodes they concern.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual import work
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from aksmcp_tui.ui.targets import ClusterTarget, TargetList
from aksmcp_tui.ui.widgets.azure_branch import (
    AzureClusterNode,
    AzureCredentialsAction,
    AzureData,
    AzureInfo,
    AzureRoot,
    add_cluster_details,
    branch_label,
    context_hosts,
    render_lines,
    render_listing,
)

if TYPE_CHECKING:
    from aksmcp_tui.core.azure import AksCluster, AksListing, AzureSession

AZURE_NOTE = "Azure subscriptions → AKS clusters: choose the leaf under Azure to sign in and list them."


@dataclass(frozen=True)
class AzureNote:
    """Data of the idle Azure leaf (kept for callers that look for it)."""

    text: str = AZURE_NOTE


NodeData = ClusterTarget | AzureNote | AzureData | None


class ClusterTree(Tree[NodeData]):
    """Selecting a context node posts TargetChosen; a cluster's "get credentials" leaf posts
    AzureCredentialsRequested; the idle Azure leaf (and "refresh") lists Azure."""

    class TargetChosen(Message):
        def __init__(self, target: ClusterTarget) -> None:
            super().__init__()
            self.target = target

    class AzureChosen(Message):
        pass

    class AzureCredentialsRequested(Message):
        def __init__(self, cluster: AksCluster) -> None:
            super().__init__()
            self.cluster = cluster

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("Clusters", id=id)
        self.show_root = False
        self.guide_depth = 3
        self._target_nodes: dict[tuple[str, str | None], TreeNode[NodeData]] = {}
        self._kube_branch: TreeNode[NodeData] | None = None
        self._sandbox_branch: TreeNode[NodeData] | None = None
        self._azure_branch: TreeNode[NodeData] | None = None
        self.azure_session: AzureSession | None = None  # made on first use (lazy sign-in)
        self.azure_state = "idle"  # idle | loading | loaded | sign-in | error
        self.azure_listing: AksListing | None = None
        self.azure_filter = ""
        self.azure_cluster_nodes: dict[str, TreeNode[Any]] = {}
        self.azure_loads = 0  # finished loads (tests wait on it)
        self._context_hosts: dict[str, ClusterTarget] = {}  # kubeconfig contexts by API server host

    # ------------------------------------------------------------------ kubeconfig and sandbox
    def populate(self, targets: TargetList, active: ClusterTarget | None) -> None:
        self.clear()
        self._kube_branch = self.root.add("Kubeconfig", expand=True)
        self._sandbox_branch = self.root.add("Sandbox", expand=True)
        self._azure_branch = self.root.add("Azure", data=AzureRoot(), expand=True)
        self._fill_targets(targets)
        self._render_azure()
        if active is not None:
            self.mark_active(active)

    def refresh_targets(self, targets: TargetList, active: ClusterTarget | None = None) -> None:
        """Rebuild the Kubeconfig and Sandbox branches only (the Azure branch keeps its state)."""
        if self._kube_branch is None:
            self.populate(targets, active)
            return
        self._fill_targets(targets)
        if self.azure_state == "loaded":
            self._render_azure()  # a cluster that just got a context shows it
        if active is not None:
            self.mark_active(active)

    def _fill_targets(self, targets: TargetList) -> None:
        kube, sandbox = self._kube_branch, self._sandbox_branch
        assert kube is not None and sandbox is not None
        kube.remove_children()
        sandbox.remove_children()
        self._target_nodes.clear()
        self._context_hosts = context_hosts(targets.kubeconfig_targets)
        if targets.kubeconfig_problem:
            kube.add_leaf(f"⚠ {targets.kubeconfig_problem}")
        elif not targets.kubeconfig_targets:
            kube.add_leaf("no contexts found")
        for target in targets.kubeconfig_targets:
            label = f"{target.context} ●" if target.is_current else target.context
            self._target_nodes[target.key] = kube.add_leaf(label, data=target)
        if targets.sandbox is not None:
            self._target_nodes[targets.sandbox.key] = sandbox.add_leaf(targets.sandbox.context, data=targets.sandbox)
        else:
            sandbox.add_leaf("not running")

    def mark_active(self, target: ClusterTarget) -> None:
        node = self._target_nodes.get(target.key)
        if node is not None:
            self.move_cursor(node)

    def node_for(self, context: str) -> TreeNode[NodeData] | None:
        return next((node for (name, _), node in self._target_nodes.items() if name == context), None)

    # ------------------------------------------------------------------ Azure
    def load_azure(self, *, refresh: bool = False) -> None:
        # after "not signed in", a new credential chain: one made before the sign-in may have settled on
        # another kind of credential (managed identity reads its environment once)
        renew = self.azure_state == "sign-in"
        self.azure_state = "loading"
        self._render_azure()
        self._load_azure(refresh, renew)

    @work(exclusive=True, group="azure", exit_on_error=False, description="listing Azure")
    async def _load_azure(self, refresh: bool, renew: bool = False) -> None:
        from aksmcp_tui.core.azure import AzureError, AzureSession, AzureSignInRequired, UnknownCloud

        try:
            if renew:
                await self.close_azure()
            if self.azure_session is None:
                self.azure_session = AzureSession()
            listing = await self.azure_session.list_clusters(refresh=refresh)
        except AzureSignInRequired as error:
            self._azure_message("sign-in", str(error).splitlines())
        except (AzureError, UnknownCloud) as error:
            self._azure_message("error", [f"⚠ {error}", "choose ↻ to try again"])
        except Exception as error:  # never let Azure take the dashboard down
            self._azure_message("error", [f"⚠ {type(error).__name__}: {error}", "choose ↻ to try again"])
        else:
            self.azure_listing = listing
            self.azure_state = "loaded"
            self._render_azure()
        self.azure_loads += 1

    def _azure_message(self, state: str, lines: list[str]) -> None:
        self.azure_state = state
        self.azure_listing = None
        self._render_azure(lines)

    def set_azure_filter(self, text: str) -> None:
        self.azure_filter = text.strip()
        if self.azure_state == "loaded":
            self._render_azure()

    def _render_azure(self, lines: list[str] | None = None) -> None:
        branch = self._azure_branch
        if branch is None:
            return
        self.azure_cluster_nodes = {}
        branch.remove_children()
        if self.azure_state == "idle":
            # the same look as before Azure was built: one leaf to choose
            branch.set_label("Azure")
            branch.add_leaf("subscriptions → AKS", data=AzureNote())
            return
        if self.azure_state == "loading":
            render_lines(branch, ["signing in and listing subscriptions…"], style="dim")
        else:
            branch.add_leaf("↻ refresh", data=AzureRoot())
            if self.azure_state == "loaded" and self.azure_listing is not None:
                self.azure_cluster_nodes = render_listing(
                    branch, self.azure_listing, self.azure_filter, self._context_hosts
                )
            else:
                render_lines(branch, lines or [], style="yellow" if self.azure_state == "sign-in" else "red")
        shown = len(self.azure_cluster_nodes)
        branch.set_label(branch_label(self.azure_listing, self.azure_filter, self.azure_state, shown))

    async def close_azure(self) -> None:
        if self.azure_session is not None:
            await self.azure_session.close()
            self.azure_session = None

    async def on_unmount(self) -> None:
        await self.close_azure()

    # ------------------------------------------------------------------ selection
    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        data = event.node.data
        if isinstance(data, AzureClusterNode):
            event.stop()
            add_cluster_details(event.node, data)

    def on_tree_node_selected(self, event: Tree.NodeSelected[NodeData]) -> None:
        data = event.node.data
        if isinstance(data, ClusterTarget):
            event.stop()
            self.post_message(self.TargetChosen(data))
        elif isinstance(data, AzureNote):
            event.stop()
            self.post_message(self.AzureChosen())
            self.load_azure()
        elif isinstance(data, AzureRoot) and event.node is not self._azure_branch:
            event.stop()
            self.load_azure(refresh=True)
        elif isinstance(data, AzureCredentialsAction):
            event.stop()
            self.post_message(self.AzureCredentialsRequested(data.cluster))
        elif isinstance(data, AzureClusterNode | AzureInfo):
            event.stop()
