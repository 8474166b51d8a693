"""`?`: the keys of the current screen, read from the same table as the bindings and the palette."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from aksmcp_tui.ui.actions import UiAction

GLOBAL_KEYS: tuple[tuple[str, str], ...] = (
    ("ctrl+p", "Command palette: every action, cluster switching, themes"),
    ("tab / shift+tab", "Move the focus between the cluster tree and the table"),
    ("↑↓ j k g G", "Move in the table (pgup, pgdn too; ← → scroll sideways)"),
    ("mouse", "Click a cluster or a row; double-click a row for details"),
    ("ctrl+q", "Quit from anywhere"),
)


def help_text(actions: tuple[UiAction, ...], title: str) -> str:
    rows = [(item.display, f"{item.title}: {item.help}") for item in actions]
    rows.extend(GLOBAL_KEYS)
    width = max(len(key) for key, _ in rows)
    lines = [f"{title} keys", ""]
    lines.extend(f"  {key.ljust(width)}  {text}" for key, text in rows)
    lines.extend(["", "  :ctx NAME  :ns NAME|all  :deploy  :help  :q   (the : command line)", "", "esc closes"])
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def __init__(self, actions: tuple[UiAction, ...], title: str) -> None:
        super().__init__(id="help")
        self._text = help_text(actions, title)

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static(self._text, id="help-text", markup=False)

    def action_close(self) -> None:
        self.dismiss()
