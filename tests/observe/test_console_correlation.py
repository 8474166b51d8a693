"""The console core's correlation ids against two aksmcp-server replicas: two calls get different ids and
each id finds its own lines (with its tool) in whichever replica served it, and nothing of the other call."""

from __future__ import annotations

from pathlib import Path

import pytest

from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.core.mcpclient import McpSession, parse_target, resolve_endpoint
from aksmcp_tui.core.observe import LogLine, find_request_lines, line_fields
from tests.observe.support import create, new_namespace, pod_url, ready_pods, server_deployment, wait_until

pytestmark = pytest.mark.timeout(180)


async def test_each_call_id_finds_its_own_lines_across_replicas(kube: KubeContext, tmp_path: Path) -> None:
    ns = await new_namespace(kube, "corr")
    await create(kube, ns, server_deployment("pair", tmp_path, replicas=2))

    async def two_ready() -> list[str] | None:
        pods = await ready_pods(kube, ns, "pair")
        return [p["metadata"]["name"] for p in pods] if len(pods) == 2 else None

    a, b = await wait_until(two_ready, within=90, what="two ready pods")
    outcomes = {}
    # one call per replica, one per revision: the modern one rides the server's fast path
    for pod, protocol, tool, arguments in (
        (a, "2026-07-28", "system_info", {}),
        (b, "2025-11-25", "file_operation", {"operation": "read", "path": "../outside"}),
    ):
        endpoint = await resolve_endpoint(parse_target(await pod_url(kube, ns, pod) + "/mcp"))
        async with McpSession(endpoint, protocol=protocol) as session:
            await session.list_tools()
            outcomes[pod] = await session.call_tool(tool, arguments)
    first, second = outcomes[a], outcomes[b]
    assert first.correlation_id and second.correlation_id and first.correlation_id != second.correlation_id

    async def found(correlation: str) -> list[LogLine] | None:
        lines = await find_request_lines(kube, ns, "deploy/pair", correlation, since_seconds=600)
        return lines or None

    for pod, outcome in ((a, first), (b, second)):
        lines = await wait_until(lambda o=outcome: found(str(o.correlation_id)), within=30, what=f"{pod}'s lines")
        assert {line.pod for line in lines} == {pod}
        fields = [line_fields(line.text) or {} for line in lines]
        assert all(f.get("correlation_id") == outcome.correlation_id for f in fields)
        assert any(f.get("tool") == outcome.tool and "rpc_id" in f for f in fields), fields
        other = second if outcome is first else first
        assert all(str(other.correlation_id) not in line.text for line in lines)
