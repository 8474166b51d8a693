"""The MCP request console: tools (filtered), a form generated from the input schema, results by content
type, the JSON-RPC traffic, live progress and logs, resources, prompts, history and saved requests.

Everything protocol-shaped comes from `aksmcp_tui.core.mcpclient`; this screen only renders it. The
session lives in one long-running worker (the SDK's task groups must be entered and left in one task);
calls run in their own exclusive worker, so cancelling one (ctrl+k) cancels exactly that request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import (
    Button,
    Checkbox,
    Collapsible,
    DataTable,
    Footer,
    Input,
    OptionList,
    ProgressBar,
    RichLog,
    Select,
    Static,
    TabbedContent,
    TabPane,
    TextArea,
)
from textual.widgets.option_list import Option

from aksmcp_tui.core.mcpclient.forms import VARIANT, FieldError, FormField, assemble, build_form, validate_arguments
from aksmcp_tui.ui.widgets.choice import Choice

if TYPE_CHECKING:
    import mcp_types as types

    from aksmcp_tui.core.fleet import McpWorkload
    from aksmcp_tui.core.mcpclient import McpSession, McpTarget, SessionEvent, TrafficEntry
    from aksmcp_tui.core.mcpclient.results import ResultPart
    from aksmcp_tui.ui.targets import ClusterTarget

RequestKind = Literal["tool", "prompt", "resource", "template"]
PROTOCOLS = ("auto", "2026-07-28", "2025-11-25")


@dataclass
class CurrentRequest:
    kind: RequestKind
    name: str  # tool / prompt name, resource uri or uri template
    schema: dict[str, Any]
    form: FormField
    tool: types.Tool | None = None


def _prompt_schema(prompt: types.Prompt) -> dict[str, Any]:
    props = {a.name: {"type": "string", "description": a.description or ""} for a in prompt.arguments or []}
    required = [a.name for a in prompt.arguments or [] if a.required]
    return {"type": "object", "properties": props, "required": required}


def _template_schema(template: str) -> dict[str, Any]:
    import re

    names = re.findall(r"{[+#./;?&]?([A-Za-z0-9_]+)", template)
    return {"type": "object", "properties": {n: {"type": "string"} for n in names}, "required": names}


def _expand(template: str, values: dict[str, Any]) -> str:
    import re
    from urllib.parse import quote

    return re.sub(r"{[+#./;?&]?([A-Za-z0-9_]+)}", lambda m: quote(str(values.get(m.group(1), "")), safe=""), template)


class FieldLabel(Static):
    """A field's label, hint and (when there is one) its validation error, in one widget."""

    def __init__(self, key: str, title: str, required: bool, hint: str) -> None:
        super().__init__(id=f"lbl-{key}", classes="form-label", markup=False)
        self.title = title
        self.required = required
        self.hint = hint
        self.error: str | None = None
        self.show()

    def set_error(self, message: str | None) -> None:
        self.error = message
        self.set_class(message is not None, "-invalid")
        self.show()

    def show(self) -> None:
        text = Text(self.title, style="bold" if self.required else "")
        if self.hint:
            text.append(("\n" if self.title else "") + self.hint, style="dim")
        if self.error:
            text.append("\n✗ " + self.error, style="bold red")
        self.update(text)


class ConsoleScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "send", "Send", priority=True),
        Binding("ctrl+r", "toggle_raw", "Raw JSON", priority=True),
        Binding("ctrl+k", "cancel_call", "Cancel call", priority=True),
        Binding("ctrl+w", "save_request", "Save", priority=True),
        Binding("ctrl+y", "copy", "Copy as…", priority=True),
        Binding("ctrl+l", "call_logs", "Call's logs", priority=True),
        Binding("f5", "reconnect", "Reconnect"),
        Binding("slash", "focus_filter", "Filter", show=False),
        Binding("escape", "back", "Back"),
    ]

    DEFAULT_CSS = """
    ConsoleScreen #console-top { height: 1; background: $primary-background; text-style: bold; }
    ConsoleScreen #console-body { height: 1fr; }
    ConsoleScreen #console-left { width: 34; border-right: vkey $panel-lighten-2; }
    ConsoleScreen #console-left TabbedContent { height: 1fr; }
    ConsoleScreen #console-left OptionList { height: 1fr; border: none; }
    ConsoleScreen #console-center { width: 1fr; padding: 0 1; }
    ConsoleScreen #request-title { height: auto; text-style: bold; }
    ConsoleScreen #request-desc { height: auto; color: $text-muted; }
    ConsoleScreen #form { height: 1fr; }
    ConsoleScreen #raw { height: 1fr; }
    ConsoleScreen .form-object { height: auto; padding-left: 2; border-left: vkey $panel-lighten-2; }
    ConsoleScreen .form-label { height: auto; margin-top: 1; }
    ConsoleScreen #form Input { margin-bottom: 0; }
    ConsoleScreen .form-hint { height: auto; color: $text-muted; }
    ConsoleScreen Input.-invalid { border: tall $error; }
    ConsoleScreen .union-body { height: auto; }
    ConsoleScreen #form Collapsible { padding-left: 1; border-top: none; }
    ConsoleScreen #actions { height: 3; }
    ConsoleScreen #actions Button { margin-right: 1; min-width: 10; }
    ConsoleScreen #call-progress { width: 30; margin: 1 1; }
    ConsoleScreen #console-right { width: 1fr; border-left: vkey $panel-lighten-2; }
    ConsoleScreen #result { height: 1fr; }
    ConsoleScreen #result.-error { border: round $error; border-title-color: $error; }
    ConsoleScreen #traffic { height: 1fr; }
    ConsoleScreen #traffic-detail { height: 12; border-top: hkey $panel-lighten-2; }
    ConsoleScreen #form-error { color: $error; height: auto; }
    """

    def __init__(
        self,
        target: McpTarget,
        *,
        protocol: str = "auto",
        label: str | None = None,
        id: str | None = "console",
    ) -> None:
        super().__init__(id=id)
        from aksmcp_tui.core.mcpclient import TrafficLog

        self.target = target
        self.protocol = protocol if protocol in PROTOCOLS else "auto"
        self.label = label or target.display()
        self.traffic = TrafficLog()
        self.session: McpSession | None = None
        self.state = "connecting"  # connecting | connected | failed
        self.problem: str | None = None
        self.current: CurrentRequest | None = None
        self.raw_mode = False
        self.calls_done = 0  # finished sends (tests wait on it)
        self.form_ready = False  # the current request's widgets are mounted
        self.field_errors: dict[str, str] = {}  # field key -> the error shown on it
        self._folded: dict[str, tuple[FormField, dict[Any, Any]]] = {}  # folded objects' fields, mounted on open
        self.last_outcome: Any = None
        self.result_text = ""  # the result pane as plain text (what tests and copy read)
        self.traffic_detail_text = ""
        self.event_lines: list[str] = []  # progress, logs, list changes (the Events pane shows them)
        self._session_closed: asyncio.Event | None = None
        self._generation = 0  # which _run_session is the current one
        self._pending_traffic: list[TrafficEntry] = []
        self._traffic_rows: list[TrafficEntry] = []
        self.traffic.listeners.append(self._pending_traffic.append)

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static("", id="console-top", markup=False)
        with Horizontal(id="console-body"):
            with Vertical(id="console-left"):
                yield Input(placeholder="filter tools", id="tool-filter")
                with TabbedContent(id="lists"):
                    with TabPane("Tools", id="tab-tools"):
                        yield OptionList(id="tools")
                    with TabPane("Res", id="tab-resources"):
                        yield OptionList(id="resources")
                    with TabPane("Prompts", id="tab-prompts"):
                        yield OptionList(id="prompts")
                    with TabPane("Hist", id="tab-history"):
                        yield OptionList(id="history")
                    with TabPane("Saved", id="tab-saved"):
                        yield OptionList(id="saved")
            with Vertical(id="console-center"):
                yield Static("Connecting…", id="request-title", markup=False)
                yield Static("", id="request-desc", markup=False)
                yield VerticalScroll(id="form")
                yield TextArea("{}", id="raw")
                yield Static("", id="form-error", markup=False)
                with Horizontal(id="actions"):
                    yield Button("Send ^s", id="send", variant="primary")
                    yield Button("Cancel ^k", id="cancel", disabled=True)
                    yield Button("Raw ^r", id="raw-toggle")
                    yield Select([(p, p) for p in PROTOCOLS], value=self.protocol, allow_blank=False, id="protocol")
                    yield ProgressBar(id="call-progress", show_eta=False)
            with Vertical(id="console-right"), TabbedContent(id="panes"):
                with TabPane("Result", id="tab-result"):
                    yield VerticalScroll(id="result")
                with TabPane("Traffic", id="tab-traffic"):
                    yield DataTable(id="traffic", cursor_type="row", zebra_stripes=True)
                    yield Static("", id="traffic-detail", markup=False)
                with TabPane("Events", id="tab-events"):
                    yield RichLog(id="events", wrap=True, markup=False)
                with TabPane("Server", id="tab-server"):
                    yield VerticalScroll(Static("", id="server-info", markup=False))
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#raw", TextArea).display = False
        self.query_one("#call-progress", ProgressBar).display = False
        table = self.query_one("#traffic", DataTable)
        table.add_columns("#", "dir", "message", "id", "bytes", "ms")
        self.set_interval(0.1, self._flush_traffic)
        self._update_top()
        self._load_history_and_saved()
        self._run_session()

    async def on_unmount(self) -> None:
        # let the session worker leave its `async with` itself (closing a stdio child cleanly) before
        # Textual cancels it, or the child's pipes are closed after the loop is gone
        if self._session_closed is not None:
            self._session_closed.set()
        for worker in [w for w in self.workers if w.group == "session" and w.is_running]:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.wait(), 5)

    def _update_top(self) -> None:
        session = self.session
        parts = [f" MCP console · {self.label}"]
        if self.state == "connected" and session is not None:
            info = session.server_info
            parts.append(f"{info.name} {info.version}" if info else "server")
            parts.append(f"MCP {session.protocol_version}" + (" (auto)" if self.protocol == "auto" else " (pinned)"))
        elif self.state == "failed":
            parts.append("not connected: f5 reconnects")
        else:
            parts.append("connecting…")
        self.query_one("#console-top", Static).update(" · ".join(parts))

    # ------------------------------------------------------------------ session
    @work(group="session", exit_on_error=False)
    async def _run_session(self) -> None:
        """One connection. A reconnect starts a new one and lets this one leave by itself (not cancelled
        mid-exit); the generation check keeps a finishing old session from touching the screen."""
        from aksmcp_tui.core.mcpclient import ConsoleError, McpSession, TargetError, resolve_endpoint

        self._generation += 1
        generation = self._generation

        def current() -> bool:
            return generation == self._generation

        self.state, self.problem = "connecting", None
        self._update_top()
        closed = self._session_closed = asyncio.Event()
        try:
            endpoint = await resolve_endpoint(self.target)
            if endpoint.note and current():
                self._event_line(endpoint.note)
            async with McpSession(
                endpoint,
                protocol=self.protocol,
                traffic=self.traffic,
                on_event=self._on_session_event,
                elicitation=self._answer_elicitation,
                sampling=self._answer_sampling,
                say=self._say,
            ) as session:
                if not current() or closed.is_set():
                    return
                self.session = session
                await session.refresh_all()
                if not current():
                    return
                self.state = "connected"
                self._show_lists()
                self._show_server_info()
                self._update_top()
                await closed.wait()
        except (ConsoleError, TargetError) as exc:
            if current():
                self._fail(exc.message if isinstance(exc, ConsoleError) else str(exc))
        except Exception as exc:  # the console stays usable whatever the server did
            if current():
                self._fail(f"{type(exc).__name__}: {exc}")
        finally:
            if current():
                self.session = None
                self.workers.cancel_group(self, "call")  # a call on a dead session would wait forever
                if self.state == "connected":
                    self.state = "failed"
                    self._update_top()

    def _say(self, text: str) -> None:
        """The session's notes for the user (the OAuth sign-in URL among them)."""
        self._event_line(text)
        self.notify(text, title="MCP console", timeout=30)

    def _fail(self, message: str) -> None:
        self.state, self.problem = "failed", message
        self._update_top()
        self.query_one("#request-title", Static).update("Not connected")
        self.query_one("#request-desc", Static).update(message)
        self._event_line(f"error: {message}")
        self.notify(message, title="MCP console", severity="error", timeout=8)

    def action_reconnect(self) -> None:
        if self._session_closed is not None:
            self._session_closed.set()
        self.workers.cancel_group(self, "call")
        self._run_session()

    @on(Select.Changed, "#protocol")
    def _protocol_changed(self, event: Select.Changed) -> None:
        value = str(event.value)
        if value != self.protocol and value in PROTOCOLS:
            self.protocol = value
            self.action_reconnect()

    def _on_session_event(self, event: SessionEvent) -> None:
        from aksmcp_tui.core.mcpclient import ListChangedEvent, LogEvent, ProgressEvent

        if isinstance(event, ProgressEvent):
            bar = self.query_one("#call-progress", ProgressBar)
            bar.display = True
            bar.update(total=event.total, progress=event.progress)
            total = f"/{event.total:g}" if event.total is not None else ""
            self._event_line(f"progress {event.progress:g}{total} {event.message or ''}".rstrip())
        elif isinstance(event, LogEvent):
            self._event_line(f"[{event.level}] {event.logger + ': ' if event.logger else ''}{event.data}")
        elif isinstance(event, ListChangedEvent):
            self._event_line(f"{event.kind} list changed: refreshed")
            self._show_lists()

    def _event_line(self, text: str) -> None:
        self.event_lines = [*self.event_lines[-999:], text]
        self.query_one("#events", RichLog).write(text)

    # ------------------------------------------------------------------ lists
    def _show_lists(self) -> None:
        session = self.session
        if session is None:
            return
        needle = self.query_one("#tool-filter", Input).value.strip().lower()
        tools = self.query_one("#tools", OptionList)
        tools.clear_options()
        for tool in session.tools:
            if needle and needle not in tool.name.lower() and needle not in (tool.description or "").lower():
                continue
            tools.add_option(Option(tool.name, id=f"tool:{tool.name}"))
        resources = self.query_one("#resources", OptionList)
        resources.clear_options()
        for res in session.resources:
            resources.add_option(Option(f"{res.name} · {res.uri}", id=f"res:{res.uri}"))
        for tpl in session.templates:
            resources.add_option(Option(f"{tpl.name} · {tpl.uri_template}", id=f"tpl:{tpl.uri_template}"))
        prompts = self.query_one("#prompts", OptionList)
        prompts.clear_options()
        for prompt in session.prompts:
            prompts.add_option(Option(prompt.name, id=f"prompt:{prompt.name}"))
        if self.current is None and session.tools:
            self.select_tool(session.tools[0].name)
            self.set_focus(tools)  # k9s-like: arrows pick a tool, "/" filters

    def action_focus_filter(self) -> None:
        self.set_focus(self.query_one("#tool-filter", Input))

    @on(Input.Changed, "#tool-filter")
    def _filter_changed(self) -> None:
        self._show_lists()

    def _show_server_info(self) -> None:
        if self.session is None:
            return
        summary = self.session.summary()
        lines = [
            f"target        {summary['target']}",
            f"url           {summary['url'] or '(stdio)'}",
            f"protocol      {summary['protocolVersion']} (choice: {summary['protocolChoice']})",
            f"server        {json.dumps(summary['serverInfo'])}",
            "capabilities  " + json.dumps(summary["capabilities"], indent=2),
            "",
            "instructions",
            summary["instructions"] or "(none)",
        ]
        self.query_one("#server-info", Static).update("\n".join(lines))

    @on(OptionList.OptionSelected)
    def _option_selected(self, event: OptionList.OptionSelected) -> None:
        ident = event.option.id or ""
        kind, _, name = ident.partition(":")
        if kind == "tool":
            self.select_tool(name)
        elif kind == "prompt":
            self._select_prompt(name)
        elif kind == "res":
            self._read_resource(name)
        elif kind == "tpl":
            self._set_request(
                CurrentRequest("template", name, _template_schema(name), build_form(_template_schema(name)))
            )
        elif kind == "hist":
            self._replay_history(int(name))
        elif kind == "saved":
            self._load_saved(name)

    def select_tool(self, name: str, arguments: dict[str, Any] | None = None) -> None:
        session = self.session
        tool = session.find_tool(name) if session is not None else None
        if tool is None:
            self.notify(f"no tool named {name!r} on this server", severity="warning")
            return
        schema = dict(tool.input_schema or {"type": "object"})
        self._set_request(CurrentRequest("tool", name, schema, build_form(schema), tool), arguments)

    def _select_prompt(self, name: str, arguments: dict[str, Any] | None = None) -> None:
        prompt = next((p for p in (self.session.prompts if self.session else []) if p.name == name), None)
        if prompt is None:
            return
        schema = _prompt_schema(prompt)
        self._set_request(CurrentRequest("prompt", name, schema, build_form(schema)), arguments)

    def _set_request(self, request: CurrentRequest, arguments: dict[str, Any] | None = None) -> None:
        self.current = request
        titles = {"tool": "Tool", "prompt": "Prompt", "template": "Resource template", "resource": "Resource"}
        self.query_one("#request-title", Static).update(f"{titles[request.kind]}: {request.name}")
        description = ""
        if request.tool is not None:
            description = request.tool.description or ""
        self.query_one("#request-desc", Static).update(description)
        self.query_one("#form-error", Static).update("")
        self.query_one("#raw", TextArea).text = json.dumps(arguments or {}, indent=2)
        self.form_ready = False
        self.run_worker(self.build_form_widgets(request.form), group="form", exclusive=True, exit_on_error=False)
        if arguments and not self.raw_mode:
            self.action_toggle_raw()  # a replayed request shows exactly what will be sent

    # ------------------------------------------------------------------ form widgets
    async def build_form_widgets(self, form: FormField) -> None:
        """Replace the form's widgets; the old ones are gone before the new ones (same ids) mount."""
        from aksmcp_tui.core.mcpclient.forms import initial_raw

        container = self.query_one("#form", VerticalScroll)
        await container.remove_children()
        self._folded = {}
        raw = initial_raw(form)
        if form.kind == "object":
            widgets = [w for child in form.children for w in self._field_widgets(child, raw)]
            if not form.children:
                widgets = [Static("(no arguments)", classes="form-hint")]
        else:
            widgets = self._field_widgets(form, raw)
        await container.mount_all(widgets)
        self.form_ready = True

    def _field_widgets(self, f: FormField, raw: dict[Any, Any]) -> list[Widget]:
        """Two widgets per field (a label that also shows the hint and the error, and the input): a large
        schema mounts hundreds of fields, and Textual's cost is per widget."""
        key = f.key
        hint = " · ".join(x for x in (f.description or "", f.hint()) if x)
        label = FieldLabel(key, f.label if f.kind != "boolean" else "", f.required, hint)
        if f.kind == "object":
            if not f.required and f.path and f.children:
                # an optional object starts folded and mounts its fields when opened: a large schema
                # costs what its top level costs (Textual's price is per mounted widget)
                self._folded[key] = (f, raw)
                return [label, Collapsible(title=f"{f.label} ({len(f.children)} fields)", id=f"obj-{key}")]
            inner = [w for child in f.children for w in self._field_widgets(child, raw)]
            return [label, Vertical(*inner, classes="form-object", id=f"obj-{key}")]
        if f.kind == "union":
            # string values: Textual's Select treats a falsy value as "no selection" in places
            options = [(title, str(index)) for index, title in enumerate(f.variant_titles)]
            select = Choice(options, value="0", id=f"var-{key}")
            body = Vertical(*self._variant_widgets(f, 0, raw), classes="union-body", id=f"union-{key}")
            return [label, select, body]
        if f.kind == "boolean":
            return [Checkbox(f.label, value=bool(raw.get(f.path, False)), id=f"in-{key}", compact=True), label]
        if f.kind == "enum":
            enum_options = [(json.dumps(v) if not isinstance(v, str) else v, json.dumps(v)) for v in f.enum]
            default: Any = json.dumps(f.default) if f.has_default else None
            blank = None if f.has_default else "(not set)"
            return [label, Choice(enum_options, value=default, blank=blank, id=f"in-{key}")]
        if f.kind == "const":
            label.hint = f"= {json.dumps(f.const)}"
            label.show()
            return [label]
        value = raw.get(f.path, "")
        return [label, Input(value=str(value), placeholder=f.kind, id=f"in-{key}", compact=True)]

    @on(Collapsible.Expanded)
    async def _unfold(self, event: Collapsible.Expanded) -> None:
        key = (event.collapsible.id or "").removeprefix("obj-")
        folded = self._folded.pop(key, None)
        if folded is None:
            return
        f, raw = folded
        widgets = [w for child in f.children for w in self._field_widgets(child, raw)]
        await event.collapsible.query_one(Collapsible.Contents).mount_all(widgets)

    def _variant_widgets(self, f: FormField, index: int, raw: dict[Any, Any]) -> list[Widget]:
        variant = f.variants[index]
        if variant.kind == "object":
            return [w for child in variant.children for w in self._field_widgets(child, raw)]
        return self._field_widgets(variant, raw)[1:]  # the union shows the label already

    @on(Choice.Changed)
    async def _variant_changed(self, event: Choice.Changed) -> None:
        ident = event.choice.id or ""
        if not ident.startswith("var-") or self.current is None:
            return
        key = ident[4:]
        union = next((f for f in self._all_fields(self.current.form) if f.key == key and f.kind == "union"), None)
        if union is None:
            return
        body = self.query_one(f"#union-{key}", Vertical)
        await body.remove_children()
        await body.mount_all(self._variant_widgets(union, int(str(event.value)), {}))

    def _all_fields(self, f: FormField) -> list[FormField]:
        found = [f]
        for child in f.children:
            found += self._all_fields(child)
        for variant in f.variants:
            found += self._all_fields(variant)
        return found

    def _read_form(self, form: FormField) -> dict[Any, Any]:
        raw: dict[Any, Any] = {}
        for f in self._all_fields(form):
            key = f.key
            if f.kind == "union":
                selects = self.query(f"#var-{key}")
                if selects:
                    raw[(*f.path, VARIANT)] = selects.first(Choice).value
                continue
            found = self.query(f"#in-{key}")
            if not found:
                continue
            widget = found.first()
            if isinstance(widget, Checkbox):
                raw[f.path] = widget.value
            elif isinstance(widget, Choice):
                raw[f.path] = None if widget.value is None else json.loads(str(widget.value))  # JSON texts
            elif isinstance(widget, Input):
                raw[f.path] = widget.value
        return raw

    def _show_field_errors(self, errors: list[FieldError]) -> None:
        from aksmcp_tui.core.mcpclient.forms import path_key

        for label in self.query(FieldLabel):
            if label.error:
                label.set_error(None)
        for widget in self.query("Input.-invalid"):
            widget.remove_class("-invalid")
        self.field_errors = {}
        general: list[str] = []
        for error in errors:
            placed = False
            path = error.path
            while path:  # the nearest field on screen owns the error
                key = path_key(path)
                found = self.query(f"#lbl-{key}")
                if found:
                    where = "/".join(map(str, error.path))
                    message = error.message if path == error.path else f"{where}: {error.message}"
                    label = found.first(FieldLabel)
                    label.set_error(message if not label.error else f"{label.error}; {message}")
                    self.field_errors[key] = label.error or message
                    for widget in self.query(f"#in-{key}"):
                        widget.add_class("-invalid")
                    placed = True
                    break
                path = path[:-1]
            if not placed:
                general.append(error.to_json()["path"] + ": " + error.message)
        self.query_one("#form-error", Static).update("\n".join(general))

    def current_arguments(self) -> tuple[dict[str, Any] | None, list[FieldError]]:
        """The arguments to send (from the form or the raw JSON) and the errors that stop sending."""
        request = self.current
        if request is None:
            return None, [FieldError((), "choose a tool, prompt or resource first")]
        if self.raw_mode:
            try:
                arguments = json.loads(self.query_one("#raw", TextArea).text or "{}")
            except json.JSONDecodeError as exc:
                return None, [FieldError((), f"raw JSON: {exc.msg} (line {exc.lineno} column {exc.colno})")]
            if not isinstance(arguments, dict):
                return None, [FieldError((), "raw JSON: the arguments must be a JSON object")]
            errors: list[FieldError] = []
        else:
            arguments, errors = assemble(request.form, self._read_form(request.form))
        if not errors:
            errors = validate_arguments(request.schema, arguments)
        return arguments, errors

    def action_toggle_raw(self) -> None:
        raw = self.query_one("#raw", TextArea)
        if not self.raw_mode and self.current is not None:
            arguments, _errors = assemble(self.current.form, self._read_form(self.current.form))
            if raw.text.strip() in ("", "{}"):
                raw.text = json.dumps(arguments, indent=2)
        self.raw_mode = not self.raw_mode
        raw.display = self.raw_mode
        self.query_one("#form", VerticalScroll).display = not self.raw_mode

    # ------------------------------------------------------------------ send / cancel
    @on(Button.Pressed, "#send")
    def _send_pressed(self) -> None:
        self.action_send()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel_call()

    @on(Button.Pressed, "#raw-toggle")
    def _raw_pressed(self) -> None:
        self.action_toggle_raw()

    def action_send(self) -> None:
        if self.session is None:
            self.notify(self.problem or "not connected yet", severity="warning")
            return
        arguments, errors = self.current_arguments()
        if not self.raw_mode:
            self._show_field_errors(errors)
        else:
            self.query_one("#form-error", Static).update(
                "\n".join(f"{e.to_json()['path']}: {e.message}" for e in errors)
            )
        if errors or arguments is None or self.current is None:
            self.notify(f"{len(errors)} field error(s): nothing sent", severity="warning")
            return
        self._send(self.current, arguments)

    @work(group="call", exclusive=True, exit_on_error=False)
    async def _send(self, request: CurrentRequest, arguments: dict[str, Any]) -> None:
        from aksmcp_tui.core.mcpclient import ConsoleError
        from aksmcp_tui.core.mcpclient.results import render_prompt, render_resource, render_result
        from aksmcp_tui.core.mcpclient.store import HistoryEntry, append_history

        session = self.session
        if session is None:
            return
        cancel = self.query_one("#cancel", Button)
        cancel.disabled = False
        bar = self.query_one("#call-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        outcome_name = "ok"
        elapsed = 0.0
        correlation: str | None = None  # what the server logged the call under (ctrl+l opens its lines)
        try:
            if request.kind == "tool":
                outcome = await session.call_tool(request.name, arguments)
                self.last_outcome = outcome
                correlation = outcome.correlation_id
                elapsed = outcome.elapsed_ms
                if outcome.error is not None:
                    outcome_name = "error"
                    self._show_parts([], error=outcome.error.message)
                else:
                    assert outcome.result is not None
                    rendered = render_result(outcome.result, request.tool)
                    outcome_name = "isError" if rendered.is_error else "ok"
                    self._show_parts(rendered.parts, is_error=rendered.is_error, elapsed=elapsed)
                    shown_json = [p.text for p in rendered.parts if p.kind == "json"]
                    same = json.dumps(rendered.structured, indent=2, ensure_ascii=False) in shown_json
                    if rendered.structured is not None and (not same or rendered.has_output_schema):
                        verdict = (
                            "structuredContent ✓ matches outputSchema"
                            if rendered.has_output_schema and not rendered.structured_errors
                            else "structuredContent"
                        )
                        if same:  # the text content already shows it: only the verdict
                            self._append_text(verdict)
                        else:
                            self._append_json(verdict, rendered.structured)
                    for error in rendered.structured_errors:
                        self._append_text(f"✗ outputSchema {error.to_json()['path']}: {error.message}", error=True)
            elif request.kind == "prompt":
                result = await session.get_prompt(request.name, {k: str(v) for k, v in arguments.items()})
                self._show_parts(render_prompt(result))
            else:
                uri = _expand(request.name, arguments) if request.kind == "template" else request.name
                self._show_parts(render_resource(await session.read_resource(uri)))
        except ConsoleError as exc:
            outcome_name = "error"
            self._show_parts([], error=exc.message)
        except asyncio.CancelledError:
            outcome_name = "cancelled"
            self._append_text("cancelled: notifications/cancelled sent (or the request's stream closed)", error=True)
            raise
        finally:
            cancel.disabled = True
            bar.display = False
            self.calls_done += 1
            method = {"tool": "tools/call", "prompt": "prompts/get"}.get(request.kind, "resources/read")
            try:
                append_history(
                    HistoryEntry.now(
                        target=self.target.display(),
                        method=method,
                        name=request.name,
                        arguments=arguments,
                        outcome=outcome_name,
                        elapsed_ms=round(elapsed, 2),
                        protocol=session.protocol_version if self.session else None,
                        correlation_id=correlation,
                    )
                )
                self._load_history_and_saved()
            except OSError as exc:
                self._event_line(f"history not written: {exc}")

    # ------------------------------------------------------------------ logs of a call
    def _chosen_correlation(self) -> tuple[str | None, str]:
        """The correlation id of the highlighted history entry (on the Hist tab) or else of the last call,
        with what it is, for the messages."""
        lists = self.query_one("#lists", TabbedContent)
        if lists.active == "tab-history":
            index = self.query_one("#history", OptionList).highlighted
            history = getattr(self, "_history", [])
            if index is not None and 0 <= index < len(history):
                entry = history[index]
                if entry.target != self.target.display():
                    return None, f"that call went to {entry.target}, not to this console's target"
                if entry.method != "tools/call" or not entry.correlation_id:
                    return None, "that history entry has no correlation id (a tool call made before aksmcp sent one)"
                return entry.correlation_id, f"{entry.name} at {entry.time[11:19]}"
        outcome = self.last_outcome
        if outcome is None or outcome.correlation_id is None:
            return None, "call a tool first (or pick a tool call on the Hist tab)"
        return outcome.correlation_id, f"the last call ({outcome.tool})"

    def action_call_logs(self) -> None:
        """The log lines a call caused, from every replica: the deployment's logs filtered to its id."""
        from aksmcp_tui.core.mcpclient import TargetError
        from aksmcp_tui.core.mcpclient.targets import deploy_location

        if self.target.kind != "deploy":
            self.notify(
                f"no logs to open: {self.target.display()} is not a deployment (a call's log lines are read "
                "from a deploy/NAME target's pods)",
                severity="warning",
            )
            return
        correlation, what = self._chosen_correlation()
        if correlation is None:
            self.notify(what, severity="warning")
            return
        try:
            context, namespace, kubeconfig = deploy_location(self.target)
        except TargetError as exc:
            self.notify(str(exc), severity="error")
            return
        self._event_line(f"logs of {what}: deploy/{self.target.name} lines with correlation id {correlation}")
        self.app.push_screen(call_logs_screen(str(self.target.name), namespace, context, kubeconfig, correlation))

    def action_cancel_call(self) -> None:
        self.workers.cancel_group(self, "call")

    # ------------------------------------------------------------------ results
    def _show_parts(
        self, parts: list[ResultPart], *, is_error: bool = False, error: str | None = None, elapsed: float | None = None
    ) -> None:
        result = self.query_one("#result", VerticalScroll)
        result.remove_children()
        result.set_class(is_error or error is not None, "-error")
        result.border_title = "isError" if is_error else ("error" if error else None)
        widgets: list[Widget] = []
        self.result_text = "\n".join([*([error] if error else []), *(p.text for p in parts)])
        if error is not None:
            widgets.append(Static(Text(error, style="bold red"), classes="result-part result-error"))
        for part in parts:
            if part.kind == "json":
                widgets.append(Static(Syntax(part.text, "json", word_wrap=True), classes="result-part result-json"))
            else:
                style = "red" if is_error else ""
                widgets.append(Static(Text(part.text, style=style), classes=f"result-part result-{part.kind}"))
            if part.kind == "image" or (part.kind == "resource" and (part.mime_type or "").startswith("image/")):
                from aksmcp_tui.ui.screens.console_image import preview_widgets

                preview, caption = preview_widgets(part.data, part.mime_type)
                widgets.extend(preview)
                self.result_text += f"\n{caption}"
        if elapsed is not None:
            widgets.append(Static(f"{elapsed:.1f} ms", classes="form-hint"))
        result.mount_all(widgets)
        self.query_one("#panes", TabbedContent).active = "tab-result"

    def _append_json(self, title: str, value: Any) -> None:
        text = json.dumps(value, indent=2, ensure_ascii=False)
        self.result_text += f"\n{title}\n{text}"
        self.query_one("#result", VerticalScroll).mount(
            Static(title, classes="form-hint"), Static(Syntax(text, "json", word_wrap=True), classes="result-part")
        )

    def _append_text(self, text: str, *, error: bool = False) -> None:
        self.result_text += f"\n{text}"
        self.query_one("#result", VerticalScroll).mount(Static(Text(text, style="red" if error else "")))

    @work(group="call", exclusive=True, exit_on_error=False)
    async def _read_resource(self, uri: str) -> None:
        from aksmcp_tui.core.mcpclient import ConsoleError
        from aksmcp_tui.core.mcpclient.results import render_resource

        if self.session is None:
            return
        self.current = CurrentRequest("resource", uri, {"type": "object"}, build_form({"type": "object"}))
        self.query_one("#request-title", Static).update(f"Resource: {uri}")
        try:
            self._show_parts(render_resource(await self.session.read_resource(uri)))
        except ConsoleError as exc:
            self._show_parts([], error=exc.message)

    # ------------------------------------------------------------------ traffic
    def _flush_traffic(self) -> None:
        if not self._pending_traffic:
            return
        entries, self._pending_traffic[:] = list(self._pending_traffic), []
        table = self.query_one("#traffic", DataTable)
        for entry in entries:
            self._traffic_rows.append(entry)
            name = entry.label
            table.add_row(
                str(entry.seq),
                "→" if entry.direction == "out" else "←",
                name,
                "" if entry.id is None else str(entry.id),
                str(entry.size),
                "" if entry.elapsed_ms is None else f"{entry.elapsed_ms:.1f}",
                key=str(entry.seq),
            )

    @on(DataTable.RowHighlighted, "#traffic")
    def _traffic_row(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        entry = next((e for e in self._traffic_rows if str(e.seq) == key), None)
        if entry is not None:
            self.traffic_detail_text = json.dumps(entry.payload, indent=2, ensure_ascii=False)
            self.query_one("#traffic-detail", Static).update(Syntax(self.traffic_detail_text, "json", word_wrap=True))

    # ------------------------------------------------------------------ history, saved, copy
    def _load_history_and_saved(self) -> None:
        from aksmcp_tui.core.mcpclient.store import load_history, load_requests

        history = self.query_one("#history", OptionList)
        history.clear_options()
        self._history = list(reversed(load_history(200)))
        for index, entry in enumerate(self._history):
            history.add_option(Option(f"{entry.time[11:19]} {entry.name} {entry.outcome}", id=f"hist:{index}"))
        saved = self.query_one("#saved", OptionList)
        saved.clear_options()
        self._saved = {r.name: r for r in load_requests()}
        for name in self._saved:
            saved.add_option(Option(name, id=f"saved:{name}"))

    def _replay_history(self, index: int) -> None:
        entry = self._history[index] if 0 <= index < len(self._history) else None
        if entry is None or entry.name is None:
            return
        if entry.method == "tools/call":
            self.select_tool(entry.name, entry.arguments)
        elif entry.method == "prompts/get":
            self._select_prompt(entry.name, entry.arguments)
        else:
            self._read_resource(entry.name)

    def _load_saved(self, name: str) -> None:
        request = self._saved.get(name)
        if request is None:
            return
        if request.method == "tools/call" and request.tool:
            self.select_tool(request.tool, request.arguments)
        elif request.method == "prompts/get" and request.tool:
            self._select_prompt(request.tool, request.arguments)
        elif request.uri:
            self._read_resource(request.uri)

    def action_save_request(self) -> None:
        from aksmcp_tui.ui.screens.console_dialogs import NameDialog

        if self.current is None or self.current.kind == "template":
            self.notify("choose a tool or prompt first", severity="warning")
            return
        self.app.push_screen(NameDialog("Save request as"), self._save_named)

    def _save_named(self, name: str | None) -> None:
        from aksmcp_tui.core.mcpclient.store import SavedRequest, StoreError, save_request

        request = self.current
        if not name or request is None:
            return
        arguments, _errors = self.current_arguments()
        method = {"tool": "tools/call", "prompt": "prompts/get"}.get(request.kind, "resources/read")
        saved = SavedRequest(
            name=name,
            method=method,
            target=self.target.display(),
            tool=request.name if request.kind in ("tool", "prompt") else None,
            uri=request.name if request.kind == "resource" else None,
            arguments=arguments or {},
            protocol=self.protocol,
        )
        try:
            path = save_request(saved)
        except (StoreError, OSError) as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"saved to {path}", title="Saved request")
        self._load_history_and_saved()

    def copy_texts(self) -> dict[str, str]:
        """The current request as curl (both revisions) and as `aksmcp call`."""
        from aksmcp_tui.core.mcpclient.export import as_aksmcp_call, as_curl

        request = self.current
        arguments, _errors = self.current_arguments()
        if request is None or arguments is None:
            return {}
        method = {"tool": "tools/call", "prompt": "prompts/get"}.get(request.kind, "resources/read")
        params: dict[str, Any] = (
            {"name": request.name, "arguments": arguments}
            if request.kind in ("tool", "prompt")
            else {"uri": request.name}
        )
        texts: dict[str, str] = {}
        url = self.session.endpoint.url if self.session is not None else None
        if url is not None:
            texts["curl (2026-07-28)"] = as_curl(url, self.target, method, params, protocol="2026-07-28")
            texts["curl (2025-11-25)"] = as_curl(url, self.target, method, params, protocol="2025-11-25")
        if request.kind == "tool":
            texts["aksmcp call"] = as_aksmcp_call(self.target, request.name, arguments, protocol=self.protocol)
        return texts

    def action_copy(self) -> None:
        from aksmcp_tui.ui.screens.console_dialogs import CopyDialog

        texts = self.copy_texts()
        if not texts:
            self.notify("nothing to copy yet", severity="warning")
            return
        self.app.push_screen(CopyDialog(texts))

    def action_back(self) -> None:
        if self._session_closed is not None:
            self._session_closed.set()
        if len(self.app.screen_stack) > 1:
            self.dismiss()
        else:
            self.app.exit()

    # ------------------------------------------------------------------ server -> client requests
    async def _answer_elicitation(self, params: Any) -> Any:
        import mcp_types as types

        from aksmcp_tui.ui.screens.console_dialogs import ElicitationDialog

        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._event_line(f"elicitation request: {getattr(params, 'message', '')}")
        self.app.push_screen(ElicitationDialog(params), lambda result: answer.set_result(result))
        action, content = await answer
        self._event_line(f"elicitation answered: {action}")
        return types.ElicitResult(action=action, content=content)

    async def _answer_sampling(self, params: Any) -> Any:
        import mcp_types as types

        from aksmcp_tui.ui.screens.console_dialogs import SamplingDialog

        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._event_line("sampling request: answer it in the dialog")
        self.app.push_screen(SamplingDialog(params), lambda result: answer.set_result(result))
        text = await answer
        if text is None:
            return types.ErrorData(code=-1, message="the user declined the sampling request")
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=text), model="aksmcp-console-user"
        )


