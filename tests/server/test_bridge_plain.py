"""The bridge's plain path (bridge.plain, bridge.coalesce): a 2025-11-25 request answered without uvicorn's
per-request machinery must be answered exactly as the ASGI path answers it, and everything it does not
take must reach the ASGI path untouched.

Real bridge processes over tests/server/bridge_child.py, API-key auth on, raw HTTP/1.1 on sockets (the
framing is what is under test: content-length, chunked event streams, pipelining, connection close).
`mcp_fast_path_calls_total` counts the tools/call requests the plain path answered, which is how a test
knows which path served it.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import API_KEY, RunningServer
from test_bridge import CHILD_COMMAND, _start_bridge, metric

LEGACY = "2025-11-25"
PREVIOUS_KEY = "previous-key-0123456789abcdef"
FAST = "mcp_fast_path_calls_total"
TIMEOUT_S = 20.0
OpenSession = Callable[..., dict[str, str]]


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes, chunked: bool) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.chunked = chunked

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line[6:]) for line in self.body.decode().splitlines() if line.startswith("data: ")]


class Raw:
    """One keep-alive HTTP/1.1 connection to the bridge, written and read by hand."""

    def __init__(self, server: RunningServer) -> None:
        self.host_port = server.base.split("//", 1)[1]
        host, port = self.host_port.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=TIMEOUT_S)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def request_bytes(
        self,
        message: Any,
        headers: dict[str, str],
        *,
        version: str = "1.1",
        path: str = "/mcp",
        raw: bytes | None = None,
    ) -> bytes:
        body = raw if raw is not None else json.dumps(message).encode()
        all_headers = {
            "Host": self.host_port,
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "Content-Length": str(len(body)),
            **headers,
        }
        head = f"POST {path} HTTP/{version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in all_headers.items())
        return head.encode("latin-1") + b"\r\n" + body

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_bodiless(self, method: str, headers: dict[str, str]) -> None:
        """A GET or DELETE to /mcp."""
        all_headers = {"Host": self.host_port, **headers}
        head = f"{method} /mcp HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in all_headers.items())
        self.send(head.encode("latin-1") + b"\r\n")

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the bridge closed the connection")
        self.buffer += data

    def _take_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        part, self.buffer = self.buffer.split(marker, 1)
        return part

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        part, self.buffer = self.buffer[:size], self.buffer[size:]
        return part

    def read(self) -> Response:
        head = self._take_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ")[1])
        headers: dict[str, str] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            assert name.lower() not in headers, f"{name} sent twice"
            headers[name.lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            parts = []
            while size := int(self._take_until(b"\r\n").split(b";")[0], 16):
                parts.append(self._take(size))
                assert self._take(2) == b"\r\n"
            assert self._take(2) == b"\r\n"
            return Response(status, headers, b"".join(parts), True)
        return Response(status, headers, self._take(int(headers.get("content-length", "0"))), False)

    def call(self, message: Any, headers: dict[str, str], **options: Any) -> Response:
        self.send(self.request_bytes(message, headers, **options))
        return self.read()

    def closed_by_peer(self) -> bool:
        self.sock.settimeout(TIMEOUT_S)
        return self.buffer == b"" and self.sock.recv(1) == b""


def rpc(method: str, params: dict[str, Any] | None = None, request_id: Any = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def echo(text: str, request_id: Any = 1) -> dict[str, Any]:
    return rpc("tools/call", {"name": "echo", "arguments": {"text": text}}, request_id)


def text_of(answer: dict[str, Any]) -> str:
    return "".join(c["text"] for c in answer["result"]["content"] if c["type"] == "text")


def open_session(server: RunningServer, key: str = API_KEY) -> dict[str, str]:
    """The headers of a new 2025-11-25 session's requests (the handshake goes through the ASGI path)."""
    auth = {"Authorization": f"Bearer {key}"}
    raw = Raw(server)
    try:
        params = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
        answer = raw.call(rpc("initialize", params, 0), auth)
        assert answer.status == 200, answer.body
        headers = {**auth, "Mcp-Session-Id": answer.headers["mcp-session-id"], "MCP-Protocol-Version": LEGACY}
        assert raw.call({"jsonrpc": "2.0", "method": "notifications/initialized"}, headers).status == 202
        return headers
    finally:
        raw.close()


