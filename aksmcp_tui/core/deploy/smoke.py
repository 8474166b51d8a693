"""The deploy's smoke test: an MCP round trip through a temporary forward (the forward engine's
in-process tunnel), with the API key read from the deployment's Secret (never printed)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from aksmcp_tui.core.kube import KubeContext, KubeProblem


class SmokeTestFailed(Exception):
    pass


@dataclass(frozen=True)
class SmokeResult:
    tools: list[str]
    server: str
    protocol: str


async def read_api_key(kube: KubeContext, namespace: str, secret: str) -> str:
    try:
        stored = await kube.get(f"/api/v1/namespaces/{namespace}/secrets/{secret}")
    except KubeProblem as exc:
        raise SmokeTestFailed(f"cannot read the API key from Secret {namespace}/{secret}: {exc.message}") from None
    raw = (stored.get("data") or {}).get("api-key")
    if not raw:
        raise SmokeTestFailed(f"Secret {namespace}/{secret} has no api-key")
    return base64.b64decode(raw).decode().strip()


async def smoke_test(kube: KubeContext, namespace: str, name: str, secret: str, *, within: float = 60.0) -> SmokeResult:
    """tools/list through `deploy/NAME`'s port named mcp; SmokeTestFailed says what went wrong."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    from aksmcp_tui.core.forward import ForwardError, open_tunnel

    key = await read_api_key(kube, namespace, secret)
    try:
        async with open_tunnel(kube, namespace, f"deploy/{name}", "mcp") as tunnel:
            if not await tunnel.wait_ready(within):
                raise SmokeTestFailed(f"no ready pod of deploy/{name} to forward to within {within:g}s")
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30) as http,
                Client(streamable_http_client(tunnel.mcp_url, http_client=http)) as client,
            ):
                listed = await client.list_tools()
                info = client.server_info
                return SmokeResult(
                    [t.name for t in listed.tools],
                    info.name if info is not None else "?",
                    str(client.protocol_version),
                )
    except ForwardError as exc:
        raise SmokeTestFailed(f"cannot forward to deploy/{name}: {exc}") from None
    except SmokeTestFailed:
        raise
    except Exception as exc:  # the MCP client raises many kinds; the message is what matters
        raise SmokeTestFailed(f"the MCP round trip failed: {type(exc).__name__}: {exc}") from None
