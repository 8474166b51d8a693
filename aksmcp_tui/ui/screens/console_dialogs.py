"""Small dialogs of the MCP console: a name prompt, the copy choices, and the answers to server-to-client
requests (elicitation, sampling) that the console advertises and the user answers from the screen."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static, TextArea

from aksmcp_tui.core.mcpclient.forms import assemble, build_form, validate_arguments

_DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 90; max-height: 90%; height: auto; border: thick $primary; background: $surface;
    padding: 1 2; }}
{name} Horizontal {{ height: 3; margin-top: 1; }}
{name} Button {{ margin-right: 1; }}
{name} .dialog-error {{ color: $error; height: auto; }}
{name} VerticalScroll {{ height: auto; max-height: 20; }}
{name} TextArea {{ height: 8; }}
"""


class NameDialog(ModalScreen[str | None]):
    DEFAULT_CSS = _DIALOG_CSS.format(name="NameDialog")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Cancel")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self._title = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title)
            yield Input(placeholder="name (letters, digits, space . _ -)", id="name")

    @on(Input.Submitted, "#name")
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_close(self) -> None:
        self.dismiss(None)


class CopyDialog(ModalScreen[None]):
    """Each export shown in full (terminals without clipboard access can select it); a button copies it
    with the terminal's clipboard escape (OSC 52)."""

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="CopyDialog") + "CopyDialog Static.copy-text { height: auto; margin-bottom: 1; }"
    )
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, texts: dict[str, str]) -> None:
        super().__init__()
        self.texts = texts

    def compose(self) -> ComposeResult:
        with Vertical(), VerticalScroll():
            for index, (title, text) in enumerate(self.texts.items()):
                yield Button(f"Copy {title}", id=f"copy-{index}")
                yield Static(text, classes="copy-text", markup=False)

    @on(Button.Pressed)
    def _copy(self, event: Button.Pressed) -> None:
        index = int((event.button.id or "copy-0").removeprefix("copy-"))
        title, text = list(self.texts.items())[index]
        self.app.copy_to_clipboard(text)
        self.notify(f"{title} copied", title="Copy")

    def action_close(self) -> None:
        self.dismiss(None)


class ElicitationDialog(ModalScreen[tuple[str, dict[str, Any] | None]]):
    """A server asks the user for input: a form from its requestedSchema; accept, decline or cancel."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ElicitationDialog")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, params: Any) -> None:
        super().__init__()
        self.params = params
        self.schema: dict[str, Any] = dict(getattr(params, "requested_schema", None) or {"type": "object"})
        self.form = build_form(self.schema)
        self.url = getattr(params, "url", None)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("The server asks:")
            yield Static(str(getattr(self.params, "message", "")), id="elicit-message", markup=False)
            if self.url:
                yield Static(f"Open this URL to continue: {self.url}", markup=False)
            with VerticalScroll():
                for f in self.form.children:
                    if f.kind == "boolean":
                        yield Checkbox(f.label, value=bool(f.default), id=f"el-{f.key}")
                    else:
                        yield Label(f.label + (f" ({f.description})" if f.description else ""))
                        value = (
                            ""
                            if not f.has_default
                            else (f.default if isinstance(f.default, str) else json.dumps(f.default))
                        )
                        yield Input(value=value, placeholder=f.hint(), id=f"el-{f.key}")
            yield Static("", id="elicit-error", classes="dialog-error", markup=False)
            with Horizontal():
                yield Button("Accept", id="accept", variant="primary")
                yield Button("Decline", id="decline")
                yield Button("Cancel", id="cancel")

    def _content(self) -> tuple[dict[str, Any], list[str]]:
        raw: dict[Any, Any] = {}
        for f in self.form.children:
            widget = self.query_one(f"#el-{f.key}")
            raw[f.path] = widget.value if isinstance(widget, (Input, Checkbox)) else None
        content, errors = assemble(self.form, raw)
        if not errors:
            errors = validate_arguments(self.schema, content)
        return content, [f"{e.to_json()['path']}: {e.message}" for e in errors]

    @on(Button.Pressed, "#accept")
    def _accept(self) -> None:
        content, errors = self._content()
        if errors:
            self.query_one("#elicit-error", Static).update("\n".join(errors))
            return
        self.dismiss(("accept", content if not self.url else None))

    @on(Button.Pressed, "#decline")
    def _decline(self) -> None:
        self.dismiss(("decline", None))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(("cancel", None))


class SamplingDialog(ModalScreen[str | None]):
    """A server asks the client's model for a completion: the user reads the messages and writes the reply."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="SamplingDialog")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "decline", "Decline")]

    def __init__(self, params: Any) -> None:
        super().__init__()
        self.params = params
        self.shown_text = ""

    def compose(self) -> ComposeResult:
        lines = []
        system = getattr(self.params, "system_prompt", None)
        if system:
            lines.append(f"system: {system}")
        for message in getattr(self.params, "messages", []):
            content = message.content
            text = getattr(content, "text", None) or json.dumps(
                content.model_dump(by_alias=True, exclude_none=True) if hasattr(content, "model_dump") else str(content)
            )
            lines.append(f"{message.role}: {text}")
        self.shown_text = "\n".join(lines)
        with Vertical():
            yield Label("The server asks for a completion (sampling):")
            yield Static("\n".join(lines), markup=False)
            yield TextArea("", id="reply")
            with Horizontal():
                yield Button("Send reply", id="send", variant="primary")
                yield Button("Decline", id="decline")

    @on(Button.Pressed, "#send")
    def _send(self) -> None:
        self.dismiss(self.query_one("#reply", TextArea).text)

    @on(Button.Pressed, "#decline")
    def action_decline(self) -> None:
        self.dismiss(None)
