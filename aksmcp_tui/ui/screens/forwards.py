"""Forwards in the dashboard: the Forwards screen, `f` on a deployment, the FORWARD column's labels
and state-change notifications. Everything goes through the forward daemon's control socket (the
dashboard is one of its clients, like the CLI); when no daemon runs, the user is offered to start it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Static

from aksmcp_tui.core.forward import ForwardError, ForwardSpec, ForwardStatus

if TYPE_CHECKING:
    from aksmcp_tui.core.fleet import McpWorkload
    from aksmcp_tui.ui.targets import ClusterTarget

REFRESH_SECONDS = 1.0
COLUMNS = (
    "ID",
    "TARGET",
    "NAMESPACE",
    "LOCAL",
    "STATE",
    "POD",
    "UPTIME",
    "RECONNECTS",
    "CONNS",
    "IN",
    "OUT",
    "MCP",
    "LAST ERROR",
)
STATE_SEVERITY: dict[str, SeverityLevel] = {
    "active": "information",
    "degraded": "warning",
    "waiting": "warning",
    "failed": "error",
}


def latency_text(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}ms" if value >= 10 else f"{value:.1f}ms"


def forward_label(status: ForwardStatus) -> str:
    """The FORWARD column: state, local URL, MCP latency."""
    latency = f" {latency_text(status.mcp_latency_ms)}" if status.mcp_latency_ms is not None else ""
    return f"{status.state} {status.local_url}{latency}"


def size_text(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{count}B"


def uptime_text(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def spec_for(target: ClusterTarget, workload: McpWorkload) -> ForwardSpec:
    """The managed forward of a deployment: its container port named "mcp" (else the first)."""
    return ForwardSpec(
        context=target.context,
        namespace=workload.namespace,
        target=f"deploy/{workload.name}",
        kubeconfig=target.kubeconfig,
    )


class StartDaemonDialog(ModalScreen[bool]):
    """No daemon answers: offer to start it (y / enter) or not (n / esc)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Start", show=True),
        Binding("n,escape", "answer(False)", "Cancel", show=True),
    ]

    DEFAULT_CSS = """
    StartDaemonDialog { align: center middle; }
    StartDaemonDialog #start-daemon-box {
        width: 72; height: auto; border: thick $primary; background: $surface; padding: 1 2;
    }
    StartDaemonDialog #start-daemon-buttons { height: auto; align: center middle; margin-top: 1; }
    StartDaemonDialog Button { margin: 0 1; }
    """

    def __init__(self, why: str) -> None:
        super().__init__(id="start-daemon")
        self.why = why

    def compose(self) -> ComposeResult:
        with Vertical(id="start-daemon-box"):
            yield Static(
                "No forward daemon runs.\n\n"
                f"{self.why}\n\n"
                "Start it now? It runs in the background (aksmcp forward daemon --detach) and keeps the "
                "forwards alive after the dashboard closes.",
                id="start-daemon-text",
            )
            with Horizontal(id="start-daemon-buttons"):
                yield Button("Start daemon (y)", id="start-yes", variant="primary")
                yield Button("Cancel (n)", id="start-no")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed, "#start-yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#start-no")
    def _no(self) -> None:
        self.dismiss(False)


