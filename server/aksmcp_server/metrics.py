"""Prometheus metrics on a private registry, with label sets that cannot grow from client input.

Tool names are labels only when the tool is registered (anything else is "unknown"); JSON-RPC error codes
are labels only when they are codes the spec defines (anything else is "other").
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import ValidationError

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "ToolMetricsMiddleware", "error_codes_in"]

KNOWN_ERROR_CODES = frozenset({-32700, -32600, -32601, -32602, -32603, -32001, -32002, -32020, -32021, -32022, -32042})
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# A JSON-RPC error object at the top of a response body (JSON) or of an SSE `data:` line. Both SDK writers
# put "error" before or after "id"; tool output inside a result is a JSON string, where quotes are
# escaped, so it cannot match.
_ERROR_RE = re.compile(
    rb'(?:^|\ndata: )\{"jsonrpc":"2\.0",(?:"id":(?:null|-?\d+|"(?:[^"\\]|\\.)*"),)?"error":\{"code":(-?\d+)'
)


def error_codes_in(body: bytes) -> Iterable[int]:
    if b'"error"' not in body:
        return ()
    return (int(m.group(1)) for m in _ERROR_RE.finditer(body))


class Metrics:
    def __init__(self, tool_names: Iterable[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.tool_names = frozenset(tool_names)
        self.tool_calls = Counter(
            "mcp_tool_calls",
            "MCP tools/call requests by tool and outcome (ok, tool_error, protocol_error).",
            ["tool", "outcome"],
            registry=self.registry,
        )
        self.tool_duration = Histogram(
            "mcp_tool_call_duration_seconds",
            "Time spent serving tools/call, by tool.",
            ["tool"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.jsonrpc_errors = Counter(
            "mcp_jsonrpc_errors",
            "JSON-RPC error responses sent, by error code.",
            ["code"],
            registry=self.registry,
        )
        self.http_requests = Counter(
            "mcp_http_requests",
            "HTTP requests to the MCP endpoint, by method and status class.",
            ["method", "status"],
            registry=self.registry,
        )
        self.request_bytes = Histogram(
            "mcp_http_request_bytes",
            "Declared size of MCP request bodies.",
            buckets=(256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304),
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "mcp_http_requests_in_flight", "MCP HTTP requests being served now.", registry=self.registry
        )
        self.active_sessions = Gauge(
            "mcp_active_sessions",
            "Open stateful (2025-11-25) Streamable HTTP sessions; always 0 in stateless mode.",
            registry=self.registry,
        )
        self.fast_path_calls = Counter(
            "mcp_fast_path_calls",
            "tools/call requests answered by the fast path (the rest go through the full SDK pipeline).",
            registry=self.registry,
        )
        self.draining = Gauge("mcp_draining", "1 while the server is shutting down.", registry=self.registry)
        # Children resolved once: `.labels()` per request showed up in the profile.
        self._tool_counters: dict[tuple[str, str], Any] = {}
        self._tool_histograms: dict[str, Any] = {}
        for name in (*self.tool_names, "unknown"):
            for outcome in ("ok", "tool_error", "protocol_error"):
                self._tool_counters[(name, outcome)] = self.tool_calls.labels(name, outcome)
            self._tool_histograms[name] = self.tool_duration.labels(name)
        self._http_counters: dict[tuple[str, int], Any] = {}

    def tool_label(self, name: Any) -> str:
        return name if isinstance(name, str) and name in self.tool_names else "unknown"

    def record_tool_call(self, tool: str, outcome: str, seconds: float) -> None:
        """`tool` must already be a bounded label (see `tool_label`)."""
        self._tool_counters[(tool, outcome)].inc()
        self._tool_histograms[tool].observe(seconds)

    def count_http(self, method: str, status: int) -> None:
        key = (method if method in ("POST", "GET", "DELETE") else "other", status // 100)
        counter = self._http_counters.get(key)
        if counter is None:
            counter = self._http_counters[key] = self.http_requests.labels(key[0], f"{key[1]}xx")
        counter.inc()

    def count_error(self, code: int) -> None:
        self.jsonrpc_errors.labels(str(code) if code in KNOWN_ERROR_CODES else "other").inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class ToolMetricsMiddleware:
    """SDK server middleware: times every tools/call and records its outcome."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        name = ctx.params.get("name") if ctx.params else None
        tool = self.metrics.tool_label(name)
        started = time.perf_counter()
        outcome = "protocol_error"
        try:
            result = await call_next(ctx)
            is_error = result.get("isError") if isinstance(result, dict) else getattr(result, "is_error", False)
            outcome = "tool_error" if is_error else "ok"
            return result
        except (MCPError, ValidationError):
            raise
        finally:
            self.metrics.record_tool_call(tool, outcome, time.perf_counter() - started)
