"""An inline, plain-words message about a cluster problem, with a Retry button."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static

if TYPE_CHECKING:
    from aksmcp_tui.core.kube import KubeProblem

TITLES: dict[str, str] = {
    "unreachable": "Cannot reach the cluster",
    "unauthorized": "The cluster rejected the credentials",
    "credentials": "Credentials are missing or expired",
    "forbidden": "Access denied (403 Forbidden)",
    "not_found": "Not found",
    "timeout": "The cluster did not answer in time",
    "kubeconfig": "The kubeconfig cannot be read",
    "error": "Something went wrong",
}

HINTS: dict[str, str] = {
    "unreachable": "Check the network, VPN or that the cluster is running.",
    "unauthorized": "Log in again (for AKS: az login, then kubelogin convert-kubeconfig).",
    "credentials": "Log in again (for AKS: az login, then kubelogin convert-kubeconfig).",
    "forbidden": "Your account may list only some namespaces: try :ns NAME.",
    "timeout": "The cluster may be overloaded or the network slow.",
}


def describe(problem: KubeProblem) -> tuple[str, str]:
    """(title, body) for a problem, in words a user can act on."""
    kind = getattr(problem, "kind", "error")
    title = TITLES.get(kind, TITLES["error"])
    body = getattr(problem, "message", "") or str(problem)
    namespace = getattr(problem, "namespace", None)
    if kind == "forbidden" and namespace and namespace not in body:
        body = f"{body} (namespace {namespace})"
    hint = HINTS.get(kind)
    if hint:
        body = f"{body}\n{hint}"
    return title, body


class ProblemPanel(Vertical):
    """Hidden until a problem is shown; `Retry` posts RetryRequested."""

    DEFAULT_CSS = """
    ProblemPanel { height: auto; display: none; border: round $error; padding: 0 1; margin: 0 0 1 0; }
    ProblemPanel.-visible { display: block; }
    ProblemPanel.-info { border: round $primary; }
    ProblemPanel #problem-title { text-style: bold; color: $text-error; }
    ProblemPanel.-info #problem-title { color: $text-primary; }
    ProblemPanel #problem-actions { height: auto; margin-top: 1; }
    ProblemPanel #problem-retry-note { color: $text-muted; padding: 0 2; content-align: left middle; height: 3; }
    ProblemPanel Button { min-width: 12; }
    """

    class RetryRequested(Message):
        pass

    def compose(self) -> ComposeResult:
        yield Static("", id="problem-title", markup=False)
        yield Static("", id="problem-body", markup=False)
        with Horizontal(id="problem-actions"):
            yield Button("Retry (r)", id="problem-retry", variant="primary")
            yield Static("", id="problem-retry-note", markup=False)

    @property
    def title_text(self) -> str:
        return str(self.query_one("#problem-title", Static).content)

    @property
    def body_text(self) -> str:
        return str(self.query_one("#problem-body", Static).content)

    def show_problem(self, title: str, body: str, note: str = "") -> None:
        self.query_one("#problem-title", Static).update(title)
        self.query_one("#problem-body", Static).update(body)
        self.query_one("#problem-retry-note", Static).update(note)
        self.query_one("#problem-actions").display = True
        self.set_class(False, "-info")
        self.add_class("-visible")

    def show_info(self, title: str, body: str) -> None:
        self.query_one("#problem-title", Static).update(title)
        self.query_one("#problem-body", Static).update(body)
        self.query_one("#problem-actions").display = False
        self.add_class("-info", "-visible")

    def hide(self) -> None:
        self.remove_class("-visible", "-info")

    @property
    def is_shown(self) -> bool:
        return self.has_class("-visible")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "problem-retry":
            event.stop()
            self.post_message(self.RetryRequested())
