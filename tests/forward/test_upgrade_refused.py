"""A cluster that refuses the websocket upgrade for pods/portforward (older than Kubernetes 1.31
without PortForwardWebsockets) gets a message naming the minimum version, and the forward fails
instead of retrying forever. The old API server is a small proxy in front of the sandbox that
answers port-forward upgrades the way such a server does (400, "Upgrade request required")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from aksmcp_tui.core.forward import open_tunnel
from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from tests.forward.support import create, echo_deployment, ensure_namespace, wait_ready

pytestmark = pytest.mark.timeout(120)
NS = "fwd-old"


@pytest.fixture
async def old_cluster(forward_sandbox: ThreadedSandbox, tmp_path: Path) -> AsyncIterator[Path]:
    upstream = forward_sandbox.url
    session = aiohttp.ClientSession()

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/portforward"):
            return web.json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "message": "Upgrade request required",
                    "reason": "BadRequest",
                    "code": 400,
                },
                status=400,
            )
        async with session.request(
            request.method,
            upstream + request.path_qs,
            headers={"Authorization": request.headers.get("Authorization", "")},
            data=await request.read(),
        ) as resp:
            # streamed, so watches pass through live
            out = web.StreamResponse(status=resp.status, headers={"Content-Type": "application/json"})
            await out.prepare(request)
            async for chunk in resp.content.iter_any():
                await out.write(chunk)
            await out.write_eof()
            return out

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    kubeconfig = tmp_path / "old.yaml"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: old\n"
        f"clusters: [{{name: old, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        f"users: [{{name: u, user: {{token: '{forward_sandbox.token}'}}}}]\n"
        "contexts: [{name: old, context: {cluster: old, user: u}}]\n"
    )
    try:
        yield kubeconfig
    finally:
        await runner.cleanup()
        await session.close()


async def test_refused_upgrade_names_the_minimum_version(kube: KubeContext, old_cluster: Path) -> None:
    await ensure_namespace(kube, NS)
    await create(kube, NS, echo_deployment("echo", replicas=1))
    await wait_ready(kube, NS, "app=echo", 1)
    async with (
        await KubeContext.open(kubeconfig=str(old_cluster)) as old,
        open_tunnel(old, NS, "deploy/echo", "echo", hold_timeout=20) as tunnel,
    ):
        await tunnel.wait_ready(30)
        reader, writer = await asyncio.open_connection("127.0.0.1", tunnel.local_port)
        assert await asyncio.wait_for(reader.read(), 20) == b""  # refused at once, not after the hold timeout
        writer.close()
        status = tunnel.status()
    assert status.state == "failed"
    assert status.last_error is not None
    assert "refused the websocket upgrade for portforward (HTTP 400" in status.last_error
    assert "Upgrade request required" in status.last_error
    assert "Kubernetes 1.31 or later" in status.last_error
