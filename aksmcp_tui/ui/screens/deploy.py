"""The deploy screen (`d`): a project, a cluster, and the deploy flow step by step.

It renders core.deploy's events and nothing else: one progress bar per step, the pods' states and
Kubernetes events as they arrive, the diagnosis and rollback in plain words, and the connect
command at the end. Cancel (esc while running, or the button) stops the flow and says what it left
in the cluster and how to clean it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, ProgressBar, RichLog, Static

from aksmcp_tui.ui.targets import ClusterTarget

if TYPE_CHECKING:
    from aksmcp_tui.core.deploy.flow import DeployFlow
    from aksmcp_tui.core.fleet import McpWorkload
    from aksmcp_tui.ui.app import AksmcpApp

STEPS = ("build", "push", "render", "apply", "rollout", "smoke test")


class DeployScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back / cancel"),
        Binding("ctrl+r", "start", "Deploy"),
    ]
    DEFAULT_CSS = """
    DeployScreen #deploy-form { height: auto; padding: 0 1; }
    DeployScreen #deploy-form Horizontal { height: auto; }
    DeployScreen #deploy-form Input { width: 1fr; }
    DeployScreen .deploy-step { height: 1; padding: 0 1; }
    DeployScreen .deploy-step Label { width: 40; }
    DeployScreen .deploy-step ProgressBar { width: 1fr; }
    DeployScreen #deploy-log { height: 1fr; border: round $panel; }
    DeployScreen #deploy-buttons { height: auto; padding: 0 1; }
    """

    def __init__(
        self,
        target: ClusterTarget,
        workload: McpWorkload | None = None,
        *,
        project: Path | None = None,
        namespace: str | None = None,
    ) -> None:
        super().__init__(id="deploy")
        self.target = target
        self.workload = workload
        self.project = project or Path.cwd()
        self.namespace = namespace or (workload.namespace if workload is not None else None)
        self.flow: DeployFlow | None = None
        self.running = False
        self.finished: bool | None = None  # True/False once a flow ended; None while none has
        self.statuses: dict[str, str] = dict.fromkeys(STEPS, "waiting")

    @property
    def dash(self) -> AksmcpApp:
        from aksmcp_tui.ui.app import AksmcpApp

        assert isinstance(self.app, AksmcpApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Static(f" Deploy to context {self.target.context}", id="deploy-title")
        with Vertical(id="deploy-form"):
            yield Input(str(self.project), placeholder="project directory (aksmcp init NAME)", id="deploy-path")
            with Horizontal():
                yield Input(
                    self.namespace or "", placeholder="namespace (default: aksmcp.yaml's)", id="deploy-namespace"
                )
                yield Input("", placeholder="image (optional: skips build and push)", id="deploy-image")
                yield Input("", placeholder="registry (for a build)", id="deploy-registry")
                yield Input("", placeholder="replicas", id="deploy-replicas", type="integer")
        with Horizontal(id="deploy-buttons"):
            yield Button("Deploy", id="deploy-start", variant="primary")
            yield Button("Cancel", id="deploy-cancel", variant="error", disabled=True)
        for step in STEPS:
            with Horizontal(classes="deploy-step"):
                yield Label(self._step_label(step), id=f"label-{step.replace(' ', '-')}")
                yield ProgressBar(total=None, show_eta=False, id=f"bar-{step.replace(' ', '-')}")
        yield RichLog(id="deploy-log", wrap=True, markup=False, highlight=False)
        yield Footer()

    def _step_label(self, step: str) -> str:
        marks = {"waiting": "·", "running": "…", "done": "✓", "skipped": "-", "failed": "✗"}
        return f"{marks.get(self.statuses[step], '?')} {step}: {self.statuses[step]}"

    def _set_step(self, step: str, status: str, current: int | None = None, total: int | None = None) -> None:
        if step not in self.statuses:
            return
        self.statuses[step] = status
        key = step.replace(" ", "-")
        self.query_one(f"#label-{key}", Label).update(self._step_label(step))
        bar = self.query_one(f"#bar-{key}", ProgressBar)
        if status in ("done", "skipped"):
            bar.update(total=1, progress=1)
        elif status == "failed":
            bar.update(total=1, progress=0)
        elif total:
            bar.update(total=total, progress=current or 0)

    def _log(self, text: str, style: str = "") -> None:
        self.query_one("#deploy-log", RichLog).write(Text(text, style=style))

    # ------------------------------------------------------------------------------ actions --

    @on(Button.Pressed, "#deploy-start")
    def action_start(self) -> None:
        if self.running:
            return
        from aksmcp_tui.core.deploy.flow import DeployFlow, DeployOptions

        replicas_text = self.query_one("#deploy-replicas", Input).value.strip()
        options = DeployOptions(
            path=Path(self.query_one("#deploy-path", Input).value.strip() or "."),
            context=self.target.context,
            kubeconfig=self.target.kubeconfig,
            namespace=self.query_one("#deploy-namespace", Input).value.strip() or None,
            image=self.query_one("#deploy-image", Input).value.strip() or None,
            registry=self.query_one("#deploy-registry", Input).value.strip() or None,
            replicas=int(replicas_text) if replicas_text else None,
        )
        self.statuses = dict.fromkeys(STEPS, "waiting")
        for step in STEPS:
            self._set_step(step, "waiting")
            self.query_one(f"#bar-{step.replace(' ', '-')}", ProgressBar).update(total=None, progress=0)
        self.query_one("#deploy-log", RichLog).clear()
        self.running, self.finished = True, None
        self.query_one("#deploy-start", Button).disabled = True
        self.query_one("#deploy-cancel", Button).disabled = False
        self._run(options, DeployFlow)

    @work(group="deploy", exclusive=True, exit_on_error=False)
    async def _run(self, options: Any, flow_class: Any) -> None:
        import asyncio

        try:
            kube = await self.dash.kube_pool.get(self.target)
        except Exception as exc:  # a broken kubeconfig or credential: say so, never crash
            self._log(f"cannot open context {self.target.context}: {exc}", "bold red")
            self._end(False)
            return
        self.flow = flow_class(options, kube=kube)
        try:
            async for event in self.flow.run():
                self._show_event(event)
        except asyncio.CancelledError:
            self._log("cancelled", "bold yellow")
            for line in self.flow.leftovers():
                self._log(f"  {line}", "yellow")
            self._end(False)
            raise
        except Exception as exc:  # an unexpected failure is shown, the screen stays usable
            self._log(f"deploy stopped: {type(exc).__name__}: {exc}", "bold red")
            for line in self.flow.leftovers():
                self._log(f"  {line}", "yellow")
            self._end(False)

    def _end(self, ok: bool) -> None:
        self.running = False
        self.finished = ok
        self.query_one("#deploy-start", Button).disabled = False
        self.query_one("#deploy-cancel", Button).disabled = True

    def _show_event(self, event: Any) -> None:
        from aksmcp_tui.core.deploy import events as ev

        if isinstance(event, ev.StepStarted):
            self._set_step(event.step, "running")
            self._log(f"==> {event.step}: {event.detail}", "bold")
        elif isinstance(event, ev.StepProgress):
            self._set_step(event.step, "running", event.current, event.total)
        elif isinstance(event, ev.StepDone):
            self._set_step(event.step, "done")
            self._log(f"  ✓ {event.step}: {event.detail}", "green")
        elif isinstance(event, ev.StepSkipped):
            self._set_step(event.step, "skipped")
            self._log(f"  - {event.step} skipped: {event.detail}", "dim")
        elif isinstance(event, ev.StepFailed):
            self._set_step(event.step, "failed")
            self._log(f"  ✗ {event.step}: {event.problem}", "bold red")
            if event.fix:
                self._log(f"    fix: {event.fix}", "red")
        elif isinstance(event, ev.PodUpdate):
            self._log(f"    pod {event.pod}: {event.phase} ({event.containers})", "cyan")
        elif isinstance(event, ev.ClusterEvent):
            self._log(f"    {event.involved}: {event.reason}: {event.message}", "yellow" if event.warning else "")
        elif isinstance(event, ev.Diagnosis):
            self._log(f"diagnosis: {event.summary}", "bold red")
            for line in event.details:
                self._log(f"  {line}", "red")
            if event.fix:
                self._log(f"  fix: {event.fix}", "bold")
        elif isinstance(event, ev.RolledBack):
            self._log(f"rollback: {event.detail}", "magenta")
        elif isinstance(event, ev.Rendered):
            for line in event.diff:
                self._log(line)
        elif isinstance(event, ev.Finished):
            self._log(
                ("done: " if event.ok else "deploy failed: ") + event.summary, "bold green" if event.ok else "bold red"
            )
            if event.connect:
                self._log(f"connect your IDE: {event.connect}", "bold")
            for line in event.leftovers if not event.ok else ():
                self._log(f"  {line}", "yellow")
            self._end(event.ok)

    @on(Button.Pressed, "#deploy-cancel")
    def action_cancel(self) -> None:
        if self.running:
            self.workers.cancel_group(self, "deploy")

    def action_back(self) -> None:
        if self.running:
            self.action_cancel()
            return
        self.app.pop_screen()
