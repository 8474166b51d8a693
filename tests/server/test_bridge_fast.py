"""The bridge's fast paths (bridge.fast, bridge.coalesce, batched child writes) skip work, never checks.

- `plain_modern_meta` accepts only what the SDK's `classify_inbound_request` ladder routes, checked over
  every combination of well-formed and broken envelopes, routing headers and body values;
- through a real bridge (mcp-server-time child), a malformed 2026-07-28 request gets exactly the SDK
  ladder's answer (HTTP status, JSON-RPC code, message, data), and the well-formed ones are served;
- `CoalescingTransport` holds a response's writes and sends them as one, on a real socket;
- many concurrent calls on the shared child (batched stdin writes) each get their own answer;
- requests of one event-loop turn reach a child in one write(), a request larger than the pipe is
  written whole while the loop goes on, and a child that is gone fails later requests at once.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import itertools
import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aksmcp_server.bridge.child import Child, ChildExited
from aksmcp_server.bridge.coalesce import CoalescingTransport
from aksmcp_server.bridge.fast import plain_modern_meta
from conftest import RunningServer
from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS, InboundLadderRejection, classify_inbound_request
from test_bridge import _start_bridge
from tools import require_tool

MODERN = "2026-07-28"
TOOL = "get_current_time"
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
}


def call(params: Any, method: str = "tools/call", request_id: int = 7) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


def routing(version: str | None = MODERN, method: str | None = "tools/call", name: str | None = TOOL) -> dict[str, str]:
    out = {"mcp-protocol-version": version, "mcp-method": method, "mcp-name": name}
    return {k: v for k, v in out.items() if v is not None}


def b64(text: str) -> str:
    return "=?base64?" + base64.b64encode(text.encode()).decode() + "?="


# ------------------------------------------------------------------ the exact-match test vs the ladder --

META_VARIANTS: list[Any] = [
    ENVELOPE,
    {k: v for k, v in ENVELOPE.items() if "clientInfo" not in k},
    {k: v for k, v in ENVELOPE.items() if "clientCapabilities" not in k},
    {k: v for k, v in ENVELOPE.items() if "protocolVersion" not in k},
    {**ENVELOPE, "io.modelcontextprotocol/protocolVersion": "2025-11-25"},
    {**ENVELOPE, "io.modelcontextprotocol/protocolVersion": 20260728},
    {**ENVELOPE, "io.modelcontextprotocol/protocolVersion": None},
    {**ENVELOPE, "progressToken": 3},
    [ENVELOPE],
    None,
    "x",
]
NAME_VARIANTS: list[Any] = [TOOL, "other_tool", None, 5, "zoë"]
HEADER_VARIANTS: list[dict[str, str]] = [
    routing(),
    routing(name=None),
    routing(name="other_tool"),
    routing(name=b64(TOOL)),
    routing(name="=?base64?not-base64?="),
    routing(name="zoë".encode().decode("latin-1")),
    routing(name=b64("zoë")),
    routing(method="tools/list"),
    routing(method=None),
    routing(version="2025-11-25"),
    routing(version="2099-01-01"),
    routing(version=None),
]


def _cases() -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    for meta, name, headers in itertools.product(META_VARIANTS, NAME_VARIANTS, HEADER_VARIANTS):
        params: dict[str, Any] = {"arguments": {"timezone": "UTC"}}
        if name is not None:
            params["name"] = name
        if meta is not None:
            params["_meta"] = meta
        yield call(params), headers
    for params in (None, [1], "x", {"_meta": ENVELOPE}):
        yield call(params), routing()
    yield call({"_meta": ENVELOPE}, method="tools/list"), routing(method="tools/list", name=None)
    yield (
        call({"uri": "file:///a", "_meta": ENVELOPE}, method="resources/read"),
        routing(method="resources/read", name="file:///a"),
    )
    yield (
        call({"uri": "file:///a", "_meta": ENVELOPE}, method="resources/read"),
        routing(method="resources/read", name="file:///b"),
    )
    yield call({"_meta": ENVELOPE}, method=5), routing()  # type: ignore[arg-type]


def test_the_exact_match_accepts_only_what_the_sdk_ladder_routes() -> None:
    accepted = 0
    for message, headers in _cases():
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        meta = plain_modern_meta(message, dict(raw), raw)
        verdict = classify_inbound_request(message, headers=headers)
        if meta is not None:
            accepted += 1
            assert not isinstance(verdict, InboundLadderRejection), (message, headers, verdict)
            assert meta is message["params"]["_meta"]
    # The common request shapes do take the fast path (else it would be dead code, not a fast path).
    assert accepted >= 8


def test_a_repeated_header_is_left_to_the_ladder() -> None:
    message = call({"name": TOOL, "arguments": {}, "_meta": ENVELOPE})
    raw = [(k.encode(), v.encode()) for k, v in routing().items()]
    assert plain_modern_meta(message, dict(raw), raw) is ENVELOPE
    doubled = [*raw, (b"mcp-method", b"tools/call")]
    assert plain_modern_meta(message, dict(doubled), doubled) is None


# ------------------------------------------------------------------ through a real bridge --


@pytest.fixture(scope="module")
def time_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    workspace: Path = tmp_path_factory.mktemp("bridge-fast")
    server = _start_bridge(workspace, [require_tool("mcp-server-time"), "--local-timezone", "UTC"])
    yield server
    server.stop()


def raw_post(server: RunningServer, body: Any, headers: list[tuple[str, str]]) -> tuple[int, dict[str, Any]]:
    """POST with exactly these headers (repeats kept), as http.client sends them."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        data = json.dumps(body).encode()
        connection.putrequest("POST", "/mcp")
        for name, value in [
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
            ("Content-Length", str(len(data))),
            *headers,
        ]:
            connection.putheader(name, value.encode("utf-8"))
        connection.endheaders(data)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


