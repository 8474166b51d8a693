"""Observe a deployment: merged pod logs (resumed without loss or repeats) and scraped metrics.

- `follow_logs(kube, namespace, "deploy/NAME", LogOptions(...))` → typed `LogEvent`s (logs.py)
- `RingBuffer`: the bounded store a log view scrolls through (ringbuffer.py)
- `log_lines_for_request(lines, correlation_id=..., request_id=..., tool=...)`: the lines one MCP call
  caused, across replicas (correlate.py)
- `MetricsWatcher(kube, ns, "deploy/NAME").snapshots()` → `MetricsSnapshot`s: per-tool rates, errors and
  latency quantiles per pod and summed (metrics*.py)
"""

from aksmcp_tui.core.observe.correlate import (
    CORRELATION_HEADER,
    CORRELATION_META_KEY,
    fields_match,
    find_request_lines,
    line_fields,
    log_lines_for_request,
)
from aksmcp_tui.core.observe.logs import LogFollower, LogTarget, follow_logs, parse_target
from aksmcp_tui.core.observe.logs_model import (
    LogBatch,
    LogEvent,
    LogLine,
    LogNotice,
    LogOptions,
    PodJoined,
    PodLeft,
    StreamDropped,
    StreamResumed,
)
from aksmcp_tui.core.observe.metrics import MetricsSnapshot, MetricsWatcher, PodMetrics, forward_opener
from aksmcp_tui.core.observe.metrics_aggregate import RateWindow, ToolRates
from aksmcp_tui.core.observe.ringbuffer import RingBuffer

__all__ = [
    "CORRELATION_HEADER",
    "CORRELATION_META_KEY",
    "LogBatch",
    "LogEvent",
    "LogFollower",
    "LogLine",
    "LogNotice",
    "LogOptions",
    "LogTarget",
    "MetricsSnapshot",
    "MetricsWatcher",
    "PodJoined",
    "PodLeft",
    "PodMetrics",
    "RateWindow",
    "RingBuffer",
    "StreamDropped",
    "StreamResumed",
    "ToolRates",
    "fields_match",
    "find_request_lines",
    "follow_logs",
    "forward_opener",
    "line_fields",
    "log_lines_for_request",
    "parse_target",
]
