"""The dashboard's "get credentials" for an AKS cluster: merge, resolve a name clash by asking, show the context.

The merge itself is `aksmcp_tui.core.azure.credentials.get_credentials` (the CLI's code path); this
module only runs it in a worker, asks what to do on a clash, and makes the new context appear in the
tree at once (the kubeconfig is read again and the Kubeconfig branch rebuilt, the cursor put on it).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from aksmcp_tui.ui.widgets.cluster_tree import ClusterTree

if TYPE_CHECKING:
    from aksmcp_tui.core.azure import AksCluster
    from aksmcp_tui.ui.screens.main import MainScreen


class CredentialsClashScreen(ModalScreen[str]):
    """The kubeconfig already has a different entry of that name: overwrite, add under another name, or cancel."""

    DEFAULT_CSS = """
    CredentialsClashScreen { align: center middle; }
    CredentialsClashScreen > Vertical { width: 80; height: auto; border: round $warning; padding: 1 2;
        background: $surface; }
    CredentialsClashScreen #clash-title { text-style: bold; margin-bottom: 1; }
    CredentialsClashScreen Horizontal { height: auto; margin-top: 1; }
    CredentialsClashScreen Button { margin-right: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [("escape", "dismiss('cancel')", "Cancel")]

    def __init__(self, message: str, new_name: str) -> None:
        super().__init__()
        self.message = message
        self.new_name = new_name

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("The name is taken in your kubeconfig", id="clash-title")
            yield Static(self.message, id="clash-message", markup=False)
            with Horizontal():
                yield Button(f"Add as {self.new_name}", id="rename", variant="primary")
                yield Button("Overwrite", id="overwrite", variant="warning")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "cancel")


def get_credentials_in_background(screen: MainScreen, cluster: AksCluster) -> None:
    screen.run_worker(
        _get_credentials(screen, cluster),
        group="azure-credentials",
        exclusive=True,
        exit_on_error=False,
        description=f"credentials of {cluster.name}",
    )


async def _get_credentials(screen: MainScreen, cluster: AksCluster) -> None:
    from aksmcp_tui.core.azure import AzureError, AzureSession, AzureSignInRequired
    from aksmcp_tui.core.azure.credentials import KubeconfigClash, get_credentials
    from aksmcp_tui.ui.targets import discover_targets

    tree = screen.query_one(ClusterTree)
    if tree.azure_session is None:
        tree.azure_session = AzureSession()
    kubeconfig = screen.targets.kubeconfig
    overwrite, context_name = False, None
    screen.notify(f"Getting the credentials of {cluster.name}…", title="AKS")
    while True:
        try:
            result = await get_credentials(
                tree.azure_session, cluster, kubeconfig=kubeconfig, overwrite=overwrite, context_name=context_name
            )
            break
        except KubeconfigClash as clash:
            new_name = f"{cluster.name}-{cluster.resource_group}" if context_name is None else f"{context_name}-2"
            choice = await screen.app.push_screen_wait(CredentialsClashScreen(str(clash), new_name))
            if choice == "overwrite":
                overwrite = True
            elif choice == "rename":
                context_name = new_name
            else:
                screen.notify("Nothing was changed.", title="Get credentials")
                return
        except AzureSignInRequired as error:
            screen.notify(str(error), title="Sign in to Azure", severity="error", timeout=12)
            return
        except AzureError as error:
            screen.notify(str(error), title="Get credentials failed", severity="error", timeout=12)
            return
        except Exception as error:  # never let it take the dashboard down
            screen.notify(f"{type(error).__name__}: {error}", title="Get credentials failed", severity="error")
            return
    sandbox = screen.targets.sandbox
    sandbox_path = None if sandbox is None or sandbox.kubeconfig is None else sandbox.kubeconfig
    from pathlib import Path

    targets = await asyncio.to_thread(discover_targets, kubeconfig, Path(sandbox_path) if sandbox_path else None)
    screen.targets = targets
    tree.refresh_targets(targets)
    node = tree.node_for(result.context)
    if node is not None:
        tree.call_after_refresh(tree.move_cursor, node)  # after the rebuilt branch is laid out
        screen.set_focus(tree)
    lines = [f"Context {result.context} merged into {result.kubeconfig}."]
    if result.backup:
        lines.append(f"Backup: {result.backup}")
    lines += list(result.notes)
    screen.notify("\n".join(lines), title="Get credentials", timeout=10)
