"""`aksmcp console TARGET`: the console screen as an app of its own (no cluster needed for a URL or stdio)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

if TYPE_CHECKING:
    from aksmcp_tui.core.mcpclient import McpTarget


class ConsoleApp(App[None]):
    TITLE = "aksmcp console"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "Quit", show=False, priority=True)]

    def __init__(self, target: McpTarget, *, protocol: str = "auto", label: str | None = None) -> None:
        super().__init__()
        self.target = target
        self.protocol = protocol
        self.label = label

    def get_default_screen(self) -> Screen[None]:
        from aksmcp_tui.ui.screens.console import ConsoleScreen

        return ConsoleScreen(self.target, protocol=self.protocol, label=self.label)
