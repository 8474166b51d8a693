"""Details of one MCP workload: pods, conditions, services and recent events, refreshed while open."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from aksmcp_tui.ui.actions import DETAILS_ACTIONS, bindings_for
from aksmcp_tui.ui.format import format_age, health_label
from aksmcp_tui.ui.targets import ClusterTarget
from aksmcp_tui.ui.widgets.problem_panel import ProblemPanel, describe

if TYPE_CHECKING:
    from aksmcp_tui.core.details import WorkloadDetails
    from aksmcp_tui.core.fleet import McpWorkload
    from aksmcp_tui.ui.app import AksmcpApp

DetailsLoader = Callable[[ClusterTarget, "McpWorkload"], Awaitable["WorkloadDetails"]]
REFRESH_SECONDS = 5.0

_TABLES: dict[str, tuple[str, ...]] = {
    "pods": ("NAME", "READY", "PHASE", "RESTARTS", "AGE", "NODE", "REASON"),
    "conditions": ("TYPE", "STATUS", "REASON", "MESSAGE"),
    "services": ("NAME", "TYPE", "PORTS"),
    "events": ("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"),
    "components": ("COMPONENT", "STATE", "DETAIL / HOW TO ADD IT"),
}
_EMPTY: dict[str, str] = {
    "pods": "No pods.",
    "conditions": "No conditions reported yet.",
    "services": "No service selects these pods.",
    "events": "No recent events.",
    "components": "",
}
_TITLES = {"events": "Recent events", "components": "Production components (enter: preview and apply)"}


class DetailsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(DETAILS_ACTIONS))

    def __init__(self, workload: McpWorkload, target: ClusterTarget) -> None:
        super().__init__(id="details")
        self.workload = workload
        self.target = target
        self.details: WorkloadDetails | None = None
        self.loads = 0  # completed loads (tests wait on it)
        self._shown: dict[str, list[tuple[str, ...]]] = {}

    @property
    def dash(self) -> AksmcpApp:
        from aksmcp_tui.ui.app import AksmcpApp

        assert isinstance(self.app, AksmcpApp)
        return self.app

    def compose(self) -> ComposeResult:
        w = self.workload
        yield Static(f" {w.name}  ·  {w.kind}  ·  namespace {w.namespace}  ·  context {w.context}", id="details-title")
        with VerticalScroll(id="details-body"):
            yield ProblemPanel(id="details-problem")
            yield Static(self._summary(w, None), id="details-summary", markup=False)
            for name, columns in _TABLES.items():
                yield Static(_TITLES.get(name, name.capitalize()), classes="section-title")
                table: DataTable[str] = DataTable(id=f"details-{name}", cursor_type="row", zebra_stripes=False)
                table.add_columns(*columns)
                yield table
                yield Static("Loading…", id=f"details-{name}-empty", classes="section-empty", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._load()
        self.set_interval(REFRESH_SECONDS, self._load)

    def _summary(self, w: McpWorkload, details: WorkloadDetails | None) -> str:
        image = details.image if details is not None else w.image
        lines = [
            f"Image      {image}",
            f"Ready      {w.ready}/{w.desired}",
            f"Health     {health_label(w.health)}" + (f" — {w.health_reason}" if w.health_reason else ""),
            f"Matched by {w.matched_by}",
        ]
        if details is not None and details.selector:
            lines.append("Selector   " + ",".join(f"{k}={v}" for k, v in sorted(details.selector.items())))
        return "\n".join(lines)

    @work(exclusive=True, group="details", exit_on_error=False, description="loading details")
    async def _load(self) -> None:
        from aksmcp_tui.core.kube import KubeProblem

        try:
            details = await self.dash.details_loader(self.target, self.workload)
        except KubeProblem as problem:
            title, body = describe(problem)
            self.query_one(ProblemPanel).show_problem(title, body, f"refreshing every {REFRESH_SECONDS:.0f} s")
            return
        except Exception as error:  # a bug or an odd object must not close the screen
            self.query_one(ProblemPanel).show_problem("Cannot load the details", f"{type(error).__name__}: {error}")
            return
        self.query_one(ProblemPanel).hide()
        self.details = details
        self._show_details(details)
        self.loads += 1

    def _show_details(self, details: WorkloadDetails) -> None:
        now = self.dash.clock()
        self.workload = details.workload
        self.query_one("#details-summary", Static).update(self._summary(details.workload, details))
        pods = [
            (
                p.name,
                p.ready_containers,
                p.phase,
                str(p.restarts),
                format_age(p.created, now),
                p.node or "—",
                p.reason,
            )
            for p in details.pods
        ]
        conditions = [(c.type, c.status, c.reason, _text(c.message)) for c in details.conditions]
        services = [(s.name, s.type, s.ports) for s in details.services]
        events = [
            (
                format_age(e.last_seen, now),
                e.type,
                e.reason,
                e.object,
                _text(e.message) + (f" (x{e.count})" if e.count > 1 else ""),
            )
            for e in details.events
        ]
        self._fill("pods", pods)
        self._fill("conditions", conditions)
        self._fill("services", services)
        self._fill("events", events)
        self._fill("components", component_rows(details))

    def _fill(self, name: str, rows: Sequence[tuple[str, ...]]) -> None:
        rows = [tuple(row) for row in rows]
        empty = self.query_one(f"#details-{name}-empty", Static)
        empty.update(_EMPTY[name])
        empty.display = not rows
        table = self.query_one(f"#details-{name}", DataTable)
        table.display = bool(rows)
        if self._shown.get(name) == rows:
            return  # unchanged: keep the cursor and avoid a repaint
        self._shown[name] = list(rows)
        table.clear()
        table.add_rows(rows)

    # ------------------------------------------------------------------ actions
    def action_back(self) -> None:
        self.dismiss()

    def action_refresh(self) -> None:
        self._load()

    def action_open_console(self) -> None:
        from aksmcp_tui.ui.screens.console import console_for_workload

        self.app.push_screen(console_for_workload(self.target, self.workload))

    def action_connect_ide(self) -> None:
        from aksmcp_tui.ui.screens.connect import open_connect

        open_connect(self, self.workload, self.target)

    def action_open_logs(self) -> None:
        from aksmcp_tui.ui.screens.logs import LogsScreen

        self.app.push_screen(LogsScreen(self.workload, self.target))

    def action_open_metrics(self) -> None:
        from aksmcp_tui.ui.screens.metrics import MetricsScreen

        self.app.push_screen(MetricsScreen(self.workload, self.target))

    def action_deploy(self) -> None:
        from aksmcp_tui.ui.screens.deploy import DeployScreen

        self.app.push_screen(DeployScreen(self.target, self.workload))

    def action_forward(self) -> None:
        from aksmcp_tui.ui.screens.forwards import forward_workload

        forward_workload(self, self.target, self.workload)

    def action_help(self) -> None:
        from aksmcp_tui.ui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(DETAILS_ACTIONS, "Details"))

    @on(DataTable.RowSelected, "#details-components")
    def _offer_generator(self, event: DataTable.RowSelected) -> None:
        """A component row: its generator, to preview (diff) and apply to the deployment's project."""
        from aksmcp_tui.core.components.annotations import GENERATORS
        from aksmcp_tui.ui.screens.component import ComponentScreen, default_project_dir

        name, state, detail = (
            str(v) for v in self.query_one("#details-components", DataTable).get_row_at(event.cursor_row)
        )
        command = GENERATORS.get(name)
        if command is not None:
            project = default_project_dir(self.workload.name)
            self.app.push_screen(ComponentScreen(name, state, detail, command, project))

    @on(ProblemPanel.RetryRequested)
    def _retry(self) -> None:
        self._load()


def component_rows(details: WorkloadDetails) -> list[tuple[str, str, str]]:
    """Every production component: on (with what it does here) or off (with the command that adds it)."""
    from aksmcp_tui.core.components.annotations import GENERATORS

    present = {c.name: c.detail for c in details.components}
    rows = [(name, "on", present[name]) for name in sorted(present)]
    rows += [(name, "—", command) for name, command in GENERATORS.items() if name not in present and name != "ci"]
    rows.append(("ci", "—", GENERATORS["ci"]))
    return rows


def _text(value: str) -> str:
    """One line: event and condition messages may hold newlines."""
    return " ".join(value.split())
