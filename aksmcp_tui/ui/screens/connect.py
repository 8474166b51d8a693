"""The Connect dialog: write an IDE/agent's MCP config for one deployment (client, scope, preview, result).

It runs the same core steps as `aksmcp connect`: resolve once (managed forward + the key from the
deployment's Secret, through the app's shared KubeContext), plan on every choice (the preview is the
masked unified diff), commit on `w`. A failure is shown in the dialog; nothing is written then.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Input, OptionList, RadioButton, RadioSet, Static
from textual.widgets.option_list import Option

from aksmcp_tui.ui.targets import ClusterTarget

if TYPE_CHECKING:
    from aksmcp_tui.core.fleet import McpWorkload
    from aksmcp_tui.core.ide import PlannedChange, Resolved
    from aksmcp_tui.ui.app import AksmcpApp


class ConnectScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ConnectScreen { align: center middle; }
    #connect-box { width: 96%; height: 92%; border: round $accent; background: $surface; padding: 0 1; }
    #connect-title { text-style: bold; height: 1; }
    #connect-status { height: auto; color: $text-muted; }
    #connect-main { height: 1fr; }
    #connect-side { width: 30; height: 100%; }
    #connect-clients { height: 1fr; }
    #connect-scope { height: auto; }
    #connect-preview-box { width: 1fr; height: 100%; border: tall $panel; }
    #connect-result { height: auto; min-height: 1; }
    #connect-result.error { color: $error; }
    #connect-result.done { color: $success; }
    #connect-buttons { height: 3; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("w", "write", "Write"),
    ]

    def __init__(self, workload: McpWorkload, target: ClusterTarget, project_dir: Path | None = None) -> None:
        super().__init__(id="connect")
        self.workload = workload
        self.target = target
        self.project_dir = project_dir or Path.cwd()
        self.resolved: Resolved | None = None
        self.change: PlannedChange | None = None
        self.written: list[Path] = []  # what this dialog wrote (tests wait on it)

    @property
    def dash(self) -> AksmcpApp:
        from aksmcp_tui.ui.app import AksmcpApp

        assert isinstance(self.app, AksmcpApp)
        return self.app

    def compose(self) -> ComposeResult:
        from aksmcp_tui.core.ide import WRITERS

        w = self.workload
        with Vertical(id="connect-box"):
            yield Static(f"Connect an IDE to deploy/{w.name}  ·  {w.namespace}  ·  {w.context}", id="connect-title")
            yield Static("Finding the forward and the API key…", id="connect-status", markup=False)
            with Horizontal(id="connect-main"):
                with Vertical(id="connect-side"):
                    yield OptionList(
                        *[Option(writer.title, id=client) for client, writer in WRITERS.items()], id="connect-clients"
                    )
                    with RadioSet(id="connect-scope"):
                        yield RadioButton("user file", value=True, id="scope-user")
                        yield RadioButton(f"project ({self.project_dir.name or self.project_dir})", id="scope-project")
                    yield Input(value=w.name, placeholder="entry name", id="connect-name")
                with VerticalScroll(id="connect-preview-box"):
                    yield Static("", id="connect-preview", markup=False)
            yield Static("", id="connect-result", markup=False)
            with Horizontal(id="connect-buttons"):
                yield Button("Write (w)", id="connect-write", variant="primary", disabled=True)
                yield Button("Close (esc)", id="connect-close")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0
        self.query_one(OptionList).focus()
        self._resolve()

    @work(exclusive=True, group="connect-resolve", exit_on_error=False)
    async def _resolve(self) -> None:
        from aksmcp_tui.core.ide import IdeError, Target, resolve
        from aksmcp_tui.core.kube import KubeProblem

        w = self.workload
        target = Target(
            "deploy", context=w.context, namespace=w.namespace, deployment=w.name, kubeconfig=self.target.kubeconfig
        )
        status = self.query_one("#connect-status", Static)
        try:
            kube = await self.dash.kube_pool.get(self.target)
            self.resolved = await resolve(target, kube=kube)
        except (IdeError, KubeProblem) as exc:
            status.update("Cannot connect this deployment.")
            self._result(str(exc), error=True)
            return
        except Exception as exc:  # a bug must not close the dashboard
            status.update("Cannot connect this deployment.")
            self._result(f"{type(exc).__name__}: {exc}", error=True)
            return
        status.update(f"Endpoint {self.resolved.url} (managed forward); key from the deployment's Secret.")
        self._replan()

    # ------------------------------------------------------------------ choices
    @property
    def client(self) -> str | None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return None
        return options.get_option_at_index(options.highlighted).id

    @property
    def scope(self) -> str:
        return "project" if self.query_one("#scope-project", RadioButton).value else "user"

    @on(OptionList.OptionHighlighted)
    @on(RadioSet.Changed)
    @on(Input.Changed)
    def _choice_changed(self) -> None:
        self._replan()

    def _replan(self) -> None:
        from aksmcp_tui.core.ide import IdeError, plan

        preview = self.query_one("#connect-preview", Static)
        write = self.query_one("#connect-write", Button)
        self.change = None
        write.disabled = True
        if self.resolved is None or self.client is None:
            return
        try:
            self.change = plan(
                self.client,
                self.resolved,
                scope="project" if self.scope == "project" else "user",
                name=self.query_one("#connect-name", Input).value.strip() or None,
                project_dir=self.project_dir,
            )
        except IdeError as exc:
            preview.update("")
            self._result(str(exc), error=True)
            return
        except Exception as exc:  # an odd file must not close the dialog
            preview.update("")
            self._result(f"{type(exc).__name__}: {exc}", error=True)
            return
        diff = self.change.diff() or f"No change: {self.change.path} already has this entry.\n"
        notes = "".join(f"\nnote: {n}" for n in self.change.notes)
        preview.update(f"{self.change.path}\n\n{diff}{notes}")
        self._result("")
        write.disabled = not self.change.changed

    def _result(self, text: str, *, error: bool = False, done: bool = False) -> None:
        result = self.query_one("#connect-result", Static)
        result.update(text)
        result.set_class(error, "error")
        result.set_class(done, "done")

    # ------------------------------------------------------------------ actions
    @on(Button.Pressed, "#connect-write")
    def _write_pressed(self) -> None:
        self.action_write()

    @on(Button.Pressed, "#connect-close")
    def _close_pressed(self) -> None:
        self.action_close()

    def action_write(self) -> None:
        from aksmcp_tui.core.ide import IdeError, commit

        if isinstance(self.focused, Input):
            return  # "w" typed into the name
        change = self.change
        if change is None or not change.changed:
            return
        try:
            backup = commit(change)
        except (IdeError, OSError) as exc:
            self._result(f"Not written: {exc}", error=True)
            return
        self.written.append(change.path)
        saved = f" (original saved to {backup})" if backup else ""
        self._result(f"Wrote entry {change.name!r} to {change.path}{saved}.", done=True)
        self.notify(f"{change.client}: {change.name} → {change.path}", title="IDE connected")
        self._replan()
        self._result(f"Wrote entry {change.name!r} to {change.path}{saved}.", done=True)

    def action_close(self) -> None:
        self.dismiss()


def open_connect(screen: Screen[Any], workload: McpWorkload | None, target: ClusterTarget | None) -> None:
    """`i` on the fleet table or the details screen: only Deployments have a deploy/NAME target."""
    if workload is None or target is None:
        screen.notify("No deployment selected", severity="warning")
        return
    if workload.kind != "Deployment":
        screen.notify(f"Connect works on Deployments; {workload.name} is a {workload.kind}", severity="warning")
        return
    screen.app.push_screen(ConnectScreen(workload, target))
