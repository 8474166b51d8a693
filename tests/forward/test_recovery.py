"""The API server goes away and comes back (same address, as a restarted control plane does):
the forward recovers by itself, on the same local port."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from aksmcp_tui.core.forward import ForwardStatus, open_tunnel
from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from tests.forward.support import create, echo_deployment, ensure_namespace, eventually, wait_ready

pytestmark = pytest.mark.timeout(180)
NS = "fwd-recovery"


async def talk(port: int) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    try:
        hello = (await asyncio.wait_for(reader.readline(), 90)).decode().strip()
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), 20) == b"ping"
    finally:
        writer.close()
    return hello


async def test_api_server_stop_and_start_recovers_without_user_action(tmp_path: Path) -> None:
    state = tmp_path / "cluster"
    first = ThreadedSandbox(state, port=None, bookmark_interval=0.5)
    await asyncio.to_thread(first.__enter__)
    second: ThreadedSandbox | None = None
    try:
        kube = await KubeContext.open(kubeconfig=str(first.kubeconfig_path))
        try:
            await ensure_namespace(kube, NS)
            await create(kube, NS, echo_deployment("echo", replicas=1))
            await wait_ready(kube, NS, "app=echo", 1)
            async with open_tunnel(kube, NS, "deploy/echo", "echo", hold_timeout=90) as tunnel:
                port = tunnel.local_port
                assert (await talk(port)).startswith("pod=echo-")

                await asyncio.to_thread(first.__exit__, None, None, None)  # the API server (and node) stop

                async def noticed() -> ForwardStatus | None:
                    status = tunnel.status()
                    return status if status.state != "active" and status.last_error else None

                down = await eventually(noticed, 30, "the outage to show")
                assert "cannot reach the cluster" in (down.last_error or "") or "dropped" in (down.last_error or "")
                # a client that connects during the outage is held, not refused
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"early")
                second = ThreadedSandbox(state, port=None, bookmark_interval=0.5)
                await asyncio.to_thread(second.__enter__)
                hello = await asyncio.wait_for(reader.readline(), 90)
                assert hello.startswith(b"pod=echo-")
                assert await asyncio.wait_for(reader.readexactly(5), 20) == b"early"
                writer.close()

                async def healed() -> ForwardStatus | None:
                    status = tunnel.status()
                    return status if status.state == "active" else None

                status = await eventually(healed, 60, "the forward to be active again")
                assert status.local_port == port
                assert status.reconnects >= 1
                assert (await talk(port)).startswith("pod=echo-")
        finally:
            await kube.close()
    finally:
        if second is not None:
            await asyncio.to_thread(second.__exit__, None, None, None)
