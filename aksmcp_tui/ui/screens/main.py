"""The main screen: cluster tree on the left, MCP deployments of the chosen cluster in the centre."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from aksmcp_tui.ui.actions import MAIN_ACTIONS, bindings_for
from aksmcp_tui.ui.command_line import COMMAND_WORDS, CommandError, parse_command
from aksmcp_tui.ui.targets import ClusterTarget, TargetList
from aksmcp_tui.ui.widgets.cluster_tree import ClusterTree
from aksmcp_tui.ui.widgets.fleet_table import FleetTable, WorkloadKey
from aksmcp_tui.ui.widgets.problem_panel import ProblemPanel, describe

if TYPE_CHECKING:
    from aksmcp_tui.core.fleet import FleetEvent, McpWorkload
    from aksmcp_tui.core.kube import KubeProblem
    from aksmcp_tui.ui.app import AksmcpApp

TRAFFIC_SECONDS = 5.0
FILTER_HINT = "filter: name, namespace, image, health"
FLUSH_DELAY = 0.05  # watch events arriving within this window are applied with one repaint


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(MAIN_ACTIONS))

    def __init__(self, targets: TargetList, initial: ClusterTarget | None, namespace: str | None) -> None:
        super().__init__(id="main")
        self.targets = targets
        self.target: ClusterTarget | None = initial
        self.namespace = namespace
        self.live_state = "idle"  # idle | connecting | live | problem
        self.problem: KubeProblem | None = None
        self._generation = 0
        self.connects = 0  # how many times a watch was started (tests wait on it)
        self._pending_changed: dict[WorkloadKey, McpWorkload] = {}
        self._pending_removed: set[WorkloadKey] = set()
        self._flush_timer: Timer | None = None
        # RBAC limits the watch reported (FleetScopeNarrowed, FleetHealthLimited): shown while no problem is
        self.notices: dict[str, tuple[str, str]] = {}  # "scope" | "health" -> (title, body)
        self.narrowed_to: str | None = None  # the namespace shown because all namespaces are forbidden
        self.filter_tree = False  # "/" pressed in the cluster tree filters its Azure branch

    @property
    def dash(self) -> AksmcpApp:
        from aksmcp_tui.ui.app import AksmcpApp

        assert isinstance(self.app, AksmcpApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Static("", id="topbar", markup=False)
        with Horizontal(id="body"):
            yield ClusterTree(id="clusters")
            with Vertical(id="fleet-pane"):
                yield ProblemPanel(id="problem")
                yield FleetTable(id="fleet", clock=self.dash.clock)
                yield Input(placeholder=FILTER_HINT, id="filter")
                yield Input(
                    placeholder=":ctx NAME · :ns NAME|all · :deploy · :help",
                    id="command",
                    suggester=SuggestFromList(self._command_suggestions(), case_sensitive=False),
                )
        yield Footer()

    def _command_suggestions(self) -> list[str]:
        words = [f"ctx {t.context}" for t in self.targets.all()]
        return [*words, *COMMAND_WORDS, "ns all"]

    def on_mount(self) -> None:
        self.query_one(ClusterTree).populate(self.targets, self.target)
        self.query_one("#filter", Input).display = False
        self.query_one("#command", Input).display = False
        table = self.query_one(FleetTable)
        table.set_interval(5.0, table.refresh)  # ages move on
        self.set_interval(TRAFFIC_SECONDS, self._traffic_tick)  # calls/s of forwarded deployments
        table.focus()
        if self.target is None:
            table.clear("No cluster chosen. Pick a context on the left, or run aksmcp --sandbox.")
            if self.targets.kubeconfig_problem:
                self._show_problem_text("kubeconfig", self.targets.kubeconfig_problem)
            self._update_topbar()
        else:
            # Paint the first frame before the connection starts: opening a context imports the kubernetes
            # client (about half a second of CPU), which would otherwise delay the first paint.
            self.query_one(FleetTable).clear(f"Connecting to {self.target.context}…")
            self.call_after_refresh(self.switch_target, self.target, self.namespace)
        self._follow_forwards()
        self._forward_notifications()

    # ------------------------------------------------------------------ watching
    def switch_target(self, target: ClusterTarget, namespace: str | None) -> None:
        self.target = target
        self.namespace = namespace
        self._generation += 1
        self.connects += 1
        self._pending_changed.clear()
        self._pending_removed.clear()
        self.problem = None
        self.notices.clear()
        self.narrowed_to = None
        self.query_one(ProblemPanel).hide()
        self.query_one(FleetTable).clear(f"Connecting to {target.context}…")
        self.query_one(ClusterTree).mark_active(target)
        self.live_state = "connecting"
        self._update_topbar()
        self._watch(target, namespace, self._generation)

    @work(exclusive=True, group="fleet", exit_on_error=False, description="watching the fleet")
    async def _watch(self, target: ClusterTarget, namespace: str | None, generation: int) -> None:
        from aksmcp_tui.core.fleet import watch_fleet
        from aksmcp_tui.core.kube import KubeProblem

        try:
            kube = await self.dash.kube_pool.get(target)
            events = watch_fleet(kube, namespace)
            try:
                async for event in events:
                    if generation != self._generation:
                        return
                    self._on_fleet_event(event)
            finally:
                # close it now: a cancelled worker (another cluster chosen) stops the old watches at once
                close = getattr(events, "aclose", None)
                if close is not None:
                    await close()
        except KubeProblem as problem:
            if generation == self._generation:
                self._show_kube_problem(problem, None)
        except Exception as error:  # never let a cluster problem take the UI down
            if generation == self._generation:
                self._show_problem_text("error", f"{type(error).__name__}: {error}")

    def _on_fleet_event(self, event: FleetEvent) -> None:
        from aksmcp_tui.core.fleet import (
            FleetHealthLimited,
            FleetProblem,
            FleetScopeNarrowed,
            FleetSnapshot,
            WorkloadChanged,
            WorkloadRemoved,
        )

        table = self.query_one(FleetTable)
        if isinstance(event, FleetSnapshot):
            self._pending_changed.clear()
            self._pending_removed.clear()
            if event.health_from_pods:
                self.notices.pop("health", None)
            shown = self.narrowed_to or self.namespace
            scope = f"namespace {shown}" if shown else "any namespace"
            table.set_empty_message(f"No MCP deployments in {scope} of this cluster yet.")
            table.replace_all(event.workloads)
            self._clear_problem()
        elif isinstance(event, WorkloadChanged):
            self._pending_removed.discard(event.workload.key)
            self._pending_changed[event.workload.key] = event.workload
            self._schedule_flush()
        elif isinstance(event, WorkloadRemoved):
            self._pending_changed.pop(event.key, None)
            self._pending_removed.add(event.key)
            self._schedule_flush()
        elif isinstance(event, FleetProblem):
            self._show_kube_problem(event.problem, event.retrying_in)
        elif isinstance(event, FleetScopeNarrowed):
            self.narrowed_to = event.namespace
            body = f"{event.reason[:1].upper()}{event.reason[1:]}. Other namespaces: :ns NAME."
            self.notices["scope"] = (f"Showing namespace {event.namespace} only", body)
            self._show_notices()
            self._update_topbar()
        elif isinstance(event, FleetHealthLimited):
            self.notices["health"] = ("Health without pods", event.reason[:1].upper() + event.reason[1:] + ".")
            self._show_notices()

    def _schedule_flush(self) -> None:
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(FLUSH_DELAY, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        if not self._pending_changed and not self._pending_removed:
            return
        changed = list(self._pending_changed.values())
        removed = list(self._pending_removed)
        self._pending_changed.clear()
        self._pending_removed.clear()
        table = self.query_one(FleetTable)
        self._notify_new_failures(table, changed)
        table.apply_changes(changed, removed)
        if self.problem is not None:
            self._clear_problem()

    def _notify_new_failures(self, table: FleetTable, changed: list[McpWorkload]) -> None:
        """A background event worth a toast: a workload that just started failing."""
        for workload in changed:
            before = table.get(workload.key)
            if str(workload.health) == "failing" and (before is None or str(before.health) != "failing"):
                self.notify(
                    f"{workload.namespace}/{workload.name}: {workload.health_reason or 'failing'}",
                    title="MCP server failing",
                    severity="error",
                )

    def _clear_problem(self) -> None:
        if self.problem is not None and self.target is not None:
            self.notify(f"Connected to {self.target.context} again.", title="Back online")
        self.problem = None
        self.query_one(ProblemPanel).hide()
        self._show_notices()
        self.live_state = "live"
        self._update_topbar()

    def _show_notices(self) -> None:
        """RBAC notices in the panel's info style (a problem, while there is one, takes the panel)."""
        if self.problem is not None:
            return
        panel = self.query_one(ProblemPanel)
        if not self.notices:
            panel.hide()
            return
        titles = [title for title, _ in self.notices.values()]
        panel.show_info(" · ".join(titles), "\n".join(body for _, body in self.notices.values()))

    def _show_kube_problem(self, problem: KubeProblem, retrying_in: float | None) -> None:
        self.problem = problem
        self.live_state = "problem"
        title, body = describe(problem)
        note = f"retrying by itself in {retrying_in:.0f} s" if retrying_in else "press r to retry"
        self.query_one(ProblemPanel).show_problem(title, body, note)
        table = self.query_one(FleetTable)
        if table.total == 0:
            table.set_empty_message("No data: see the message above.")
        self._update_topbar()

    def _show_problem_text(self, kind: str, message: str) -> None:
        from aksmcp_tui.core.kube import KubeProblem

        self._show_kube_problem(KubeProblem(kind, message), None)

    # ------------------------------------------------------------------ status
    def _update_topbar(self) -> None:
        table = self.query_one(FleetTable)
        context = self.target.context if self.target else "no cluster"
        namespace = self.namespace or "all"
        if self.narrowed_to:
            namespace = f"{self.narrowed_to} (no access to all)"
        state = {
            "idle": "○ idle",
            "connecting": "◌ connecting",
            "live": "● live",
            "problem": "✕ problem" if table.total == 0 else "◐ stale (problem)",
        }[self.live_state]
        noun = "MCP deployment" if table.total == 1 else "MCP deployments"
        counts = f"{table.total} {noun}"
        if table.filter_text:
            counts = f"{table.shown} of {table.total} {noun}  /{table.filter_text}"
        text = f" aksmcp  ·  context {context}  ·  namespace {namespace}  ·  {counts}  ·  {state}"
        self.query_one("#topbar", Static).update(text)

    @on(FleetTable.Changed)
    def _table_changed(self, event: FleetTable.Changed) -> None:
        self._update_topbar()

    # ------------------------------------------------------------------ events
    @on(ClusterTree.TargetChosen)
    def _target_chosen(self, event: ClusterTree.TargetChosen) -> None:
        if self.target is None or event.target.key != self.target.key or self.problem is not None:
            self.switch_target(event.target, self.namespace)
        self.set_focus(self.query_one(FleetTable))

    @on(ClusterTree.AzureCredentialsRequested)
    def _azure_credentials(self, event: ClusterTree.AzureCredentialsRequested) -> None:
        from aksmcp_tui.ui.azure_credentials import get_credentials_in_background

        get_credentials_in_background(self, event.cluster)

    @on(FleetTable.Opened)
    def _opened(self, event: FleetTable.Opened) -> None:
        self._open_details(event.workload)

    @on(ProblemPanel.RetryRequested)
    def _retry_pressed(self) -> None:
        self.action_retry()

    def _open_details(self, workload: McpWorkload) -> None:
        from aksmcp_tui.ui.screens.details import DetailsScreen

        if self.target is None:
            return
        self.app.push_screen(DetailsScreen(workload, self.target))

    @on(Input.Changed, "#filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        if self.filter_tree:
            self.query_one(ClusterTree).set_azure_filter(event.value)
            return
        self.query_one(FleetTable).set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        if self.filter_tree:
            self.query_one("#filter", Input).display = bool(self.query_one(ClusterTree).azure_filter)
            self.set_focus(self.query_one(ClusterTree))
            return
        self.query_one("#filter", Input).display = bool(self.query_one(FleetTable).filter_text)
        self.set_focus(self.query_one(FleetTable))

    @on(Input.Submitted, "#command")
    def _command_done(self, event: Input.Submitted) -> None:
        line = self.query_one("#command", Input)
        line.display = False
        line.value = ""
        self.set_focus(self.query_one(FleetTable))
        self.run_command_line(event.value)

    def run_command_line(self, text: str) -> None:
        try:
            jump = parse_command(text)
        except CommandError as error:
            self.notify(str(error), title="Command", severity="warning")
            return
        if jump.kind == "context":
            assert jump.argument is not None
            target = self.targets.find(jump.argument)
            if target is None:
                names = ", ".join(t.context for t in self.targets.all()) or "none"
                self.notify(f"No context named {jump.argument} (known: {names})", title="Command", severity="warning")
                return
            self.switch_target(target, self.namespace)
        elif jump.kind == "namespace":
            if self.target is None:
                self.namespace = jump.argument
                self._update_topbar()
            else:
                self.switch_target(self.target, jump.argument)
        elif jump.kind == "deployments":
            self.set_focus(self.query_one(FleetTable))
        elif jump.kind == "forwards":
            self.action_forwards()
        elif jump.kind == "help":
            self.action_help()
        elif jump.kind == "quit":
            self.action_quit_app()
        elif jump.kind == "logs":
            self.action_open_logs()
        elif jump.kind == "metrics":
            self.action_open_metrics()
        elif jump.kind == "console":
            self.action_open_console()

    # ------------------------------------------------------------------ actions
    def action_open_details(self) -> None:
        workload = self.query_one(FleetTable).selected
        if workload is None:
            self.notify("No deployment selected", severity="warning")
        else:
            self._open_details(workload)

    def action_open_console(self) -> None:
        workload = self.query_one(FleetTable).selected
        if workload is None or self.target is None:
            self.notify("No deployment selected", severity="warning")
            return
        from aksmcp_tui.ui.screens.console import console_for_workload

        self.app.push_screen(console_for_workload(self.target, workload))

    def action_open_logs(self) -> None:
        from aksmcp_tui.ui.screens.logs import LogsScreen

        workload = self.query_one(FleetTable).selected
        if workload is None or self.target is None:
            self.notify("No deployment selected", severity="warning")
        else:
            self.app.push_screen(LogsScreen(workload, self.target))

    def action_open_metrics(self) -> None:
        from aksmcp_tui.ui.screens.metrics import MetricsScreen

        workload = self.query_one(FleetTable).selected
        if workload is None or self.target is None:
            self.notify("No deployment selected", severity="warning")
        else:
            self.app.push_screen(MetricsScreen(workload, self.target))

    @work(group="traffic", exit_on_error=False, description="scraping forwarded deployments")
    async def _traffic_tick(self) -> None:
        """calls/s and errors for deployments with a managed forward (issue 10): a nicety, never an error."""
        from aksmcp_tui.core.observe.traffic import ForwardedTraffic

        target = self.target
        if target is None or getattr(self, "_traffic_busy", False):
            return
        self._traffic_busy = True
        try:
            kube = await self.dash.kube_pool.get(target)
            traffic: ForwardedTraffic | None = getattr(self, "_traffic", None)
            if traffic is None or traffic.kube is not kube:
                if traffic is not None:
                    await traffic.close()
                traffic = self._traffic = ForwardedTraffic(kube, target.context)
            found = await traffic.round()
        except Exception:
            return
        finally:
            self._traffic_busy = False
        if target is self.target:
            self.query_one(FleetTable).set_traffic({(ns, "Deployment", name): v for (ns, name), v in found.items()})

    async def on_unmount(self) -> None:
        traffic = getattr(self, "_traffic", None)
        if traffic is not None:
            await traffic.close()

    def _typing_elsewhere(self) -> None:
        """ ":" and "/" are priority bindings: inside a text field they are just characters."""
        if isinstance(self.focused, Input):
            raise SkipAction()

    def action_command_line(self) -> None:
        self._typing_elsewhere()
        line = self.query_one("#command", Input)
        line.value = ""
        line.display = True
        self.set_focus(line)  # at once, not deferred: keys typed right after ":" belong to the line

    def action_filter(self) -> None:
        self._typing_elsewhere()
        line = self.query_one("#filter", Input)
        in_tree = isinstance(self.focused, ClusterTree)
        if in_tree != self.filter_tree:  # the one filter line switches between the table and the Azure branch
            self.filter_tree = in_tree
            tree, table = self.query_one(ClusterTree), self.query_one(FleetTable)
            line.value = tree.azure_filter if in_tree else table.filter_text
            line.placeholder = "filter AKS clusters: name, group, location, version" if in_tree else FILTER_HINT
        line.display = True
        self.set_focus(line)  # at once: keys typed right after "/" are the filter

    def action_back(self) -> None:
        """esc: leave a prompt, then clear the filter."""
        command = self.query_one("#command", Input)
        if command.display:
            command.display = False
            command.value = ""
            self.set_focus(self.query_one(FleetTable))
            return
        filter_line = self.query_one("#filter", Input)
        tree = self.query_one(ClusterTree)
        if self.filter_tree and (filter_line.display or tree.azure_filter):
            filter_line.value = ""
            filter_line.display = False
            tree.set_azure_filter("")
            self.set_focus(tree)
            return
        if filter_line.display or self.query_one(FleetTable).filter_text:
            filter_line.value = ""
            filter_line.display = False
            self.query_one(FleetTable).set_filter("")
            self.set_focus(self.query_one(FleetTable))

    def action_retry(self) -> None:
        if self.target is None:
            self.notify("Pick a cluster first", severity="warning")
            return
        target, namespace = self.target, self.namespace
        self.workers.cancel_group(self, "fleet")
        self._retry_after_forget(target, namespace)

    @work(group="retry", exit_on_error=False)
    async def _retry_after_forget(self, target: ClusterTarget, namespace: str | None) -> None:
        await self.dash.kube_pool.forget(target)
        self.switch_target(target, namespace)

    def action_focus_clusters(self) -> None:
        self.set_focus(self.query_one(ClusterTree))

    def action_help(self) -> None:
        from aksmcp_tui.ui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(MAIN_ACTIONS, "Fleet"))

    def action_connect_ide(self) -> None:
        from aksmcp_tui.ui.screens.connect import open_connect

        open_connect(self, self.query_one(FleetTable).selected, self.target)

    def action_deploy(self) -> None:
        from aksmcp_tui.ui.screens.deploy import DeployScreen

        if self.target is None:
            self.notify("Pick a cluster first", title="Deploy", severity="warning")
            return
        self.app.push_screen(DeployScreen(self.target, self.query_one(FleetTable).selected, namespace=self.namespace))

    # ------------------------------------------------------------------ forwards (issue 7)
    def action_forward(self) -> None:
        from aksmcp_tui.ui.screens.forwards import forward_workload

        forward_workload(self, self.target, self.query_one(FleetTable).selected)

    def action_forwards(self) -> None:
        from aksmcp_tui.ui.screens.forwards import ForwardsScreen

        self.app.push_screen(ForwardsScreen())

    @work(group="forward-labels", exclusive=True, exit_on_error=False)
    async def _follow_forwards(self) -> None:
        """The FORWARD column, from the daemon's list (quietly empty while no daemon runs)."""
        import asyncio

        from aksmcp_tui.core.forward import ForwardError
        from aksmcp_tui.core.forward.control import list_forwards
        from aksmcp_tui.ui.screens.forwards import forward_label

        while True:
            try:
                statuses = await list_forwards()
            except ForwardError:
                statuses = []
            context = self.target.context if self.target is not None else None
            labels = {
                (s.namespace, s.target.split("/", 1)[1]): forward_label(s)
                for s in statuses
                if s.context == context and s.target.startswith("deploy/")
            }
            self.query_one(FleetTable).set_forwards(labels)
            await asyncio.sleep(2.0)

    @work(group="forward-events", exclusive=True, exit_on_error=False)
    async def _forward_notifications(self) -> None:
        """Forward state changes as notifications (the daemon pushes them; reconnect when it restarts)."""
        import asyncio

        from aksmcp_tui.core.forward import ForwardError
        from aksmcp_tui.core.forward.control import forward_events
        from aksmcp_tui.ui.screens.forwards import STATE_SEVERITY, forward_label

        while True:
            try:
                async for status, previous in forward_events():
                    if status.state == previous:
                        continue
                    detail = f"\n{status.last_error}" if status.last_error and status.state != "active" else ""
                    self.app.notify(
                        f"{previous} → {forward_label(status)}{detail}",
                        title=f"Forward {status.target} ({status.namespace})",
                        severity=STATE_SEVERITY.get(status.state, "information"),
                    )
            except ForwardError:
                pass
            await asyncio.sleep(3.0)

    def action_quit_app(self) -> None:
        self.app.exit()
