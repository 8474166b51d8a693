"""A production component from the deployment's screen: the generator command (editable), the project
it edits, a dry run that shows the diff, and apply. It parses the command line with the CLI's own parser
and runs the same `generator_result` the CLI runs, so the dashboard and `aksmcp ...` never differ."""

from __future__ import annotations

import contextlib
import io
import shlex
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


def default_project_dir(deployment_name: str, cwd: Path | None = None) -> str:
    """The current directory when it is this deployment's project, else empty (the user types it)."""
    here = cwd or Path.cwd()
    meta = here / "aksmcp.yaml"
    with contextlib.suppress(OSError):
        if meta.is_file() and f"name: {deployment_name}" in meta.read_text(encoding="utf-8").splitlines():
            return str(here)
    return ""


def parse_generator(command: str, project: str, dry_run: bool) -> Any:
    """The parsed arguments of `command` (an `aksmcp ...` generator line) for `project`; ValueError with
    argparse's message when it does not parse or is not a generator."""
    from aksmcp_tui.cli import build_parser

    words = shlex.split(command)
    if words[:1] == ["aksmcp"]:
        words = words[1:]
    parser = build_parser()
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            known, _ = parser.parse_known_args(words)
            if not hasattr(known, "build"):
                raise ValueError("not a component generator (aksmcp auth enable | tls | monitor | scale | ci ...)")
            return parser.parse_args([*words, "--project", project, *(["--dry-run"] if dry_run else [])])
    except SystemExit:
        message = errors.getvalue().strip().splitlines()
        raise ValueError(message[-1] if message else "cannot parse the command") from None


def describe_result(result: Any, *, applied: list[Any] | None) -> str:
    """What the CLI would print: the diff (dry run) or the files written, then warnings and next steps."""
    lines: list[str] = []
    if applied is None:
        diff = result.changes.diff()
        lines.append(diff.rstrip("\n") if diff else "No changes: the project already has this configuration.")
    elif applied:
        lines += [f"{change.verb} {result.changes.root / change.path}" for change in applied]
    else:
        lines.append("No changes: the project already has this configuration.")
    lines += [f"warning: {w}" for w in result.warnings]
    if result.notes:
        lines += ["", *result.notes]
    return "\n".join(lines)


class ComponentScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ComponentScreen { align: center middle; }
    #component-box { width: 90%; height: 90%; border: round $accent; background: $surface; padding: 0 1; }
    #component-title { text-style: bold; margin-bottom: 1; }
    #component-buttons { height: auto; margin: 1 0; }
    #component-buttons Button { margin-right: 1; }
    #component-output { height: 1fr; border: tall $panel; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, component: str, state: str, detail: str, command: str, project_dir: str) -> None:
        super().__init__(id="component")
        self.component = component
        self.state = state
        self.detail = detail
        self.command = command
        self.project_dir = project_dir
        self.runs = 0  # finished previews/applies (tests wait on it)

    def compose(self) -> ComposeResult:
        status = f"on — {self.detail}" if self.state == "on" else "not in this deployment"
        with Vertical(id="component-box"):
            yield Static(f"{self.component}: {status}", id="component-title", markup=False)
            yield Label("Project directory (made by aksmcp init)")
            yield Input(self.project_dir, placeholder="/path/to/project", id="component-project")
            yield Label("Command (edit the values; same flags as the CLI)")
            yield Input(self.command, id="component-command")
            with Horizontal(id="component-buttons"):
                yield Button("Preview diff", id="component-preview", variant="primary")
                yield Button("Apply", id="component-apply", variant="warning")
                yield Button("Copy command", id="component-copy")
                yield Button("Close", id="component-close")
            with VerticalScroll(id="component-output"):
                yield Static(
                    "Preview shows what the command would change; Apply writes it. Deploy afterwards.",
                    id="component-result",
                    markup=False,
                )

    @on(Button.Pressed, "#component-preview")
    def _preview(self) -> None:
        self._start(dry_run=True)

    @on(Button.Pressed, "#component-apply")
    def _apply(self) -> None:
        self._start(dry_run=False)

    def _start(self, dry_run: bool) -> None:
        command = self.query_one("#component-command", Input).value
        project = self.query_one("#component-project", Input).value.strip()
        self.query_one("#component-result", Static).update("Working…")
        self._run(dry_run, command, project)

    @on(Button.Pressed, "#component-copy")
    def _copy(self) -> None:
        command = self.query_one("#component-command", Input).value
        self.app.copy_to_clipboard(command)
        self.notify(command, title="Copied")

    @on(Button.Pressed, "#component-close")
    def action_close(self) -> None:
        self.dismiss()

    @work(exclusive=True, group="component", exit_on_error=False, thread=True)
    def _run(self, dry_run: bool, command: str, project: str) -> None:
        # A thread: generators read and write files; the UI stays responsive.
        from aksmcp_tui.commands.components_cmd import generator_result
        from aksmcp_tui.core.components import ComponentError

        try:
            if not project:
                raise ValueError("Which project? Type the directory of the project made by aksmcp init.")
            result = generator_result(parse_generator(command, project, dry_run))
            text = describe_result(result, applied=None if dry_run else result.changes.apply())
        except (ValueError, ComponentError, OSError) as error:
            text = f"✗ {error}"
        except Exception as error:  # a bug must not close the dashboard
            text = f"✗ {type(error).__name__}: {error}"
        self.app.call_from_thread(self._show, text)

    def _show(self, text: str) -> None:
        self.query_one("#component-result", Static).update(text)
        self.runs += 1
