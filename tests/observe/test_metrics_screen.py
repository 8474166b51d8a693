"""The metrics screen: a snapshot on fixed data (rounds built from the real server's exposition text)
and a Pilot run on the sandbox (the reference server scraped through the forward engine)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aksmcp_server.metrics import Metrics
from mcp import Client
from textual.pilot import Pilot
from textual.widgets import DataTable, Sparkline

from aksmcp_tui.core.fleet import McpWorkload
from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.core.mcp_rule import Health
from aksmcp_tui.core.observe import MetricsSnapshot, PodMetrics
from aksmcp_tui.core.observe.metrics_aggregate import pod_window, sum_windows
from aksmcp_tui.core.observe.metrics_parse import parse_scrape
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from aksmcp_tui.ui.app import AksmcpApp, make_app
from aksmcp_tui.ui.screens.main import MainScreen
from aksmcp_tui.ui.screens.metrics import MetricsScreen
from aksmcp_tui.ui.targets import ClusterTarget, TargetList
from aksmcp_tui.ui.widgets.fleet_table import FleetTable
from tests.observe.support import (
    create,
    mcp_listed,
    new_namespace,
    pod_url,
    python_deployment,
    server_deployment,
)
from tests.ui.support import screen_text, wait_for

pytestmark = pytest.mark.timeout(150)
SIZE = (130, 36)
TOOLS = ("execute_command", "file_operation", "system_info")
PROCESS = (
    "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu}\n"
    "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}\n"
    "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1796000000\n"
)


def exposition(step: int, pod: int) -> str:
    """The real server's /metrics after `step` rounds of fixed traffic (process lines fixed too)."""
    metrics = Metrics(TOOLS)
    for round_ in range(1, step + 1):  # counters are cumulative: replay every round so far
        for _ in range(3 + pod):
            metrics.record_tool_call("system_info", "ok", 0.004)
        for _ in range(2):
            metrics.record_tool_call("file_operation", "ok", 0.03)
            metrics.record_tool_call("file_operation", "tool_error" if round_ % 2 else "ok", 0.2)
    text = "\n".join(
        line
        for line in metrics.render().decode().splitlines()
        if not line.startswith(("# HELP process", "# TYPE process", "process_"))
    )
    return text + "\n" + PROCESS.format(cpu=step * 0.5 * (pod + 1), rss=(60 + 10 * pod) * 1048576)


def fixed_rounds() -> list[MetricsSnapshot]:
    rounds = []
    for step in range(1, 9):
        pods = []
        windows = []
        for pod in range(2):
            before, after = parse_scrape(exposition(step - 1, pod)), parse_scrape(exposition(step, pod))
            window = pod_window(before, after, 2.0)
            windows.append(window)
            pods.append(PodMetrics(f"mcp-7d9f-{pod}", window, None, True))
        pods.append(PodMetrics("mcp-7d9f-2", None, "scrape failed: connection refused (nothing listens on 8080)"))
        rounds.append(MetricsSnapshot(at=1796000000.0 + step * 2, round=step, pods=pods, total=sum_windows(windows)))
    return rounds


def workload(name: str = "mcp", namespace: str = "tools", context: str = "aksmcp-sandbox") -> McpWorkload:
    return McpWorkload(context, namespace, name, "Deployment", 2, 3, "img", None, Health.DEGRADED, "", "label")


async def fixed_source(_: McpWorkload) -> AsyncIterator[MetricsSnapshot]:
    for snapshot in fixed_rounds():
        yield snapshot
    await asyncio.Event().wait()  # a live screen: no more rounds for now


def test_metrics_screen_snapshot(snap_compare: Any) -> None:
    app = AksmcpApp(TargetList((), None, None))

    async def open_metrics(pilot: Pilot[Any]) -> None:
        screen = MetricsScreen(workload(), ClusterTarget("aksmcp-sandbox"), source=fixed_source)
        await pilot.app.push_screen(screen)
        await wait_for(pilot, lambda: screen.rounds == 8, "the fixed rounds")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=open_metrics)


def test_history_is_bounded_and_numbers_are_right() -> None:
    async def run() -> None:
        app = AksmcpApp(TargetList((), None, None))
        async with app.run_test(size=SIZE) as pilot:
            screen = MetricsScreen(workload(), ClusterTarget("x"), source=fixed_source, history=5)
            await app.push_screen(screen)
            await wait_for(pilot, lambda: screen.rounds == 8, "the fixed rounds")
            assert len(screen.calls) == 5 and len(screen.query_one("#plot-calls", Sparkline).data or []) == 5
            # round 8: system_info 3+4 calls over 2 s; file_operation 4 per pod, none failed (an even round)
            assert screen.calls[-1] == pytest.approx((7 + 8) / 2) and screen.errors[-1] == 0
            assert screen.errors[-2] == pytest.approx(4 / 2)
            table = screen.query_one("#metrics-tools", DataTable)
            rows = [table.get_row_at(i) for i in range(table.row_count)]
            assert [r[0] for r in rows] == ["file_operation", "system_info", "execute_command", "unknown"]
            assert rows[0][1:3] == ["4.00", "0.0%"] and rows[1][1:3] == ["3.50", "0.0%"]
            assert rows[0][3:5] == [
                "50.0ms",
                "235.0ms",
            ]  # Prometheus interpolation in the 0.025-0.05 and 0.1-0.25 buckets
            assert "connection refused" in screen_text(app)

    asyncio.run(run())