def start(workspace: Path, tmp_path: Path, env: dict[str, str] | None = None) -> RunningServer:
    """A bridge taking API_KEY, and PREVIOUS_KEY as the key a rotation is retiring."""
    key_file, previous_file = tmp_path / "api-key", tmp_path / "previous-api-key"
    key_file.write_text(API_KEY)
    previous_file.write_text(PREVIOUS_KEY)
    for path in (key_file, previous_file):
        path.chmod(0o600)
    return _start_bridge(
        workspace,
        CHILD_COMMAND,
        ["--auth", "apikey", "--api-key-file", str(key_file), "--pool-size", "8"],
        {"AKSMCP_API_KEY_PREVIOUS_FILE": str(previous_file), **(env or {})},
    )


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("plain")
    server = start(tmp, tmp)
    yield server
    server.stop()


@pytest.fixture
def raw(bridge: RunningServer) -> Iterator[Raw]:
    connection = Raw(bridge)
    yield connection
    connection.close()


@pytest.fixture
def session(bridge: RunningServer) -> Iterator[OpenSession]:
    """Opens 2025-11-25 sessions on the shared bridge (`session(key=...)`) and ends them afterwards, so
    the tests never fill its pool."""
    opened: list[dict[str, str]] = []

    def open_one(key: str = API_KEY) -> dict[str, str]:
        opened.append(open_session(bridge, key))
        return opened[-1]

    yield open_one
    closer = Raw(bridge)
    try:
        for headers in opened:
            closer.send_bodiless("DELETE", headers)
            closer.read()  # 200, or 404 for a session a test has ended itself
    finally:
        closer.close()


def fast_calls(server: RunningServer) -> float:
    return metric(server, FAST)


def test_the_plain_path_answers_as_the_asgi_path_does(bridge: RunningServer, raw: Raw, session: OpenSession) -> None:
    headers = session()
    before = fast_calls(bridge)
    plain = raw.call(echo("héllo", "str-id"), headers)
    assert fast_calls(bridge) == before + 1
    # HTTP/1.0 is never taken by the plain path: the same request, answered by uvicorn and the ASGI app.
    old_client = Raw(bridge)
    try:
        general = old_client.call(echo("héllo", "str-id"), headers, version="1.0")
    finally:
        old_client.close()
    assert fast_calls(bridge) == before + 1
    for answer in (plain, general):
        assert answer.status == 200 and not answer.chunked
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["id"] == "str-id" and text_of(answer.json()) == "héllo"
    assert plain.json() == general.json()
    assert set(plain.headers) == set(general.headers) - {"connection"}  # date, content-type, -length, x-request-id
    assert plain.headers["x-request-id"] != general.headers["x-request-id"]
    # A caller's own request id is kept, as on the ASGI path.
    assert raw.call(echo("x"), {**headers, "X-Request-Id": "trace-123"}).headers["x-request-id"] == "trace-123"
    record = bridge.wait_for_log(lambda e: e.get("msg") == "request" and e.get("request_id") == "trace-123")
    assert record["mcp_method"] == "tools/call" and record["path"] == "/mcp" and record["status"] == 200


def test_what_the_plain_path_declines_gets_the_asgi_paths_answer(
    bridge: RunningServer, raw: Raw, session: OpenSession
) -> None:
    headers = session()
    auth_only = {"Authorization": headers["Authorization"]}
    before = fast_calls(bridge)
    cases: list[tuple[dict[str, Any], dict[str, Any], int]] = [
        ({**headers, "Authorization": "Bearer wrong"}, {}, 401),
        ({k: v for k, v in headers.items() if k != "Authorization"}, {}, 401),
        ({**headers, "Origin": "https://evil.example"}, {}, 403),
        ({**headers, "Host": "evil.example"}, {}, 421),
        ({**headers, "Mcp-Session-Id": "no-such-session"}, {}, 404),
        ({**headers, "MCP-Protocol-Version": "1999-01-01"}, {}, 400),
        (auth_only, {}, 400),  # no session
        (headers, {"raw": b"{not json"}, 400),
    ]
    for request_headers, options, status in cases:
        answer = raw.call(echo("declined"), request_headers, **options)
        assert answer.status == status, (request_headers, options, answer.body)
        assert answer.headers["x-request-id"]
    assert raw.call(echo("declined"), headers, path="/mcp?x=1").status == 200  # a query string: the ASGI path
    assert fast_calls(bridge) == before
    assert raw.call(rpc("ping", request_id=9), headers).json() == {"jsonrpc": "2.0", "id": 9, "result": {}}
    assert raw.call(echo("taken"), headers).status == 200
    assert fast_calls(bridge) == before + 1
    assert metric(bridge, "mcp_http_requests_in_flight") == 0


