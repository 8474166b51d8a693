"""The cluster tree: kubeconfig contexts, the sandbox, and the Azure branch (filled by a later issue)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from aksmcp_tui.ui.targets import ClusterTarget, TargetList

AZURE_NOTE = (
    "Azure subscriptions → AKS clusters will be listed here. Until then, add an AKS cluster with "
    "`az aks get-credentials` and it appears under Kubeconfig."
)


@dataclass(frozen=True)
class AzureNote:
    """Data of the Azure placeholder leaf."""

    text: str = AZURE_NOTE


NodeData = ClusterTarget | AzureNote | None


class ClusterTree(Tree[NodeData]):
    """Selecting a context node posts TargetChosen; the Azure node posts AzureChosen."""

    class TargetChosen(Message):
        def __init__(self, target: ClusterTarget) -> None:
            super().__init__()
            self.target = target

    class AzureChosen(Message):
        pass

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("Clusters", id=id)
        self.show_root = False
        self.guide_depth = 3
        self._target_nodes: dict[tuple[str, str | None], TreeNode[NodeData]] = {}

    def populate(self, targets: TargetList, active: ClusterTarget | None) -> None:
        self.clear()
        self._target_nodes.clear()
        kube = self.root.add("Kubeconfig", expand=True)
        if targets.kubeconfig_problem:
            kube.add_leaf(f"⚠ {targets.kubeconfig_problem}")
        elif not targets.kubeconfig_targets:
            kube.add_leaf("no contexts found")
        for target in targets.kubeconfig_targets:
            label = f"{target.context} ●" if target.is_current else target.context
            self._target_nodes[target.key] = kube.add_leaf(label, data=target)
        sandbox = self.root.add("Sandbox", expand=True)
        if targets.sandbox is not None:
            self._target_nodes[targets.sandbox.key] = sandbox.add_leaf(targets.sandbox.context, data=targets.sandbox)
        else:
            sandbox.add_leaf("not running")
        azure = self.root.add("Azure", expand=True)
        azure.add_leaf("subscriptions → AKS", data=AzureNote())
        if active is not None:
            self.mark_active(active)

    def mark_active(self, target: ClusterTarget) -> None:
        node = self._target_nodes.get(target.key)
        if node is not None:
            self.move_cursor(node)

    def on_tree_node_selected(self, event: Tree.NodeSelected[NodeData]) -> None:
        data = event.node.data
        if isinstance(data, ClusterTarget):
            event.stop()
            self.post_message(self.TargetChosen(data))
        elif isinstance(data, AzureNote):
            event.stop()
            self.post_message(self.AzureChosen())
