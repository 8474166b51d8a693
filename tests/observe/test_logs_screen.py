"""The log screen with Pilot: on the sandbox (two pods, JSON and plain lines) and under a flood."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.core.observe import LogBatch, LogEvent, LogLine, PodJoined
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from aksmcp_tui.ui.app import AksmcpApp, make_app
from aksmcp_tui.ui.screens.details import DetailsScreen
from aksmcp_tui.ui.screens.logs import LogsScreen
from aksmcp_tui.ui.screens.main import MainScreen
from aksmcp_tui.ui.widgets.fleet_table import FleetTable
from tests.observe.support import create, mcp_listed, new_namespace, python_deployment
from tests.ui.support import screen_text, wait_for

pytestmark = pytest.mark.timeout(120)
SIZE = (120, 30)

CHATTY = """
import json, time
i = 0
while True:
    print(f"tick {i} " + "x" * 150, flush=True)
    print(json.dumps({"ts": "t", "level": "error", "msg": f"boom {i}", "tool": "t1", "rpc_id": i}), flush=True)
    print(json.dumps({"level": "info", "msg": f"fine {i}", "tool": "t2", "correlation_id": f"c-{i}"}), flush=True)
    i += 1
    time.sleep(0.2)
"""


def mcp_deployment(name: str, code: str, replicas: int) -> dict[str, Any]:
    return mcp_listed(python_deployment(name, code, replicas=replicas))


def logs_screen(app: AksmcpApp) -> LogsScreen:
    assert isinstance(app.screen, LogsScreen)
    return app.screen


async def type_prompt(pilot: Pilot[Any], key: str, text: str, *, typed: bool = False) -> None:
    """Open a prompt with its key and submit `text` (typed key by key, or pasted: keys are slow here)."""
    await pilot.press(key)
    await pilot.pause()
    prompt = pilot.app.screen.query_one("#logs-prompt", Input)
    assert prompt.has_focus
    if typed:
        await pilot.press("end", "ctrl+u")  # the prompt opens with the current value: replace it
        await pilot.press(*text)
    else:
        prompt.value = text
    await pilot.press("enter")
    await pilot.pause()


async def test_log_screen_on_the_sandbox(kube: KubeContext, sandbox_session: ThreadedSandbox, tmp_path: Path) -> None:
    ns = await new_namespace(kube)
    await create(kube, ns, mcp_deployment("chatty", CHATTY, 2))
    app = make_app(kubeconfig=str(sandbox_session.kubeconfig_path), context="aksmcp-sandbox", namespace=ns)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        table = main.query_one(FleetTable)
        await wait_for(pilot, lambda: table.selected is not None and table.selected.name == "chatty", "the row")
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogsScreen), "the log screen")
        screen = logs_screen(app)
        view = screen.view
        await wait_for(pilot, lambda: len(screen.pods) == 2 and view.row_count >= 12, "lines of both pods", 40)
        assert {line.pod for line in view.lines()} == screen.pods

        # JSON lines shown as fields: level, message, the rest folded
        text = screen_text(app)
        assert "ERROR boom" in text and "tool=t1" in text and '"level"' not in text
        await pilot.press("j")
        await wait_for(pilot, lambda: '"level": "error"' in screen_text(app), "raw JSON")
        await pilot.press("j")

        # include / exclude / tool / request filters
        await type_prompt(pilot, "i", "boom|fine", typed=True)
        assert view.row_count and all("boom" in ln.text or "fine" in ln.text for ln in view.lines())
        await type_prompt(pilot, "e", "fine")
        assert view.lines() and all("boom" in ln.text for ln in view.lines())
        await type_prompt(pilot, "i", "")
        await type_prompt(pilot, "e", "")
        await type_prompt(pilot, "T", "t2")
        assert view.lines() and all('"tool": "t2"' in ln.text for ln in view.lines())
        await type_prompt(pilot, "T", "")
        await type_prompt(pilot, "R", "c-1")
        assert [ln.text for ln in view.lines()] and all('"correlation_id": "c-1"' in ln.text for ln in view.lines())
        assert len(view.lines()) == 2  # one per pod
        await type_prompt(pilot, "R", "")
        assert "filter" not in str(screen.query_one("#logs-status").render())

        # highlight and search next / previous
        await type_prompt(pilot, "h", "boom")
        assert view.highlight is not None and view.highlight.pattern == "boom"
        # (the prompt strips its value, so the trailing space of "tick 2 " would be lost: "tick 26" matches)
        await type_prompt(pilot, "slash", r"tick 2\b")
        first_hit = view.current_row
        assert first_hit is not None and "tick 2 " in (view.row_line(first_hit) or LogLine("", "", 0, "", "")).text
        assert not view.following
        await pilot.press("n")
        await pilot.pause()
        second_hit = view.current_row
        assert second_hit is not None and second_hit != first_hit  # the other pod's "tick 2"
        await pilot.press("N")
        await pilot.pause()
        assert view.current_row == first_hit

        # pause / follow
        await pilot.press("G")
        assert view.following
        await pilot.press("p")
        await wait_for(pilot, lambda: view.unseen > 0, "new lines while paused")
        assert "paused" in str(screen.query_one("#logs-status").render())
        await pilot.press("p")
        assert view.following and view.unseen == 0

        # wrap: the 150-character tick lines take two rows
        await pilot.press("w")
        await pilot.pause()
        assert view.wrap and any(row.cell_length == SIZE[0] - 1 or row.cell_length >= 100 for row in view._wrap_rows)
        await pilot.press("w")

        # save (owner-only file in the state dir), clear, buffer size
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.saved_to is not None, "the saved file")
        assert screen.saved_to is not None
        saved = screen.saved_to
        assert str(saved).startswith(str(tmp_path / "state"))
        assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600 and "boom" in saved.read_text()
        before = view.buffer.end
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert before > 0 and view.buffer.first >= before  # every line shown before is gone (new ones may come)
        await pilot.press("b")
        assert view.buffer.capacity == 1_000_000

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "back to the fleet")

        # the details screen opens the same screens
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen), "the details screen")
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogsScreen), "logs from the details screen")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen), "back to the details")
        await pilot.press("m")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "MetricsScreen", "metrics from the details")


async def flood(pods: int, lines: int, batch: int) -> AsyncIterator[LogEvent]:
    for p in range(pods):
        yield PodJoined(f"pod-{p}", ("app",))
    n = 0
    while n < lines:
        for p in range(pods):
            chunk = [LogLine(f"pod-{p}", "app", n + i, "2026-12-01T00:00:00Z", f"line {n + i}") for i in range(batch)]
            yield LogBatch(chunk)
            n += batch
        await asyncio.sleep(0)


async def test_log_screen_stays_responsive_under_a_flood(tmp_path: Path) -> None:
    from aksmcp_tui.ui.targets import ClusterTarget, TargetList

    total = 400_000
    app = AksmcpApp(TargetList((), None, None))
    workload = _workload()
    screen = LogsScreen(workload, ClusterTarget("none"), source=lambda w: flood(10, total, 500), capacity=20_000)
    async with app.run_test(size=SIZE) as pilot:
        await app.push_screen(screen)
        view = screen.view
        await wait_for(pilot, lambda: view.ingested > 50_000, "the flood to start")
        await pilot.press("p")  # keys are handled mid-flood
        assert not view.following
        await pilot.press("p")
        await wait_for(pilot, lambda: screen.finished and view.ingested == total, "the whole flood", 60)
        assert len(view.buffer) == 20_000 and view.buffer.dropped == total - 20_000
        assert f"dropped {total - 20_000:,} oldest lines" in str(screen.query_one("#logs-status").render())
        assert view.lines()[-1].text == f"line {total - 1}"
        # only visible rows were ever rendered: far fewer than the lines taken in
        assert view.rendered_rows < total / 10


def _workload() -> Any:
    from aksmcp_tui.core.fleet import McpWorkload
    from aksmcp_tui.core.mcp_rule import Health

    return McpWorkload("none", "ns", "flood", "Deployment", 1, 1, "img", None, Health.HEALTHY, "", "label")


async def test_paused_view_keeps_its_lines_while_old_ones_drop() -> None:
    from aksmcp_tui.ui.targets import ClusterTarget, TargetList

    async def quiet(_: Any) -> AsyncIterator[LogEvent]:
        await asyncio.Event().wait()
        yield PodJoined("never", ())

    app = AksmcpApp(TargetList((), None, None))
    screen = LogsScreen(_workload(), ClusterTarget("none"), source=quiet, capacity=100)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(screen)
        view = screen.view
        view.add_lines(LogLine("p", "c", i, "", f"line {i}") for i in range(80))
        view.flush()
        await pilot.press("p")
        view.scroll_to(y=50, animate=False, immediate=True)
        await pilot.pause()
        assert view.row_line(int(view.scroll_y)) == LogLine("p", "c", 50, "", "line 50")
        view.add_lines(LogLine("p", "c", i, "", f"line {i}") for i in range(80, 130))  # 30 oldest drop
        view.flush()
        await pilot.pause()
        assert view.buffer.dropped == 30 and view.unseen == 50
        line = view.row_line(int(view.scroll_y))
        assert line is not None and line.text == "line 50"  # the same line on top, now row 20
        screen.query_one("#logs-status")
        assert "dropped 30 oldest lines" in str(screen.query_one("#logs-status").render())
