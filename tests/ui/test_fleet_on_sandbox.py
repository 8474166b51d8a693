"""Navigation, live updates, filtering, details, commands, palette and mouse, against the real sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.notifications import Notify
from textual.widgets import DataTable, Input

from aksmcp_tui.ui.app import AksmcpApp, make_app
from aksmcp_tui.ui.screens.details import DetailsScreen
from aksmcp_tui.ui.screens.help import HelpScreen
from aksmcp_tui.ui.screens.main import MainScreen
from aksmcp_tui.ui.widgets.cluster_tree import ClusterTree
from aksmcp_tui.ui.widgets.fleet_table import FleetTable
from aksmcp_tui.ui.widgets.problem_panel import ProblemPanel

from .conftest import SeededSandbox
from .sandbox_support import MCP_NAMES, api_client, deployment
from .support import free_port, screen_text, wait_for, write_kubeconfig

pytestmark = pytest.mark.timeout(120)
SIZE = (140, 36)


def _kubeconfig(tmp_path: Path, seeded: SeededSandbox) -> Path:
    """The sandbox plus a context whose cluster is gone, in one kubeconfig."""
    sandbox = seeded.sandbox
    return write_kubeconfig(
        tmp_path / "config",
        {"aksmcp-sandbox": sandbox.url, "gone": f"http://127.0.0.1:{free_port()}"},
        token=sandbox.token,
        current="aksmcp-sandbox",
    )


def _app(tmp_path: Path, seeded: SeededSandbox, **options: Any) -> AksmcpApp:
    return make_app(kubeconfig=str(_kubeconfig(tmp_path, seeded)), **options)


def _main(app: AksmcpApp) -> MainScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, MainScreen)
    return screen


def _table(app: AksmcpApp) -> FleetTable:
    return _main(app).query_one(FleetTable)


async def _wait_rows(pilot: Any, app: AksmcpApp, names: list[str]) -> None:
    await wait_for(pilot, lambda: _table(app).visible_names() == names, f"rows {names}")


async def test_the_table_lists_only_mcp_workloads(tmp_path: Path, seeded_sandbox: SeededSandbox) -> None:
    app = _app(tmp_path, seeded_sandbox)
    async with app.run_test(size=SIZE) as pilot:
        await _wait_rows(pilot, app, MCP_NAMES)
        rows = {w.name: w for w in _table(app).visible_workloads()}
        await wait_for(pilot, lambda: _table(app).selected is not None, "a cursor")
        assert rows["alpha-mcp"].matched_by == "label"
        assert rows["beta-mcp"].matched_by == "port-name"
        await wait_for(
            pilot,
            lambda: (
                {w.name: (w.ready, w.desired) for w in _table(app).visible_workloads()}
                == {"alpha-mcp": (1, 1), "beta-mcp": (2, 2), "gamma-mcp": (0, 0)}
            ),
            "ready counts",
        )
        health = {w.name: str(w.health) for w in _table(app).visible_workloads()}
        assert health == {"alpha-mcp": "healthy", "beta-mcp": "healthy", "gamma-mcp": "scaled-down"}
        screen = _main(app)
        assert screen.live_state == "live"
        assert "3 MCP deployments" in str(screen.query_one("#topbar").content)
        text = screen_text(app)
        for word in ("alpha-mcp", "team-a", "2/2", "Scaled down", "ghcr.io/example/beta-mcp:1.0", "aksmcp-sandbox"):
            assert word in text


async def test_watch_keeps_the_table_live(tmp_path: Path, seeded_sandbox: SeededSandbox) -> None:
    from kubernetes import client

    app = _app(tmp_path, seeded_sandbox)
    api = api_client(seeded_sandbox.kubeconfig)
    apps = client.AppsV1Api(api)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await _wait_rows(pilot, app, MCP_NAMES)
            listed_once = _main(app).connects
            await asyncio.to_thread(apps.create_namespaced_deployment, "team-b", deployment("delta-mcp", "team-b"))
            await _wait_rows(pilot, app, ["alpha-mcp", "beta-mcp", "delta-mcp", "gamma-mcp"])  # namespace, name
            await wait_for(
                pilot,
                lambda: any(w.name == "delta-mcp" and w.ready == 1 for w in _table(app).visible_workloads()),
                "delta-mcp ready",
            )
            await asyncio.to_thread(apps.delete_namespaced_deployment, "delta-mcp", "team-b")
            await _wait_rows(pilot, app, MCP_NAMES)
            assert _main(app).connects == listed_once  # changes came through the watch, not a reconnect
    finally:
        await asyncio.to_thread(api.close)


async def test_filter_applies_as_you_type_and_esc_clears(tmp_path: Path, seeded_sandbox: SeededSandbox) -> None:
    app = _app(tmp_path, seeded_sandbox)
    async with app.run_test(size=SIZE) as pilot:
        await _wait_rows(pilot, app, MCP_NAMES)
        await pilot.press("slash")
        assert _main(app).query_one("#filter", Input).has_focus
        await pilot.press("b")
        assert _table(app).visible_names() == ["beta-mcp", "gamma-mcp"]  # gamma is in team-b
        await pilot.press("e", "t")
        assert _table(app).visible_names() == ["beta-mcp"]
        await pilot.press("escape")
        assert _table(app).visible_names() == MCP_NAMES
        assert not _main(app).query_one("#filter", Input).display

        await pilot.press("slash", *"team-b", "enter")  # namespaces match too; enter keeps the filter
        assert _table(app).visible_names() == ["gamma-mcp"]
        assert _table(app).has_focus
        assert "1 of 3" in str(_main(app).query_one("#topbar").content)
        await pilot.press("slash", *"zzz")
        assert _table(app).visible_names() == []
        assert "No MCP deployment matches" in screen_text(app)
        await pilot.press("escape")
        assert _table(app).visible_names() == MCP_NAMES


async def test_enter_opens_details_and_esc_comes_back(tmp_path: Path, seeded_sandbox: SeededSandbox) -> None:
    app = _app(tmp_path, seeded_sandbox)
    async with app.run_test(size=SIZE) as pilot:
        await _wait_rows(pilot, app, MCP_NAMES)
        assert _table(app).selected is not None and _table(app).selected.name == "alpha-mcp"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen), "the details screen")
        details = app.screen
        assert isinstance(details, DetailsScreen)
        await wait_for(pilot, lambda: details.loads >= 1, "details loaded")
        pods = details.query_one("#details-pods", DataTable)
        assert pods.row_count == 1
        pod = pods.get_row_at(0)
        assert pod[0].startswith("alpha-mcp-") and pod[1] == "1/1" and pod[2] == "Running" and pod[3] == "0"
        services = details.query_one("#details-services", DataTable)
        assert [services.get_row_at(i)[0] for i in range(services.row_count)] == ["alpha-mcp"]
        conditions = details.query_one("#details-conditions", DataTable)
        types = {conditions.get_row_at(i)[0]: conditions.get_row_at(i)[1] for i in range(conditions.row_count)}
        assert types.get("Available") == "True"
        text = screen_text(app)
        assert "ghcr.io/example/alpha-mcp:1.0" in text and "Matched by label" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "back on the main screen")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen), "details of beta")
        beta = app.screen
        assert isinstance(beta, DetailsScreen)
        await wait_for(pilot, lambda: beta.loads >= 1, "beta details loaded")
        assert beta.query_one("#details-pods", DataTable).row_count == 2
        await pilot.press("q")  # q is "back" on the details screen
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "back again")


async def test_command_line_jumps_namespace_and_context(tmp_path: Path, seeded_sandbox: SeededSandbox) -> None:
    app = _app(tmp_path, seeded_sandbox)
    async with app.run_test(size=SIZE) as pilot:
        await _wait_rows(pilot, app, MCP_NAMES)
        await pilot.press("colon", *"ns team-b", "enter")
        await _wait_rows(pilot, app, ["gamma-mcp"])
        assert "namespace team-b" in str(_main(app).query_one("#topbar").content)
        await pilot.press("colon", *"ns all", "enter")
        await _wait_rows(pilot, app, MCP_NAMES)

        await pilot.press("colon", *"ctx gone", "enter")
        panel = _main(app).query_one(ProblemPanel)
        await wait_for(pilot, lambda: panel.is_shown, "the unreachable problem")
        assert panel.title_text == "Cannot reach the cluster"
        assert _table(app).total == 0
        await pilot.press("colon", *"ctx aksmcp-sandbox", "enter")
        await _wait_rows(pilot, app, MCP_NAMES)
        assert not panel.is_shown

        await pilot.press("colon", *"ctx nope", "enter")
        await pilot.pause()
        assert _main(app).target is not None and _main(app).target.context == "aksmcp-sandbox"


async def test_help_lists_every_key(tmp_path: Path, seeded_sandbox: SeededSandbox) -> None:
    app = _app(tmp_path, seeded_sandbox)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        text = screen_text(app)
        for key, words in (
            (":", "Command line"),
            ("/", "Filter"),
            ("l", "Logs"),
            ("m", "Metrics"),
            ("f", "Port-forward"),
            ("c", "MCP console"),
            ("d", "Deploy"),
            ("i", "Connect an IDE"),
        ):
            assert words in text, key
        assert "later release" not in text  # every key works now
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "main again")


async def test_palette_runs_actions(tmp_path: Path, seeded_sandbox: SeededSandbox) -> None:
    app = _app(tmp_path, seeded_sandbox)
    async with app.run_test(size=SIZE) as pilot:
        await _wait_rows(pilot, app, MCP_NAMES)
        # the palette offers the same actions as the keys: "Filter deployments" opens the filter line
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Filter deployments")
        await pilot.pause(0.3)
        await pilot.press("enter")
        filter_line = _main(app).query_one("#filter", Input)
        await wait_for(pilot, lambda: filter_line.display and filter_line.has_focus, "the filter line from the palette")
        await pilot.press("escape")

        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Switch cluster: gone")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: _main(app).target is not None and _main(app).target.context == "gone", "gone")


async def test_mouse_clicks_tree_nodes_and_rows(tmp_path: Path, seeded_sandbox: SeededSandbox) -> None:
    app = _app(tmp_path, seeded_sandbox)
    async with app.run_test(size=SIZE) as pilot:
        await _wait_rows(pilot, app, MCP_NAMES)
        tree = _main(app).query_one(ClusterTree)

        def line_of(label: str) -> int:
            for line in range(tree.last_line + 1):
                node = tree.get_node_at_line(line)
                if node is not None and str(node.label).startswith(label):
                    return line
            raise AssertionError(f"no tree node {label}")

        await pilot.click(ClusterTree, offset=(6, line_of("gone")))
        panel = _main(app).query_one(ProblemPanel)
        await wait_for(pilot, lambda: panel.is_shown, "the problem after clicking 'gone'")
        await pilot.click(ClusterTree, offset=(6, line_of("aksmcp-sandbox")))
        await _wait_rows(pilot, app, MCP_NAMES)

        # a click on the second row moves the cursor there; a double click opens the details
        await pilot.click(FleetTable, offset=(4, 2))
        assert _table(app).selected is not None and _table(app).selected.name == "beta-mcp"
        await pilot.click(FleetTable, offset=(4, 3), times=2)
        await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen), "details from a double click")
        screen = app.screen
        assert isinstance(screen, DetailsScreen) and screen.workload.name == "gamma-mcp"


async def test_keys_typed_right_after_colon_or_slash_land_in_the_prompt(
    tmp_path: Path, seeded_sandbox: SeededSandbox
) -> None:
    """Type-ahead, as in a real terminal where ":ns team-b⏎" arrives in one read: no key may go to the table."""
    from textual import events

    app = _app(tmp_path, seeded_sandbox)
    names = {" ": "space", "-": "minus", "/": "slash", ":": "colon"}

    def burst(text: str, enter: bool) -> None:
        assert app._driver is not None
        for char in text:
            app._driver.send_message(events.Key(names.get(char, char), char))
        if enter:
            app._driver.send_message(events.Key("enter", "\r"))

    async with app.run_test(size=SIZE) as pilot:
        await _wait_rows(pilot, app, MCP_NAMES)
        burst(":ns team-b", enter=True)
        await _wait_rows(pilot, app, ["gamma-mcp"])
        assert _main(app).namespace == "team-b"
        burst(":ns all", enter=True)
        await _wait_rows(pilot, app, MCP_NAMES)
        burst("/bet", enter=False)
        await wait_for(pilot, lambda: _table(app).filter_text == "bet", "the filter 'bet'")
        assert _table(app).visible_names() == ["beta-mcp"]


async def test_a_workload_that_starts_failing_raises_a_notification(
    tmp_path: Path, seeded_sandbox: SeededSandbox
) -> None:
    import sys

    from kubernetes import client

    crashing = deployment("crashy-mcp", "team-b")
    crashing["spec"]["template"]["spec"]["containers"][0]["command"] = [sys.executable, "-c", "raise SystemExit(3)"]
    seen: list[Message] = []
    app = _app(tmp_path, seeded_sandbox)
    api = api_client(seeded_sandbox.kubeconfig)
    apps = client.AppsV1Api(api)
    try:
        async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
            await _wait_rows(pilot, app, MCP_NAMES)
            await asyncio.to_thread(apps.create_namespaced_deployment, "team-b", crashing)

            def failing_toast() -> bool:
                return any(
                    isinstance(m, Notify)
                    and m.notification.title == "MCP server failing"
                    and "crashy-mcp" in m.notification.message
                    for m in seen
                )

            await wait_for(pilot, failing_toast, "a 'failing' notification", within=60)
            crashy = _table(app).get(("team-b", "Deployment", "crashy-mcp"))
            assert crashy is not None and str(crashy.health) == "failing"
    finally:
        await asyncio.to_thread(apps.delete_namespaced_deployment, "crashy-mcp", "team-b")
        await asyncio.to_thread(api.close)
