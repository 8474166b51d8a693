"""One scrape of one pod's /metrics (Prometheus text format) → the numbers aksmcp shows.

Parsed with `prometheus_client.parser` (the reference parser, not a regex). aksmcp-server's metric
names (server/aksmcp_server/metrics.py) are read into per-tool fields; every other counter and gauge
is kept generically, so any server exposing Prometheus text is shown.

Cost (bench/metrics.py: 20 pods x 50 tools = 23,000 lines a round): each distinct series goes through
the reference parser once (_SERIES_CACHE); a text whose shape (every line but its value) was seen
before is read in bulk through its Layout, with no Python step per line; values go through a float
memo. A scrape's numbers are one flat array the aggregation slices (see metrics_aggregate).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter, methodcaller
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


@dataclass(eq=False)
class ToolSlots:
    """Where one tool's numbers sit in a scrape's value array (see Layout)."""

    calls: dict[str, int] = field(default_factory=dict)  # outcome → slot
    bounds: tuple[float, ...] = ()  # bucket upper bounds, ascending
    bucket_slots: list[int] = field(default_factory=list)  # slot of each bound's cumulative count
    sum_slot: int | None = None
    _span: tuple[int, int] | None = None  # bucket slots are one contiguous run: slice instead of picking
    pick_calls: Callable[[list[Any]], tuple[Any, ...]] = field(default=lambda _: (), repr=False)
    pick_errors: Callable[[list[Any]], tuple[Any, ...]] = field(default=lambda _: (), repr=False)

    def seal(self) -> None:
        """Sort the buckets by bound and note whether their slots are contiguous (they are, from any
        prometheus_client server: a tool's buckets are consecutive lines in ascending `le`)."""
        pairs = sorted(zip(self.bounds, self.bucket_slots, strict=True), key=lambda pair: pair[0])
        self.bounds = tuple(bound for bound, _ in pairs)
        self.bucket_slots = [slot for _, slot in pairs]
        first = self.bucket_slots[0] if self.bucket_slots else 0
        if self.bucket_slots == list(range(first, first + len(self.bucket_slots))):
            self._span = (first, first + len(self.bucket_slots))
        self.pick_calls = _picker(list(self.calls.values()))
        self.pick_errors = _picker([slot for outcome, slot in self.calls.items() if outcome in ERROR_OUTCOMES])

    def slots(self) -> list[int]:
        return [*self.calls.values(), *self.bucket_slots]

    def counts(self, values: list[float]) -> list[float]:
        """Cumulative bucket counts, in bound order."""
        if self._span is not None:
            return values[self._span[0] : self._span[1]]
        return [values[slot] for slot in self.bucket_slots]


def _picker(indexes: list[int]) -> Callable[[list[Any]], tuple[Any, ...]]:
    """itemgetter that always answers a tuple (itemgetter of one index answers the item itself)."""
    if not indexes:
        return lambda _: ()
    if len(indexes) == 1:
        only = indexes[0]
        return lambda items: (items[only],)
    return itemgetter(*indexes)


@dataclass(eq=False)
class Layout:
    """The shape of one exposition: every line's text before its value, what each sample feeds.

    A server repeats the same lines scrape after scrape with new values, and so do the pods of one
    deployment. The shape is worked out once (each distinct series through prometheus_client's parser,
    see _SERIES_CACHE); a later text of the same shape needs only its values, read in bulk.
    """

    heads: tuple[str, ...]  # per line: text before the last space (the whole comment, blank or sample)
    fixed: tuple[str, ...]  # the full text of every non-sample line (TYPE/HELP/blank), checked verbatim
    fixed_lines: Callable[[list[Any]], tuple[Any, ...]]
    sample_lines: Callable[[list[Any]], tuple[Any, ...]]  # picks the sample lines; slot k = k-th sample
    known: bool = False
    tools: dict[str, ToolSlots] = field(default_factory=dict)
    tool_span: tuple[int, int] = (0, 0)  # from the first to past the last slot any tool reads
    singles: dict[int, int] = field(default_factory=dict)  # what it feeds (_SESSIONS..._START) → slot
    counters: list[tuple[str, int]] = field(default_factory=list)  # generic series → slot
    gauges: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class PodScrape:
    """Cumulative values of one scrape (rates come from two of them, see metrics_aggregate).

    The numbers live in `values`, placed by `layout` (shared by every scrape of the same shape), so the
    aggregation works on flat arrays; `tools` is the per-tool view of the same numbers."""

    layout: Layout
    values: list[float]
    known: bool = False  # aksmcp-server's names were present
    sessions: float | None = None
    in_flight: float | None = None
    cpu_seconds: float | None = None
    rss_bytes: float | None = None
    start_time: float | None = None  # process start (a change means every counter restarted)
    counters: dict[str, float] = field(default_factory=dict)  # generic: 'name{a="b"}' → value
    gauges: dict[str, float] = field(default_factory=dict)
    _tools: dict[str, ToolCounts] | None = field(default=None, repr=False)

    @property
    def tools(self) -> dict[str, ToolCounts]:
        if self._tools is None:
            values = self.values
            self._tools = {
                name: ToolCounts(
                    calls={outcome: values[slot] for outcome, slot in slots.calls.items()},
                    buckets=list(zip(slots.bounds, slots.counts(values), strict=True)),
                    duration_sum=0.0 if slots.sum_slot is None else values[slots.sum_slot],
                )
                for name, slots in self.layout.tools.items()
            }
        return self._tools


def _series(name: str, labels: dict[str, str]) -> str:
    if not labels:
        return name
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


# What a sample feeds (decided once per distinct series, see _SERIES_CACHE)
_IGNORE, _CALLS, _BUCKET, _SUM, _SESSIONS, _IN_FLIGHT, _CPU, _RSS, _START, _COUNTER, _GAUGE = range(11)
_SINGLE = {SESSIONS: _SESSIONS, IN_FLIGHT: _IN_FLIGHT, CPU_SECONDS: _CPU, CPU_SECONDS + "_total": _CPU}
_SINGLE |= {RSS_BYTES: _RSS, START_TIME: _START}
_SINGLE_FIELD = {_SESSIONS: "sessions", _IN_FLIGHT: "in_flight", _CPU: "cpu_seconds", _RSS: "rss_bytes"}
_SINGLE_FIELD |= {_START: "start_time"}

# sample line without its value → (what it feeds, key 1, key 2), from prometheus_client's parser on
# first sight (in the context of its family's TYPE line; a series' text names its family, so the same
# text is the same series). Every scrape of every pod repeats the same series with new values, and the
# reference parser costs ~0.1 ms a line (20 pods x 50 tools = 23,000 lines = seconds), so each distinct
# series is parsed by it once; its later lines need only float(value). Bounded.
_SERIES_CACHE: dict[str, tuple[int, Any, Any]] = {}
SERIES_CACHE_MAX = 200_000
# line heads of a whole text → its Layout: a text of a known shape is read without a Python step per
# line. Bounded (a layout holds its heads: ~100 KB for 50 tools).
_LAYOUTS: dict[tuple[str, ...], Layout] = {}
LAYOUTS_MAX = 64
_LAST: list[Layout | None] = [None]  # the layout of the latest text
# value text → float (see _floats). Bounded.
_FLOATS: dict[str, float] = {}
FLOATS_MAX = 50_000

_split_value = methodcaller("rpartition", " ")
_head = itemgetter(0)
_value = itemgetter(2)


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


def _read_shape(lines: list[str], heads: tuple[str, ...]) -> tuple[Layout, list[float]]:
    """A text of a new shape, line by line: each sample classified (through the series cache, else the
    reference parser), with its value. Raises ValueError on text that is not Prometheus text."""
    cache = _SERIES_CACHE
    if len(cache) > SERIES_CACHE_MAX:
        cache.clear()
    fixed_at: list[int] = []
    sample_at: list[int] = []
    values: list[float] = []
    entries: list[tuple[int, Any, Any]] = []
    type_line = ""
    for index, line in enumerate(lines):
        if not line or line[0] == "#":
            if line.startswith("# TYPE "):
                type_line = line
            fixed_at.append(index)
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
        sample_at.append(index)
        values.append(value)
        entries.append(entry)
    layout = Layout(
        heads=heads,
        fixed=tuple(lines[index] for index in fixed_at),
        fixed_lines=_picker(fixed_at),
        sample_lines=_picker(sample_at),
    )
    tools = layout.tools
    for slot, (code, first, second) in enumerate(entries):
        if _IGNORE < code <= _SUM:  # a tool series (codes 1-3)
            slots = tools.get(first)
            if slots is None:
                slots = tools[first] = ToolSlots()
            layout.known = True
            if code == _BUCKET:
                slots.bounds += (second,)
                slots.bucket_slots.append(slot)
            elif code == _CALLS:
                slots.calls[second] = slot
            else:
                slots.sum_slot = slot
        elif code == _COUNTER:
            layout.counters.append((first, slot))
        elif code == _GAUGE:
            layout.gauges.append((first, slot))
        elif code != _IGNORE:
            layout.singles[code] = slot
    for slots in tools.values():
        slots.seal()
    read = [slot for slots in tools.values() for slot in slots.slots()]
    if read:
        layout.tool_span = (min(read), max(read) + 1)
    return layout, values


def _floats(texts: list[str]) -> list[float]:
    """float() of each text, through _FLOATS: counts repeat across series and pods (0.0, 1.0, ...), and
    a dict lookup costs a fraction of float(). Raises ValueError like float()."""
    memo = _FLOATS
    values = list(map(memo.get, texts))
    if None in values:
        if len(memo) > FLOATS_MAX:
            memo.clear()
        for text in set(texts).difference(memo):
            memo[text] = float(text)
        values = list(map(memo.__getitem__, texts))
    return values  # type: ignore[return-value]  # no None left: every text is in the memo


def parse_scrape(text: str) -> PodScrape:
    """Raises ValueError on text that is not Prometheus exposition format."""
    lines = text.split("\n")
    parts = list(map(_split_value, lines))
    heads = tuple(map(_head, parts))
    layout = _LAST[0]
    if layout is None or layout.heads != heads:  # pods of one deployment share a shape: try the last first
        layout = _LAYOUTS.get(heads)
    values: list[float] | None = None
    if layout is not None and layout.fixed_lines(lines) == layout.fixed:
        try:  # the same shape: only the values are new
            values = _floats(list(map(_value, layout.sample_lines(parts))))
        except ValueError:
            values = None  # a value float() does not read: the whole text the careful way
    if layout is None or values is None:
        layout, values = _read_shape(lines, heads)
        if len(_LAYOUTS) >= LAYOUTS_MAX:
            _LAYOUTS.clear()
        _LAYOUTS[heads] = layout
    _LAST[0] = layout
    scrape = PodScrape(layout, values, layout.known)
    for code, slot in layout.singles.items():
        setattr(scrape, _SINGLE_FIELD[code], values[slot])
    scrape.counters = {series: values[slot] for series, slot in layout.counters}
    scrape.gauges = {series: values[slot] for series, slot in layout.gauges}
    return scrape


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile on cumulative (upper bound, count) pairs: linear interpolation
    inside the bucket that holds the q-th observation; the +Inf bucket answers its lower bound.
    None when there are no observations."""
    return bucket_quantile(q, [bound for bound, _ in buckets], [count for _, count in buckets])


def bucket_quantile(q: float, bounds: Sequence[float], counts: Sequence[float]) -> float | None:
    """histogram_quantile on bounds and cumulative counts kept apart (as the aggregation keeps them)."""
    if not counts:
        return None
    total = counts[-1]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return bounds[-1] if not math.isinf(bounds[-1]) else lower_bound
