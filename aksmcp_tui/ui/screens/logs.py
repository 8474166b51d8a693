"""The log screen (`l` on a deployment): every pod and container as one stream, k9s/stern style.

The stream comes from core.observe.follow_logs (the same events `aksmcp logs -f` prints); this screen
only feeds them to the LogView and says what happened (pods joining/leaving, resumes, dropped lines).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from aksmcp_tui.ui.actions import UiAction, bindings_for
from aksmcp_tui.ui.targets import ClusterTarget
from aksmcp_tui.ui.widgets.log_view import DEFAULT_CAPACITY, LogFilter, LogView

if TYPE_CHECKING:
    from aksmcp_tui.core.fleet import McpWorkload
    from aksmcp_tui.core.observe import LogEvent
    from aksmcp_tui.ui.app import AksmcpApp

# (events source for a workload): tests and the benchmark pass their own; default: the cluster
LogSource = Callable[["McpWorkload"], AsyncIterator["LogEvent"]]
CAPACITIES = (10_000, 100_000, 1_000_000)
TAIL_LINES = 500  # per container on open, like k9s' default tail
BREATH_SECONDS = 1 / 30

LOG_ACTIONS: tuple[UiAction, ...] = (
    UiAction("back", "escape,q", "esc/q", "Back", "Back", "Close the logs"),
    UiAction("toggle_follow", "p,space", "p", "Pause", "Follow / pause", "Pause the view or follow new lines again"),
    UiAction("prompt('search')", "slash", "/", "Search", "Search", "Search (regex); n / N for next / previous"),
    UiAction("search_next", "n", "n", "Next", "Next match", "Next search match", show=False),
    UiAction("search_previous", "N", "N", "Prev", "Previous match", "Previous search match", show=False),
    UiAction("prompt('include')", "i", "i", "Include", "Include filter", "Only lines matching a regex"),
    UiAction("prompt('exclude')", "e", "e", "Exclude", "Exclude filter", "Hide lines matching a regex"),
    UiAction("prompt('highlight')", "h", "h", "Highlight", "Highlight", "Highlight a regex"),
    UiAction(
        "prompt('request')", "R", "R", "Request", "Filter by request", "Only lines of one request / correlation id"
    ),
    UiAction("prompt('tool')", "T", "T", "Tool", "Filter by tool", "Only lines of one MCP tool"),
    UiAction("toggle_wrap", "w", "w", "Wrap", "Wrap lines", "Wrap long lines"),
    UiAction("toggle_json", "j", "j", "JSON", "JSON fields", "JSON lines as level, message and folded fields"),
    UiAction("save", "s", "s", "Save", "Save to file", "Save the shown lines (0600, state dir)"),
    UiAction("clear", "ctrl+l", "^l", "Clear", "Clear", "Clear the view"),
    UiAction("cycle_buffer", "b", "b", "Buffer", "Buffer size", "Cycle the ring buffer size (memory bound)"),
    UiAction("end", "G,end", "G", "End", "Go to end", "Jump to the newest line and follow", show=False),
    UiAction("home", "g,home", "g", "Top", "Go to top", "Jump to the oldest line", show=False),
)
_PROMPTS = {
    "search": "search (regex)",
    "include": "include lines matching (regex, empty: all)",
    "exclude": "exclude lines matching (regex, empty: none)",
    "highlight": "highlight (regex, empty: none)",
    "request": "request / correlation id (empty: any)",
    "tool": "tool name (empty: any)",
}


class LogsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings_for(LOG_ACTIONS))
    DEFAULT_CSS = """
    LogsScreen #logs-title { height: 1; background: $panel; color: $text; text-style: bold; }
    LogsScreen LogView { height: 1fr; }
    LogsScreen #logs-status { height: 1; background: $panel; color: $text-muted; }
    LogsScreen #logs-prompt { display: none; }
    LogsScreen #logs-prompt.-open { display: block; }
    """

    def __init__(
        self,
        workload: McpWorkload,
        target: ClusterTarget,
        *,
        source: LogSource | None = None,
        capacity: int = DEFAULT_CAPACITY,
        request: str | None = None,
    ) -> None:
        super().__init__(id="logs")
        self.workload = workload
        self.target = target
        self.source = source
        self.capacity = capacity
        self.pods: set[str] = set()
        self.containers: set[str] = set()
        self.notice = "connecting…"
        self.finished = False
        self.saved_to: Path | None = None
        self._prompt_kind: str | None = None
        self._initial_request = request

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def compose(self) -> ComposeResult:
        w = self.workload
        yield Static(f" Logs  ·  {w.name}  ·  namespace {w.namespace}  ·  context {w.context}", id="logs-title")
        yield LogView(self.capacity, id="logs-view")
        yield Static("", id="logs-status", markup=False)
        yield Input(id="logs-prompt")
        yield Footer()

    def on_mount(self) -> None:
        if self._initial_request:
            self.view.set_filter(LogFilter(request=self._initial_request))
        self.view.focus()
        self._follow()
        self._show_status()

    # -- the stream -----------------------------------------------------------------------------
    def _events(self) -> AsyncIterator[LogEvent]:
        if self.source is not None:
            return self.source(self.workload)
        return self._cluster_events()

    async def _cluster_events(self) -> AsyncIterator[LogEvent]:
        from aksmcp_tui.core.observe import LogOptions, follow_logs

        dash = self._dash()
        kube = await dash.kube_pool.get(self.target)
        options = LogOptions(follow=True, tail=TAIL_LINES)
        async for event in follow_logs(kube, self.workload.namespace, f"deploy/{self.workload.name}", options):
            yield event

    def _dash(self) -> AksmcpApp:
        from aksmcp_tui.ui.app import AksmcpApp

        assert isinstance(self.app, AksmcpApp)
        return self.app

    @work(exclusive=True, group="logs", exit_on_error=False, description="following logs")
    async def _follow(self) -> None:
        from aksmcp_tui.core.kube import KubeProblem
        from aksmcp_tui.core.observe import LogBatch, LogNotice, PodJoined, PodLeft, StreamDropped, StreamResumed

        view = self.view
        breath = time.monotonic()
        try:
            async for event in self._events():
                if isinstance(event, LogBatch):
                    view.add_lines(event.lines)
                    now = time.monotonic()
                    if now - breath > BREATH_SECONDS:
                        # Under a flood the stream never waits on the network: give the event loop a
                        # moment per frame so the screen redraws and keys are handled.
                        await asyncio.sleep(0.002)
                        breath = time.monotonic()
                    continue
                if isinstance(event, PodJoined):
                    self.pods.add(event.pod)
                    self.containers.update(event.containers)
                    view.show_container = len(self.containers) > 1
                    self.notice = f"{event.pod} joined"
                elif isinstance(event, PodLeft):
                    self.pods.discard(event.pod)
                    self.notice = f"{event.pod} left ({event.reason})"
                elif isinstance(event, StreamDropped):
                    self.notice = f"{event.pod}/{event.container}: {event.reason}; resuming"
                elif isinstance(event, StreamResumed):
                    self.notice = f"{event.pod}/{event.container} resumed (nothing lost)"
                elif isinstance(event, LogNotice):
                    self.notice = event.message
                    if event.fatal:
                        self.notify(event.message, title="Logs", severity="error")
                self._show_status()
            self.notice = "stream ended"
        except KubeProblem as problem:
            self.notice = problem.message
            self.notify(problem.message, title="Logs", severity="error")
        except Exception as error:  # the screen must survive any failure of the stream
            self.notice = f"{type(error).__name__}: {error}"
            self.notify(self.notice, title="Logs", severity="error")
        self.finished = True
        self._show_status()

    @on(LogView.Changed)
    def _show_status(self) -> None:
        view = self.view
        buffer = view.buffer
        parts = [f"{len(self.pods)} pod{'s' if len(self.pods) != 1 else ''}", f"{view.row_count:,} lines"]
        if view.filter.active:
            parts.append(f"filter {view.filter.describe()} of {len(buffer):,}")
        parts.append("following" if view.following else f"paused ({view.unseen:,} new)")
        if view.wrap:
            parts.append("wrap")
        if buffer.dropped:
            parts.append(f"dropped {buffer.dropped:,} oldest lines (buffer {buffer.capacity:,})")
        else:
            parts.append(f"buffer {buffer.capacity:,}")
        if self.notice:
            parts.append(self.notice)
        self.query_one("#logs-status", Static).update(" " + "  ·  ".join(parts))

    # -- prompt ----------------------------------------------------------------------------------
    def action_prompt(self, kind: str) -> None:
        prompt = self.query_one("#logs-prompt", Input)
        self._prompt_kind = kind
        prompt.placeholder = _PROMPTS[kind]
        current = {
            "include": self.view.filter.include.pattern if self.view.filter.include else "",
            "exclude": self.view.filter.exclude.pattern if self.view.filter.exclude else "",
            "highlight": self.view.highlight.pattern if self.view.highlight else "",
            "search": self.view.search.pattern if self.view.search else "",
            "request": self.view.filter.request or "",
            "tool": self.view.filter.tool or "",
        }[kind]
        prompt.value = current
        prompt.add_class("-open")
        prompt.focus()

    @on(Input.Submitted, "#logs-prompt")
    def _prompt_done(self, event: Input.Submitted) -> None:
        kind = self._prompt_kind
        self._close_prompt()
        text = event.value.strip()
        if kind is None:
            return
        pattern: re.Pattern[str] | None = None
        if text and kind in ("search", "include", "exclude", "highlight"):
            try:
                pattern = re.compile(text)
            except re.error as error:
                self.notify(f"not a regular expression: {error}", title="Logs", severity="error")
                return
        view = self.view
        current = view.filter
        if kind == "search":
            if pattern is not None and view.find(pattern) is None:
                self.notify(f"no line matches {text!r}", title="Search")
        elif kind == "highlight":
            view.set_highlight(pattern)
        elif kind == "include":
            view.set_filter(LogFilter(pattern, current.exclude, current.tool, current.request))
        elif kind == "exclude":
            view.set_filter(LogFilter(current.include, pattern, current.tool, current.request))
        elif kind == "tool":
            view.set_filter(LogFilter(current.include, current.exclude, text or None, current.request))
        elif kind == "request":
            view.set_filter(LogFilter(current.include, current.exclude, current.tool, text or None))

    def _close_prompt(self) -> None:
        prompt = self.query_one("#logs-prompt", Input)
        prompt.remove_class("-open")
        self._prompt_kind = None
        self.view.focus()

    # -- actions ---------------------------------------------------------------------------------
    def action_back(self) -> None:
        if self._prompt_kind is not None:
            self._close_prompt()
            return
        self.dismiss()

    def action_toggle_follow(self) -> None:
        self.view.set_following(not self.view.following)

    def action_search_next(self) -> None:
        if self.view.search is not None:
            self.view.find(self.view.search, forward=True)

    def action_search_previous(self) -> None:
        if self.view.search is not None:
            self.view.find(self.view.search, forward=False)

    def action_toggle_wrap(self) -> None:
        self.view.set_wrap(not self.view.wrap)

    def action_toggle_json(self) -> None:
        self.view.set_json_fields(not self.view.json_fields)

    def action_clear(self) -> None:
        self.view.clear()

    def action_cycle_buffer(self) -> None:
        capacity = self.view.buffer.capacity
        bigger = [c for c in CAPACITIES if c > capacity]
        self.view.set_capacity(bigger[0] if bigger else CAPACITIES[0])
        self.notify(f"ring buffer: {self.view.buffer.capacity:,} lines", title="Logs")

    def action_end(self) -> None:
        self.view.set_following(True)

    def action_home(self) -> None:
        self.view.set_following(False)
        self.view.scroll_home(animate=False)

    def action_save(self) -> None:
        from aksmcp_tui.core.paths import state_dir

        lines = self.view.lines()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        path = state_dir() / "logs" / f"{self.workload.namespace}-{self.workload.name}-{stamp}.log"
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # logs can hold tokens or personal data: owner-only, like every other file aksmcp writes
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                for line in lines:
                    out.write(f"{line.timestamp} {line.pod} {line.container} {line.text}\n")
        except OSError as error:
            self.notify(f"cannot save: {error}", title="Logs", severity="error")
            return
        self.saved_to = path
        self.notify(f"{len(lines):,} lines saved to {path}", title="Logs")
