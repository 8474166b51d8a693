"""Join log lines to MCP requests: aksmcp-server writes JSON lines that carry the HTTP request id, the
JSON-RPC id, the tool name and the caller's correlation id (from `_meta` or the
`X-Aksmcp-Correlation-Id` header). The console asks for "the lines this call caused", across replicas.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.core.observe.logs import LogTarget
from aksmcp_tui.core.observe.logs_model import LogBatch, LogLine, LogOptions

CORRELATION_HEADER = "X-Aksmcp-Correlation-Id"
CORRELATION_META_KEY = "io.aksmcp/correlation-id"  # in params._meta of a request
REQUEST_KEYS = ("correlation_id", "request_id", "rpc_id")


def line_fields(text: str) -> dict[str, Any] | None:
    """A JSON-object log line as a dict; None for anything else (plain text costs one character test)."""
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def fields_match(
    fields: dict[str, Any] | None,
    *,
    correlation_id: str | None = None,
    request_id: str | None = None,
    tool: str | None = None,
) -> bool:
    """`request_id` matches any of the ids (HTTP request id, JSON-RPC id, correlation id)."""
    if fields is None:
        return False
    if tool is not None and str(fields.get("tool", "")) != tool:
        return False
    if correlation_id is not None and str(fields.get("correlation_id", "")) != correlation_id:
        return False
    return request_id is None or any(str(fields.get(key, "")) == request_id for key in REQUEST_KEYS if key in fields)


def log_lines_for_request(
    lines: Iterable[LogLine],
    correlation_id: str | None = None,
    *,
    request_id: str | None = None,
    tool: str | None = None,
) -> list[LogLine]:
    """The lines (from any pod) that belong to one MCP call or tool, in the order given."""
    return [
        line
        for line in lines
        if fields_match(line_fields(line.text), correlation_id=correlation_id, request_id=request_id, tool=tool)
    ]


async def find_request_lines(
    kube: KubeContext,
    namespace: str,
    target: str | LogTarget,
    correlation_id: str,
    *,
    since_seconds: int = 900,
) -> list[LogLine]:
    """Read every pod's recent log (all replicas) and return the lines of one correlation id, by time."""
    from aksmcp_tui.core.observe.logs import follow_logs

    found: list[LogLine] = []
    async for event in follow_logs(kube, namespace, target, LogOptions(since_seconds=since_seconds)):
        if isinstance(event, LogBatch):
            found.extend(log_lines_for_request(event.lines, correlation_id))
    found.sort(key=lambda line: line.time_ns)
    return found
