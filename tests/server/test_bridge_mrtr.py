"""The bridge relays sampling, elicitation and logging to 2026-07-28 clients (MRTR on leased children),
and the 2025-11-25 pass-throughs of elicitation and resource updates.

The official SDK `Client(mode="2026-07-28")` with its callbacks against tests/server/bridge_child.py (SDK,
stdio), the third-party `@modelcontextprotocol/server-everything` from npm, and
tests/server/modern_only_child.py (a server that produces `input_required` itself); raw HTTP where the
wire shapes themselves are the point (requestState binding, single use, expiry).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from conftest import RunningServer
from mcp import Client, MCPError
from mcp_types import (
    CreateMessageResult,
    ElicitResult,
    ListRootsResult,
    LoggingMessageNotificationParams,
    ResourceUpdatedNotification,
    Root,
    TextContent,
)
from test_bridge import (
    CHILD_COMMAND,
    WAIT_S,
    StartBridge,
    _start_bridge,
    initialize_message,
    metric,
    post,
    text_of,
    wait_log,
)
from test_bridge import start_bridge as start_bridge  # the fixture
from tools import require_tool

MODERN = "2026-07-28"
INPUT_TIMEOUT_S = "3"


@pytest.fixture(scope="module")
def mrtr_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One bridge over the SDK test child; a short input timeout so the abandoned-lease test is quick."""
    workspace = tmp_path_factory.mktemp("mrtr-workspace")
    server = _start_bridge(
        workspace, CHILD_COMMAND, ["--pool-size", "6"], {"AKSMCP_BRIDGE_INPUT_TIMEOUT_SECONDS": INPUT_TIMEOUT_S}
    )
    yield server
    server.stop()


def modern_post(
    server: RunningServer,
    request_id: int,
    method: str,
    params: dict[str, Any],
    capabilities: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """One raw 2026-07-28 request (envelope and routing headers as the SDK client sends them)."""
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
    if capabilities is not None:
        meta["io.modelcontextprotocol/clientCapabilities"] = capabilities
    headers = {"MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if "name" in params:
        headers["Mcp-Name"] = params["name"]
    message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**params, "_meta": meta}}
    status, _, body = post(server, message, headers)
    assert body is not None
    return status, body


def answered(text: str) -> CreateMessageResult:
    return CreateMessageResult(role="assistant", content=TextContent(type="text", text=text), model="test-model")


# ------------------------------------------------------------------ SDK clients, our SDK child --


async def test_modern_client_gets_elicitation_sampling_and_its_log_lines(mrtr_bridge: RunningServer) -> None:
    """Two elicitation rounds, a sampling round and log lines in one tool call: every request of the
    child reaches the client through `input_required`, and only log lines at or above its level arrive."""
    questions: list[str] = []
    prompts: list[str] = []
    logs: list[tuple[str, Any]] = []
    answers = iter(["alice", "the grail"])

    async def elicit(context: Any, params: Any) -> ElicitResult:
        questions.append(params.message)
        return ElicitResult(action="accept", content={"answer": next(answers)})

    async def sample(context: Any, params: Any) -> CreateMessageResult:
        prompts.append(params.messages[0].content.text)
        return answered("moon")

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logs.append((params.level, params.data))

    async with Client(
        mrtr_bridge.url,
        mode=MODERN,
        elicitation_callback=elicit,
        sampling_callback=sample,
        logging_callback=on_log,
        log_level="warning",
    ) as client:
        assert client.protocol_version == MODERN
        result = await client.call_tool("interview", {})
    assert text_of(result) == "alice/moon/the grail"
    assert questions == ["name?", "quest?"]
    assert prompts == ["rhyme?"]
    assert logs == [("warning", "got alice")]  # the debug line is below the requested level
    assert metric(mrtr_bridge, "mcp_tool_calls_total", 'outcome="ok",tool="interview"') == 1


