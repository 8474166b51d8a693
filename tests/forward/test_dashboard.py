"""The dashboard as a client of the forward daemon: `f` on a deployment (fleet table and details),
the FORWARD column, the Forwards screen (remove), state-change notifications, and the offer to
start the daemon when none runs."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.notifications import Notify

from aksmcp_tui.core.forward.control import stop_daemon
from aksmcp_tui.core.forward.daemon import ForwardDaemon, read_pid
from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from aksmcp_tui.ui.app import AksmcpApp, make_app
from aksmcp_tui.ui.screens.details import DetailsScreen
from aksmcp_tui.ui.screens.forwards import ForwardsScreen, StartDaemonDialog
from aksmcp_tui.ui.screens.main import MainScreen
from aksmcp_tui.ui.widgets.fleet_table import FleetTable
from tests.forward.support import create, ensure_namespace, server_deployment, wait_ready
from tests.ui.support import wait_for

pytestmark = pytest.mark.timeout(180)
NS = "fwd-ui"
SIZE = (180, 40)


@pytest.fixture
async def mcp_deployment(kube: KubeContext) -> AsyncIterator[None]:
    await ensure_namespace(kube, NS)
    existing = {d["metadata"]["name"] for d in (await kube.get(f"/apis/apps/v1/namespaces/{NS}/deployments"))["items"]}
    if "mcp" not in existing:
        await create(kube, NS, server_deployment("mcp", replicas=1))
    await wait_ready(kube, NS, "app=mcp", 1, within=120)
    yield


def app_for(sandbox: ThreadedSandbox) -> AksmcpApp:
    return make_app(kubeconfig=str(sandbox.kubeconfig_path), context="aksmcp-sandbox", namespace=NS)


def table(app: AksmcpApp) -> FleetTable:
    screen = app.screen_stack[0]
    assert isinstance(screen, MainScreen)
    return screen.query_one(FleetTable)


async def scale(kube: KubeContext, replicas: int) -> None:
    await kube.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{NS}/deployments/mcp",
        body={"spec": {"replicas": replicas}},
        content_type="application/strategic-merge-patch+json",
    )


async def test_f_forwards_the_deployment_and_the_dashboard_follows_it(
    forward_sandbox: ThreadedSandbox, kube: KubeContext, mcp_deployment: None
) -> None:
    daemon = ForwardDaemon(probe_interval=1.0)
    await daemon.start()
    seen: list[Message] = []
    try:
        app = app_for(forward_sandbox)
        async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
            await wait_for(pilot, lambda: table(app).visible_names() == ["mcp"], "the mcp row", within=30)
            await pilot.press("f")
            await wait_for(pilot, lambda: isinstance(app.screen, ForwardsScreen), "the Forwards screen")
            screen = app.screen
            assert isinstance(screen, ForwardsScreen)

            def row_active() -> bool:
                return any(s.target == "deploy/mcp" and s.state == "active" for s in screen.statuses)

            await wait_for(pilot, row_active, "an active forward row", within=30)
            (status,) = screen.statuses
            assert status.pod is not None and status.pod.startswith("mcp-")
            assert screen.selected_id() == status.id
            row = screen.table.get_row(status.id)
            assert row[1] == "deploy/mcp" and row[4] == "active" and row[5] == status.pod
            managed = list(daemon.forwards.values())
            assert [m.spec.target for m in managed] == ["deploy/mcp"]
            assert managed[0].spec.remote_port is None  # the container port named mcp

            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "the fleet again")

            def labelled() -> bool:
                label = table(app).forward_label(NS, "mcp") or ""
                return label.startswith(f"active {status.local_url} ") and label.endswith("ms")

            await wait_for(pilot, labelled, "the FORWARD column with state, URL and MCP latency", within=30)

            # state changes arrive as notifications
            await scale(kube, 0)

            def notified(word: str) -> bool:
                return any(
                    isinstance(m, Notify)
                    and "deploy/mcp" in (m.notification.title or "")
                    and word in m.notification.message
                    for m in seen
                )

            await wait_for(pilot, lambda: notified("→ waiting"), "a 'waiting' notification", within=60)
            await scale(kube, 1)
            await wait_for(pilot, lambda: notified("→ active"), "an 'active' notification", within=120)

            # f on the details screen shows the same forward (no second one)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen), "details")
            await pilot.press("f")
            await wait_for(pilot, lambda: isinstance(app.screen, ForwardsScreen), "the Forwards screen again")
            assert len(daemon.forwards) == 1

            # remove it from the Forwards screen
            forwards = app.screen
            assert isinstance(forwards, ForwardsScreen)
            await wait_for(pilot, lambda: forwards.selected_id() == status.id, "the row selected")
            await pilot.press("x")
            await wait_for(pilot, lambda: not daemon.forwards, "the forward removed")
            await wait_for(pilot, lambda: forwards.statuses == [], "the row gone")
    finally:
        await daemon.stop()


def wait_gone(pid: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not pid_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


async def test_without_a_daemon_the_dashboard_offers_to_start_it(
    forward_sandbox: ThreadedSandbox, mcp_deployment: None
) -> None:
    app = app_for(forward_sandbox)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: table(app).visible_names() == ["mcp"], "the mcp row", within=30)
            await pilot.press("f")
            await wait_for(pilot, lambda: isinstance(app.screen, StartDaemonDialog), "the offer to start the daemon")
            await pilot.press("y")
            await wait_for(pilot, lambda: isinstance(app.screen, ForwardsScreen), "the Forwards screen", within=30)
            screen: Any = app.screen
            await wait_for(
                pilot, lambda: [s.target for s in screen.statuses] == ["deploy/mcp"], "the new forward", within=30
            )
            assert screen.daemon_running is True
            pid = read_pid()
            assert pid is not None and pid != os.getpid()
    finally:
        pid = read_pid()
        await stop_daemon()
        if pid is not None:
            await asyncio.to_thread(wait_gone, pid)