def test_a_session_answers_only_the_credential_that_opened_it(
    bridge: RunningServer, raw: Raw, session: OpenSession
) -> None:
    # Both keys are valid (a rotation in progress), and each is its own principal, as in the reference
    # server: a session opened with one is not found with the other, on either path, nor by GET or DELETE.
    mine = session(PREVIOUS_KEY)
    theirs = {**mine, "Authorization": f"Bearer {API_KEY}"}
    before = fast_calls(bridge)
    refused = raw.call(echo("not yours"), theirs)
    assert refused.status == 404 and refused.json()["error"]["message"] == "Session not found"
    assert fast_calls(bridge) == before
    for method in ("GET", "DELETE"):
        raw.send_bodiless(method, {"Accept": "text/event-stream", **theirs})
        assert raw.read().status == 404, method
    answer = raw.call(echo("mine"), mine)
    assert answer.status == 200 and text_of(answer.json()) == "mine"
    assert fast_calls(bridge) == before + 1

    # One warning per refused request (POST, GET, DELETE), though the POST was looked at by both paths.
    def refusals() -> int:
        return sum(
            1
            for e in bridge.log_entries()
            if str(e.get("msg", "")).startswith("refused a request for a session")
            and e.get("session") == mine["Mcp-Session-Id"][:8]
        )

    deadline = time.monotonic() + TIMEOUT_S
    while refusals() < 3:
        assert time.monotonic() < deadline, "the refusals were not logged"
        time.sleep(0.05)
    assert refusals() == 3


def test_a_body_over_the_plain_limit_is_streamed_to_uvicorn(
    bridge: RunningServer, raw: Raw, session: OpenSession
) -> None:
    headers = session()
    before = fast_calls(bridge)
    text = "y" * (300 * 1024)  # over bridge.coalesce.PLAIN_BODY_LIMIT, under the body cap
    answer = raw.call(echo(text), headers)
    assert answer.status == 200 and text_of(answer.json()) == text
    assert fast_calls(bridge) == before


def test_progress_turns_a_plain_answer_into_an_event_stream(
    bridge: RunningServer, raw: Raw, session: OpenSession
) -> None:
    headers = session()
    before = fast_calls(bridge)
    params = {"name": "slow", "arguments": {"seconds": 0.2, "tag": "plain-progress"}, "_meta": {"progressToken": "p"}}
    answer = raw.call(rpc("tools/call", params, 5), headers)
    assert fast_calls(bridge) == before + 1
    assert answer.status == 200 and answer.chunked
    assert answer.headers["content-type"] == "text/event-stream" and answer.headers["x-request-id"]
    events = answer.events()
    progress = [e for e in events if e.get("method") == "notifications/progress"]
    assert [e["params"]["progress"] for e in progress] == [0, 1, 2, 3]
    assert {e["params"]["progressToken"] for e in progress} == {"p"}  # the client's own token, not the child's
    assert events[-1]["id"] == 5 and text_of(events[-1]) == "slept 0.2 (plain-progress)"
    # A client that takes no event stream gets plain JSON, progress or not.
    json_only = raw.call(rpc("tools/call", params, 6), {**headers, "Accept": "application/json"})
    assert not json_only.chunked and json_only.json()["id"] == 6