async def test_modern_client_answers_roots_list(mrtr_bridge: RunningServer) -> None:
    asked: list[int] = []

    async def list_roots(context: Any) -> ListRootsResult:
        asked.append(1)
        return ListRootsResult(roots=[Root(uri="file:///work/repo", name="repo")])

    async with Client(mrtr_bridge.url, mode=MODERN, list_roots_callback=list_roots) as client:
        assert text_of(await client.call_tool("roots", {})) == "file:///work/repo"
    assert asked == [1]
    async with Client(mrtr_bridge.url, mode=MODERN) as plain:  # declares no roots: the shared child refuses
        with pytest.raises(MCPError) as refused:
            await plain.call_tool("roots", {})
        assert "roots/list is not available" in refused.value.error.message


async def test_two_modern_clients_eliciting_at_once_see_only_their_own_questions(mrtr_bridge: RunningServer) -> None:
    questions: dict[str, list[str]] = {"a": [], "b": []}
    logs: dict[str, list[Any]] = {"a": [], "b": []}
    both_asked = anyio.Event()

    def callbacks(name: str) -> dict[str, Any]:
        async def elicit(context: Any, params: Any) -> ElicitResult:
            questions[name].append(params.message)
            if questions["a"] and questions["b"]:
                both_asked.set()
            with anyio.fail_after(WAIT_S):
                await both_asked.wait()  # both calls are waiting for input at the same time
            return ElicitResult(action="accept", content={"answer": f"{name} says yes"})

        async def on_log(params: LoggingMessageNotificationParams) -> None:
            logs[name].append(params.data)

        return {"elicitation_callback": elicit, "logging_callback": on_log, "log_level": "info"}

    results: dict[str, str] = {}
    async with (
        Client(mrtr_bridge.url, mode=MODERN, **callbacks("a")) as a,
        Client(mrtr_bridge.url, mode=MODERN, **callbacks("b")) as b,
    ):

        async def run(name: str, client: Client) -> None:
            results[name] = text_of(await client.call_tool("confirm", {"question": f"for {name}?"}))
            results[f"{name}-log"] = text_of(await client.call_tool("shout", {"text": f"line for {name}"}))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(run, "a", a)
            tasks.start_soon(run, "b", b)
    assert questions == {"a": ["for a?"], "b": ["for b?"]}
    assert results["a"] == "accept: a says yes" and results["b"] == "accept: b says yes"
    assert logs == {"a": ["line for a"], "b": ["line for b"]}


async def test_a_log_level_alone_gets_the_calls_log_lines(mrtr_bridge: RunningServer) -> None:
    logs: list[Any] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    async with Client(mrtr_bridge.url, mode=MODERN, logging_callback=on_log) as quiet:
        assert text_of(await quiet.call_tool("shout", {"text": "unasked"})) == "logged"
    assert logs == []  # no logLevel, no log lines (the shared child's are dropped)
    async with Client(mrtr_bridge.url, mode=MODERN, logging_callback=on_log, log_level="debug") as client:
        assert text_of(await client.call_tool("shout", {"text": "asked for"})) == "logged"
    assert logs == ["asked for"]


# ------------------------------------------------------------------ the wire: requestState --


