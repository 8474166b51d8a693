"""MCP health through the forward and a rolling update with zero failures, against the reference
server running as sandbox pods, driven by the official `mcp` SDK client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client

from aksmcp_tui.core.forward import ForwardStatus, open_tunnel
from aksmcp_tui.core.kube import KubeContext
from tests.forward.support import (
    create,
    ensure_namespace,
    eventually,
    rollout_done,
    rollout_restart,
    server_deployment,
    service,
    wait_ready,
)

pytestmark = pytest.mark.timeout(180)
NS = "fwd-mcp"
SELECTOR = "app=mcp"


@pytest.fixture
async def mcp_server(kube: KubeContext) -> AsyncIterator[list[str]]:
    await ensure_namespace(kube, NS)
    existing = await kube.get(f"/apis/apps/v1/namespaces/{NS}/deployments")
    if not existing.get("items"):
        await create(kube, NS, server_deployment("mcp", replicas=2))
        await create(kube, NS, service("mcp", [{"name": "mcp", "port": 80, "targetPort": "mcp"}]))
    yield await wait_ready(kube, NS, SELECTOR, 2, within=120)


async def test_probe_does_an_mcp_round_trip_and_records_latency(kube: KubeContext, mcp_server: list[str]) -> None:
    changes: list[tuple[str, str]] = []
    async with open_tunnel(kube, NS, "svc/mcp", probe=True) as tunnel:
        tunnel.forwarder.listeners.append(lambda status, old: changes.append((old, status.state)))

        async def probed() -> ForwardStatus | None:
            status = tunnel.status()
            return status if status.mcp_latency_ms is not None else None

        status = await eventually(probed, 30, "an MCP probe result")
        assert status.mcp_protocol == "2026-07-28"
        assert 0 < status.mcp_latency_ms < 5000  # type: ignore[operator]
        assert status.state == "active" and status.last_error is None
        assert status.pod in mcp_server
        # the default remote port is the one named "mcp" (Service port 80 -> targetPort mcp)
        assert status.remote_port == 80
        assert status.mcp_url == status.local_url + "/mcp"


async def test_probe_reports_a_server_that_is_not_mcp(kube: KubeContext, mcp_server: list[str]) -> None:
    # /mcp on a plain HTTP server (no POST) answers 501: ready pods, but not MCP health
    await ensure_namespace(kube, "fwd-engine")
    from tests.forward.support import echo_deployment

    existing = await kube.get("/apis/apps/v1/namespaces/fwd-engine/deployments/")
    if not any(d["metadata"]["name"] == "echo" for d in existing.get("items") or []):
        await create(kube, "fwd-engine", echo_deployment("echo", replicas=2))
    await wait_ready(kube, "fwd-engine", "app=echo", 1)
    async with open_tunnel(kube, "fwd-engine", "deploy/echo", "web", probe=True) as tunnel:

        async def probed() -> ForwardStatus | None:
            status = tunnel.status()
            return status if "MCP probe" in (status.last_error or "") else None

        status = await eventually(probed, 30, "a failed probe")
        assert status.state == "degraded"
        assert "MCP probe: POST" in (status.last_error or "")
        assert "answered HTTP 501 (no MCP server there?)" in (status.last_error or "")
        assert status.mcp_latency_ms is None


async def test_rollout_restart_with_10_tool_calls_per_second_has_zero_failures(
    kube: KubeContext, mcp_server: list[str]
) -> None:
    failures: list[str] = []
    calls = 0
    async with (
        open_tunnel(kube, NS, "svc/mcp") as tunnel,
        Client(tunnel.mcp_url) as client,
    ):
        stop = asyncio.Event()

        async def one_call() -> None:
            nonlocal calls
            try:
                result = await asyncio.wait_for(client.call_tool("system_info", {}), 20)
                if result.is_error:
                    failures.append(f"tool error: {result.content}")
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
            calls += 1

        async def load() -> None:
            # 10 calls/s, paced by the clock; calls may overlap when one is slow
            tasks: list[asyncio.Task[Any]] = []
            tick = time.monotonic()
            while not stop.is_set():
                tasks.append(asyncio.create_task(one_call()))
                tick += 0.1
                await asyncio.sleep(max(0.0, tick - time.monotonic()))
            await asyncio.gather(*tasks)

        loader = asyncio.create_task(load())
        await eventually(lambda: _value(calls >= 10), 20, "calls flowing")
        await rollout_restart(kube, NS, "mcp")

        async def rolled() -> bool:
            if not await rollout_done(kube, NS, "mcp"):
                return False
            pods = await kube.get(f"/api/v1/namespaces/{NS}/pods", labelSelector=SELECTOR)
            names = {p["metadata"]["name"] for p in pods["items"]}
            return not names & set(mcp_server)  # every old pod is gone

        await eventually(rolled, 120, "the rollout to finish")
        before = calls
        await eventually(lambda: _value(calls >= before + 10), 20, "calls after the rollout")
        stop.set()
        await loader
        status = tunnel.status()
    assert failures == [], failures[:5]
    assert calls >= 50
    new_pods = await wait_ready(kube, NS, SELECTOR, 2)
    assert not set(new_pods) & set(mcp_server)
    assert status.open_connections >= 0


async def _value(value: bool) -> bool:
    return value
