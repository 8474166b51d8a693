"""Logs meet MCP traffic: the reference server's log lines carry the JSON-RPC id, the tool and the caller's
correlation id (header or _meta); the core finds the lines of one call across replicas."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.core.observe import (
    CORRELATION_HEADER,
    CORRELATION_META_KEY,
    LogLine,
    find_request_lines,
    line_fields,
    log_lines_for_request,
)
from tests.observe.support import create, new_namespace, pod_url, ready_pods, server_deployment, wait_until

pytestmark = pytest.mark.timeout(150)


def test_log_lines_for_request_matches_ids_and_tools() -> None:
    lines = [
        LogLine("a", "c", 1, "", '{"msg":"request","correlation_id":"x1","rpc_id":3,"tool":"t"}'),
        LogLine("b", "c", 2, "", '{"msg":"request","correlation_id":"x2","rpc_id":3,"tool":"u"}'),
        LogLine("b", "c", 3, "", "plain x1 text"),
        LogLine("a", "c", 4, "", '{"msg":"other","request_id":"r-9"}'),
    ]
    assert [line.time_ns for line in log_lines_for_request(lines, "x1")] == [1]
    assert [line.time_ns for line in log_lines_for_request(lines, request_id="3")] == [1, 2]
    assert [line.time_ns for line in log_lines_for_request(lines, request_id="r-9")] == [4]
    assert [line.time_ns for line in log_lines_for_request(lines, tool="u")] == [2]
    assert line_fields("plain") is None and line_fields("{not json") is None and line_fields("[1]") is None


async def test_server_lines_join_calls_across_replicas(kube: KubeContext, tmp_path: Path) -> None:
    ns = await new_namespace(kube)
    await create(kube, ns, server_deployment("joined", tmp_path, replicas=2))

    async def two_ready() -> list[str] | None:
        pods = await ready_pods(kube, ns, "joined")
        return [p["metadata"]["name"] for p in pods] if len(pods) == 2 else None

    a, b = await wait_until(two_ready, within=90, what="two ready pods")
    for pod in (a, b):  # header: the fast path serves these
        async with (
            httpx2.AsyncClient(headers={CORRELATION_HEADER: "call-1"}) as http,
            Client(streamable_http_client(await pod_url(kube, ns, pod) + "/mcp", http_client=http)) as client,
        ):
            assert not (await client.call_tool("system_info", {})).is_error
    async with Client(await pod_url(kube, ns, b) + "/mcp") as client:  # _meta: the SDK pipeline serves it
        result = await client.call_tool(
            "file_operation", {"operation": "read", "path": "../nope"}, meta={CORRELATION_META_KEY: "call-2"}
        )
        assert result.is_error

    async def found(correlation: str, tool: str, pods: int) -> list[LogLine] | None:
        """The call's lines once `pods` pods have logged its tools/call: a server flushes its access lines
        every 0.2 s, so a pod's initialize line may be readable before its tools/call line is."""
        lines = await find_request_lines(kube, ns, "deploy/joined", correlation, since_seconds=600)
        with_tool = {line.pod for line in lines if (line_fields(line.text) or {}).get("tool") == tool}
        return lines if len(with_tool) >= pods else None

    first = await wait_until(lambda: found("call-1", "system_info", 2), within=30, what="call-1 in both pods' logs")
    assert {line.pod for line in first} == {a, b}
    for line in first:
        fields = line_fields(line.text)
        assert fields is not None and fields["correlation_id"] == "call-1"
    access = [line_fields(line.text) for line in first]
    tools_calls = [f for f in access if f and f.get("tool") == "system_info"]
    assert len(tools_calls) >= 2 and all(isinstance(f.get("rpc_id"), int | str) for f in tools_calls)

    second = await wait_until(lambda: found("call-2", "file_operation", 1), within=30, what="call-2 in pod b's log")
    assert {line.pod for line in second} == {b}
    fields = [line_fields(line.text) or {} for line in second]
    assert any(f.get("tool") == "file_operation" and "rpc_id" in f for f in fields)
    # the tool's own log line (rejected path) carries the call too, not only the access line
    assert any(f.get("logger", "").startswith("mcp.") or f.get("msg") != "request" for f in fields), fields
