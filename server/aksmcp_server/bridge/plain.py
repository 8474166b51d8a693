"""2025-11-25 requests answered from the HTTP parser's callbacks: no Task, no ASGI scope or messages.

Measured under bench/bridge.py (server/README.md "How fast"), uvicorn's per-request machinery (a Task per
request, the scope, receive/send messages and their checks) was about half of what the bridge spent per
call above a bridge that does nothing. The common request of a 2025-11-25 session (a JSON-RPC request in
an open session, whose child is running) needs none of it: its body is complete when it is parsed, and
its answer comes from a callback of the child's pipe. So `serve_plain` takes such a request when uvicorn's
protocol offers it (bridge.coalesce) and answers it through a `PlainExchange`.

It keeps every check the ASGI path makes, by declining (returning False, having changed nothing) when
any of them would not pass or anything else needs the general path: no session header, an unsupported
version, an Origin or Host the bridge refuses, credentials other than a valid API key (Entra tokens are
checked asynchronously), a body over the cap, not one JSON-RPC request, `initialize` or `ping`, an
unknown session, a session whose child must be started first. The ASGI path then answers it, with its
own error where one is due. What a taken request gets is what the ASGI path gives: the same answer, the
upgrade to an event stream when a message for it arrives first, X-Request-Id, the in-flight count that
SIGTERM's drain waits on, tool and error metrics, and the access line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from mcp.server.auth.provider import principal_components
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from ..auth import ApiKeyAuthenticator, AuthFailure
from ..http_app import JSON_HEADERS, RequestBasics, ServingState
from ..logs import duration_ms, write_access_line
from ..metrics import Metrics, error_codes_in
from ..security import origin_allowed
from .child import CANCELLED_BY_CLIENT, Child, ChildExited, dumps_line, loads
from .replies import SSE_HEADERS, accepts_sse, child_failure, outcome_of, sse_event, wants_progress

if TYPE_CHECKING:
    from ..fastpath import HostGuard
    from .coalesce import PlainExchange
    from .sessions import ChildPool, LegacySession, Owner

logger = logging.getLogger("aksmcp_server.bridge.http")

_DECLINED_METHODS = frozenset({"initialize", "ping"})  # answered by the bridge itself, on the ASGI path
_INTERNAL_ERROR_BODY = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"Internal error"}}'


class RequestAccounting(RequestBasics):
    """What both of the bridge's /mcp paths record per request (the ASGI app and the plain path)."""

    pool: ChildPool
    metrics: Metrics
    state: ServingState
    access_log: bool

    def _account_answer(self, method: Any, tool: str | None, answer: dict[str, Any] | None, started: float) -> None:
        """Tool metrics for a forwarded request's answer (None: no answer), and the tools a list names."""
        if tool is not None:
            self.metrics.record_tool_call(tool, outcome_of(answer), time.perf_counter() - started)
        if answer is not None and method == "tools/list" and "result" in answer:
            self.pool.note_tools(answer["result"])

    def _request_done(
        self,
        *,
        http_method: str,
        path: str,
        status: int,
        started: float,
        request_id: str,
        mcp_method: str | None,
        client: tuple[str, int] | None,
        counted: bool,
    ) -> None:
        if counted:
            self.state.in_flight_calls -= 1
        self.metrics.count_http(http_method, status)
        if self.access_log:
            write_access_line(
                {
                    "request_id": request_id,
                    "http_method": http_method,
                    "path": path,
                    "status": status,
                    "duration_ms": duration_ms(started),
                    "mcp_method": (mcp_method or "")[:64] or None,
                    "client": (client or ("", 0))[0],
                }
            )


class PlainLegacyServing(RequestAccounting):
    """`serve_plain`, for the bridge's app (bridge.http.BridgeApp)."""

    guard: HostGuard
    allowed_origins: list[str]

    def serve_plain(
        self,
        exchange: PlainExchange,
        path: str,
        raw_headers: list[tuple[bytes, bytes]],
        body: bytes,
        client: tuple[str, int] | None,
    ) -> bool:
        """Answer a complete POST /mcp through `exchange` and return True, or decline it (False)."""
        headers = dict(raw_headers)
        session_id = headers.get(b"mcp-session-id")
        if session_id is None or len(body) > self.max_body_bytes:
            return False
        version = headers.get(b"mcp-protocol-version")
        if version is not None and version.decode("latin-1") not in HANDSHAKE_PROTOCOL_VERSIONS:
            return False  # 2026-07-28, or a version the ASGI path refuses with its own error
        origin = headers.get(b"origin")
        if origin is not None and not origin_allowed(origin.decode("latin-1"), self.allowed_origins):
            return False
        if not self.guard.allows(headers.get(b"host"), None):
            return False
        owner: Owner | None = None
        authenticator = self.authenticator
        if authenticator is not None:
            if not isinstance(authenticator, ApiKeyAuthenticator):
                return False
            user = authenticator.check(headers)
            if isinstance(user, AuthFailure):
                return False
            owner = principal_components(user.access_token)
        try:
            message = loads(body)
        except ValueError:
            return False
        if type(message) is not dict or message.get("jsonrpc") != "2.0" or "id" not in message:
            return False
        method = message.get("method")
        if type(method) is not str or method in _DECLINED_METHODS:
            return False
        session = self.pool.sessions.get(session_id.decode("latin-1"))
        if session is None or session.owner != owner:
            return False  # the ASGI path answers 404 (and logs a credential mismatch, once)
        child = session.child
        if child is None or not child.alive:
            return False  # the ASGI path starts a new one (and may have to wait for it)
        _PlainCall(self, exchange, path, headers, message, session, child, client).begin()
        return True


