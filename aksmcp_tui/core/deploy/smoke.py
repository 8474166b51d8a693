"""The deploy's smoke test: an MCP round trip through a temporary forward (the forward engine's
in-process tunnel), with the API key read from the deployment's Secret (never printed)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

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


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups: the SDK's task groups wrap it."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


async def smoke_test(
    kube: KubeContext, namespace: str, name: str, secret: str, *, within: float = 60.0, attempts: int = 3
) -> SmokeResult:
    """tools/list through `deploy/NAME`'s port named mcp; SmokeTestFailed says what went wrong.

    A pod that has just become ready can still drop the first connection (a busy node, a forward
    that picked a pod being replaced): the round trip is tried up to `attempts` times, each on a
    new connection, before the deploy is called failed."""
    import asyncio
    import time

    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    from aksmcp_tui.core.forward import ForwardError, open_tunnel

    key = await read_api_key(kube, namespace, secret)
    deadline = time.monotonic() + within
    try:
        async with open_tunnel(kube, namespace, f"deploy/{name}", "mcp") as tunnel:
            if not await tunnel.wait_ready(within):
                raise SmokeTestFailed(f"no ready pod of deploy/{name} to forward to within {within:g}s")
            problem = ""
            refused: list[int] = []  # HTTP statuses >= 400: the SDK's errors do not carry them

            async def record(response: Any) -> None:
                if response.status_code >= 400:
                    refused.append(int(response.status_code))

            for attempt in range(1, attempts + 1):
                refused.clear()
                try:
                    async with (
                        httpx2.AsyncClient(
                            headers={"Authorization": f"Bearer {key}"},
                            timeout=30,
                            event_hooks={"response": [record]},
                        ) as http,
                        Client(streamable_http_client(tunnel.mcp_url, http_client=http)) as client,
                    ):
                        listed = await client.list_tools()
                        info = client.server_info
                        return SmokeResult(
                            [t.name for t in listed.tools],
                            info.name if info is not None else "?",
                            str(client.protocol_version),
                        )
                except Exception as exc:  # the MCP client raises many kinds; the message is what matters
                    leaf = _leaf(exc)
                    problem = f"{type(leaf).__name__}: {leaf}"
                    if refused and refused[-1] in (401, 403):
                        problem = (
                            f"the server refused the API key from Secret {namespace}/{secret} (HTTP {refused[-1]})"
                        )
                    elif refused:
                        problem += f" (HTTP {refused[-1]})"
                    if attempt == attempts or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(min(2.0, max(0.0, deadline - time.monotonic())))  # a back-off, not a wait
            raise SmokeTestFailed(f"the MCP round trip failed after {attempt} attempts: {problem}")
    except ForwardError as exc:
        raise SmokeTestFailed(f"cannot forward to deploy/{name}: {exc}") from None
