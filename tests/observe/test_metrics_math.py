"""Parsing and aggregation on exposition text the real server wrote (aksmcp_server.metrics.Metrics)."""

from __future__ import annotations

import pytest
from aksmcp_server.metrics import Metrics

from aksmcp_tui.core.observe.metrics_aggregate import increase, pod_window, sum_windows
from aksmcp_tui.core.observe.metrics_parse import histogram_quantile, parse_scrape


def server_text(calls: dict[tuple[str, str], list[float]], tools: tuple[str, ...] = ("a", "b")) -> str:
    """Exposition of a real Metrics object after recording the given (tool, outcome) → durations."""
    metrics = Metrics(tools)
    for (tool, outcome), durations in calls.items():
        for seconds in durations:
            metrics.record_tool_call(tool, outcome, seconds)
    return metrics.render().decode()


def test_parse_reads_tools_outcomes_buckets_and_process_metrics() -> None:
    scrape = parse_scrape(server_text({("a", "ok"): [0.003] * 3, ("a", "tool_error"): [0.2]}))
    assert scrape.known
    assert scrape.tools["a"].calls == {"ok": 3.0, "tool_error": 1.0, "protocol_error": 0.0}
    assert scrape.tools["a"].buckets[-1] == (float("inf"), 4.0)
    assert scrape.tools["b"].total == 0 and scrape.tools["unknown"].total == 0
    assert scrape.in_flight == 0 and scrape.sessions == 0
    assert scrape.cpu_seconds is not None and scrape.rss_bytes and scrape.start_time
    assert "mcp_fast_path_calls_total" in scrape.counters  # generic counters (tool series are read per tool)
    assert "mcp_tool_calls_total" not in str(scrape.counters)


def test_any_prometheus_server_is_read_generically() -> None:
    text = (
        "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n"
        'http_requests_total{code="200"} 10\nhttp_requests_total{code="500"} 2\n'
        "# TYPE queue_depth gauge\nqueue_depth 7\n"
    )
    before = parse_scrape(text)
    after = parse_scrape(text.replace("} 10", "} 30"))
    assert not before.known
    window = pod_window(before, after, 10.0)
    assert window.counter_rates['http_requests_total{code="200"}'] == 2.0
    assert window.counter_rates['http_requests_total{code="500"}'] == 0.0
    assert window.gauges["queue_depth"] == 7
    with pytest.raises(ValueError):
        parse_scrape("this is { not prometheus")
    with pytest.raises(ValueError):
        parse_scrape(text.replace("} 10", "} ten"))  # a known series with a broken value: parsed again, rejected


def test_quantiles_interpolate_like_prometheus() -> None:
    buckets = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (float("inf"), 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.3)
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.75)
    assert histogram_quantile(0.5, [(1.0, 0.0), (float("inf"), 0.0)]) is None
    assert histogram_quantile(0.99, [(1.0, 1.0), (float("inf"), 10.0)]) == 1.0  # +Inf: its lower bound


def test_rates_errors_quantiles_between_two_scrapes() -> None:
    first = parse_scrape(server_text({("a", "ok"): [0.003] * 10}))
    second = parse_scrape(
        server_text({("a", "ok"): [0.003] * 10 + [0.3] * 8, ("a", "tool_error"): [0.3] * 2, ("b", "ok"): [0.02]})
    )
    window = pod_window(first, second, 5.0)
    a = window.tools["a"]
    assert a.calls == 10 and a.errors == 2 and a.calls_per_s == pytest.approx(2.0)
    assert a.error_ratio == pytest.approx(0.2)
    assert 0.25 < (a.quantile(0.5) or 0) <= 0.5  # only the 0.3 s calls are in this window
    assert window.tools["b"].calls == 1 and window.error_ratio == pytest.approx(2 / 11)


def test_counter_reset_is_never_negative_and_vanished_pods_leave_the_sum() -> None:
    assert increase(100.0, 3.0) == 3.0 and increase(3.0, 5.0) == 2.0 and increase(None, 5.0) == 0.0
    before = parse_scrape(server_text({("a", "ok"): [0.01] * 50}))
    after_restart = parse_scrape(server_text({("a", "ok"): [0.01] * 4}))
    window = pod_window(before, after_restart, 2.0)
    assert window.tools["a"].calls == 4 and window.tools["a"].calls_per_s == 2.0
    assert all(count >= 0 for _, count in window.tools["a"].bucket_increase)
    assert (window.cpu_cores or 0) >= 0

    other = pod_window(parse_scrape(server_text({})), parse_scrape(server_text({("a", "ok"): [0.01] * 6})), 2.0)
    total = sum_windows([window, other])
    assert total.tools["a"].calls == 10 and total.calls_per_s == pytest.approx(5.0)
    assert sum_windows([other]).tools["a"].calls == 6  # the restarted pod gone: only the other remains
