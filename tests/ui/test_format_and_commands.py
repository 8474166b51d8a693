"""Pure helpers of the UI: kubectl-style ages, health words, the `:` command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aksmcp_tui.ui.command_line import CommandError, parse_command
from aksmcp_tui.ui.format import format_age, health_class, health_label

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=-5), "<invalid>"),
        (timedelta(seconds=0), "0s"),
        (timedelta(seconds=119), "119s"),
        (timedelta(minutes=5), "5m"),
        (timedelta(minutes=5, seconds=3), "5m3s"),
        (timedelta(minutes=30, seconds=40), "30m"),
        (timedelta(hours=3, minutes=20), "3h20m"),
        (timedelta(hours=12), "12h"),
        (timedelta(days=3, hours=4), "3d4h"),
        (timedelta(days=30), "30d"),
        (timedelta(days=365 * 3 + 10), "3y10d"),
        (timedelta(days=365 * 9), "9y"),
    ],
)
def test_ages_read_like_kubectl(delta: timedelta, text: str) -> None:
    assert format_age(NOW - delta, NOW) == text


def test_unknown_creation_time_is_a_dash() -> None:
    assert format_age(None, NOW) == "—"


def test_naive_times_are_taken_as_utc() -> None:
    assert format_age(datetime(2025, 12, 31, 23, 59, 0), NOW) == "60s"


def test_health_words_and_classes() -> None:
    assert health_label("scaled-down") == "Scaled down"
    assert health_label("healthy") == "Healthy"
    assert health_class("scaled-down") == "scaled-down"
    assert health_class("SCALED_DOWN") == "scaled-down"


@pytest.mark.parametrize(
    ("line", "kind", "argument"),
    [
        (":ctx prod", "context", "prod"),
        ("context  prod ", "context", "prod"),
        ("ns mcp-system", "namespace", "mcp-system"),
        ("ns all", "namespace", None),
        ("deploy", "deployments", None),
        ("dp", "deployments", None),
        ("?", "help", None),
        ("q", "quit", None),
        ("logs", "logs", None),
        ("metrics", "metrics", None),
        ("console", "console", None),
    ],
)
def test_command_line(line: str, kind: str, argument: str | None) -> None:
    jump = parse_command(line)
    assert (jump.kind, jump.argument) == (kind, argument)


@pytest.mark.parametrize(
    ("line", "says"), [("", "Type a command"), ("frob", "Unknown command :frob"), ("ctx", "needs")]
)
def test_command_line_explains_mistakes(line: str, says: str) -> None:
    with pytest.raises(CommandError, match=says):
        parse_command(line)


def test_initial_target_is_the_current_context_then_the_sandbox() -> None:
    from pathlib import Path

    from aksmcp_tui.ui.targets import ClusterTarget, TargetList

    prod = ClusterTarget("prod", is_current=True)
    dev = ClusterTarget("dev")
    merged_sandbox = ClusterTarget("aksmcp-sandbox")  # a stale copy merged into ~/.kube/config
    sandbox = ClusterTarget("aksmcp-sandbox", str(Path("/state/kubeconfig")), origin="sandbox")
    assert TargetList((dev, prod), None, None).initial() == prod
    assert TargetList((dev,), sandbox, None).initial() == sandbox
    assert TargetList((), None, None).initial() is None
    targets = TargetList((dev, merged_sandbox), sandbox, None)
    assert targets.find("aksmcp-sandbox") == sandbox
    assert targets.find("dev") == dev and targets.find("nope") is None
