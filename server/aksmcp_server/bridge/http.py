"""The bridge's ASGI app: /mcp in both protocol revisions, plus /healthz, /readyz and /metrics.

Per request to /mcp it does what the reference server's app does (request id, Origin/Host, auth, body
cap, in-flight count, access log, error metrics), then:
- 2026-07-28 (an `MCP-Protocol-Version: 2026-07-28` header): the SDK's own validation ladder
  (`classify_inbound_request`: envelope, header/body agreement, version), `server/discover` answered
  from the child's handshake, `subscriptions/listen` as a stream fed by the shared child, everything
  else forwarded to the shared child and the answer given `resultType` and `serverInfo`;
- 2025-11-25 and older: `initialize` opens a session with its own child, answered from that child's
  handshake; requests, notifications, cancellations and answers to the child's own requests are
  forwarded; GET opens the session's stream for what the child sends outside a request; DELETE ends it.

Most 2025-11-25 requests never get here: bridge.plain answers a request in an open session from the HTTP
parser's callbacks, and declines (to this app) whatever needs more than that.

A request's answer is JSON unless something arrives for it first (progress, or a session message with
no other stream open): then the response turns into an SSE stream. A client that disconnects cancels
its call on the child (`notifications/cancelled`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from typing import Any

from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.provider import principal_components
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS
from starlette.types import Message, Receive, Scope, Send

from ..auth import Authenticator, AuthFailure
from ..fastpath import HostGuard
from ..http_app import JSON_HEADERS, MCP_PATHS, PRM_PREFIX, ServingState, respond
from ..logs import ACCESS_FLUSH_SECONDS, flush_access_log, request_id_var
from ..metrics import CONTENT_TYPE_LATEST, Metrics, error_codes_in
from ..security import origin_allowed
from .child import CANCELLED_BY_CLIENT, Child, ChildError, ChildExited, dumps_line, loads, obj
from .fast import LazyDisconnectWatch, plain_modern_meta
from .modern import SERVER_INFO_KEY, stamp_modern_answer
from .mrtr import LeasePool, wants_lease
from .plain import PlainLegacyServing
from .replies import (
    INVALID_REQUEST,
    PARSE_ERROR,
    POOL_FULL,
    SSE_HEADERS,
    accepts_sse,
    child_failure,
    rpc_error,
    sse_event,
    wants_progress,
)
from .sessions import ChildPool, LegacySession, Listener, Owner, PoolFull

logger = logging.getLogger("aksmcp_server.bridge.http")

SUBSCRIPTION_ID_KEY = "io.modelcontextprotocol/subscriptionId"
# Methods the 2026-07-28 revision removed; a modern client gets "method not found" as from a modern server.
_NOT_MODERN = frozenset({"initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"})
_ROUTING = ("mcp-protocol-version", "mcp-method", "mcp-name")
KEEPALIVE_SECONDS = 15.0


class _Reply:
    """One request's response: JSON by default, upgraded to SSE when a message arrives before the answer."""

    __slots__ = ("extra_headers", "pending", "send", "sse_allowed", "started", "wake")

    def __init__(self, send: Send, extra_headers: list[tuple[bytes, bytes]], sse_allowed: bool) -> None:
        self.send = send
        self.extra_headers = extra_headers
        self.sse_allowed = sse_allowed
        self.pending: list[dict[str, Any]] = []
        self.wake: asyncio.Future[None] | None = None
        self.started = False

    def sink(self, message: dict[str, Any]) -> None:
        self.pending.append(message)
        self.nudge()

    def nudge(self, _: object = None) -> None:
        wake = self.wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def event(self, message: dict[str, Any], more: bool = True) -> None:
        if not self.started:
            self.started = True
            await self.send(
                {"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *self.extra_headers]}
            )
        await self.send(
            {
                "type": "http.response.body",
                "body": sse_event(message),
                "more_body": more,
            }
        )

    async def close_unanswered(self) -> None:
        if not self.started:
            if not self.sse_allowed:
                await self.send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"0")]})
                await self.send({"type": "http.response.body", "body": b""})
                return
            self.started = True
            await self.send(
                {"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *self.extra_headers]}
            )
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    async def final(self, message: dict[str, Any], status: int = 200) -> None:
        if self.started:
            await self.event(message, more=False)
            return
        body = dumps_line(message)[:-1]
        await self.send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*JSON_HEADERS, *self.extra_headers, (b"content-length", str(len(body)).encode())],
            }
        )
        await self.send({"type": "http.response.body", "body": body})


