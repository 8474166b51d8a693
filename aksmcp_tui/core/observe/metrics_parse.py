"""One scrape of one pod's /metrics (Prometheus text format) → the numbers aksmcp shows.

Parsed with `prometheus_client.parser` (the reference parser, not a regex). aksmcp-server's metric
names (server/aksmcp_server/metrics.py) are read into per-tool fields; every other counter and gauge
is kept generically, so any server exposing Prometheus text is shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

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


# What a sample feeds (decided once per distinct series, see _SERIES_CACHE)
_IGNORE, _CALLS, _BUCKET, _SUM, _SESSIONS, _IN_FLIGHT, _CPU, _RSS, _START, _COUNTER, _GAUGE = range(11)
_SINGLE = {SESSIONS: _SESSIONS, IN_FLIGHT: _IN_FLIGHT, CPU_SECONDS: _CPU, CPU_SECONDS + "_total": _CPU}
_SINGLE |= {RSS_BYTES: _RSS, START_TIME: _START}

# sample line without its value → (what it feeds, key 1, key 2), from prometheus_client's parser on
# first sight (in the context of its family's TYPE line; a series' text names its family, so the same
# text is the same series). Every scrape of every pod repeats the same series with new values, and the
# reference parser costs ~0.1 ms a line (20 pods x 50 tools = 23,000 lines = seconds), so each distinct
# series is parsed by it once; its later lines need only float(value). Bounded.
_SERIES_CACHE: dict[str, tuple[int, Any, Any]] = {}
SERIES_CACHE_MAX = 200_000


def _classify(family: str, kind: str, sample: str, labels: dict[str, str]) -> tuple[int, Any, Any]:
    if family == TOOL_CALLS:
        if sample.endswith("_total"):
            return _CALLS, labels.get("tool", ""), labels.get("outcome", "ok")
        return _IGNORE, None, None
    if family == TOOL_DURATION:
        if sample.endswith("_bucket"):
            return _BUCKET, labels.get("tool", ""), float(labels["le"])
        if sample.endswith("_sum"):
            return _SUM, labels.get("tool", ""), None
        return _IGNORE, labels.get("tool", ""), None
    single = _SINGLE.get(family)
    if single is not None:
        return single, None, None
    if kind == "counter" and sample.endswith("_total"):
        return _COUNTER, _series(sample, labels), None
    if kind == "gauge":
        return _GAUGE, _series(sample, labels), None
    return _IGNORE, None, None


def _parse_line(type_line: str, line: str) -> tuple[tuple[int, Any, Any], float]:
    """One sample line, in its family's TYPE context, through prometheus_client's parser."""
    families = list(text_string_to_metric_families(f"{type_line}\n{line}\n" if type_line else f"{line}\n"))
    samples = [(f, sample) for f in families for sample in f.samples]
    if len(samples) != 1:
        raise ValueError(f"not one Prometheus sample: {line[:120]!r}")
    family, sample = samples[0]
    return _classify(family.name, family.type, sample.name, dict(sample.labels)), sample.value


def parse_scrape(text: str) -> PodScrape:
    """Raises ValueError on text that is not Prometheus exposition format."""
    cache = _SERIES_CACHE
    if len(cache) > SERIES_CACHE_MAX:
        cache.clear()
    scrape = PodScrape()
    tools = scrape.tools
    type_line = ""
    for line in text.split("\n"):
        if not line or line[0] == "#":
            if line.startswith("# TYPE "):
                type_line = line
            continue
        head, _, value_text = line.rpartition(" ")
        entry = cache.get(head)
        value = 0.0
        if entry is not None:
            try:
                value = float(value_text)
            except ValueError:
                entry = None
        if entry is None:
            entry, value = _parse_line(type_line, line)
            if head:
                cache[head] = entry
        code, first, second = entry
        if _IGNORE < code <= _SUM:  # a tool series (codes 1-3)
            counts = tools.get(first)
            if counts is None:
                counts = tools[first] = ToolCounts()
            scrape.known = True
            if code == _BUCKET:
                counts.buckets.append((second, value))
            elif code == _CALLS:
                counts.calls[second] = value
            else:
                counts.duration_sum = value
        elif code == _COUNTER:
            scrape.counters[first] = value
        elif code == _GAUGE:
            scrape.gauges[first] = value
        elif code == _SESSIONS:
            scrape.sessions = value
        elif code == _IN_FLIGHT:
            scrape.in_flight = value
        elif code == _CPU:
            scrape.cpu_seconds = value
        elif code == _RSS:
            scrape.rss_bytes = value
        elif code == _START:
            scrape.start_time = value
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
