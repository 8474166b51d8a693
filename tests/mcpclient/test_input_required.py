"""Elicitation and sampling in 2026-07-28 (multi-round-trip requests) through the console core and the CLI.

The zoo's resolver tools make the SDK server answer `resultType: "input_required"` with `inputRequests` and a
`requestState`; the client must retry the same method with a new id, the original params, `inputResponses`
and the echoed state. On 2025-11-25 the same tools send a standalone server-to-client request instead.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
import pytest

from aksmcp_tui.core.mcpclient import ConsoleError, McpSession, parse_target, resolve_endpoint
from aksmcp_tui.core.mcpclient.capture import TrafficEntry
from aksmcp_tui.core.mcpclient.session import INPUT_ROUNDS_MAX
from tests.mcpclient.conftest import Served

CAPS = "io.modelcontextprotocol/clientCapabilities"


class Answers:
    """A scripted user: what it was asked, and what it answers."""

    def __init__(self, action: str = "accept", reply: str = "pods in a row") -> None:
        self.action = action
        self.reply = reply
        self.elicited: list[types.ElicitRequestParams] = []
        self.sampled: list[types.CreateMessageRequestParams] = []

    async def elicit(self, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.elicited.append(params)
        content = {"approve": True, "note": "ship it", "sure": True} if self.action == "accept" else None
        return types.ElicitResult(action=self.action, content=content)  # type: ignore[arg-type]

    async def sample(self, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        self.sampled.append(params)
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=self.reply), model="scripted"
        )


async def _session(url: str, protocol: str, answers: Answers | None) -> McpSession:
    endpoint = await resolve_endpoint(parse_target(url))
    if answers is None:
        return McpSession(endpoint, protocol=protocol)
    return McpSession(endpoint, protocol=protocol, elicitation=answers.elicit, sampling=answers.sample)


def _calls(entries: list[TrafficEntry]) -> list[TrafficEntry]:
    return [e for e in entries if e.method == "tools/call"]


def _answer_to(entries: list[TrafficEntry], request: TrafficEntry) -> TrafficEntry:
    return next(e for e in entries if e.direction == "in" and e.method is None and e.id == request.id)


async def test_elicitation_round_trip_in_2026(zoo: Served) -> None:
    answers = Answers()
    async with await _session(zoo.url, "2026-07-28", answers) as session:
        outcome = await session.call_tool("approve", {"change": "rollout v2"})
        entries = list(session.traffic)
    assert outcome.ok, outcome.error
    assert outcome.result is not None and "rollout v2: approve=True note=ship it" in str(outcome.result.content)
    assert [p.message for p in answers.elicited] == ["Approve rollout v2?"]
    first, retry = _calls(entries)
    # the first call advertises what the console can answer, in the 2026-07-28 per-request _meta
    caps = first.payload["params"]["_meta"][CAPS]
    assert "elicitation" in caps and "sampling" in caps
    asked = _answer_to(entries, first)
    result = asked.payload["result"]
    assert result["resultType"] == "input_required" and asked.label == "input_required"
    (key, request) = next(iter(result["inputRequests"].items()))
    assert request["method"] == "elicitation/create" and request["params"]["message"] == "Approve rollout v2?"
    # the retry: a new id, the same method and params, the answers under the server's key, the state echoed
    assert retry.id != first.id and retry.label == "tools/call (retry)"
    params = retry.payload["params"]
    assert params["name"] == "approve" and params["arguments"] == {"change": "rollout v2"}
    assert params["inputResponses"] == {
        key: {"action": "accept", "content": {"approve": True, "note": "ship it", "sure": True}}
    }
    assert params["requestState"] == result["requestState"]
    final = _answer_to(entries, retry).payload["result"]
    assert final["resultType"] == "complete" and final["isError"] is False


async def test_sampling_round_trip_in_2026(zoo: Served) -> None:
    answers = Answers(reply="a pod in the night")
    async with await _session(zoo.url, "2026-07-28", answers) as session:
        outcome = await session.call_tool("limerick", {"topic": "nodes"})
        entries = list(session.traffic)
    assert outcome.ok and outcome.result is not None
    assert "model wrote: a pod in the night" in str(outcome.result.content)
    assert str(answers.sampled[0].messages[0].content.text) == "A limerick about nodes"  # type: ignore[union-attr]
    first, retry = _calls(entries)
    request = next(iter(_answer_to(entries, first).payload["result"]["inputRequests"].values()))
    assert request["method"] == "sampling/createMessage"
    (response,) = retry.payload["params"]["inputResponses"].values()
    assert response["content"] == {"type": "text", "text": "a pod in the night"} and response["role"] == "assistant"


@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_decline_and_cancel_reach_the_tool(zoo: Served, action: str) -> None:
    async with await _session(zoo.url, "2026-07-28", Answers(action)) as session:
        outcome = await session.call_tool("approve", {"change": "drop db"})
        retry = _calls(list(session.traffic))[-1]
    assert outcome.result is not None and f"drop db: user said {action}" in str(outcome.result.content)
    (response,) = retry.payload["params"]["inputResponses"].values()
    assert response == {"action": action}


async def test_the_same_tools_in_2025_use_server_to_client_requests(zoo: Served) -> None:
    answers = Answers()
    async with await _session(zoo.url, "2025-11-25", answers) as session:
        approved = await session.call_tool("approve", {"change": "v3"})
        written = await session.call_tool("limerick", {"topic": "etcd"})
        entries = list(session.traffic)
    assert approved.ok and "v3: approve=True" in str(approved.result.content)  # type: ignore[union-attr]
    assert written.ok and "model wrote: pods in a row" in str(written.result.content)  # type: ignore[union-attr]
    assert {"elicitation/create", "sampling/createMessage"} <= {e.method for e in entries if e.direction == "in"}
    assert len(_calls(entries)) == 2  # no retries in this revision


async def test_a_server_that_keeps_asking_hits_the_round_cap(zoo: Served) -> None:
    answers = Answers()
    async with await _session(zoo.url, "2026-07-28", answers) as session:
        outcome = await session.call_tool("nag", {})
        assert outcome.error is not None and outcome.exit_code == 1
        assert f"still wanted input after {INPUT_ROUNDS_MAX} rounds" in outcome.error.message
        assert "went away" not in outcome.error.message
        calls = _calls(list(session.traffic))
        assert len(calls) == INPUT_ROUNDS_MAX + 1 and len({c.id for c in calls}) == len(calls)
        assert len(answers.elicited) == INPUT_ROUNDS_MAX
        # only that request was abandoned: the session goes on
        again = await session.call_tool("approve", {"change": "after"})
        assert again.ok


@pytest.mark.parametrize("protocol", ["2026-07-28", "2025-11-25"])
async def test_a_client_that_cannot_ask_says_so(zoo: Served, protocol: str) -> None:
    async with await _session(zoo.url, protocol, None) as session:
        outcome = await session.call_tool("approve", {"change": "x"})
        sampled = await session.call_tool("limerick", {"topic": "x"})
        entries = list(session.traffic)
    assert outcome.error is not None and outcome.exit_code == 1 and outcome.error.code == -32021
    assert "elicitation" in outcome.error.message and "no one to ask" in outcome.error.message
    assert "aksmcp console" in outcome.error.message
    assert sampled.error is not None and "sampling" in sampled.error.message
    if protocol == "2026-07-28":  # nothing advertised that the client cannot answer
        caps: dict[str, Any] = _calls(entries)[0].payload["params"]["_meta"][CAPS]
        assert "elicitation" not in caps and "sampling" not in caps


def test_headless_call_of_a_tool_that_asks(zoo: Served, capsys: pytest.CaptureFixture[str]) -> None:
    from aksmcp_tui.cli import main

    code = main(["call", zoo.url, "approve", "--arg", "change=v9"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "no one to ask" in err and "aksmcp console" in err and "Traceback" not in err


async def test_no_handlers_no_capabilities_in_2025_initialize(zoo: Served) -> None:
    async with await _session(zoo.url, "2025-11-25", None) as session:
        init = next(e for e in session.traffic if e.method == "initialize")
    assert "elicitation" not in init.payload["params"]["capabilities"]
    assert "sampling" not in init.payload["params"]["capabilities"]
    async with await _session(zoo.url, "2025-11-25", Answers()) as session:
        init = next(e for e in session.traffic if e.method == "initialize")
    assert {"elicitation", "sampling"} <= set(init.payload["params"]["capabilities"])


async def test_pinning_2026_asks_server_discover(zoo: Served, noncompliant: Served) -> None:
    """A pin must not leave the session with the SDK's empty stand-in for the server's capabilities."""
    async with await _session(zoo.url, "2026-07-28", None) as session:
        assert session.traffic.methods("out")[0] == "server/discover"
        assert session.server_info is not None and session.server_info.name == "zoo"
        assert session.capabilities.tools is not None and session.instructions
    with pytest.raises(ConsoleError) as refused:
        async with await _session(noncompliant.url, "2026-07-28", None):
            pass
    assert "does not speak 2026-07-28: server/discover answered" in refused.value.message
    assert "--protocol auto" in refused.value.message