async def test_request_state_is_bound_single_use_and_refused_when_foreign(mrtr_bridge: RunningServer) -> None:
    can_elicit = {"elicitation": {}}
    status, body = modern_post(mrtr_bridge, 1, "tools/call", confirm_params("raw?"), can_elicit)
    assert status == 200, body
    result = body["result"]
    assert result["resultType"] == "input_required"
    ((key, asked),) = result["inputRequests"].items()
    assert asked["method"] == "elicitation/create" and asked["params"]["message"] == "raw?"
    state = result["requestState"]
    assert isinstance(state, str) and len(state) >= 40
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "bridge-test-child"
    reply = {key: {"action": "accept", "content": {"answer": "fine"}}}

    def retry(request_id: int, params: dict[str, Any], token: str) -> tuple[int, dict[str, Any]]:
        params = {**params, "inputResponses": reply, "requestState": token}
        return modern_post(mrtr_bridge, request_id, "tools/call", params, can_elicit)

    for params, token in (
        (confirm_params("other arguments?"), state),  # bound to the call's arguments
        (confirm_params("raw?"), state[:-2] + "xx"),  # a guessed or altered state
    ):
        status, body = retry(2, params, token)
        assert status == 400 and body["id"] == 2
        assert body["error"]["code"] == -32602 and body["error"]["message"] == "Invalid or expired requestState"
    # The refusals did not burn the real state: the owner's retry completes the call.
    status, body = retry(3, confirm_params("raw?"), state)
    assert status == 200 and body["id"] == 3
    assert body["result"]["resultType"] == "complete"
    assert body["result"]["content"][0]["text"] == "accept: fine"
    # Single use: a replay is refused.
    status, body = retry(4, confirm_params("raw?"), state)
    assert status == 400 and body["error"]["message"] == "Invalid or expired requestState"


def confirm_params(question: str) -> dict[str, Any]:
    return {"name": "confirm", "arguments": {"question": question}}


async def test_a_client_that_never_retries_loses_its_lease_and_the_child_is_reused(
    mrtr_bridge: RunningServer,
) -> None:
    can_elicit = {"elicitation": {"form": {}}}
    status, body = modern_post(mrtr_bridge, 1, "tools/call", {"name": "whoami", "arguments": {}}, can_elicit)
    assert status == 200 and body["result"]["resultType"] == "complete"
    leased_pid = body["result"]["content"][0]["text"]
    starts = metric(mrtr_bridge, "mcp_bridge_child_starts_total", 'kind="input"')
    status, body = modern_post(mrtr_bridge, 2, "tools/call", confirm_params("abandoned?"), can_elicit)
    assert body["result"]["resultType"] == "input_required"
    state = body["result"]["requestState"]
    # Nobody retries: after the input timeout the call is cancelled on the child ...
    await wait_log(mrtr_bridge, "confirm cancelled abandoned?")
    expired = await wait_log(mrtr_bridge, "input request expired: the client never retried")
    assert expired["timeout_s"] == float(INPUT_TIMEOUT_S)
    # ... a late retry is refused ...
    retry = {**confirm_params("abandoned?"), "requestState": state, "inputResponses": {}}
    status, body = modern_post(mrtr_bridge, 3, "tools/call", retry, can_elicit)
    assert status == 400 and body["error"]["message"] == "Invalid or expired requestState"
    # ... and the child went back to the pool: the next call runs on it, no child was started.
    status, body = modern_post(mrtr_bridge, 4, "tools/call", {"name": "whoami", "arguments": {}}, can_elicit)
    assert body["result"]["content"][0]["text"] == leased_pid
    assert metric(mrtr_bridge, "mcp_bridge_child_starts_total", 'kind="input"') == starts


async def test_closing_a_rounds_stream_cancels_the_leased_call(mrtr_bridge: RunningServer) -> None:
    """2026-07-28: closing the response stream is the cancellation, on a leased child too; the child
    goes back to the pool and serves the next call."""

    async def elicit(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="decline")

    async with Client(mrtr_bridge.url, mode=MODERN, elicitation_callback=elicit) as client:
        pid = text_of(await client.call_tool("whoami", {}))
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(client.call_tool, "slow", {"seconds": 60, "tag": "leased"})
                started = await wait_log(mrtr_bridge, "slow started leased")
                scope.cancel()
        assert started["session"].startswith("input-")  # it ran on a leased child
        await wait_log(mrtr_bridge, "slow cancelled leased")
        assert text_of(await client.call_tool("whoami", {})) == pid
        assert text_of(await client.call_tool("confirm", {"question": "after?"})) == "decline"


