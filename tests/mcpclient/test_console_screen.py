"""The console screen with Pilot against the real zoo server: fill a nested form, field errors, send, the
result and the traffic; unions, raw JSON, progress, cancel, prompts, history, saved requests, copy,
elicitation, a failed target; and a snapshot."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from textual.pilot import Pilot
from textual.widgets import Checkbox, DataTable, Input, OptionList, Select, Static, TextArea

from aksmcp_tui.core.mcpclient import parse_target
from aksmcp_tui.ui.console_app import ConsoleApp
from aksmcp_tui.ui.screens.console import ConsoleScreen
from aksmcp_tui.ui.screens.console_dialogs import ElicitationDialog, NameDialog, SamplingDialog
from tests.mcpclient.conftest import HERE, Served, start_zoo

pytestmark = pytest.mark.timeout(120)
SIZE = (150, 50)


async def wait_for(pilot: Pilot[Any], check: Callable[[], object], what: str, within: float = 30.0) -> None:
    for _ in range(int(within / 0.05)):
        if check():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _screen(app: ConsoleApp) -> ConsoleScreen:
    screen = app.screen_stack[0] if not isinstance(app.screen, ConsoleScreen) else app.screen
    assert isinstance(screen, ConsoleScreen)
    return screen


async def _connected(pilot: Pilot[Any]) -> ConsoleScreen:
    screen = _screen(pilot.app)  # type: ignore[arg-type]
    await wait_for(
        pilot, lambda: screen.state == "connected" and screen.current is not None and screen.form_ready, "connected"
    )
    await pilot.pause()
    return screen


def _result_text(screen: ConsoleScreen) -> str:
    return screen.result_text


async def _type_into(pilot: Pilot[Any], selector: str, text: str) -> None:
    await pilot.click(selector)
    widget = pilot.app.screen.query_one(selector, Input)
    widget.value = ""
    await pilot.press(*text)


async def test_fill_a_nested_form_send_and_see_result_and_traffic(zoo: Served) -> None:
    app = ConsoleApp(parse_target(zoo.url), label="zoo")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _connected(pilot)
        assert "zoo 1.2.3" in str(screen.query_one("#console-top", Static).render())
        assert "MCP 2026-07-28 (auto)" in str(screen.query_one("#console-top", Static).render())
        assert screen.current is not None and screen.current.name == "create_order"
        await _type_into(pilot, "#in-f-customer-name", "Ann")
        await _type_into(pilot, "#in-f-customer-address-city", "Oslo")
        await _type_into(pilot, "#in-f-customer-address-zip", "12")  # fails the pattern
        await _type_into(pilot, "#in-f-quantity", "0")  # below the minimum
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "does not match" in screen.field_errors["f-customer-address-zip"]
        assert "✗ '12' does not match" in str(screen.query_one("#lbl-f-customer-address-zip", Static).render())
        assert "less than the minimum of 1" in screen.field_errors["f-quantity"]
        assert screen.query_one("#in-f-customer-address-zip", Input).has_class("-invalid")
        assert "tools/call" not in screen.traffic.methods("out")  # nothing was sent
        await _type_into(pilot, "#in-f-customer-address-zip", "01234")
        await _type_into(pilot, "#in-f-quantity", "2")
        screen.query_one("#in-f-gift", Checkbox).value = True
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.calls_done == 1, "the call")
        await pilot.pause()
        assert screen.field_errors == {}
        assert "✗" not in str(screen.query_one("#lbl-f-customer-address-zip", Static).render())
        text = _result_text(screen)
        assert "2 for Ann in Oslo (low) gift" in text
        assert "structuredContent ✓ matches outputSchema" in text
        sent = next(e for e in screen.traffic if e.method == "tools/call")
        assert sent.payload["params"]["arguments"] == {
            "customer": {"name": "Ann", "address": {"city": "Oslo", "zip": "01234"}},
            "quantity": 2,
            "priority": "low",
            "gift": True,
        }
        table = screen.query_one("#traffic", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 4, "traffic rows")
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert any(r[1] == "→" and r[2] == "tools/call" for r in rows)
        answer = next(r for r in rows if r[1] == "←" and r[3] == str(sent.id))
        assert int(answer[4]) > 50 and float(answer[5]) > 0
        # the traffic pane shows a message in full when its row is highlighted
        screen.query_one("#panes").active = "tab-traffic"  # type: ignore[attr-defined]
        await pilot.pause()
        table.move_cursor(row=rows.index(answer))
        await pilot.pause()
        assert '"order_id": 42' in screen.traffic_detail_text


async def test_union_raw_json_and_is_error(zoo: Served) -> None:
    app = ConsoleApp(parse_target(zoo.url), label="zoo")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _connected(pilot)
        screen.select_tool("area")
        await wait_for(pilot, lambda: screen.form_ready, "the form")
        await pilot.click("#var-f-figure")  # the branch choice cycles: Circle -> Square
        await wait_for(pilot, lambda: bool(screen.query("#in-f-figure-side")), "the Square fields")
        await _type_into(pilot, "#in-f-figure-side", "3")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.calls_done == 1, "the call")
        assert "square area 9.00" in _result_text(screen)
        # raw JSON mode: any input, validated before sending
        await pilot.press("ctrl+r")
        raw = screen.query_one("#raw", TextArea)
        assert raw.display and '"side": 3' in raw.text
        raw.text = '{"figure": {"shape": "circle"}}'
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert screen.calls_done == 1 and "/figure" in str(screen.query_one("#form-error", Static).render())
        raw.text = "{not json"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "raw JSON" in str(screen.query_one("#form-error", Static).render())
        screen.select_tool("picture")
        await wait_for(pilot, lambda: screen.form_ready, "the form")
        raw.text = '{"fail": true}'
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.calls_done == 2, "the failing call")
        result = screen.query_one("#result")
        assert result.has_class("-error") and result.border_title == "isError"
        assert "no picture today" in _result_text(screen)
        raw.text = "{}"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.calls_done == 3, "the picture")
        assert "[image image/png, 70 B]" in _result_text(screen) and not result.has_class("-error")


async def test_progress_logs_cancel_prompts_history_and_save(zoo: Served, tmp_path: Path) -> None:
    app = ConsoleApp(parse_target(zoo.url), label="zoo")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _connected(pilot)
        screen.select_tool("count")
        await wait_for(pilot, lambda: screen.form_ready, "the form")
        await _type_into(pilot, "#in-f-n", "3")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.calls_done == 1, "count")
        events = "\n".join(screen.event_lines)
        assert "progress 3/3 step 3 of 3" in events and "[info]" in events and "step 2" in events
        # a long call is cancelled from the screen
        screen.select_tool("slow")
        await wait_for(pilot, lambda: screen.form_ready, "the form")
        await _type_into(pilot, "#in-f-seconds", "60")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "tools/call" in screen.traffic.methods("out")[-1:], "the slow call on the wire")
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: screen.calls_done == 2, "the cancel")
        assert "cancelled" in _result_text(screen)
        # prompts from the same screen
        screen._select_prompt("describe")
        await wait_for(pilot, lambda: screen.form_ready, "the form")
        await _type_into(pilot, "#in-f-animal", "lion")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.calls_done == 3, "the prompt")
        assert "user: Describe the lion in a short way." in _result_text(screen)
        # history persists and replays
        history = screen.query_one("#history", OptionList)
        assert history.option_count == 3
        assert "cancelled" in str(history.get_option_at_index(1).prompt)
        screen._replay_history(2)  # the count call
        await pilot.pause()
        assert screen.current is not None and screen.current.name == "count" and screen.raw_mode
        assert '"n": 3' in screen.query_one("#raw", TextArea).text
        # saved as a named request: one YAML file
        await pilot.press("ctrl+w")
        await wait_for(pilot, lambda: isinstance(app.screen, NameDialog), "the name dialog")
        await pilot.press(*"count three", "enter")
        await wait_for(pilot, lambda: screen.query_one("#saved", OptionList).option_count == 1, "saved list")
        saved = Path("~/.config/aksmcp/requests/count-three.yaml").expanduser()  # noqa: ASYNC240
        assert yaml.safe_load(saved.read_text()) == {
            "name": "count three",
            "method": "tools/call",
            "target": zoo.url,
            "tool": "count",
            "arguments": {"n": 3},
            "protocol": "auto",
        }
        texts = screen.copy_texts()
        assert set(texts) == {"curl (2026-07-28)", "curl (2025-11-25)", "aksmcp call"}
        assert texts["aksmcp call"] == f"aksmcp call {zoo.url} count --json '{{\"n\":3}}'"


async def test_elicitation_is_answered_from_the_screen(zoo: Served) -> None:
    app = ConsoleApp(parse_target(zoo.url), protocol="2025-11-25", label="zoo")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _connected(pilot)
        screen.select_tool("confirm")
        await wait_for(pilot, lambda: screen.form_ready, "the form")
        await _type_into(pilot, "#in-f-question", "Deploy?")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ElicitationDialog), "the elicitation dialog")
        dialog = app.screen
        assert isinstance(dialog, ElicitationDialog)
        dialog.query_one("#el-f-ok", Checkbox).value = True
        dialog.query_one("#el-f-reason", Input).value = "looks fine"
        await pilot.click("#accept")
        await wait_for(pilot, lambda: screen.calls_done == 1, "the call")
        assert "confirmed=True reason=looks fine" in _result_text(screen)
        assert "elicitation/create" in screen.traffic.methods("in")


async def test_filter_server_info_sampling_and_protocol_switch(zoo: Served) -> None:
    app = ConsoleApp(parse_target(zoo.url), protocol="2025-11-25", label="zoo")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _connected(pilot)
        info = str(screen.query_one("#server-info", Static).render())
        assert "A zoo of schemas" in info and "2025-11-25" in info and '"tools": {' in info
        tools = screen.query_one("#tools", OptionList)
        everything = tools.option_count
        await _type_into(pilot, "#tool-filter", "sampl")  # matches the description of haiku only
        assert tools.option_count == 1 and everything > 5
        assert tools.get_option_at_index(0).id == "tool:haiku"
        screen.select_tool("haiku")
        await wait_for(pilot, lambda: screen.form_ready, "the form")
        await _type_into(pilot, "#in-f-topic", "clusters")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SamplingDialog), "the sampling dialog")
        dialog = app.screen
        assert isinstance(dialog, SamplingDialog) and "user: A haiku about clusters" in dialog.shown_text
        dialog.query_one("#reply", TextArea).text = "pods in the night"
        await pilot.click("#send")
        await wait_for(pilot, lambda: screen.calls_done == 1, "the call")
        assert "model said: pods in the night" in screen.result_text
        # the protocol is selectable: switching reconnects in the other revision
        screen.query_one("#protocol", Select).value = "2026-07-28"
        await wait_for(
            pilot,
            lambda: (
                screen.state == "connected"
                and screen.session is not None
                and screen.session.protocol_version == "2026-07-28"
            ),
            "the reconnect",
        )
        assert "MCP 2026-07-28 (pinned)" in str(screen.query_one("#console-top", Static).render())


async def test_a_target_that_fails_keeps_the_console_usable(tmp_path: Path) -> None:
    app = ConsoleApp(parse_target("http://127.0.0.1:9/mcp"), label="nothing")
    async with app.run_test(size=SIZE) as pilot:
        screen = _screen(app)
        await wait_for(pilot, lambda: screen.state == "failed", "the failure")
        assert "cannot connect" in str(screen.query_one("#request-desc", Static).render())
        await pilot.press("ctrl+s")  # not connected: a notice, no crash
        await pilot.press("f5")
        await wait_for(pilot, lambda: screen.state == "failed", "the failed reconnect")
        assert app.is_running
    stdio = ConsoleApp(parse_target(None, stdio=True, stdio_command=[sys.executable, "-c", "raise SystemExit(2)"]))
    async with stdio.run_test(size=SIZE) as pilot:
        screen = _screen(stdio)
        await wait_for(pilot, lambda: screen.state == "failed", "the stdio failure")
        assert "did not speak MCP" in (screen.problem or "")


def test_console_snapshot(snap_compare: Any) -> None:
    target = parse_target(None, stdio=True, stdio_command=[sys.executable, str(HERE / "zoo_server.py"), "--stdio"])
    app = ConsoleApp(target, label="zoo (stdio)")

    async def connected(pilot: Pilot[Any]) -> None:
        await _connected(pilot)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(140, 44), run_before=connected)


async def test_server_gone_mid_call_in_the_console() -> None:
    served = start_zoo()
    try:
        app = ConsoleApp(parse_target(served.url), label="zoo")
        async with app.run_test(size=SIZE) as pilot:
            screen = await _connected(pilot)
            screen.select_tool("slow")
            await wait_for(pilot, lambda: screen.form_ready, "the form")
            await _type_into(pilot, "#in-f-seconds", "60")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: "tools/call" in screen.traffic.methods("out")[-1:], "the call on the wire")
            served.proc.kill()
            await wait_for(pilot, lambda: screen.state == "failed" and screen.calls_done == 1, "the failure")
            assert screen.problem and "went away" in screen.problem
            assert "not connected: f5 reconnects" in str(screen.query_one("#console-top", Static).render())
            assert app.is_running
    finally:
        served.stop()


async def test_optional_objects_fold_and_mount_when_opened() -> None:
    from textual.widgets import Collapsible

    from aksmcp_tui.core.mcpclient.forms import build_form
    from tests.mcpclient.schema_zoo import NESTED

    app = ConsoleApp(parse_target("http://127.0.0.1:9/mcp"), label="offline")
    async with app.run_test(size=SIZE) as pilot:
        screen = _screen(app)
        await wait_for(pilot, lambda: screen.state == "failed", "offline")
        await screen.build_form_widgets(build_form(NESTED))
        await pilot.pause()
        assert screen.query("#in-f-origin-x")  # a required object is open
        folded = screen.query_one("#obj-f-meta", Collapsible)
        assert folded.collapsed and not screen.query("#in-f-meta-owner")
        folded.collapsed = False
        await wait_for(pilot, lambda: bool(screen.query("#in-f-meta-owner")), "the folded fields")
        assert screen.query_one("#in-f-meta-team", Input).value == "platform"  # its default, once opened
