"""Prometheus metrics on a private registry, with label sets that cannot grow from client input.

Tool names are labels only when the tool is registered (anything else is "unknown"); JSON-RPC error codes
are labels only when they are codes the spec defines (anything else is "other").
"""

from __future__ import annotations

import re
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from prometheus_client import CollectorRegistry, Gauge, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from pydantic import ValidationError

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "ToolMetricsMiddleware", "error_codes_in"]

KNOWN_ERROR_CODES = frozenset({-32700, -32600, -32601, -32602, -32603, -32001, -32002, -32020, -32021, -32022, -32042})
REQUEST_BYTES_BUCKETS = (256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0)
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# A JSON-RPC error object at the top of a response body (JSON) or of an SSE `data:` line. Both SDK writers
# put "error" before or after "id"; tool output inside a result is a JSON string, where quotes are
# escaped, so it cannot match.
_ERROR_RE = re.compile(
    rb'(?:^|\ndata: )\{"jsonrpc":"2\.0",(?:"id":(?:null|-?\d+|"(?:[^"\\]|\\.)*"),)?"error":\{"code":(-?\d+)'
)


def error_codes_in(body: bytes) -> Iterable[int]:
    # find(), not `in`: CPython's bytes `in` first tries the needle as an integer, raising and clearing a
    # TypeError each time (thousands of instructions per response, under callgrind).
    if body.find(b'"error"') < 0:
        return ()
    return (int(m.group(1)) for m in _ERROR_RE.finditer(body))


class _Histogram:
    """Bucket counts for one label set; cumulative only when exported."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def export(self) -> tuple[list[tuple[str, float]], float]:
        buckets: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            buckets.append((floatToGoString(bound), running))
        buckets.append(("+Inf", running + self.counts[-1]))
        return buckets, self.total


class _LoopCounters(Collector):
    """Counters and histograms updated from the event loop only, exported at scrape time.

    prometheus_client's Counter/Histogram take a lock per update; with five updates per request that
    was a visible share of a fast tools/call. Everything here is touched by the one event-loop thread
    (requests and /metrics alike), so plain integers are enough and the exposition is identical.
    """

    def __init__(self, tool_names: frozenset[str]) -> None:
        self.tool_calls: dict[tuple[str, str], int] = {}
        self.tool_durations: dict[str, _Histogram] = {}
        for name in (*sorted(tool_names), "unknown"):
            for outcome in ("ok", "tool_error", "protocol_error"):
                self.tool_calls[(name, outcome)] = 0
            self.tool_durations[name] = _Histogram(DURATION_BUCKETS)
        self.jsonrpc_errors: dict[str, int] = {}
        self.http_requests: dict[tuple[str, str], int] = {}
        self.request_bytes = _Histogram(REQUEST_BYTES_BUCKETS)
        self.fast_path_calls = 0

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "mcp_tool_calls",
            "MCP tools/call requests by tool and outcome (ok, tool_error, protocol_error).",
            labels=["tool", "outcome"],
        )
        for (tool, outcome), value in self.tool_calls.items():
            calls.add_metric([tool, outcome], value)
        yield calls
        durations = HistogramMetricFamily(
            "mcp_tool_call_duration_seconds", "Time spent serving tools/call, by tool.", labels=["tool"]
        )
        for tool, histogram in self.tool_durations.items():
            buckets, total = histogram.export()
            durations.add_metric([tool], buckets, total)
        yield durations
        errors = CounterMetricFamily(
            "mcp_jsonrpc_errors", "JSON-RPC error responses sent, by error code.", labels=["code"]
        )
        for code, value in sorted(self.jsonrpc_errors.items()):
            errors.add_metric([code], value)
        yield errors
        http = CounterMetricFamily(
            "mcp_http_requests",
            "HTTP requests to the MCP endpoint, by method and status class.",
            labels=["method", "status"],
        )
        for (method, status), value in sorted(self.http_requests.items()):
            http.add_metric([method, status], value)
        yield http
        sizes = HistogramMetricFamily("mcp_http_request_bytes", "Declared size of MCP request bodies.")
        buckets, total = self.request_bytes.export()
        sizes.add_metric([], buckets, total)
        yield sizes
        yield CounterMetricFamily(
            "mcp_fast_path_calls",
            "tools/call requests answered by the fast path (the rest go through the full SDK pipeline).",
            value=self.fast_path_calls,
        )


class Metrics:
    def __init__(self, tool_names: Iterable[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.tool_names = frozenset(tool_names)
        self._counts = _LoopCounters(self.tool_names)
        self.registry.register(self._counts)
        # process_cpu_seconds_total, process_resident_memory_bytes, process_start_time_seconds: the
        # standard names any Prometheus client exposes, so dashboards (aksmcp metrics) show CPU and memory
        # and see a restart. Read from /proc at scrape time only; absent where /proc is missing.
        ProcessCollector(registry=self.registry)
        self.in_flight = Gauge(
            "mcp_http_requests_in_flight", "MCP HTTP requests being served now.", registry=self.registry
        )
        self.active_sessions = Gauge(
            "mcp_active_sessions",
            "Open stateful (2025-11-25) Streamable HTTP sessions; always 0 in stateless mode.",
            registry=self.registry,
        )
        self.draining = Gauge("mcp_draining", "1 while the server is shutting down.", registry=self.registry)

    def learn_tools(self, names: Iterable[str], limit: int = 256) -> None:
        """Add tool names found at run time (a bridged server's tools/list), up to `limit` labels in all.

        The names come from the server being served, never from a client's request, so the label set
        stays as bounded as the server's own tool list (and `limit` caps even a misbehaving server).
        """
        for name in names:
            if name in self.tool_names or len(self.tool_names) >= limit:
                continue
            self.tool_names = self.tool_names | {name}
            for outcome in ("ok", "tool_error", "protocol_error"):
                self._counts.tool_calls[(name, outcome)] = 0
            self._counts.tool_durations[name] = _Histogram(DURATION_BUCKETS)

    def tool_label(self, name: Any) -> str:
        return name if isinstance(name, str) and name in self.tool_names else "unknown"

    def record_tool_call(self, tool: str, outcome: str, seconds: float) -> None:
        """`tool` must already be a bounded label (see `tool_label`)."""
        self._counts.tool_calls[(tool, outcome)] += 1
        self._counts.tool_durations[tool].observe(seconds)

    def record_fast_path_call(self) -> None:
        self._counts.fast_path_calls += 1

    def record_request_bytes(self, size: int) -> None:
        self._counts.request_bytes.observe(size)

    def count_http(self, method: str, status: int) -> None:
        key = (method if method in ("POST", "GET", "DELETE") else "other", f"{status // 100}xx")
        counts = self._counts.http_requests
        counts[key] = counts.get(key, 0) + 1

    def count_error(self, code: int) -> None:
        label = str(code) if code in KNOWN_ERROR_CODES else "other"
        counts = self._counts.jsonrpc_errors
        counts[label] = counts.get(label, 0) + 1

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