def call_logs_screen(name: str, namespace: str, context: str, kubeconfig: str | None, correlation: str) -> Screen[Any]:
    """The log screen of deploy/NAME (every replica), opened filtered to one call's correlation id. It reads
    through its own kube connection: the console also runs outside the dashboard (`aksmcp console`)."""
    from aksmcp_tui.core.fleet import McpWorkload
    from aksmcp_tui.core.mcp_rule import Health
    from aksmcp_tui.ui.screens.logs import TAIL_LINES, LogsScreen
    from aksmcp_tui.ui.targets import ClusterTarget

    async def events(workload: McpWorkload) -> Any:
        from aksmcp_tui.core.kube import KubeContext
        from aksmcp_tui.core.observe import LogOptions, follow_logs

        async with await KubeContext.open(context, kubeconfig) as kube:
            options = LogOptions(follow=True, tail=TAIL_LINES)
            async for event in follow_logs(kube, workload.namespace, f"deploy/{workload.name}", options):
                yield event

    workload = McpWorkload(context, namespace, name, "Deployment", 0, 0, "", None, Health.UNKNOWN, "", "console")
    return LogsScreen(workload, ClusterTarget(context, kubeconfig), source=events, request=correlation)


def console_for_workload(target: ClusterTarget, workload: McpWorkload) -> ConsoleScreen:
    """`c` on a deployment: the console on deploy/NAME through its managed forward (created when missing)."""
    from aksmcp_tui.core.mcpclient import McpTarget

    mcp_target = McpTarget(
        "deploy",
        name=workload.name,
        namespace=workload.namespace,
        context=target.context,
        kubeconfig=target.kubeconfig,
    )
    return ConsoleScreen(mcp_target, id=None)