async def test_a_request_the_client_did_not_declare_fails_the_call_not_the_bridge(mrtr_bridge: RunningServer) -> None:
    """A client that can sample but not elicit: the child (initialized without elicitation, but the SDK
    asks anyway) gets a JSON-RPC error from the bridge, and the client sees the call fail saying why."""
    async with Client(mrtr_bridge.url, mode=MODERN, sampling_callback=lambda c, p: _answer_async("x")) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("confirm", {"question": "can you?"})
        assert refused.value.error.message == "the client did not declare the elicitation capability"
        assert text_of(await client.call_tool("ask", {"question": "still there?"})) == "x"


async def _answer_async(text: str) -> CreateMessageResult:
    return answered(text)


# ------------------------------------------------------------------ third-party and modern children --


async def test_server_everything_elicits_samples_and_logs_through_the_bridge(start_bridge: StartBridge) -> None:
    """@modelcontextprotocol/server-everything (npm) registers its eliciting and sampling tools only for a
    client that declares those capabilities: a 2026-07-28 client that does sees them and they work."""
    server = start_bridge([require_tool("mcp-server-everything"), "stdio"], ["--pool-size", "4"])
    questions: list[str] = []
    prompts: list[str] = []
    logs: list[str] = []

    async def elicit(context: Any, params: Any) -> ElicitResult:
        questions.append(params.message)
        return ElicitResult(action="accept", content={"name": "Ada Lovelace", "check": True, "integer": 7})

    async def sample(context: Any, params: Any) -> CreateMessageResult:
        prompts.append(params.messages[0].content.text)
        return answered("sampled by the test")

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logs.append(str(params.data))

    async with Client(server.url, mode=MODERN) as plain:
        plain_tools = {tool.name for tool in (await plain.list_tools()).tools}
    assert "echo" in plain_tools and "trigger-elicitation-request" not in plain_tools
    async with Client(
        server.url,
        mode=MODERN,
        elicitation_callback=elicit,
        sampling_callback=sample,
        logging_callback=on_log,
        log_level="debug",
    ) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"trigger-elicitation-request", "trigger-sampling-request"} <= tools
        elicited = text_of(await client.call_tool("trigger-elicitation-request", {}))
        assert "Ada Lovelace" in elicited
        assert questions == ["Please provide inputs for the following fields:"]
        sampled = text_of(await client.call_tool("trigger-sampling-request", {"prompt": "hello", "maxTokens": 5}))
        assert "sampled by the test" in sampled
        assert prompts == ["Resource trigger-sampling-request context: hello"]
        started = text_of(await client.call_tool("toggle-simulated-logging", {}))
        assert started.startswith("Started simulated")
    assert any("-level message" in line or "level-message" in line for line in logs), logs


async def test_a_modern_childs_own_input_required_passes_through(start_bridge: StartBridge) -> None:
    server = start_bridge([sys.executable, str(Path(__file__).with_name("modern_only_child.py"))])
    questions: list[str] = []

    async def elicit(context: Any, params: Any) -> ElicitResult:
        questions.append(params.message)
        return ElicitResult(action="accept", content={"answer": "loud and clear"})

    async with Client(server.url, mode=MODERN, elicitation_callback=elicit) as client:
        assert text_of(await client.call_tool("ask", {})) == "modern heard loud and clear"
    assert questions == ["modern asks"]


# ------------------------------------------------------------------ 2025-11-25 pass-throughs --