class ForwardsScreen(Screen[None]):
    """Every managed forward with its pod, uptime, reconnects, traffic and last error."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back"),
        Binding("x,delete", "remove", "Remove"),
        Binding("r", "restart", "Restart"),
        Binding("s", "start_daemon", "Start daemon"),
    ]

    DEFAULT_CSS = """
    ForwardsScreen #forwards-note { height: auto; padding: 0 1; color: $text-muted; }
    ForwardsScreen DataTable { height: 1fr; }
    """

    def __init__(self, select: str | None = None) -> None:
        super().__init__(id="forwards")
        self.select = select
        self.statuses: list[ForwardStatus] = []
        self.daemon_running: bool | None = None
        self.refreshes = 0  # tests wait on it

    def compose(self) -> ComposeResult:
        yield Static("Forwards", id="forwards-title")
        yield Static("", id="forwards-note", markup=False)
        table: DataTable[str] = DataTable(id="forwards-table", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_forwards()
        self.set_interval(REFRESH_SECONDS, self.refresh_forwards)

    @property
    def table(self) -> DataTable[str]:
        return self.query_one("#forwards-table", DataTable)

    def selected_id(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return None if row_key.value is None else str(row_key.value)

    @work(group="forwards-refresh", exclusive=True, exit_on_error=False)
    async def refresh_forwards(self) -> None:
        from aksmcp_tui.core.forward.control import DaemonNotRunning, list_forwards

        note = self.query_one("#forwards-note", Static)
        try:
            statuses = await list_forwards()
        except DaemonNotRunning:
            self.daemon_running = False
            statuses = []
            note.update("No forward daemon runs: press s to start it (or run `aksmcp forward daemon --detach`).")
        except ForwardError as exc:
            self.daemon_running = None
            statuses = []
            note.update(str(exc))
        else:
            self.daemon_running = True
            note.update(
                f"{len(statuses)} forward(s) · x remove · r restart · esc back"
                if statuses
                else "No forwards yet: press f on a deployment (or `aksmcp forward add deploy/NAME -n NS`)."
            )
        self._fill(statuses)
        self.refreshes += 1

    def _fill(self, statuses: list[ForwardStatus]) -> None:
        table = self.table
        keep = self.select or self.selected_id()
        self.statuses = statuses
        table.clear()
        for s in statuses:
            table.add_row(
                s.id,
                s.target,
                s.namespace,
                s.local_url,
                s.state,
                s.pod or "-",
                uptime_text(s.uptime_s),
                str(s.reconnects),
                str(s.open_connections),
                size_text(s.bytes_in),
                size_text(s.bytes_out),
                latency_text(s.mcp_latency_ms),
                (s.last_error or "")[:120],
                key=s.id,
            )
        if keep is not None:
            ids = [s.id for s in statuses]
            if keep in ids:
                table.move_cursor(row=ids.index(keep))
                self.select = None

    def action_back(self) -> None:
        self.dismiss()

    def action_remove(self) -> None:
        forward_id = self.selected_id()
        if forward_id is None:
            self.notify("No forward selected", severity="warning")
            return
        self._remove(forward_id)

    @work(group="forwards-change", exit_on_error=False)
    async def _remove(self, forward_id: str) -> None:
        from aksmcp_tui.core.forward.control import remove_forward

        try:
            await remove_forward(forward_id)
        except ForwardError as exc:
            self.notify(str(exc), title="Remove forward", severity="error")
            return
        self.notify(f"Removed forward {forward_id}", title="Forwards")
        self.refresh_forwards()

    def action_restart(self) -> None:
        forward_id = self.selected_id()
        if forward_id is None:
            self.notify("No forward selected", severity="warning")
            return
        self._restart(forward_id)

    @work(group="forwards-change", exit_on_error=False)
    async def _restart(self, forward_id: str) -> None:
        from aksmcp_tui.core.forward.control import restart_forward

        try:
            status = await restart_forward(forward_id)
        except ForwardError as exc:
            self.notify(str(exc), title="Restart forward", severity="error")
            return
        self.notify(f"Restarted {status.target}: {forward_label(status)}", title="Forwards")
        self.refresh_forwards()

    def action_start_daemon(self) -> None:
        self._start_daemon()

    @work(group="forwards-change", exit_on_error=False)
    async def _start_daemon(self) -> None:
        from aksmcp_tui.core.forward.control import start_daemon

        try:
            pid = await start_daemon()
        except ForwardError as exc:
            self.notify(str(exc), title="Forward daemon", severity="error")
            return
        self.notify(f"Forward daemon running (pid {pid})", title="Forward daemon")
        self.refresh_forwards()


def forward_workload(screen: Screen[Any], target: ClusterTarget | None, workload: McpWorkload | None) -> None:
    """`f` on a deployment: create (or show) its managed forward, offering to start the daemon."""
    if target is None or workload is None:
        screen.notify("No deployment selected", severity="warning")
        return
    if workload.kind != "Deployment":
        screen.notify(f"{workload.name} is a {workload.kind}: forward its deployment or service", severity="warning")
        return
    _ensure(screen, spec_for(target, workload))


@work(group="forward-ensure", exclusive=True, exit_on_error=False)
async def _ensure(screen: Screen[Any], spec: ForwardSpec) -> None:
    from aksmcp_tui.core.forward.control import daemon_status

    if await daemon_status() is None:

        def answered(start: bool | None) -> None:
            if start:
                _start_and_ensure(screen, spec)

        screen.app.push_screen(
            StartDaemonDialog(f"Forwarding {spec.target} ({spec.namespace}) needs it."), callback=answered
        )
        return
    await _create(screen, spec)


@work(group="forward-ensure", exclusive=True, exit_on_error=False)
async def _start_and_ensure(screen: Screen[Any], spec: ForwardSpec) -> None:
    from aksmcp_tui.core.forward.control import start_daemon

    try:
        pid = await start_daemon()
    except ForwardError as exc:
        screen.notify(str(exc), title="Forward daemon", severity="error")
        return
    screen.notify(f"Forward daemon running (pid {pid})", title="Forward daemon")
    await _create(screen, spec)


async def _create(screen: Screen[Any], spec: ForwardSpec) -> None:
    from aksmcp_tui.core.forward.control import ensure_forward

    try:
        status = await ensure_forward(spec, start_daemon=False)
    except ForwardError as exc:
        screen.notify(str(exc), title=f"Forward {spec.target}", severity="error", timeout=10)
        return
    severity: SeverityLevel = "information" if status.state == "active" else "warning"
    detail = f" — {status.last_error}" if status.last_error and status.state != "active" else ""
    screen.notify(f"{status.mcp_url} ({status.state}){detail}", title=f"Forward {spec.target}", severity=severity)
    screen.app.push_screen(ForwardsScreen(select=status.id))