def test_pipelined_requests_are_answered_in_order(bridge: RunningServer, raw: Raw, session: OpenSession) -> None:
    headers = session()
    slow = rpc("tools/call", {"name": "slow", "arguments": {"seconds": 0.3, "tag": "first"}}, "a")
    raw.send(raw.request_bytes(slow, headers) + raw.request_bytes(echo("second", "b"), headers))
    first, second = raw.read(), raw.read()
    assert first.json()["id"] == "a" and text_of(first.json()) == "slept 0.3 (first)"
    assert second.json()["id"] == "b" and text_of(second.json()) == "second"
    assert raw.call(echo("after", "c"), headers).json()["id"] == "c"  # and the connection goes on


def test_a_client_that_leaves_mid_call_does_not_disturb_the_bridge(
    bridge: RunningServer, raw: Raw, session: OpenSession
) -> None:
    headers = session()
    leaving = Raw(bridge)
    slow = rpc("tools/call", {"name": "slow", "arguments": {"seconds": 0.3, "tag": "left"}}, 1)
    leaving.send(leaving.request_bytes(slow, headers))
    bridge.wait_for_log(lambda e: "slow started left" in str(e.get("line", "")))
    leaving.close()
    # 2025-11-25: a disconnect is not a cancellation; the call finishes and its answer is dropped.
    bridge.wait_for_log(lambda e: "slow finished left" in str(e.get("line", "")))
    deadline = time.monotonic() + TIMEOUT_S
    while metric(bridge, "mcp_http_requests_in_flight") != 0:
        assert time.monotonic() < deadline, "the call that lost its client is still counted in flight"
        time.sleep(0.05)
    assert text_of(raw.call(echo("still here"), headers).json()) == "still here"


def test_a_cancelled_plain_call_ends_without_an_answer(bridge: RunningServer, raw: Raw, session: OpenSession) -> None:
    headers = session()
    slow = rpc("tools/call", {"name": "slow", "arguments": {"seconds": 5, "tag": "cancel-me"}}, 77)
    raw.send(raw.request_bytes(slow, {**headers, "Accept": "application/json"}))
    bridge.wait_for_log(lambda e: "slow started cancel-me" in str(e.get("line", "")))
    other = Raw(bridge)
    try:
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 77}}
        assert other.call(cancel, headers).status == 202
    finally:
        other.close()
    answer = raw.read()
    assert answer.status == 202 and answer.body == b""  # no answer: the client resolves it locally
    bridge.wait_for_log(lambda e: "slow cancelled cancel-me" in str(e.get("line", "")))


def test_a_child_crash_fails_the_plain_call_clearly(bridge: RunningServer, raw: Raw, session: OpenSession) -> None:
    headers = session()
    answer = raw.call(rpc("tools/call", {"name": "crash", "arguments": {}}, 3), headers)
    assert answer.status == 200
    error = answer.json()["error"]
    assert answer.json()["id"] == 3 and error["code"] == -32603
    assert "being restarted" in error["message"] and error["data"]["exitStatus"] == 3
    # The next request finds no live child: the plain path declines it and the ASGI path starts a new one.
    before = fast_calls(bridge)
    assert text_of(raw.call(echo("revived"), headers).json()) == "revived"
    assert fast_calls(bridge) == before
    assert text_of(raw.call(echo("plain again"), headers).json()) == "plain again"
    assert fast_calls(bridge) == before + 1


def test_sigterm_lets_a_plain_call_finish_then_closes_its_connection(tmp_path: Path) -> None:
    server = start(tmp_path, tmp_path, {"AKSMCP_GRACE_SECONDS": "20"})
    raw = Raw(server)
    try:
        headers = open_session(server)
        slow = rpc("tools/call", {"name": "slow", "arguments": {"seconds": 1.0, "tag": "drain-plain"}}, 1)
        raw.send(raw.request_bytes(slow, {**headers, "Accept": "application/json"}))
        server.wait_for_log(lambda e: "slow started drain-plain" in str(e.get("line", "")))
        assert fast_calls(server) == 1  # the call in flight is the plain path's
        server.proc.send_signal(signal.SIGTERM)
        # The drain waits for it (it counts as in flight), then the idle keep-alive connection is closed.
        answer = raw.read()
        assert answer.status == 200 and text_of(answer.json()) == "slept 1.0 (drain-plain)"
        assert raw.closed_by_peer()
        assert server.proc.wait(timeout=TIMEOUT_S) == 0
    finally:
        raw.close()
        server.stop()
