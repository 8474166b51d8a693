"""A console call jumps to the log lines it caused: every tool call carries a fresh correlation id that
aksmcp-server writes on the call's log lines (fast path and SDK path, both revisions); on a deploy/NAME
target ctrl+l opens that deployment's logs (all replicas) filtered to the call; elsewhere it says why not."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from aksmcp_tui.cli import main
from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.core.mcpclient import McpSession, McpTarget, parse_target, resolve_endpoint
from aksmcp_tui.core.mcpclient.store import load_history
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from aksmcp_tui.ui.console_app import ConsoleApp
from aksmcp_tui.ui.screens.console import ConsoleScreen
from aksmcp_tui.ui.screens.logs import LogsScreen
from tests.forward.support import create, ensure_namespace, server_deployment, wait_ready
from tests.mcpclient.conftest import Served

pytestmark = pytest.mark.timeout(240)
NS = "console-call-logs"


def server_lines(served: Served, correlation: str) -> list[dict[str, Any]]:
    found = []
    for line in list(served.output):
        try:
            fields = json.loads(line)
        except ValueError:
            continue
        if isinstance(fields, dict) and fields.get("correlation_id") == correlation:
            found.append(fields)
    return found


async def eventually(check: Callable[[], Any], what: str, within: float = 20.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("protocol", ["2026-07-28", "2025-11-25"])
async def test_each_call_has_its_own_id_in_the_server_log(aksmcp_server: Served, protocol: str) -> None:
    endpoint = await resolve_endpoint(parse_target(aksmcp_server.url))
    async with McpSession(endpoint, protocol=protocol) as session:
        assert session.protocol_version == protocol
        await session.list_tools()
        first = await session.call_tool("system_info", {})
        second = await session.call_tool("file_operation", {"operation": "read", "path": "../outside"})
    assert first.ok and second.result is not None and second.result.is_error
    assert first.correlation_id and second.correlation_id and first.correlation_id != second.correlation_id
    mine = await eventually(lambda: server_lines(aksmcp_server, str(first.correlation_id)), "first call's lines")
    theirs = await eventually(lambda: server_lines(aksmcp_server, str(second.correlation_id)), "second's lines")
    assert {f.get("tool") for f in mine} == {"system_info"}
    assert {f.get("tool") for f in theirs} == {"file_operation"}
    assert {f.get("rpc_id") for f in mine}.isdisjoint({f.get("rpc_id") for f in theirs})


def test_call_json_carries_the_correlation_id(aksmcp_server: Served, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["call", aksmcp_server.url, "system_info", "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    document = json.loads(out)
    correlation = document["correlationId"]
    assert isinstance(correlation, str) and correlation.startswith("aksmcp-")
    assert document["isError"] is False  # still the tool result, one key added
    assert load_history()[-1].correlation_id == correlation
    deadline = time.monotonic() + 20
    while not server_lines(aksmcp_server, correlation) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {f.get("tool") for f in server_lines(aksmcp_server, correlation)} == {"system_info"}


async def wait_for(pilot: Pilot[Any], check: Callable[[], Any], what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def connected(pilot: Pilot[Any], screen: ConsoleScreen) -> None:
    await wait_for(pilot, lambda: screen.state != "connecting" and screen.form_ready, "the console", 60)
    assert screen.state == "connected", screen.problem


async def call(pilot: Pilot[Any], screen: ConsoleScreen, tool: str, arguments: dict[str, Any]) -> str:
    done = screen.calls_done
    screen.select_tool(tool, arguments)
    await wait_for(pilot, lambda: screen.form_ready and screen.current is not None, "the form")
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: screen.calls_done == done + 1, f"the {tool} call")
    assert screen.last_outcome is not None and screen.last_outcome.tool == tool
    return str(screen.last_outcome.correlation_id)


def notices(app: Any) -> list[str]:
    return [n.message for n in app._notifications]


async def test_on_a_url_target_ctrl_l_says_why_not(aksmcp_server: Served) -> None:
    app = ConsoleApp(McpTarget("url", url=aksmcp_server.url))
    async with app.run_test(size=(150, 50)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConsoleScreen)
        await connected(pilot, screen)
        await call(pilot, screen, "system_info", {})
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: any("not a deployment" in m for m in notices(app)), "the reason")
        assert app.screen is screen


@pytest.fixture
def daemon_env(sandbox_session: ThreadedSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("KUBECONFIG", str(sandbox_session.kubeconfig_path))
    yield
    subprocess.run(
        [sys.executable, "-m", "aksmcp_tui", "forward", "daemon", "--stop"],
        capture_output=True,
        timeout=60,
        env=os.environ,
        check=False,
    )


@pytest.fixture
async def two_replicas(sandbox_session: ThreadedSandbox, daemon_env: None) -> AsyncIterator[None]:
    async with await KubeContext.open(kubeconfig=str(sandbox_session.kubeconfig_path)) as kube:
        await ensure_namespace(kube, NS)
        existing = await kube.get(f"/apis/apps/v1/namespaces/{NS}/deployments")
        if "pair" not in {d["metadata"]["name"] for d in existing["items"]}:
            await create(kube, NS, server_deployment("pair", replicas=2))
        await wait_ready(kube, NS, "app=pair", 2, within=120)
    yield


async def test_ctrl_l_opens_the_lines_of_that_call(two_replicas: None, capsys: pytest.CaptureFixture[str]) -> None:
    app = ConsoleApp(McpTarget("deploy", name="pair", namespace=NS), label="deploy/pair")
    async with app.run_test(size=(160, 50)) as pilot:
        console = app.screen
        assert isinstance(console, ConsoleScreen)
        await connected(pilot, console)
        await pilot.press("ctrl+l")  # nothing called yet: a hint, no screen
        await wait_for(pilot, lambda: any("call a tool first" in m for m in notices(app)), "the hint")
        other = await call(pilot, console, "file_operation", {"operation": "read", "path": "../outside"})
        mine = await call(pilot, console, "system_info", {})
        assert other != mine
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogsScreen), "the log screen")
        logs = app.screen
        assert isinstance(logs, LogsScreen)
        view = logs.view
        await wait_for(pilot, lambda: view.row_count > 0, "the call's lines", 60)
        lines = view.lines()
        fields = [json.loads(line.text) for line in lines]
        assert all(f["correlation_id"] == mine for f in fields)
        assert any(f.get("tool") == "system_info" for f in fields)
        assert all(other not in line.text for line in lines)
        # it read every replica, not one pod
        await wait_for(pilot, lambda: len(logs.pods) == 2, "both replicas followed")
        assert logs.workload.name == "pair" and logs.workload.namespace == NS
        # back in the console, the earlier call picked on the Hist tab opens its own lines
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is console, "the console again")
        console.query_one("#lists").active = "tab-history"  # type: ignore[attr-defined]
        history = console.query_one("#history")
        await wait_for(pilot, lambda: history.option_count >= 2, "the history")  # type: ignore[attr-defined]
        history.highlighted = 1  # type: ignore[attr-defined]  # newest first: 1 is the file_operation call
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogsScreen), "the log screen for the other call")
        second = app.screen
        assert isinstance(second, LogsScreen)
        await wait_for(pilot, lambda: second.view.row_count > 0, "the other call's lines", 60)
        texts = [json.loads(line.text) for line in second.view.lines()]
        assert all(f["correlation_id"] == other for f in texts)
        assert any(f.get("tool") == "file_operation" for f in texts)
    # what a script does with `call -o json`: the id greps the same lines out of `aksmcp logs`
    code = await asyncio.to_thread(main, ["logs", "deploy/pair", "-n", NS, "--grep", mine, "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    grepped = [json.loads(json.loads(line)["message"]) for line in out.splitlines() if line.strip()]
    assert grepped and all(f["correlation_id"] == mine for f in grepped)
    assert any(f.get("tool") == "system_info" for f in grepped)


async def test_stdio_calls_carry_the_id_in_meta(tmp_path: Any) -> None:
    """stdio has no headers: the id rides in `_meta`, and aksmcp-server's SDK path logs it (on stderr)."""
    command = [sys.executable, "-m", "aksmcp_server", "--transport", "stdio", "--workspace", str(tmp_path)]
    endpoint = await resolve_endpoint(parse_target(None, stdio=True, stdio_command=command))
    async with McpSession(endpoint) as session:
        await session.list_tools()
        # a rejected path: the tool logs a warning of its own (there is no access line on stdio)
        outcome = await session.call_tool("file_operation", {"operation": "read", "path": "../outside"})
        assert outcome.result is not None and outcome.result.is_error and outcome.correlation_id
        sent = [e.payload for e in session.traffic if e.method == "tools/call"]
        assert sent[-1]["params"]["_meta"]["io.aksmcp/correlation-id"] == outcome.correlation_id

        def logged() -> list[dict[str, Any]]:
            found = []
            for line in session.stderr_tail(100_000).splitlines():
                try:
                    fields = json.loads(line)
                except ValueError:
                    continue
                if isinstance(fields, dict) and fields.get("correlation_id") == outcome.correlation_id:
                    found.append(fields)
            return found

        lines = await eventually(logged, "the call's stderr lines")
        assert any(f.get("tool") == "file_operation" for f in lines), session.stderr_tail()
