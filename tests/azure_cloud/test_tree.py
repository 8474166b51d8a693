"""The Azure branch of the dashboard's cluster tree, driven with Pilot against the fake ARM."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from textual.pilot import Pilot
from textual.widgets import Input

from aksmcp_tui.ui.app import make_app
from aksmcp_tui.ui.azure_credentials import CredentialsClashScreen
from aksmcp_tui.ui.screens.main import MainScreen
from aksmcp_tui.ui.widgets.azure_branch import AzureCredentialsAction
from aksmcp_tui.ui.widgets.cluster_tree import ClusterTree

from .conftest import SUB_C, AzureEnv, point_azure_at, seed_world

SIZE = (140, 44)


@pytest.fixture(autouse=True)
def _textual_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    monkeypatch.setenv("TEXTUAL_THEME", "textual-dark")


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], what: str, within: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await pilot.pause(0.05)


def _kubeconfig(path: Path, extra_cluster: dict[str, Any] | None = None) -> Path:
    # one context whose server nobody answers: the fleet pane shows its problem, the tree is what we test
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "",
        "clusters": [{"name": "old", "cluster": {"server": "https://127.0.0.2:9"}}],
        "users": [{"name": "old", "user": {"token": "t"}}],
        "contexts": [{"name": "old", "context": {"cluster": "old", "user": "old"}}],
    }
    if extra_cluster:
        config["clusters"].append(extra_cluster)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


async def _expanded(pilot: Pilot[Any], tree: ClusterTree, name: str) -> Any:
    """The node of cluster `name`, expanded, with its detail leaves (added on first expansion)."""
    node = next(n for n in tree.azure_cluster_nodes.values() if n.data.cluster.name == name)
    node.expand()
    await wait_for(pilot, lambda: len(node.children) > 0, f"the details of {name}")
    await pilot.pause()  # and laid out
    return node


def _labels(node: Any) -> list[str]:
    out = [str(node.label)]
    for child in node.children:
        out += _labels(child)
    return out


async def _open_azure(pilot: Pilot[Any], tree: ClusterTree) -> None:
    await pilot.press("t")  # focus the tree
    branch = tree._azure_branch
    assert branch is not None
    idle_leaf = branch.children[0]
    assert str(idle_leaf.label) == "subscriptions → AKS" and tree.azure_state == "idle"
    tree.move_cursor(idle_leaf)
    await pilot.press("enter")
    await wait_for(pilot, lambda: tree.azure_loads >= 1, "the Azure listing")


async def test_tree_lists_tenants_subscriptions_clusters_filters_and_gets_credentials(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    # aks-dev's API server on loopback (nobody answers): opening its context must not leave the machine
    next(c for c in azure_env.state.clusters if c.name == "aks-dev").server = "https://127.0.0.1:9"
    kubeconfig = _kubeconfig(azure_env.kubeconfig)
    app = make_app(kubeconfig=str(kubeconfig))
    async with app.run_test(size=SIZE) as pilot:
        tree = app.screen.query_one(ClusterTree)
        assert azure_env.fake.log == []  # nothing asked of Azure before the branch is opened
        await _open_azure(pilot, tree)
        assert tree.azure_state == "loaded"
        branch = tree._azure_branch
        assert branch is not None
        labels = _labels(branch)
        assert str(branch.label).startswith("Azure  (4 clusters)")
        assert "tenant Contoso" in labels
        assert any(label.startswith("Dev  (3)") for label in labels)
        assert any(label.startswith("Locked  ⚠ forbidden") for label in labels)
        assert any(
            label.startswith("⚠ no access") and f"/subscriptions/{SUB_C}" in label and "AuthorizationFailed" in label
            for label in labels
        )
        assert any("aks-entra  1.32.4  [entra, private]" in label for label in labels)
        assert any("aks-stopped  1.30.2  [stopped]" in label for label in labels)
        assert not any(label.startswith("node pools") for label in labels)  # details come on expansion
        await _expanded(pilot, tree, "aks-dev")
        await _expanded(pilot, tree, "aks-entra")
        labels = _labels(branch)
        assert "node pools: system (1 node, 1.32.4, System), user (3 nodes, 1.31.9, User) · 4 nodes" in labels
        assert "auth: Entra ID + Azure RBAC · local accounts disabled" in labels

        # "/" in the tree filters the Azure branch
        await pilot.press("slash")
        line = app.screen.query_one("#filter", Input)
        assert line.has_focus and "AKS" in line.placeholder
        await pilot.press(*"stopped")
        await wait_for(pilot, lambda: tree.azure_filter == "stopped", "the filter")
        names = {node.data.cluster.name for node in tree.azure_cluster_nodes.values()}  # type: ignore[union-attr]
        assert names == {"aks-stopped"}
        assert "1 of 4 clusters  /stopped" in str(branch.label)
        await pilot.press("enter")
        assert tree.has_focus
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(tree.azure_cluster_nodes) == 4, "the filter cleared")

        # get credentials: the leaf under aks-dev; the new context appears in the tree at once
        dev = await _expanded(pilot, tree, "aks-dev")
        action = next(c for c in dev.children if isinstance(c.data, AzureCredentialsAction))
        tree.move_cursor(action)
        assert tree.cursor_node is action
        await pilot.press("enter")
        await wait_for(pilot, lambda: tree.node_for("aks-dev") is not None, "the new context in the tree")
        await wait_for(pilot, lambda: tree.cursor_node is tree.node_for("aks-dev"), "the cursor on the new context")
        assert {c["name"] for c in yaml.safe_load(kubeconfig.read_text())["contexts"]} == {"old", "aks-dev"}
        assert tree.azure_state == "loaded" and len(tree.azure_cluster_nodes) == 4  # the Azure branch kept

        # the cluster now says which context reaches it, and offers to open it
        dev = next(n for n in tree.azure_cluster_nodes.values() if n.data.cluster.name == "aks-dev")  # type: ignore[union-attr]
        assert str(dev.label).endswith("✓ context aks-dev")
        dev = await _expanded(pilot, tree, "aks-dev")
        opener = dev.children[0]
        assert str(opener.label) == "→ open context aks-dev"
        tree.move_cursor(opener)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await wait_for(pilot, lambda: screen.target is not None and screen.target.context == "aks-dev", "aks-dev")


async def test_a_name_clash_asks_and_another_name_is_added(azure_env: AzureEnv) -> None:
    seed_world(azure_env)
    kubeconfig = _kubeconfig(
        azure_env.kubeconfig, {"name": "aks-prod", "cluster": {"server": "https://somewhere-else:443"}}
    )
    before = kubeconfig.read_text()
    app = make_app(kubeconfig=str(kubeconfig))
    async with app.run_test(size=SIZE) as pilot:
        tree = app.screen.query_one(ClusterTree)
        await _open_azure(pilot, tree)
        prod = await _expanded(pilot, tree, "aks-prod")
        tree.move_cursor(next(c for c in prod.children if isinstance(c.data, AzureCredentialsAction)))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, CredentialsClashScreen), "the clash dialog")
        assert kubeconfig.read_text() == before  # nothing written while asking
        message = str(app.screen.query_one("#clash-message").render())
        assert "cluster 'aks-prod'" in message
        await pilot.click("#rename")
        await wait_for(pilot, lambda: tree.node_for("aks-prod-rg-prod") is not None, "the renamed context")
        config = yaml.safe_load(kubeconfig.read_text())
        assert {"name": "aks-prod", "cluster": {"server": "https://somewhere-else:443"}} in config["clusters"]


async def test_without_sign_in_the_branch_says_how(azure_env: AzureEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    point_azure_at(monkeypatch, azure_env.fake, signed_in=False)
    app = make_app(kubeconfig=str(_kubeconfig(azure_env.kubeconfig)))
    async with app.run_test(size=SIZE) as pilot:
        tree = app.screen.query_one(ClusterTree)
        await _open_azure(pilot, tree)
        assert tree.azure_state == "sign-in"
        branch = tree._azure_branch
        assert branch is not None
        labels = _labels(branch)
        assert "⚠ not signed in" in labels[0]
        assert labels[1] == "↻ refresh"
        text = "\n".join(labels)
        for way in ("az login", "AZURE_CLIENT_SECRET", "Workload identity", "Managed identity"):
            assert way in text
        # signing in and choosing refresh lists the clusters
        point_azure_at(monkeypatch, azure_env.fake, signed_in=True)
        seed_world(azure_env)
        tree.move_cursor(branch.children[0])
        await pilot.press("enter")
        await wait_for(pilot, lambda: tree.azure_loads >= 2, "the second listing")
        assert tree.azure_state == "loaded" and len(tree.azure_cluster_nodes) == 4