MALFORMED: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("no _meta", {"name": TOOL, "arguments": {}}, routing()),
    ("_meta not an object", {"name": TOOL, "arguments": {}, "_meta": [1]}, routing()),
    ("no capabilities", {"name": TOOL, "arguments": {}, "_meta": META_VARIANTS[2]}, routing()),
    ("no version in the body", {"name": TOOL, "arguments": {}, "_meta": META_VARIANTS[3]}, routing()),
    ("versions disagree", {"name": TOOL, "arguments": {}, "_meta": META_VARIANTS[4]}, routing()),
    ("version not a string", {"name": TOOL, "arguments": {}, "_meta": META_VARIANTS[5]}, routing()),
    ("method header disagrees", {"name": TOOL, "arguments": {}, "_meta": ENVELOPE}, routing(method="tools/list")),
    ("no method header", {"name": TOOL, "arguments": {}, "_meta": ENVELOPE}, routing(method=None)),
    ("name header disagrees", {"name": TOOL, "arguments": {}, "_meta": ENVELOPE}, routing(name="other_tool")),
    ("no name header", {"name": TOOL, "arguments": {}, "_meta": ENVELOPE}, routing(name=None)),
    ("broken base64 name", {"name": TOOL, "arguments": {}, "_meta": ENVELOPE}, routing(name="=?base64?@@?=")),
]


@pytest.mark.parametrize(("label", "params", "headers"), MALFORMED, ids=[case[0] for case in MALFORMED])
def test_malformed_requests_get_the_sdk_ladders_answer(
    time_bridge: RunningServer, label: str, params: dict[str, Any], headers: dict[str, str]
) -> None:
    message = call(params)
    verdict = classify_inbound_request(message, headers=headers)
    assert isinstance(verdict, InboundLadderRejection), label
    status, answer = raw_post(time_bridge, message, list(headers.items()))
    assert status == ERROR_CODE_HTTP_STATUS.get(verdict.code, 400)
    expected: dict[str, Any] = {"code": verdict.code, "message": verdict.message}
    if verdict.data is not None:
        expected["data"] = verdict.data
    assert answer == {"jsonrpc": "2.0", "id": 7, "error": expected}


def test_a_repeated_routing_header_is_refused(time_bridge: RunningServer) -> None:
    message = call({"name": TOOL, "arguments": {}, "_meta": ENVELOPE})
    status, answer = raw_post(time_bridge, message, [*routing().items(), ("Mcp-Method", "tools/call")])
    assert status == 400
    assert answer["error"]["code"] == -32020
    assert "mcp-method" in answer["error"]["message"]


@pytest.mark.parametrize("name_header", [TOOL, b64(TOOL)], ids=["plain", "base64"])
def test_well_formed_requests_are_served(time_bridge: RunningServer, name_header: str) -> None:
    message = call({"name": TOOL, "arguments": {"timezone": "UTC"}, "_meta": ENVELOPE})
    status, answer = raw_post(time_bridge, message, list(routing(name=name_header).items()))
    assert status == 200, answer
    result = answer["result"]
    assert result["isError"] is False
    assert json.loads(result["content"][0]["text"])["timezone"] == "UTC"
    assert result["resultType"] == "complete"