async def test_elicitation_reaches_a_legacy_session(mrtr_bridge: RunningServer) -> None:
    questions: list[str] = []

    async def elicit(context: Any, params: Any) -> ElicitResult:
        questions.append(params.message)
        return ElicitResult(action="accept", content={"answer": "legacy yes"})

    async with Client(mrtr_bridge.url, mode="legacy", elicitation_callback=elicit) as client:
        assert client.protocol_version == "2025-11-25"
        assert text_of(await client.call_tool("confirm", {"question": "legacy?"})) == "accept: legacy yes"
    assert questions == ["legacy?"]


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")
async def test_resource_updates_reach_only_their_legacy_session(mrtr_bridge: RunningServer) -> None:
    updates: dict[str, list[str]] = {"a": [], "b": []}
    arrived = {"a": anyio.Event(), "b": anyio.Event()}

    def handler(name: str) -> Any:
        async def on_message(message: Any) -> None:
            if isinstance(message, ResourceUpdatedNotification):
                updates[name].append(str(message.params.uri))
                arrived[name].set()

        return on_message

    async with (
        Client(mrtr_bridge.url, mode="legacy", message_handler=handler("a")) as a,
        Client(mrtr_bridge.url, mode="legacy", message_handler=handler("b")) as b,
    ):
        await a.subscribe_resource("note://shared")
        await b.subscribe_resource("note://shared")
        assert text_of(await a.call_tool("set_note", {"name": "shared", "text": "by a"})) == "noted"
        with anyio.fail_after(WAIT_S):
            await arrived["a"].wait()
        assert text_of(await b.call_tool("set_note", {"name": "shared", "text": "by b"})) == "noted"
        with anyio.fail_after(WAIT_S):
            await arrived["b"].wait()
        # One more round trip each: anything misrouted would have arrived by now.
        assert text_of(await a.call_tool("echo", {"text": "a"})) == "a"
        assert text_of(await b.call_tool("echo", {"text": "b"})) == "b"
    assert updates == {"a": ["note://shared"], "b": ["note://shared"]}


async def test_listen_resource_subscriptions_reach_only_their_listener(mrtr_bridge: RunningServer) -> None:
    async with (
        Client(mrtr_bridge.url, mode=MODERN) as first,
        Client(mrtr_bridge.url, mode=MODERN) as second,
        Client(mrtr_bridge.url, mode=MODERN) as actor,
        first.listen(resource_subscriptions=["note://x"]) as on_x,
        second.listen(resource_subscriptions=["note://y"]) as on_y,
    ):
        assert text_of(await actor.call_tool("set_note", {"name": "y", "text": "1"})) == "noted"
        with anyio.fail_after(WAIT_S):
            event_y = await on_y.__anext__()
        assert text_of(await actor.call_tool("set_note", {"name": "x", "text": "2"})) == "noted"
        with anyio.fail_after(WAIT_S):
            event_x = await on_x.__anext__()  # had "y" reached this listener, it would come first
    assert getattr(event_y, "uri", None) == "note://y"
    assert getattr(event_x, "uri", None) == "note://x"


async def test_leased_children_share_the_pool_cap_with_sessions(start_bridge: StartBridge) -> None:
    """--pool-size bounds sessions and leased children together: an idle leased child gives its slot to
    a new session, and a call that needs a child of its own at the cap gets a clear 503."""
    server = start_bridge(args=["--pool-size", "1"])
    can_elicit = {"elicitation": {}}
    status, body = modern_post(server, 1, "tools/call", {"name": "whoami", "arguments": {}}, can_elicit)
    assert status == 200 and body["result"]["resultType"] == "complete"
    assert metric(server, "mcp_bridge_children", 'kind="input"') == 1  # warm, idle, kept for the next call
    status, headers, session = post(server, initialize_message())
    assert status == 200 and headers.get("mcp-session-id"), session
    # The idle leased child was retired to make room (its close runs in the background).
    deadline = time.monotonic() + WAIT_S
    while metric(server, "mcp_bridge_children", 'kind="input"') != 0:
        assert time.monotonic() < deadline, "the idle leased child kept its slot"
        await anyio.sleep(0.05)
    status, body = modern_post(server, 2, "tools/call", {"name": "whoami", "arguments": {}}, can_elicit)
    assert status == 503 and body["id"] == 2 and body["error"]["code"] == -32000
    assert "--pool-size 1" in body["error"]["message"] and body["error"]["data"] == {"poolSize": 1}
    # A call that needs nothing of the client still runs on the shared child.
    status, body = modern_post(server, 3, "tools/call", {"name": "echo", "arguments": {"text": "shared"}})
    assert status == 200 and body["result"]["content"][0]["text"] == "shared"