class _PlainCall:
    """One taken request, from `begin` to the answer written (or the client's cancellation)."""

    __slots__ = (
        "app",
        "child",
        "child_id",
        "client",
        "client_id",
        "counted",
        "exchange",
        "headers",
        "message",
        "method",
        "path",
        "request_id",
        "session",
        "sse_allowed",
        "started",
        "status",
        "tool",
        "use_sink",
    )

    def __init__(
        self,
        app: PlainLegacyServing,
        exchange: PlainExchange,
        path: str,
        headers: dict[bytes, bytes],
        message: dict[str, Any],
        session: LegacySession,
        child: Child,
        client: tuple[str, int] | None,
    ) -> None:
        self.started = time.perf_counter()
        self.app = app
        self.exchange = exchange
        self.path = path
        self.headers = headers
        self.message = message
        self.session = session
        self.child = child
        self.client = client
        self.client_id = message["id"]
        self.method: str = message["method"]
        self.request_id = app._request_id(headers)
        self.status = 0
        self.child_id = 0
        self.sse_allowed = accepts_sse(headers)
        self.use_sink = False
        self.tool: str | None = None
        self.counted = False  # in the in-flight counts, until `_done`

    def begin(self) -> None:
        self.app.state.in_flight_calls += 1
        self.session.in_flight += 1
        self.session.touch()
        self.counted = True
        try:
            self._send_to_child()
        except Exception:
            # As in `answered`: the client gets a 500 rather than a hang, and the call stops counting.
            logger.exception("unhandled error serving /mcp", extra={"request_id": self.request_id})
            self._done()

    def _send_to_child(self) -> None:
        app, session, message, child = self.app, self.session, self.message, self.child
        length = self.headers.get(b"content-length")
        if length is not None and length.isdigit():
            app.metrics.record_request_bytes(int(length))
        params = message.get("params")
        # As on the ASGI path: what arrives for this request (its progress, or the session's messages when
        # the session has no GET stream) turns the answer into an event stream, if the client takes one.
        self.use_sink = self.sse_allowed and (wants_progress(params) or session.get_stream is None)
        if self.method == "tools/call" and type(params) is dict:
            self.tool = app.metrics.tool_label(params.get("name"))
            app.metrics.record_fast_path_call()
        child.prepare(message)
        try:
            self.child_id, _ = child.begin(message, self.sink if self.use_sink else None, self.answered)
        except ChildExited as exc:
            self._finish(child_failure(self.client_id, exc))
            self._done()
            return
        if self.use_sink:
            session.post_sinks.append(self.sink)

    def sink(self, message: dict[str, Any]) -> None:
        """A message for this request, or for its session, before the answer: an event on this response."""
        exchange = self.exchange
        if exchange.response_complete:
            return
        if not exchange.streaming:
            self._start_stream()
        self._write_chunk(sse_event(message))

    def _start_stream(self) -> None:
        self.status = 200
        self.exchange.start(200, [*SSE_HEADERS, self._id_header()])

    def _id_header(self) -> tuple[bytes, bytes]:
        return (b"x-request-id", self.request_id.encode())

    def _write_chunk(self, body: bytes) -> None:
        for code in error_codes_in(body):
            self.app.metrics.count_error(code)
        self.exchange.chunk(body)

    def answered(self, future: asyncio.Future[dict[str, Any]]) -> None:
        try:
            try:
                answer: dict[str, Any] | None = future.result()
            except ChildExited as exc:
                answer = child_failure(self.client_id, exc)
            self.child.finish(self.child_id)
            if answer is CANCELLED_BY_CLIENT:
                answer = None  # the client cancelled it: no answer, as the spec says
            else:
                assert answer is not None
                answer["id"] = self.client_id
            self._finish(answer)
        except Exception:
            # A bug must not leave the client waiting forever, nor the drain counting a call that is gone.
            logger.exception("unhandled error serving /mcp", extra={"request_id": self.request_id})
        self._done()

    def _finish(self, answer: dict[str, Any] | None) -> None:
        if self.use_sink:
            try:
                self.session.post_sinks.remove(self.sink)
            except ValueError:
                pass
        self.app._account_answer(self.method, self.tool, answer, self.started)
        exchange = self.exchange
        if exchange.streaming:
            if answer is not None:
                self._write_chunk(sse_event(answer))
            exchange.end()
        elif answer is not None:
            self._write_whole(200, JSON_HEADERS, dumps_line(answer)[:-1])
        elif self.sse_allowed:
            # No answer for a cancelled request: an empty event stream, so the client resolves it locally.
            self._start_stream()
            exchange.end()
        else:
            self._write_whole(202, [], b"")

    def _write_whole(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        for code in error_codes_in(body):
            self.app.metrics.count_error(code)
        self.exchange.respond(status, [*headers, self._id_header()], body)

    def _done(self) -> None:
        if not self.counted:
            return
        self.counted = False
        exchange = self.exchange
        try:
            if not exchange.response_complete:  # only after an error: the answer was not written
                if exchange.streaming:
                    exchange.end()
                else:
                    self._write_whole(500, JSON_HEADERS, _INTERNAL_ERROR_BODY)
        finally:
            session = self.session
            session.in_flight -= 1
            session.touch()
            self.app._request_done(
                http_method="POST",
                path=self.path,
                status=self.status,
                started=self.started,
                request_id=self.request_id,
                mcp_method=self.method,
                client=self.client,
                counted=True,
            )
