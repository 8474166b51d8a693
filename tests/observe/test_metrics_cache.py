"""The parse caches (series → meaning, text shape → layout, value text → float) change cost, never results:
a line seen before is not parsed again by prometheus_client's parser, a changed one is."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from aksmcp_tui.core.observe import metrics_parse
from aksmcp_tui.core.observe.metrics_aggregate import pod_window
from aksmcp_tui.core.observe.metrics_parse import parse_scrape

_unique = itertools.count()


@pytest.fixture
def reference_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every sample line that goes through the reference parser (the real one, recorded on the way)."""
    seen: list[str] = []
    real = metrics_parse._parse_line

    def recording(type_line: str, line: str) -> tuple[tuple[int, Any, Any], float]:
        seen.append(line)
        return real(type_line, line)

    monkeypatch.setattr(metrics_parse, "_parse_line", recording)
    yield seen


def exposition(name: str, ok: float, slow: float, depth: str = "7", kind: str = "gauge") -> str:
    """Names no other test uses: the caches are per process, so each test starts from a cold shape."""
    return (
        f"# HELP {name}_total Requests.\n# TYPE {name}_total counter\n"
        f'{name}_total{{code="200"}} {ok}\n{name}_total{{code="500"}} {slow}\n'
        f"# TYPE {name}_depth {kind}\n{name}_depth {depth}\n"
    )


def test_unchanged_lines_are_not_parsed_again_a_changed_one_is(reference_lines: list[str]) -> None:
    name = f"cache{next(_unique)}"
    first = parse_scrape(exposition(name, 10, 2))
    assert len(reference_lines) == 3  # cold: every series once through the reference parser
    second = parse_scrape(exposition(name, 30, 2, depth="9"))
    assert len(reference_lines) == 3  # same shape, new values: nothing parsed again
    assert second.layout is first.layout
    assert second.counters == {f'{name}_total{{code="200"}}': 30.0, f'{name}_total{{code="500"}}': 2.0}
    assert second.gauges == {f"{name}_depth": 9.0}
    assert pod_window(first, second, 10.0).counter_rates[f'{name}_total{{code="200"}}'] == 2.0

    changed = exposition(name, 31, 2).replace('code="500"', 'code="503"')
    third = parse_scrape(changed)
    assert reference_lines[3:] == [f'{name}_total{{code="503"}} 2']  # only the new series
    assert third.layout is not first.layout
    assert third.counters == {f'{name}_total{{code="200"}}': 31.0, f'{name}_total{{code="503"}}': 2.0}


def test_a_text_differing_only_in_comments_gets_its_own_shape() -> None:
    """The shape check covers every non-sample line verbatim, not only the sample lines' heads."""
    name = f"cache{next(_unique)}"
    plain = parse_scrape(exposition(name, 1, 1))
    helped = parse_scrape(exposition(name, 1, 1).replace("Requests.", "Calls."))  # same line heads
    assert helped.layout.heads == plain.layout.heads and helped.layout is not plain.layout
    assert helped.layout.fixed[0] == f"# HELP {name}_total Calls." and helped.counters == plain.counters


def test_values_float_reads_specially_are_read_the_same_from_a_known_shape() -> None:
    name = f"cache{next(_unique)}"
    parse_scrape(exposition(name, 1, 1))
    for text, expected in (("+Inf", float("inf")), ("1e3", 1000.0), ("-0.5", -0.5)):
        assert parse_scrape(exposition(name, 1, 1, depth=text)).gauges == {f"{name}_depth": expected}
    nan = parse_scrape(exposition(name, 1, 1, depth="NaN")).gauges[f"{name}_depth"]
    assert nan != nan  # NaN
    with pytest.raises(ValueError):
        parse_scrape(exposition(name, 1, 1, depth="deep"))


def test_a_counter_going_down_within_one_shape_counts_as_a_restart_per_series() -> None:
    """Same shape, same start time (the fast path's case), yet one tool's counters dropped."""
    tool = f"t{next(_unique)}"

    def server(ok: int, le_small: int) -> str:
        return (
            "# TYPE mcp_tool_calls_total counter\n"
            f'mcp_tool_calls_total{{outcome="ok",tool="{tool}"}} {ok}.0\n'
            "# TYPE mcp_tool_call_duration_seconds histogram\n"
            f'mcp_tool_call_duration_seconds_bucket{{le="0.1",tool="{tool}"}} {le_small}.0\n'
            f'mcp_tool_call_duration_seconds_bucket{{le="+Inf",tool="{tool}"}} {ok}.0\n'
            f'mcp_tool_call_duration_seconds_count{{tool="{tool}"}} {ok}.0\n'
        )

    before, grew, dropped = parse_scrape(server(10, 8)), parse_scrape(server(14, 9)), parse_scrape(server(3, 3))
    assert before.layout is grew.layout is dropped.layout
    rates = pod_window(before, grew, 2.0).tools[tool]
    assert rates.calls == 4 and rates.bucket_increase == [(0.1, 1.0), (float("inf"), 4.0)]
    reset = pod_window(grew, dropped, 2.0).tools[tool]
    assert reset.calls == 3 and reset.bucket_increase == [(0.1, 3.0), (float("inf"), 3.0)]
