"""The console screen answering 2026-07-28 multi-round-trip requests: the elicitation and sampling dialogs
appear and are answered from the screen, the traffic pane shows the `input_required` result and the retry,
decline/cancel reach the tool, and a server that asks forever ends in a clear error, the console usable."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Checkbox, DataTable, Input, Static, TextArea

from aksmcp_tui.core.mcpclient import parse_target
from aksmcp_tui.core.mcpclient.session import INPUT_ROUNDS_MAX
from aksmcp_tui.ui.console_app import ConsoleApp
from aksmcp_tui.ui.screens.console_dialogs import ElicitationDialog, SamplingDialog
from tests.mcpclient.conftest import Served
from tests.mcpclient.test_console_screen import SIZE, _connected, _type_into, wait_for

pytestmark = pytest.mark.timeout(120)
CAPS = "io.modelcontextprotocol/clientCapabilities"


async def _call(pilot: Any, screen: Any, tool: str, field: str, value: str) -> None:
    screen.select_tool(tool)
    await wait_for(pilot, lambda: screen.form_ready, "the form")
    await _type_into(pilot, f"#in-f-{field}", value)
    await pilot.press("ctrl+s")


async def test_elicitation_answered_from_the_screen_and_the_retry_in_the_traffic(zoo: Served) -> None:
    app = ConsoleApp(parse_target(zoo.url), protocol="2026-07-28", label="zoo")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _connected(pilot)
        assert screen.session is not None and screen.session.protocol_version == "2026-07-28"
        # pinned, the console still asks server/discover: the server's info and lists, not an empty pin
        assert "zoo 1.2.3" in str(screen.query_one("#console-top", Static).render())
        assert screen.session.traffic.methods("out")[0] == "server/discover"
        await _call(pilot, screen, "approve", "change", "rollout")
        await wait_for(pilot, lambda: isinstance(app.screen, ElicitationDialog), "the elicitation dialog")
        dialog = app.screen
        assert isinstance(dialog, ElicitationDialog)
        assert "Approve rollout?" in str(dialog.query_one("#elicit-message", Static).render())
        dialog.query_one("#el-f-approve", Checkbox).value = True
        dialog.query_one("#el-f-note", Input).value = "after lunch"
        await pilot.click("#accept")
        await wait_for(pilot, lambda: screen.calls_done == 1, "the call")
        assert "rollout: approve=True note=after lunch" in screen.result_text
        assert "elicitation answered: accept" in "\n".join(screen.event_lines)
        # the console advertised what it can answer, in the request's _meta
        first, retry = [e for e in screen.traffic if e.method == "tools/call"]
        assert {"elicitation", "sampling"} <= set(first.payload["params"]["_meta"][CAPS])
        # the traffic pane: the call, the input_required answer, the retry with a new id, the final result
        table = screen.query_one("#traffic", DataTable)

        def shown() -> list[tuple[str, str, str]]:
            return [(r[1], r[2], r[3]) for r in (table.get_row_at(i) for i in range(table.row_count))]

        final = ("←", "response", str(retry.id))
        await wait_for(pilot, lambda: final in shown(), "the final answer's row")
        names = shown()
        sent = names.index(("→", "tools/call", str(first.id)))
        asked = names.index(("←", "input_required", str(first.id)))
        retried = names.index(("→", "tools/call (retry)", str(retry.id)))
        done = names.index(final)
        assert sent < asked < retried < done and first.id != retry.id
        screen.query_one("#panes").active = "tab-traffic"  # type: ignore[attr-defined]
        await pilot.pause()
        table.move_cursor(row=asked)
        await pilot.pause()
        assert '"resultType": "input_required"' in screen.traffic_detail_text
        assert '"requestState"' in screen.traffic_detail_text and "elicitation/create" in screen.traffic_detail_text
        table.move_cursor(row=retried)
        await pilot.pause()
        assert (
            '"inputResponses"' in screen.traffic_detail_text and '"note": "after lunch"' in screen.traffic_detail_text
        )
        assert f'"requestState": "{retry.payload["params"]["requestState"]}"' in screen.traffic_detail_text
        # decline, then cancel (escape): the tool hears both
        await _call(pilot, screen, "approve", "change", "drop")
        await wait_for(pilot, lambda: isinstance(app.screen, ElicitationDialog), "the second dialog")
        await pilot.click("#decline")
        await wait_for(pilot, lambda: screen.calls_done == 2, "the declined call")
        assert "drop: user said decline" in screen.result_text
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ElicitationDialog), "the third dialog")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.calls_done == 3, "the cancelled call")
        assert "drop: user said cancel" in screen.result_text


async def test_sampling_answered_and_declined_from_the_screen(zoo: Served) -> None:
    app = ConsoleApp(parse_target(zoo.url), protocol="2026-07-28", label="zoo")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _connected(pilot)
        await _call(pilot, screen, "limerick", "topic", "etcd")
        await wait_for(pilot, lambda: isinstance(app.screen, SamplingDialog), "the sampling dialog")
        dialog = app.screen
        assert isinstance(dialog, SamplingDialog) and "user: A limerick about etcd" in dialog.shown_text
        dialog.query_one("#reply", TextArea).text = "a quorum of three"
        await pilot.click("#send")
        await wait_for(pilot, lambda: screen.calls_done == 1, "the call")
        assert "model wrote: a quorum of three" in screen.result_text
        retry = [e for e in screen.traffic if e.method == "tools/call"][-1]
        assert retry.label == "tools/call (retry)"
        (response,) = retry.payload["params"]["inputResponses"].values()
        assert response["content"]["text"] == "a quorum of three"
        # declining a sampling request fails this call with a message, nothing else
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SamplingDialog), "the second sampling dialog")
        await pilot.click("#decline")
        await wait_for(pilot, lambda: screen.calls_done == 2, "the declined call")
        assert "declined the sampling request" in screen.result_text
        assert screen.state == "connected" and app.is_running


async def test_a_server_that_keeps_asking_ends_in_a_clear_error(zoo: Served) -> None:
    app = ConsoleApp(parse_target(zoo.url), protocol="2026-07-28", label="zoo")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _connected(pilot)
        screen.select_tool("nag")
        await wait_for(pilot, lambda: screen.form_ready, "the form")
        await pilot.press("ctrl+s")
        for round_ in range(1, INPUT_ROUNDS_MAX + 1):
            await wait_for(pilot, lambda: isinstance(app.screen, ElicitationDialog), f"dialog {round_}")
            dialog = app.screen
            await pilot.pause()  # laid out before it is clicked
            assert f"Still sure? (round {round_})" in str(dialog.query_one("#elicit-message", Static).render())
            dialog.query_one("#el-f-sure", Checkbox).value = True
            await pilot.click("#accept")
            problem = [str(w.render()) for w in dialog.query("#elicit-error")]  # empty once dismissed
            await wait_for(pilot, lambda d=dialog: app.screen is not d, f"dialog {round_} to close ({problem!r})")  # type: ignore[misc]
        await wait_for(pilot, lambda: screen.calls_done == 1, "the abandoned call")
        assert f"still wanted input after {INPUT_ROUNDS_MAX} rounds" in screen.result_text
        assert screen.query_one("#result").has_class("-error")
        # the console stays usable: the next call goes through on the same session
        await _call(pilot, screen, "area", "figure-r", "1")
        await wait_for(pilot, lambda: screen.calls_done == 2, "the next call")
        assert "circle area 3.14" in screen.result_text and screen.state == "connected"