async def test_concurrent_calls_on_the_shared_child_each_get_their_own_answer(time_bridge: RunningServer) -> None:
    # Calls that arrive in one event-loop step go to the child in one write; each must still be answered
    # under its own id with its own arguments.
    zones = ["UTC", "Europe/Paris", "Asia/Tokyo", "America/New_York", "Australia/Sydney", "Africa/Cairo"] * 4

    async def one(index: int, zone: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", time_bridge.port)
        try:
            body = json.dumps(
                call({"name": TOOL, "arguments": {"timezone": zone}, "_meta": ENVELOPE}, request_id=index)
            )
            head = "".join(
                f"{k}: {v}\r\n"
                for k, v in {
                    "Host": f"127.0.0.1:{time_bridge.port}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "Content-Length": str(len(body)),
                    **routing(),
                }.items()
            )
            writer.write(f"POST /mcp HTTP/1.1\r\n{head}\r\n{body}".encode())
            status_line = await reader.readuntil(b"\r\n")
            assert b" 200 " in status_line
            headers = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
            length = int(headers.split("content-length:")[1].split("\r\n")[0])
            answer = json.loads(await reader.readexactly(length))
            assert answer["id"] == index
            assert json.loads(answer["result"]["content"][0]["text"])["timezone"] == zone
        finally:
            writer.close()

    async with asyncio.timeout(30):
        await asyncio.gather(*(one(i, zone) for i, zone in enumerate(zones)))


# ------------------------------------------------------------------ one send per response --


async def test_coalescing_transport_sends_a_response_as_one_write() -> None:
    loop = asyncio.get_running_loop()
    ours, peer = socket.socketpair()
    peer.setblocking(False)
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    try:
        coalescing = CoalescingTransport(transport, loop)  # type: ignore[arg-type]
        coalescing.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n")
        coalescing.write(b"body")
        with pytest.raises(BlockingIOError):
            peer.recv(1024)  # held: nothing has been sent yet
        coalescing.flush()  # what the protocol does when the response is complete
        assert peer.recv(1024) == b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody"
        # A stream's event goes out at the end of the loop step even without the response ending.
        coalescing.write(b"event: message\n\n")
        async with asyncio.timeout(5):
            assert await loop.sock_recv(peer, 1024) == b"event: message\n\n"
        coalescing.write(b"last")
        coalescing.close()  # nothing written is lost by a close
        async with asyncio.timeout(5):
            assert await loop.sock_recv(peer, 1024) == b"last"
    finally:
        transport.close()
        peer.close()


# ------------------------------------------------------------------ batched writes to the child --

# A raw stdio child that answers every request with the ids of the requests that came in the same read().
_READS_CHILD = """
import json, os, sys
pending = b""
while chunk := os.read(0, 1 << 22):
    pending += chunk
    *lines, pending = pending.split(b"\\n")
    messages = [json.loads(line) for line in lines if line.strip()]
    together = [m["id"] for m in messages if "id" in m]
    for m in messages:
        if "id" not in m:
            continue
        if m["method"] == "initialize":
            result = {"protocolVersion": m["params"]["protocolVersion"], "capabilities": {},
                      "serverInfo": {"name": "reads", "version": "0"}}
        else:
            result = {"together": together, "size": len(json.dumps(m["params"]))}
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": result}) + "\\n")
        sys.stdout.flush()
"""


async def _reads_child() -> Child:
    child = Child([sys.executable, "-c", _READS_CHILD], label="reads", on_message=lambda _child, _message: None)
    await child.start({}, {"name": "test", "version": "0"}, timeout=30)
    return child


async def test_requests_of_one_loop_turn_reach_the_child_in_one_write() -> None:
    child = await _reads_child()
    try:
        begun = [child.begin({"jsonrpc": "2.0", "id": f"c{n}", "method": "tools/list", "params": {}}) for n in range(3)]
        async with asyncio.timeout(30):
            answers = [await future for _, future in begun]
        child_ids = [child_id for child_id, _ in begun]
        for answer in answers:
            assert set(child_ids) <= set(answer["result"]["together"])  # one read() carried all three
        # Each answer is still its own request's (the child saw bridge ids; the caller maps them back).
        assert [answer["id"] for answer in answers] == child_ids
        # A request sent in a later turn travels on its own.
        later_id, later = child.begin({"jsonrpc": "2.0", "id": "later", "method": "tools/list", "params": {}})
        async with asyncio.timeout(30):
            assert (await later)["result"]["together"] == [later_id]
    finally:
        await child.close(grace=5)


async def test_a_request_larger_than_the_pipe_is_written_whole_without_blocking_the_loop() -> None:
    child = await _reads_child()
    try:
        big = {"name": "x", "arguments": {"blob": "z" * (3 << 20)}}  # the pipe holds 64 KiB
        big_id, big_answer = child.begin({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": big})
        small_id, small_answer = child.begin({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        ticks = 0
        while not big_answer.done():  # the loop keeps turning while the pipe drains
            ticks += 1
            await asyncio.sleep(0.001)
            assert ticks < 30_000, "no answer within 30 s"
        assert ticks > 0
        assert big_answer.result()["result"]["size"] == len(json.dumps(big))
        async with asyncio.timeout(30):
            assert (await small_answer)["id"] == small_id
        assert big_answer.result()["id"] == big_id
    finally:
        await child.close(grace=5)


async def test_a_child_that_is_gone_fails_later_requests_at_once() -> None:
    child = await _reads_child()
    try:
        assert child.proc is not None
        child.proc.kill()
        async with asyncio.timeout(30):
            await child.exited.wait()
        with pytest.raises(ChildExited):
            child.begin({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
    finally:
        await child.close(grace=5)
