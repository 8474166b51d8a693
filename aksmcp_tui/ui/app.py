"""The aksmcp Textual application. Build it with `make_app`; the CLI, the tests and `aksmcp web` all do."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from aksmcp_tui.ui.commands import DashboardCommands
from aksmcp_tui.ui.format import Clock, system_clock
from aksmcp_tui.ui.kube_pool import KubePool
from aksmcp_tui.ui.targets import ClusterTarget, TargetList, discover_targets

if TYPE_CHECKING:
    from aksmcp_tui.core.details import WorkloadDetails
    from aksmcp_tui.core.fleet import McpWorkload
    from aksmcp_tui.ui.screens.details import DetailsLoader


class AksmcpApp(App[None]):
    TITLE = "aksmcp"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {DashboardCommands}
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "Quit", show=False, priority=True)]

    def __init__(
        self,
        targets: TargetList,
        *,
        initial: ClusterTarget | None = None,
        namespace: str | None = None,
        clock: Clock = system_clock,
        details_loader: DetailsLoader | None = None,
    ) -> None:
        super().__init__()
        self.targets = targets
        self.initial = initial if initial is not None else targets.initial()
        self.namespace = namespace
        self.clock = clock
        self.kube_pool = KubePool()
        self.details_loader: DetailsLoader = details_loader or self._load_details

    def get_default_screen(self) -> Screen[None]:
        from aksmcp_tui.ui.screens.main import MainScreen

        return MainScreen(self.targets, self.initial, self.namespace)

    async def _load_details(self, target: ClusterTarget, workload: McpWorkload) -> WorkloadDetails:
        from aksmcp_tui.core.details import load_details

        kube = await self.kube_pool.get(target)
        return await load_details(kube, workload.namespace, workload.kind, workload.name)

    async def on_unmount(self) -> None:
        await self.kube_pool.close_all()


def make_app(
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    namespace: str | None = None,
    sandbox_kubeconfig: Path | None = None,
    clock: Clock = system_clock,
    details_loader: DetailsLoader | None = None,
) -> AksmcpApp:
    """The one factory. `context` picks the cluster shown first (default: kubeconfig's current context)."""
    targets = discover_targets(kubeconfig, sandbox_kubeconfig)
    initial = None
    if context is not None:
        initial = targets.find(context)
        if initial is None:
            # an explicit context that the tree does not list is still watched (and errors show inline)
            initial = ClusterTarget(context=context, kubeconfig=kubeconfig)
    return AksmcpApp(targets, initial=initial, namespace=namespace, clock=clock, details_loader=details_loader)