async def test_metrics_screen_on_the_sandbox(
    kube: KubeContext, sandbox_session: ThreadedSandbox, tmp_path: Path
) -> None:
    ns = await new_namespace(kube)
    await create(kube, ns, mcp_listed(server_deployment("tools-mcp", tmp_path)))
    silent = python_deployment("silent-mcp", "import time\nwhile True: time.sleep(1)")
    silent["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "mcp", "containerPort": 8080}]
    await create(kube, ns, mcp_listed(silent))
    app = make_app(kubeconfig=str(sandbox_session.kubeconfig_path), context="aksmcp-sandbox", namespace=ns)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        table = main.query_one(FleetTable)

        def ready(name: str) -> bool:
            return any(w.name == name and w.ready == 1 for w in table.visible_workloads())

        await wait_for(pilot, lambda: ready("tools-mcp") and ready("silent-mcp"), "both deployments ready", 60)
        await pilot.pause()
        assert table.select_key(next(w.key for w in table.visible_workloads() if w.name == "tools-mcp"))
        await pilot.pause()
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MetricsScreen), "the metrics screen")
        screen = app.screen
        assert isinstance(screen, MetricsScreen)
        screen.interval = 0.5
        await wait_for(pilot, lambda: screen.rounds >= 1, "a first round", 30)
        pod = screen.latest.pods[0].pod if screen.latest else ""
        async with Client(await pod_url(kube, ns, pod) + "/mcp") as client:
            for _ in range(5):
                await client.call_tool("system_info", {})

        def counted() -> bool:
            latest = screen.latest
            return bool(latest and latest.total and latest.total.tools["system_info"].calls >= 5)

        await wait_for(pilot, counted, "the 5 calls in a window", 30)
        assert "system_info" in screen_text(app) and "aksmcp-server metrics" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "back")

        assert table.select_key(next(w.key for w in table.visible_workloads() if w.name == "silent-mcp"))
        await pilot.pause()
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MetricsScreen), "the metrics screen again")
        silent_screen = app.screen
        assert isinstance(silent_screen, MetricsScreen)
        await wait_for(pilot, lambda: silent_screen.rounds >= 1, "a round of the silent one", 40)
        assert silent_screen.latest is not None and silent_screen.latest.errors
        assert "scrape error" in screen_text(app)
        with contextlib.suppress(Exception):
            await pilot.press("escape")


async def test_fleet_table_shows_calls_of_forwarded_deployments(
    kube: KubeContext, sandbox_session: ThreadedSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aksmcp_tui.core.forward import ForwardSpec
    from aksmcp_tui.core.forward.control import ensure_forward, stop_daemon
    from aksmcp_tui.ui.screens import main as main_module

    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    monkeypatch.setattr(main_module, "TRAFFIC_SECONDS", 0.5)
    ns = await new_namespace(kube)
    for name in ("fwd-mcp", "other-mcp"):
        await create(kube, ns, mcp_listed(server_deployment(name, tmp_path)))
    kubeconfig = str(sandbox_session.kubeconfig_path)
    app = make_app(kubeconfig=kubeconfig, context="aksmcp-sandbox", namespace=ns)
    try:
        async with app.run_test(size=SIZE) as pilot:
            main = app.screen
            assert isinstance(main, MainScreen)
            table = main.query_one(FleetTable)
            await wait_for(
                pilot, lambda: sum(w.ready for w in table.visible_workloads()) == 2, "both deployments ready", 90
            )
            assert "CALLS/S" not in screen_text(app)  # no forward yet: no traffic columns
            status = await ensure_forward(ForwardSpec("aksmcp-sandbox", ns, "deploy/fwd-mcp", kubeconfig=kubeconfig))
            key = (ns, "Deployment", "fwd-mcp")

            async def calls_shown() -> bool:
                async with Client(status.mcp_url) as client:
                    await client.call_tool("system_info", {})
                cells = table._traffic.get(key)
                return cells is not None and float(cells[0]) > 0

            loop = asyncio.get_running_loop()
            deadline = loop.time() + 40
            while not await calls_shown():
                assert loop.time() < deadline, "calls/s of the forwarded deployment never showed"
                await pilot.pause(0.2)
            header = "".join(segment.text for segment in table._header_strip())
            assert "CALLS/S" in header and "ERR" in header
            assert (ns, "Deployment", "other-mcp") not in table._traffic  # not forwarded: not scraped
    finally:
        await stop_daemon()