async def _respond_json(
    send: Send, status: int, message: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await respond(send, status, dumps_line(message)[:-1], [*JSON_HEADERS, *(headers or [])])


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class BridgeApp(PlainLegacyServing):
    def __init__(
        self,
        pool: ChildPool,
        metrics: Metrics,
        state: ServingState,
        authenticator: Authenticator | None,
        guard: HostGuard,
        allowed_origins: list[str],
        max_body_bytes: int,
    ) -> None:
        self.pool = pool
        self.metrics = metrics
        self.state = state
        self.authenticator = authenticator
        self.guard = guard
        self.allowed_origins = allowed_origins
        self.max_body_bytes = max_body_bytes
        self.leases = LeasePool(pool, pool.input_timeout, metrics)
        self._request_prefix = os.urandom(4).hex() + "-"
        self._request_counter = 0
        self.access_log = logging.getLogger("aksmcp_server.access").isEnabledFor(logging.INFO)
        metrics.in_flight.set_function(lambda: state.in_flight_calls)
        metrics.draining.set_function(lambda: 1 if state.draining else 0)
        metrics.active_sessions.set_function(lambda: len(pool.sessions))

    # ------------------------------------------------------------------ routing --

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            if path in MCP_PATHS:
                await self._mcp(scope, receive, send)
            elif path == "/healthz":
                await respond(send, 200, b'{"status":"ok"}')
            elif path == "/readyz":
                await self._readyz(send)
            elif path.startswith(PRM_PREFIX) and self.authenticator is not None:
                document = self.authenticator.resource_metadata(dict(scope["headers"]))
                if document is None:
                    await respond(send, 404, b'{"error":"not found"}')
                else:
                    await respond(send, 200, json.dumps(document).encode())
            elif path == "/metrics":
                await respond(send, 200, self.metrics.render(), [(b"content-type", CONTENT_TYPE_LATEST.encode())])
            else:
                await respond(send, 404, b'{"error":"not found","endpoints":["/mcp","/healthz","/readyz","/metrics"]}')
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _readyz(self, send: Send) -> None:
        if not self.state.started or self.state.draining:
            status = "draining" if self.state.draining else "starting"
            await respond(send, 503, json.dumps({"status": status}).encode())
            return
        ready, reason = self.pool.ready()
        if ready:
            await respond(send, 200, b'{"status":"ready"}')
        else:
            await respond(send, 503, json.dumps({"status": "child unavailable", "error": reason}).encode())

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        flusher = asyncio.create_task(_flush_logs_periodically())
        # A child that cannot start does not stop the bridge: /readyz says why, and it keeps retrying.
        with contextlib.suppress(ChildError):
            await self.pool.start()
        self.state.started = True
        await send({"type": "lifespan.startup.complete"})
        while (await receive())["type"] != "lifespan.shutdown":
            pass
        self.state.draining = True
        # In-flight calls were drained before uvicorn got here; only now do the children's stdins close.
        await self.pool.close()
        flusher.cancel()
        flush_access_log()
        await send({"type": "lifespan.shutdown.complete"})

    # ------------------------------------------------------------------ /mcp --

    async def _mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers: dict[bytes, bytes] = dict(scope["headers"])
        request_id = self._request_id(headers)
        rid_token = request_id_var.set(request_id)
        http_method: str = scope["method"]
        status = 0
        metrics = self.metrics
        mcp_method: str | None = None

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            elif message["type"] == "http.response.body":
                for code in error_codes_in(message.get("body", b"")):
                    metrics.count_error(code)
            await send(message)

        counted = http_method == "POST"
        if counted:
            self.state.in_flight_calls += 1
        user_token = None
        owner: Owner | None = None
        try:
            host = headers.get(b"host")
            origin = headers.get(b"origin")
            if origin is not None and not origin_allowed(origin.decode("latin-1"), self.allowed_origins):
                await respond(send_observed, 403, b'{"error":"invalid Origin header"}')
                return
            if not self.guard.allows(host, None):
                await respond(send_observed, 421, b'{"error":"invalid Host header"}')
                return
            if self.authenticator is not None:
                outcome = await self.authenticator.authenticate(headers)
                if isinstance(outcome, AuthFailure):
                    await self._unauthorized(send_observed, outcome, headers)
                    return
                user_token = auth_context_var.set(outcome)
                owner = principal_components(outcome.access_token)
            version = headers.get(b"mcp-protocol-version", b"").decode("latin-1")
            modern = version in MODERN_PROTOCOL_VERSIONS
            if http_method == "POST":
                length = headers.get(b"content-length")
                if length is not None and length.isdigit():
                    metrics.record_request_bytes(int(length))
                body = await self._read_body(receive)
                if body is None:
                    await respond(send_observed, 413, b"Request body too large", [(b"content-type", b"text/plain")])
                    return
                try:
                    message = loads(body)
                except ValueError:
                    await _respond_json(
                        send_observed, 400, rpc_error(None, PARSE_ERROR, "Parse error: the body is not JSON")
                    )
                    return
                if type(message) is not dict or message.get("jsonrpc") != "2.0":
                    await _respond_json(
                        send_observed,
                        400,
                        rpc_error(None, INVALID_REQUEST, "Invalid request: one JSON-RPC 2.0 object per POST"),
                    )
                    return
                method = message.get("method")
                mcp_method = method if isinstance(method, str) else None
                if mcp_method == "subscriptions/listen" and counted:
                    # A listen stream lives as long as the client wants; draining must not wait for it.
                    self.state.in_flight_calls -= 1
                    counted = False
                if modern:
                    await self._modern(scope, headers, message, receive, send_observed)
                else:
                    await self._legacy(headers, message, version, owner, receive, send_observed)
            elif http_method == "GET" and not modern:
                await self._legacy_get(headers, owner, receive, send_observed)
            elif http_method == "DELETE" and not modern:
                await self._legacy_delete(headers, owner, send_observed)
            else:
                await respond(
                    send_observed, 405, b'{"error":"method not allowed"}', [*JSON_HEADERS, (b"allow", b"POST")]
                )
        except Exception:
            logger.exception("unhandled error serving /mcp")
            if status == 0:
                await respond(
                    send_observed,
                    500,
                    b'{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"Internal error"}}',
                )
        finally:
            if user_token is not None:
                auth_context_var.reset(user_token)
            self._request_done(
                http_method=http_method,
                path=scope["path"],
                status=status,
                started=started,
                request_id=request_id,
                mcp_method=mcp_method,
                client=scope.get("client"),
                counted=counted,
            )
            request_id_var.reset(rid_token)

    # ------------------------------------------------------------------ forwarding --

    async def _forward(
        self,
        child: Child,
        message: dict[str, Any],
        reply: _Reply,
        receive: Receive,
        session: LegacySession | None,
    ) -> dict[str, Any] | None:
        """Send one request to the child and wait for its answer, streaming what arrives for it meanwhile.

        Returns the child's answer with the client's id, or None when the client went away (the call was
        cancelled on the child). A dead child becomes a JSON-RPC error answer.
        """
        client_id = message.get("id")
        method = message.get("method")
        params = message.get("params")
        use_queue = reply.sse_allowed and (
            wants_progress(params) or (session is not None and session.get_stream is None)
        )
        tool = (
            self.metrics.tool_label((params or {}).get("name"))
            if method == "tools/call" and type(params) is dict
            else None
        )
        started = time.perf_counter()
        child.prepare(message)
        try:
            child_id, future = child.begin(message, reply.sink if use_queue else None)
        except ChildExited as exc:
            self._account_answer(method, tool, None, started)
            return child_failure(client_id, exc)
        if use_queue and session is not None:
            session.post_sinks.append(reply.sink)
        # 2026-07-28: closing the response stream is the cancellation, so watch for it. 2025-11-25:
        # "disconnection is not cancellation" (the client sends notifications/cancelled), so no watcher.
        loop = asyncio.get_running_loop()
        watch = LazyDisconnectWatch(loop, receive) if session is None else None
        watcher: asyncio.Future[None] = watch.done if watch is not None else loop.create_future()
        answer: dict[str, Any] | None = None
        try:
            # One wake-up future per wait, set by whichever comes first: the answer, a disconnect, or a
            # message for this request (no task per message).
            future.add_done_callback(reply.nudge)
            watcher.add_done_callback(reply.nudge)
            while True:
                reply.wake = loop.create_future()
                if not (future.done() or watcher.done() or reply.pending):
                    await reply.wake
                while reply.pending and not watcher.done():
                    await reply.event(reply.pending.pop(0))
                if future.done() or watcher.done():
                    break
            if future.done():
                try:
                    answer = future.result()
                    if answer is CANCELLED_BY_CLIENT:
                        # No answer for a cancelled request: end the response with an empty event stream
                        # (a client that took no SSE gets 202), so the client resolves it locally.
                        child.finish(child_id)
                        answer = None
                        await reply.close_unanswered()
                        return None
                    answer["id"] = client_id
                except ChildExited as exc:
                    answer = child_failure(client_id, exc)
                child.finish(child_id)
            else:
                child.finish(child_id, cancelled=True)
        finally:
            if watch is not None:
                watch.cancel()
            watcher.cancel()
            if use_queue and session is not None:
                with contextlib.suppress(ValueError):
                    session.post_sinks.remove(reply.sink)
            self._account_answer(method, tool, answer, started)
        return answer

    # ------------------------------------------------------------------ 2026-07-28 --

    async def _modern(
        self, scope: Scope, headers: dict[bytes, bytes], message: dict[str, Any], receive: Receive, send: Send
    ) -> None:
        if "id" not in message or "method" not in message:
            # Notifications and stray responses: the modern revision defines none from client to server.
            await respond(send, 202, b"")
            return
        request_id = message["id"]
        raw = scope["headers"]
        if plain_modern_meta(message, headers, raw) is None:  # else well-formed: what the ladder would pass
            # The ladder reads only the three routing headers; a repeated one is refused, as the SDK does.
            if len(raw) != len(headers) and (
                repeated := find_duplicated_routing_header((k.decode("latin-1"), "") for k, _ in raw)
            ):
                await _respond_json(send, 400, rpc_error(request_id, -32020, f"{repeated} header given more than once"))
                return
            routing = {
                name: value.decode("latin-1") for name in _ROUTING if (value := headers.get(name.encode())) is not None
            }
            verdict = classify_inbound_request(message, headers=routing)
            if isinstance(verdict, InboundLadderRejection):
                await _respond_json(
                    send,
                    ERROR_CODE_HTTP_STATUS.get(verdict.code, 400),
                    rpc_error(request_id, verdict.code, verdict.message, verdict.data),
                )
                return
        method = message["method"]
        if method in _NOT_MODERN:
            await _respond_json(send, 404, rpc_error(request_id, -32601, f"Method not found: {method}"))
            return
        try:
            child = await self.pool.shared_child()
        except ChildError as exc:
            await _respond_json(send, 503, child_failure(request_id, exc), [(b"retry-after", b"5")])
            return
        server_info = child.init_result.get("serverInfo") or {}
        if method == "server/discover":
            discovered: dict[str, Any] = {
                "supportedVersions": list(MODERN_PROTOCOL_VERSIONS),
                "capabilities": child.init_result.get("capabilities") or {},
                "resultType": "complete",
                "ttlMs": 0,
                "cacheScope": "private",
                "_meta": {SERVER_INFO_KEY: server_info},
            }
            if child.init_result.get("instructions"):
                discovered["instructions"] = child.init_result["instructions"]
            await _respond_json(send, 200, {"jsonrpc": "2.0", "id": request_id, "result": discovered})
            return
        if method == "subscriptions/listen":
            await self._listen(message, receive, send, server_info)
            return
        if not child.modern and wants_lease(message.get("params")):
            # Sampling, elicitation, roots or a logLevel: the call gets a child of its own (bridge.mrtr).
            await self.leases.serve(message, _Reply(send, [], accepts_sse(headers)), receive, server_info)
            return
        reply = _Reply(send, [], accepts_sse(headers))
        answer = await self._forward(child, message, reply, receive, None)
        if answer is None:
            return
        status = stamp_modern_answer(answer, method, server_info, child_modern=child.modern)
        await reply.final(answer, status)

    async def _listen(self, message: dict[str, Any], receive: Receive, send: Send, server_info: dict[str, Any]) -> None:
        wanted = obj(obj(message.get("params")).get("notifications"))
        uris = wanted.get("resourceSubscriptions") or []
        listener_queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        listener = Listener(
            sink=listener_queue.put_nowait,
            subscription_id=message["id"],
            tools=bool(wanted.get("toolsListChanged")),
            prompts=bool(wanted.get("promptsListChanged")),
            resources=bool(wanted.get("resourcesListChanged")),
            resource_uris=frozenset(u for u in uris if isinstance(u, str)),
        )
        reply = _Reply(send, [], True)
        try:
            await self.pool.add_listener(listener)
        except (ChildError, ChildExited) as exc:
            await _respond_json(send, 503, child_failure(message["id"], exc))
            return
        try:
            ack_params: dict[str, Any] = {"_meta": {SUBSCRIPTION_ID_KEY: message["id"]}, "notifications": wanted}
            await reply.event(
                {"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged", "params": ack_params}
            )
            watcher = asyncio.ensure_future(_wait_disconnect(receive))
            try:
                while not watcher.done() and not self.state.draining:
                    getter = asyncio.ensure_future(listener_queue.get())
                    done, _ = await asyncio.wait(
                        (watcher, getter), timeout=KEEPALIVE_SECONDS, return_when=asyncio.FIRST_COMPLETED
                    )
                    if getter in done:
                        await reply.event(getter.result())
                        continue
                    getter.cancel()
                    if not done:
                        await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
            finally:
                watcher.cancel()
            if not watcher.done():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.pool.remove_listener(listener)

    # ------------------------------------------------------------------ 2025-11-25 --

    async def _legacy(
        self,
        headers: dict[bytes, bytes],
        message: dict[str, Any],
        version: str,
        owner: Owner | None,
        receive: Receive,
        send: Send,
    ) -> None:
        method = message.get("method")
        session_id = headers.get(b"mcp-session-id", b"").decode("latin-1")
        if method == "initialize" and "id" in message:
            await self._initialize(message, bool(session_id), owner, send)
            return
        if not session_id:
            await _respond_json(
                send, 400, rpc_error(message.get("id"), INVALID_REQUEST, "Bad Request: Missing session ID")
            )
            return
        session = self.pool.get_session(session_id, owner)
        if session is None:
            await _respond_json(send, 404, rpc_error(message.get("id"), INVALID_REQUEST, "Session not found"))
            return
        if version and version not in HANDSHAKE_PROTOCOL_VERSIONS:
            await _respond_json(
                send, 400, rpc_error(message.get("id"), INVALID_REQUEST, f"Unsupported protocol version: {version}")
            )
            return
        session.touch()
        if method is None:
            # The client's answer to one of the child's own requests (sampling, elicitation, roots).
            await self._to_child(session, message)
            await respond(send, 202, b"")
            return
        if "id" not in message:
            if method == "notifications/cancelled":
                params = message.get("params") or {}
                child = session.child
                child_id = child.child_id_for(params.get("requestId")) if child is not None else None
                if child is not None and child_id is not None:
                    with contextlib.suppress(ChildExited):
                        child.cancel_child_request(child_id, params.get("reason"))
            elif method != "notifications/initialized":  # the bridge did the child's handshake already
                await self._to_child(session, message)
            await respond(send, 202, b"")
            return
        if method == "ping":
            await _respond_json(send, 200, {"jsonrpc": "2.0", "id": message["id"], "result": {}})
            return
        session.in_flight += 1
        try:
            try:
                child = await self.pool.session_child(session)
            except ChildError as exc:
                await _respond_json(send, 503, child_failure(message["id"], exc))
                return
            reply = _Reply(send, [], accepts_sse(headers))
            answer = await self._forward(child, message, reply, receive, session)
            if answer is not None:
                await reply.final(answer)
        finally:
            session.in_flight -= 1
            session.touch()

    async def _to_child(self, session: LegacySession, message: dict[str, Any]) -> None:
        with contextlib.suppress(ChildError, ChildExited):
            child = await self.pool.session_child(session)
            child.notify(message)

    async def _initialize(self, message: dict[str, Any], has_session: bool, owner: Owner | None, send: Send) -> None:
        request_id = message["id"]
        if has_session:
            await _respond_json(
                send, 400, rpc_error(request_id, INVALID_REQUEST, "Bad Request: the session is already initialized")
            )
            return
        params = obj(message.get("params"))
        requested = params.get("protocolVersion")
        negotiated = requested if requested in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
        capabilities = obj(params.get("capabilities"))
        client_info = obj(params.get("clientInfo"))
        try:
            session = await self.pool.open_session(capabilities, client_info, negotiated, owner)
        except PoolFull as exc:
            await _respond_json(
                send, 503, rpc_error(request_id, POOL_FULL, str(exc), {"poolSize": exc.size}), [(b"retry-after", b"5")]
            )
            return
        except ChildError as exc:
            await _respond_json(send, 503, child_failure(request_id, exc), [(b"retry-after", b"5")])
            return
        assert session.child is not None
        init = session.child.init_result
        result: dict[str, Any] = {
            "protocolVersion": negotiated,
            "capabilities": init.get("capabilities") or {},
            "serverInfo": init.get("serverInfo") or {"name": "mcp-server", "version": "0"},
        }
        if init.get("instructions"):
            result["instructions"] = init["instructions"]
        await _respond_json(
            send,
            200,
            {"jsonrpc": "2.0", "id": request_id, "result": result},
            [(b"mcp-session-id", session.id.encode())],
        )

    async def _legacy_get(self, headers: dict[bytes, bytes], owner: Owner | None, receive: Receive, send: Send) -> None:
        session = self.pool.get_session(headers.get(b"mcp-session-id", b"").decode("latin-1"), owner)
        if session is None:
            await _respond_json(
                send,
                404 if headers.get(b"mcp-session-id") else 400,
                rpc_error(None, INVALID_REQUEST, "Session not found"),
            )
            return
        if not accepts_sse(headers):
            await respond(send, 406, b'{"error":"GET needs Accept: text/event-stream"}')
            return
        if session.get_stream is not None:
            await respond(send, 409, b'{"error":"this session already has a GET stream"}')
            return
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        for pending in session.backlog:
            queue.put_nowait(pending)
        session.backlog.clear()
        session.get_stream = queue
        reply = _Reply(send, [], True)
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        reply.started = True
        watcher = asyncio.ensure_future(_wait_disconnect(receive))
        try:
            while not watcher.done():
                if self.state.draining and self.state.in_flight_calls == 0:
                    break
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait((watcher, getter), timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    item = getter.result()
                    if item is None:
                        break
                    await reply.event(item)
                    continue
                getter.cancel()
            if not watcher.done():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            if session.get_stream is queue:
                session.get_stream = None
                session.touch()  # idle time starts when the client's stream goes away

    async def _legacy_delete(self, headers: dict[bytes, bytes], owner: Owner | None, send: Send) -> None:
        session_id = headers.get(b"mcp-session-id", b"").decode("latin-1")
        if self.pool.get_session(session_id, owner) is not None and await self.pool.close_session(
            session_id, "closed by the client"
        ):
            await respond(send, 200, b"")
        else:
            await _respond_json(send, 404, rpc_error(None, INVALID_REQUEST, "Session not found"))


async def _flush_logs_periodically() -> None:
    while True:
        await asyncio.sleep(ACCESS_FLUSH_SECONDS)
        flush_access_log()
