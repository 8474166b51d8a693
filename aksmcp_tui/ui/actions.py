"""One table of user actions: the key bindings, the help screen and the command palette all read it."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class UiAction:
    action: str  # the screen action it runs
    keys: str  # Textual key names, comma separated
    display: str  # how the key is shown in the help screen and footer
    short: str  # footer label
    title: str  # command palette title
    help: str
    show: bool = True
    # Priority bindings run in the App's own key handling, before the next key is dispatched, so keys
    # typed right after ":" or "/" land in the prompt they open (type-ahead), not in the table.
    priority: bool = False


MAIN_ACTIONS: tuple[UiAction, ...] = (
    UiAction("open_details", "enter", "enter", "Details", "Show details", "Pods, conditions, events and services"),
    UiAction(
        "command_line",
        "colon",
        ":",
        "Command",
        "Command line",
        ":ctx NAME, :ns NAME|all, :deploy, :help",
        priority=True,
    ),
    UiAction("filter", "slash", "/", "Filter", "Filter deployments", "Filter as you type; esc clears", priority=True),
    UiAction("retry", "r", "r", "Refresh", "Refresh / retry", "Reconnect and list again"),
    # not in the footer (full at 130 columns); `?` and the palette list it
    UiAction(
        "focus_clusters", "t", "t", "Clusters", "Focus cluster tree", "Move the focus to the cluster tree", show=False
    ),
    UiAction("open_logs", "l", "l", "Logs", "Logs", "Follow the logs of every pod, merged"),
    UiAction("open_metrics", "m", "m", "Metrics", "Metrics", "Per-tool calls/s, errors and latency"),
    UiAction("open_console", "c", "c", "Console", "MCP console", "Call tools, read resources, see the traffic"),
    # Not in the footer (it is full at 80 columns); listed by `?` and the palette.
    UiAction("connect_ide", "i", "i", "Connect", "Connect an IDE", "Write an IDE's MCP config", show=False),
    UiAction("deploy", "d", "d", "Deploy", "Deploy", "Build, push and deploy an MCP server project, step by step"),
    UiAction("forward", "f", "f", "Forward", "Port-forward", "Forward the deployment's MCP port (forward daemon)"),
    UiAction(
        "forwards", "F", "F", "Forwards", "Forwards", "Every forward: pod, uptime, reconnects, traffic", show=False
    ),
    UiAction("help", "question_mark", "?", "Help", "Help", "List the keys"),
    UiAction("back", "escape", "esc", "Back", "Clear filter", "Clear the filter / leave the prompt", show=False),
    UiAction("quit_app", "q", "q", "Quit", "Quit", "Leave aksmcp"),
)

DETAILS_ACTIONS: tuple[UiAction, ...] = (
    UiAction("back", "escape,q", "esc/q", "Back", "Back to the fleet", "Return to the deployments table"),
    UiAction("refresh", "r", "r", "Refresh", "Refresh details", "Load the details again"),
    UiAction("open_logs", "l", "l", "Logs", "Logs", "Follow the logs of every pod, merged"),
    UiAction("open_metrics", "m", "m", "Metrics", "Metrics", "Per-tool calls/s, errors and latency"),
    UiAction("open_console", "c", "c", "Console", "MCP console", "Call tools, read resources, see the traffic"),
    # Not in the footer (it is full at 80 columns); listed by `?` and the palette.
    UiAction("connect_ide", "i", "i", "Connect", "Connect an IDE", "Write an IDE's MCP config", show=False),
    UiAction("deploy", "d", "d", "Deploy", "Deploy", "Deploy a project to this deployment's cluster and namespace"),
    UiAction("forward", "f", "f", "Forward", "Port-forward", "Forward the deployment's MCP port (forward daemon)"),
    UiAction("help", "question_mark", "?", "Help", "Help", "List the keys"),
)


def bindings_for(actions: tuple[UiAction, ...]) -> list[Binding]:
    return [
        Binding(item.keys, item.action, item.short, show=item.show, key_display=item.display, priority=item.priority)
        for item in actions
    ]
