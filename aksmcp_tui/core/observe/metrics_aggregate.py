"""Rates, error ratios and latency quantiles from two scrapes, per pod and summed over pods.

Counter semantics follow Prometheus' rate(): a value lower than the previous one means the process
restarted and counted from zero, so the increase is the new value (never negative). A pod missing
from the newest round simply is not summed (it left); a pod seen for the first time has no rate yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import add, sub

from aksmcp_tui.core.observe.metrics_parse import ERROR_OUTCOMES, PodScrape, ToolSlots, bucket_quantile


def increase(previous: float | None, current: float) -> float:
    """Prometheus' counter increase: a drop means a restart from zero, so the new value is the increase."""
    if previous is None:
        return 0.0
    if current < previous:
        return current
    return current - previous


@dataclass(slots=True)
class ToolRates:
    tool: str
    calls_per_s: float = 0.0
    errors_per_s: float = 0.0
    calls: float = 0.0  # increase over the window
    errors: float = 0.0
    # cumulative bucket increases over the window, in bound order; bounds and counts kept apart so a
    # round adds plain float lists (no (bound, count) pair per bucket per pod)
    bounds: tuple[float, ...] = ()
    counts: list[float] = field(default_factory=list)

    @property
    def bucket_increase(self) -> list[tuple[float, float]]:
        return list(zip(self.bounds, self.counts, strict=True))

    @property
    def error_ratio(self) -> float | None:
        return self.errors / self.calls if self.calls else None

    def quantile(self, q: float) -> float | None:
        return bucket_quantile(q, self.bounds, self.counts)

    def to_json(self) -> dict[str, object]:
        return {
            "tool": self.tool,
            "callsPerSecond": round(self.calls_per_s, 4),
            "errorsPerSecond": round(self.errors_per_s, 4),
            "errorRatio": None if self.error_ratio is None else round(self.error_ratio, 4),
            "calls": self.calls,
            "errors": self.errors,
            "p50Seconds": _round(self.quantile(0.5)),
            "p95Seconds": _round(self.quantile(0.95)),
            "p99Seconds": _round(self.quantile(0.99)),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


@dataclass
class RateWindow:
    """What happened between two scrapes of one pod (or, summed, of all pods)."""

    seconds: float
    tools: dict[str, ToolRates] = field(default_factory=dict)
    sessions: float | None = None
    in_flight: float | None = None
    cpu_cores: float | None = None
    rss_bytes: float | None = None
    counter_rates: dict[str, float] = field(default_factory=dict)  # generic series → per second
    gauges: dict[str, float] = field(default_factory=dict)

    @property
    def calls_per_s(self) -> float:
        return sum(t.calls_per_s for t in self.tools.values())

    @property
    def errors_per_s(self) -> float:
        return sum(t.errors_per_s for t in self.tools.values())

    @property
    def error_ratio(self) -> float | None:
        calls = sum(t.calls for t in self.tools.values())
        return sum(t.errors for t in self.tools.values()) / calls if calls else None

    def to_json(self) -> dict[str, object]:
        return {
            "windowSeconds": round(self.seconds, 3),
            "callsPerSecond": round(self.calls_per_s, 4),
            "errorsPerSecond": round(self.errors_per_s, 4),
            "errorRatio": None if self.error_ratio is None else round(self.error_ratio, 4),
            "activeSessions": self.sessions,
            "inFlight": self.in_flight,
            "cpuCores": None if self.cpu_cores is None else round(self.cpu_cores, 4),
            "residentMemoryBytes": self.rss_bytes,
            "tools": [t.to_json() for _, t in sorted(self.tools.items())],
        }


def _bucket_increase(previous: list[float], current: list[float], restarted: bool) -> list[float]:
    """Per-bucket increase; any bucket going down means the process restarted: the new counts are it."""
    if restarted or len(previous) != len(current):
        return current
    grown = list(map(sub, current, previous))
    if grown and min(grown) < 0:
        return current
    return grown


def pod_window(previous: PodScrape, current: PodScrape, seconds: float) -> RateWindow:
    window = RateWindow(
        seconds=seconds,
        sessions=current.sessions,
        in_flight=current.in_flight,
        rss_bytes=current.rss_bytes,
        gauges=dict(current.gauges),
    )
    per_s = 1.0 / seconds if seconds > 0 else 0.0
    if current.cpu_seconds is not None and previous.cpu_seconds is not None:
        window.cpu_cores = increase(previous.cpu_seconds, current.cpu_seconds) * per_s
    restarted = (
        previous.start_time is not None and current.start_time is not None and current.start_time != previous.start_time
    )
    # Both scrapes' numbers are flat arrays placed by their layouts; scrapes of one shape share the
    # layout object, so the previous tool's slots are the current ones (no lookup by name).
    now, before = current.values, previous.values
    layout = current.layout
    if layout is previous.layout and not restarted:
        start, stop = layout.tool_span
        deltas = list(map(sub, now[start:stop], before[start:stop]))
        if not deltas or min(deltas) >= 0:  # the usual round: every tool counter grew or stood still
            _grown_tools(window, layout.tools, [0.0] * start + deltas, per_s)
            _counter_rates(window, previous, current, per_s)
            return window
    old_tools = previous.layout.tools
    for name, slots in layout.tools.items():
        old = slots if layout is previous.layout else old_tools.get(name)
        calls = errors = 0.0
        if old is not None:  # first sight of a tool: no window yet
            old_calls = old.calls
            for outcome, slot in slots.calls.items():
                old_slot = old_calls.get(outcome)
                prior = 0.0 if old_slot is None else before[old_slot]
                value = now[slot]
                grown = value if restarted or value < prior else value - prior
                calls += grown
                if outcome in ERROR_OUTCOMES:
                    errors += grown
        rates = ToolRates(name, calls * per_s, errors * per_s, calls, errors)
        if old is not None and (calls or restarted):  # no call in the window: no observation either
            rates.bounds = slots.bounds
            rates.counts = _bucket_increase(old.counts(before), slots.counts(now), restarted)
        window.tools[name] = rates
    _counter_rates(window, previous, current, per_s)
    return window


def _grown_tools(window: RateWindow, tools: dict[str, ToolSlots], grown: list[float], per_s: float) -> None:
    """Same shape, no restart, no counter went down: every increase is a plain difference, `grown`
    (slot by slot), so each tool picks its slots out of it (what pod_window's general loop gives then)."""
    into = window.tools
    for name, slots in tools.items():
        calls = sum(slots.pick_calls(grown), 0.0)
        errors = sum(slots.pick_errors(grown), 0.0)
        rates = into[name] = ToolRates(name, calls * per_s, errors * per_s, calls, errors)
        if calls:
            rates.bounds = slots.bounds
            rates.counts = slots.counts(grown)


def _counter_rates(window: RateWindow, previous: PodScrape, current: PodScrape, per_s: float) -> None:
    for series, value in current.counters.items():
        prior_value = previous.counters.get(series)
        if prior_value is not None:
            window.counter_rates[series] = increase(prior_value, value) * per_s


def sum_windows(windows: list[RateWindow]) -> RateWindow:
    """The deployment as a whole: rates and bucket increases add up; so do sessions, CPU, memory."""
    total = RateWindow(seconds=max((w.seconds for w in windows), default=0.0))
    counts: dict[str, list[float]] = {}  # per tool, summed bucket increases
    bounds: dict[str, tuple[float, ...]] = {}
    for window in windows:
        for name, rates in window.tools.items():
            into = total.tools.get(name)
            if into is None:
                into = total.tools[name] = ToolRates(name)
            into.calls_per_s += rates.calls_per_s
            into.errors_per_s += rates.errors_per_s
            into.calls += rates.calls
            into.errors += rates.errors
            increase_ = rates.counts
            if not increase_:
                continue
            summed = counts.get(name)
            if summed is None:
                bounds[name] = rates.bounds
                counts[name] = list(increase_)
            elif len(summed) == len(increase_):
                counts[name] = list(map(add, summed, increase_))
        for attr in ("sessions", "in_flight", "cpu_cores", "rss_bytes"):
            value = getattr(window, attr)
            if value is not None:
                setattr(total, attr, (getattr(total, attr) or 0.0) + value)
        for series, rate in window.counter_rates.items():
            total.counter_rates[series] = total.counter_rates.get(series, 0.0) + rate
        for series, value in window.gauges.items():
            total.gauges[series] = total.gauges.get(series, 0.0) + value
    for name, summed in counts.items():
        total.tools[name].bounds = bounds[name]
        total.tools[name].counts = summed
    return total
