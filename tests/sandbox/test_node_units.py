"""Small pure pieces of the node: crash back-off, log timestamps and records, port parsing."""

from __future__ import annotations

import pytest

from aksmcp_tui.sandbox.node.container import Backoff
from aksmcp_tui.sandbox.node.logs import parse_records, parse_time_ns, rfc3339nano


def test_crash_back_off_is_immediate_then_doubles_to_the_cap_and_resets() -> None:
    backoff = Backoff(base=10, maximum=300)
    delays = [backoff.next_delay(ran_for=1) for _ in range(8)]
    assert delays == [0, 10, 20, 40, 80, 160, 300, 300]
    assert backoff.next_delay(ran_for=600) == 0  # ran 2 x max without crashing: start over
    assert backoff.next_delay(ran_for=1) == 10


def test_pull_back_off_doubles() -> None:
    backoff = Backoff(base=1, maximum=5)
    assert [backoff.pull_delay() for _ in range(5)] == [1, 2, 4, 5, 5]


def test_rfc3339nano_round_trips_and_accepts_other_rfc3339_forms() -> None:
    ns = 1_700_000_000_123_456_789
    text = rfc3339nano(ns)
    assert text == "2023-11-14T22:13:20.123456789Z"
    assert parse_time_ns(text) == ns
    assert parse_time_ns("2023-11-14T22:13:20Z") == 1_700_000_000_000_000_000
    assert parse_time_ns("2023-11-14T23:13:20.5+01:00") == 1_700_000_000_500_000_000
    with pytest.raises(ValueError):
        parse_time_ns("yesterday")


def test_log_records_keep_stream_and_text_with_spaces() -> None:
    data = b"2023-11-14T22:13:20.000000001Z stdout hello  world\n2023-11-14T22:13:20.000000002Z stderr oops\n"
    records = parse_records(data)
    assert [(r.stream, r.text) for r in records] == [("stdout", b"hello  world"), ("stderr", b"oops")]
    assert records[1].time_ns - records[0].time_ns == 1
