"""The command palette (ctrl+p): every action of the current screen, plus cluster switching."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Provider

from aksmcp_tui.ui.actions import DETAILS_ACTIONS, MAIN_ACTIONS, UiAction


class DashboardCommands(Provider):
    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        from aksmcp_tui.ui.screens.details import DetailsScreen
        from aksmcp_tui.ui.screens.main import MainScreen

        screen = self.screen
        actions: tuple[UiAction, ...] = ()
        if isinstance(screen, MainScreen):
            actions = MAIN_ACTIONS
        elif isinstance(screen, DetailsScreen):
            actions = DETAILS_ACTIONS
        commands: list[tuple[str, str, Callable[[], object]]] = [
            (f"{item.title}  ({item.display})", item.help, partial(screen.run_action, item.action))
            for item in actions
            if item.action != "back"
        ]
        if isinstance(screen, MainScreen):
            for target in screen.targets.all():
                commands.append(
                    (
                        f"Switch cluster: {target.context}",
                        f"Watch the MCP deployments of {target.context} ({target.origin})",
                        partial(screen.switch_target, target, screen.namespace),
                    )
                )
            commands.append(
                ("Namespace: all", "MCP deployments of every namespace", partial(screen.run_command_line, "ns all"))
            )
        return commands

    async def discover(self) -> AsyncIterator[DiscoveryHit]:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> AsyncIterator[Hit]:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
