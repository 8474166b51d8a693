"""The metrics screen (`m` on a deployment): per-tool rates, errors and latency, with history plots.

Snapshots come from core.observe.MetricsWatcher (the same rounds `aksmcp metrics --watch` prints).
History is bounded (`HISTORY` rounds); scrape errors show inline, per pod, without stopping the rest.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Sparkline, Static

from aksmcp_tui.ui.actions import UiAction, bindings_for
from aksmcp_tui.ui.targets import ClusterTarget

if TYPE_CHECKING:
    from aksmcp_tui.core.fleet import McpWorkload
    from aksmcp_tui.core.observe import MetricsSnapshot, RateWindow, ToolRates
    from aksmcp_tui.ui.app import AksmcpApp

MetricsSource = Callable[["McpWorkload"], AsyncIterator["MetricsSnapshot"]]
HISTORY = 120  # rounds kept for the plots (4 minutes at the default 2 s)
INTERVAL = 2.0
BARS = "▁▂▃▄▅▆▇█"
PLOTS = {"calls": "calls/s", "errors": "errors/s", "p95": "p95 latency ms"}

METRICS_ACTIONS: tuple[UiAction, ...] = (
    UiAction("back", "escape,q", "esc/q", "Back", "Back", "Close the metrics"),
    UiAction("toggle_pause", "p", "p", "Pause", "Pause / resume", "Stop or restart scraping"),
)

TOOL_COLUMNS = ("TOOL", "CALLS/S", "ERRORS", "P50", "P95", "P99", "TREND")
POD_COLUMNS = ("POD", "CALLS/S", "ERRORS", "SESSIONS", "IN-FLIGHT", "CPU", "MEMORY", "SCRAPE")


def spark(values: list[float], width: int = 16) -> str:
    """A text sparkline for table cells (Textual's Sparkline widget is for the big plots)."""
    tail = values[-width:]
    if not tail:
        return ""
    top = max(tail)
    if top <= 0:
        return BARS[0] * len(tail)
    return "".join(BARS[min(len(BARS) - 1, int(v / top * (len(BARS) - 1) + 0.5))] for v in tail)


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f}ms" if value < 10 else f"{value:.1f}s"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def mebibytes(value: float | None) -> str:
    return "-" if value is None else f"{value / 1048576:.0f}Mi"


def millicores(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}m"


class MetricsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(METRICS_ACTIONS))
    DEFAULT_CSS = """
    MetricsScreen #metrics-title { height: 1; background: $panel; text-style: bold; }
    MetricsScreen #metrics-summary { height: auto; padding: 0 1; }
    MetricsScreen #metrics-errors { height: auto; color: $error; padding: 0 1; }
    MetricsScreen #metrics-plots { height: auto; padding: 1 1 0 1; }
    MetricsScreen .plot { height: 2; }
    MetricsScreen .plot Static { width: 30; color: $text-muted; }
    MetricsScreen .plot Sparkline { width: 1fr; height: 2; }
    MetricsScreen DataTable { height: auto; max-height: 50%; }
    MetricsScreen .section-title { height: 1; text-style: bold; padding: 0 1; }
    """

    def __init__(
        self,
        workload: McpWorkload,
        target: ClusterTarget,
        *,
        source: MetricsSource | None = None,
        history: int = HISTORY,
        interval: float = INTERVAL,
    ) -> None:
        super().__init__(id="metrics")
        self.workload = workload
        self.target = target
        self.source = source
        self.interval = interval
        self.rounds = 0
        self.paused = False
        self.latest: MetricsSnapshot | None = None
        self.calls: deque[float] = deque(maxlen=history)
        self.errors: deque[float] = deque(maxlen=history)
        self.p95: deque[float] = deque(maxlen=history)
        self.tool_calls: dict[str, deque[float]] = {}
        self.history = history

    def compose(self) -> ComposeResult:
        w = self.workload
        yield Static(f" Metrics  ·  {w.name}  ·  namespace {w.namespace}  ·  context {w.context}", id="metrics-title")
        with VerticalScroll():
            yield Static("Scraping /metrics of every pod…", id="metrics-summary", markup=False)
            yield Static("", id="metrics-errors", markup=False)
            with Vertical(id="metrics-plots"):
                for key, label in PLOTS.items():
                    with Horizontal(classes="plot"):
                        yield Static(label, id=f"plot-{key}-label", markup=False)
                        yield Sparkline([], id=f"plot-{key}")
            yield Static("Tools", classes="section-title")
            tools: DataTable[str] = DataTable(id="metrics-tools", cursor_type="row")
            tools.add_columns(*TOOL_COLUMNS)
            yield tools
            yield Static("Pods", classes="section-title")
            pods: DataTable[str] = DataTable(id="metrics-pods", cursor_type="row")
            pods.add_columns(*POD_COLUMNS)
            yield pods
        yield Footer()

    def on_mount(self) -> None:
        self._scrape()

    def _dash(self) -> AksmcpApp:
        from aksmcp_tui.ui.app import AksmcpApp

        assert isinstance(self.app, AksmcpApp)
        return self.app

    def _snapshots(self) -> AsyncIterator[MetricsSnapshot]:
        if self.source is not None:
            return self.source(self.workload)
        return self._cluster_snapshots()

    async def _cluster_snapshots(self) -> AsyncIterator[MetricsSnapshot]:
        from aksmcp_tui.core.observe import MetricsWatcher

        kube = await self._dash().kube_pool.get(self.target)
        watcher = MetricsWatcher(kube, self.workload.namespace, f"deploy/{self.workload.name}", interval=self.interval)
        async for snapshot in watcher.snapshots():
            yield snapshot

    @work(exclusive=True, group="metrics", exit_on_error=False, description="scraping metrics")
    async def _scrape(self) -> None:
        from aksmcp_tui.core.kube import KubeProblem

        try:
            async for snapshot in self._snapshots():
                self.show(snapshot)
        except KubeProblem as problem:
            self._error_line(problem.message)
        except Exception as error:  # a failed scrape loop must not close the screen
            self._error_line(f"{type(error).__name__}: {error}")

    def _error_line(self, text: str) -> None:
        self.query_one("#metrics-errors", Static).update(text)

    def show(self, snapshot: MetricsSnapshot) -> None:
        """Render one round (public: tests and the snapshot feed fixed rounds)."""
        self.rounds += 1
        self.latest = snapshot
        total = snapshot.total
        errors = [f"{pod}: {message}" for pod, message in sorted(snapshot.errors.items())]
        if snapshot.problem:
            errors.insert(0, snapshot.problem)
        self._error_line("\n".join(f"scrape error  {e}" for e in errors))
        if total is not None:
            self.calls.append(total.calls_per_s)
            self.errors.append(total.errors_per_s)
            p95s = [t.quantile(0.95) for t in total.tools.values() if t.calls]
            self.p95.append(max((p for p in p95s if p is not None), default=0.0) * 1000)
            for name, rates in total.tools.items():
                self.tool_calls.setdefault(name, deque(maxlen=self.history)).append(rates.calls_per_s)
        self.query_one("#metrics-summary", Static).update(self._summary(snapshot, total))
        for key, values in (("calls", self.calls), ("errors", self.errors), ("p95", self.p95)):
            self.query_one(f"#plot-{key}", Sparkline).data = list(values)
            latest = f"{values[-1]:.2f}" if values else "-"
            self.query_one(f"#plot-{key}-label", Static).update(f"{PLOTS[key]:<18}{latest:>10}")
        self._fill_tools(total)
        self._fill_pods(snapshot)

    def _summary(self, snapshot: MetricsSnapshot, total: RateWindow | None) -> str:
        pods = len(snapshot.pods)
        if total is None:
            return f"{pods} pod{'s' if pods != 1 else ''} · first scrape done; rates after the next one"
        kind = "aksmcp-server metrics" if snapshot.known else "generic Prometheus metrics"
        return (
            f"{pods} pod{'s' if pods != 1 else ''} · {total.calls_per_s:.2f} calls/s · errors "
            f"{percent(total.error_ratio)} · sessions {_count(total.sessions)} · in-flight {_count(total.in_flight)}"
            f" · CPU {millicores(total.cpu_cores)} · memory {mebibytes(total.rss_bytes)} · {kind}"
        )

    def _fill_tools(self, total: RateWindow | None) -> None:
        table = self.query_one("#metrics-tools", DataTable)
        table.clear()
        if total is None:
            return
        if total.tools:
            for name, rates in sorted(total.tools.items(), key=lambda kv: (-kv[1].calls_per_s, kv[0])):
                table.add_row(*self._tool_row(rates), key=name)
        else:  # any other Prometheus server: its counters' rates
            for series, rate in sorted(total.counter_rates.items()):
                table.add_row(series, f"{rate:.2f}", "", "", "", "", "", key=series)

    def _tool_row(self, rates: ToolRates) -> tuple[str, ...]:
        trend = spark(list(self.tool_calls.get(rates.tool, ())))
        return (
            rates.tool,
            f"{rates.calls_per_s:.2f}",
            percent(rates.error_ratio),
            ms(rates.quantile(0.5)),
            ms(rates.quantile(0.95)),
            ms(rates.quantile(0.99)),
            trend,
        )

    def _fill_pods(self, snapshot: MetricsSnapshot) -> None:
        table = self.query_one("#metrics-pods", DataTable)
        table.clear()
        for pod in snapshot.pods:
            w = pod.window
            table.add_row(
                pod.pod,
                f"{w.calls_per_s:.2f}" if w else "-",
                percent(w.error_ratio) if w else "-",
                _count(w.sessions) if w else "-",
                _count(w.in_flight) if w else "-",
                millicores(w.cpu_cores) if w else "-",
                mebibytes(w.rss_bytes) if w else "-",
                pod.error or ("waiting for a 2nd scrape" if w is None else "ok"),
                key=pod.pod,
            )

    def action_back(self) -> None:
        self.dismiss()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        if self.paused:
            self.workers.cancel_group(self, "metrics")
            self.notify("scraping paused", title="Metrics")
        else:
            self._scrape()
            self.notify("scraping again", title="Metrics")


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"
