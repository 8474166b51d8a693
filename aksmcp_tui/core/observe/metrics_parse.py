"""One scrape of one pod's /metrics (Prometheus text format) → the numbers aksmcp shows.

Parsed with `prometheus_client.parser` (the reference parser, not a regex). aksmcp-server's metric
names (server/aksmcp_server/metrics.py) are read into per-tool fields; every other counter and gauge
is kept generically, so any server exposing Prometheus text is shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

TOOL_CALLS = "mcp_tool_calls"  # counter {tool, outcome}; sample name mcp_tool_calls_total
TOOL_DURATION = "mcp_tool_call_duration_seconds"  # histogram {tool}
SESSIONS = "mcp_active_sessions"
IN_FLIGHT = "mcp_http_requests_in_flight"
CPU_SECONDS = "process_cpu_seconds"  # standard process collector (counter)
RSS_BYTES = "process_resident_memory_bytes"
START_TIME = "process_start_time_seconds"
ERROR_OUTCOMES = frozenset({"tool_error", "protocol_error"})


@dataclass
class ToolCounts:
    calls: dict[str, float] = field(default_factory=dict)  # outcome → cumulative count
    buckets: list[tuple[float, float]] = field(default_factory=list)  # (upper bound, cumulative count), sorted
    duration_sum: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.calls.values())

    @property
    def errors(self) -> float:
        return sum(v for k, v in self.calls.items() if k in ERROR_OUTCOMES)


@dataclass
class PodScrape:
    """Cumulative values of one scrape (rates come from two of them, see metrics_aggregate)."""

    known: bool = False  # aksmcp-server's names were present
    tools: dict[str, ToolCounts] = field(default_factory=dict)
    sessions: float | None = None
    in_flight: float | None = None
    cpu_seconds: float | None = None
    rss_bytes: float | None = None
    start_time: float | None = None  # process start (a change means every counter restarted)
    counters: dict[str, float] = field(default_factory=dict)  # generic: 'name{a="b"}' → value
    gauges: dict[str, float] = field(default_factory=dict)


def _series(name: str, labels: dict[str, str]) -> str:
    if not labels:
        return name
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def parse_scrape(text: str) -> PodScrape:
    """Raises ValueError on text that is not Prometheus exposition format."""
    scrape = PodScrape()
    tools = scrape.tools
    for family in text_string_to_metric_families(text):
        name = family.name
        kind = family.type
        if name == TOOL_CALLS:
            scrape.known = True
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    tool = sample.labels.get("tool", "")
                    counts = tools.get(tool)
                    if counts is None:
                        counts = tools[tool] = ToolCounts()
                    counts.calls[sample.labels.get("outcome", "ok")] = sample.value
        elif name == TOOL_DURATION:
            scrape.known = True
            for sample in family.samples:
                tool = sample.labels.get("tool", "")
                counts = tools.get(tool)
                if counts is None:
                    counts = tools[tool] = ToolCounts()
                if sample.name.endswith("_bucket"):
                    counts.buckets.append((float(sample.labels["le"]), sample.value))
                elif sample.name.endswith("_sum"):
                    counts.duration_sum = sample.value
        elif name == SESSIONS and family.samples:
            scrape.sessions = family.samples[0].value
        elif name == IN_FLIGHT and family.samples:
            scrape.in_flight = family.samples[0].value
        elif name in (CPU_SECONDS, CPU_SECONDS + "_total") and family.samples:  # typed or untyped exposition
            scrape.cpu_seconds = family.samples[0].value
        elif name == RSS_BYTES and family.samples:
            scrape.rss_bytes = family.samples[0].value
        elif name == START_TIME and family.samples:
            scrape.start_time = family.samples[0].value
        if kind == "counter":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    scrape.counters[_series(sample.name, sample.labels)] = sample.value
        elif kind == "gauge":
            for sample in family.samples:
                scrape.gauges[_series(sample.name, sample.labels)] = sample.value
    for counts in tools.values():
        counts.buckets.sort()
    return scrape


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile on cumulative (upper bound, count) pairs: linear interpolation
    inside the bucket that holds the q-th observation; the +Inf bucket answers its lower bound.
    None when there are no observations."""
    if not buckets:
        return None
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return buckets[-1][0] if not math.isinf(buckets[-1][0]) else lower_bound
