"""The one ASGI app on the port: /mcp (the SDK's Streamable HTTP manager), /healthz, /readyz, /metrics.

A plain ASGI router instead of Starlette routing plus middleware classes: each request to /mcp pays for
one function call here (request id, auth, Origin, in-flight count, access log, error metrics) before the
SDK's session manager, which owns everything protocol: era routing (2026-07-28 vs. the 2025-11-25
handshake), the body cap (413), the Host check (421), JSON-RPC parsing and errors.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from typing import Any

import anyio
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.types import Message, Receive, Scope, Send

from .auth import Authenticator, AuthFailure, challenge
from .fastpath import ToolCallFastPath
from .logs import (
    ACCESS_FLUSH_SECONDS,
    CORRELATION_HEADER,
    call_fields_var,
    correlation_id,
    duration_ms,
    flush_access_log,
    request_id_var,
    write_access_line,
)
from .metrics import CONTENT_TYPE_LATEST, Metrics, error_codes_in
from .security import origin_allowed

logger = logging.getLogger("aksmcp_server.http")

MCP_PATHS = frozenset({"/mcp", "/mcp/"})
PRM_PREFIX = "/.well-known/oauth-protected-resource"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
JSON_HEADERS = [(b"content-type", b"application/json")]


class ServingState:
    """What readiness and graceful shutdown look at."""

    def __init__(self) -> None:
        self.started = False
        self.draining = False
        self.in_flight_calls = 0


async def respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*(headers or JSON_HEADERS), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestBasics:
    """What every /mcp front end here does the same way (the reference server's app and the bridge's):
    request ids, the capped body read, the 401 with its challenge. Needs `max_body_bytes`,
    `authenticator`, `_request_prefix` and `_request_counter` on the instance."""

    max_body_bytes: int
    authenticator: Authenticator | None
    _request_prefix: str
    _request_counter: int

    def _request_id(self, headers: dict[bytes, bytes]) -> str:
        """The caller's X-Request-Id when it is a sane token (so one id follows a call across hops), else ours."""
        supplied = headers.get(b"x-request-id", b"").decode("latin-1")
        return supplied if supplied and _REQUEST_ID_RE.match(supplied) else self._next_request_id()

    def _next_request_id(self) -> str:
        # Unique per process (random prefix) and cheap (no getrandom syscall per request); not a secret.
        self._request_counter += 1
        return f"{self._request_prefix}{self._request_counter:x}"

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole request body, or None once it exceeds the cap (the SDK's limit, applied early)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _unauthorized(self, send: Send, failure: AuthFailure, headers: dict[bytes, bytes]) -> None:
        assert self.authenticator is not None
        body = json.dumps({"error": failure.error, "error_description": failure.description}).encode()
        await respond(
            send,
            401,
            body,
            [
                *JSON_HEADERS,
                (b"www-authenticate", challenge(self.authenticator, failure, headers).encode("latin-1", "replace")),
            ],
        )


class AksmcpApp(RequestBasics):
    def __init__(
        self,
        session_manager: StreamableHTTPSessionManager,
        metrics: Metrics,
        state: ServingState,
        authenticator: Authenticator | None,
        allowed_origins: list[str],
        check_origin: bool,
        max_body_bytes: int,
        fast_path: ToolCallFastPath | None = None,
    ) -> None:
        self.session_manager = session_manager
        self.metrics = metrics
        self.state = state
        self.authenticator = authenticator
        self.allowed_origins = allowed_origins
        # The SDK checks Origin itself unless its Host check is off (AKSMCP_ALLOWED_HOSTS=*).
        self.check_origin = check_origin
        self.max_body_bytes = max_body_bytes
        self.fast_path = fast_path
        self._request_prefix = os.urandom(4).hex() + "-"
        self._request_counter = 0
        self.access_log = logging.getLogger("aksmcp_server.access").isEnabledFor(logging.INFO)
        metrics.in_flight.set_function(lambda: state.in_flight_calls)
        metrics.draining.set_function(lambda: 1 if state.draining else 0)
        # Read-only peek at the SDK's session table: it has no public counter.
        metrics.active_sessions.set_function(lambda: len(getattr(session_manager, "_server_instances", ())))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            if path in MCP_PATHS:
                await self._mcp(scope, receive, send)
            elif path == "/healthz":
                await respond(send, 200, b'{"status":"ok"}')
            elif path == "/readyz":
                if self.state.started and not self.state.draining:
                    await respond(send, 200, b'{"status":"ready"}')
                else:
                    status = "draining" if self.state.draining else "starting"
                    await respond(send, 503, json.dumps({"status": status}).encode())
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

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        try:
            async with self.session_manager.run(), anyio.create_task_group() as tasks:
                tasks.start_soon(_flush_logs_periodically)
                self.state.started = True
                await send({"type": "lifespan.startup.complete"})
                while (await receive())["type"] != "lifespan.shutdown":
                    pass
                self.state.draining = True
                tasks.cancel_scope.cancel()
            flush_access_log()
        except Exception:
            logger.exception("lifespan failed")
            if not self.state.started:
                await send({"type": "lifespan.startup.failed", "message": "startup failed"})
                return
        await send({"type": "lifespan.shutdown.complete"})

    async def _mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers: dict[bytes, bytes] = dict(scope["headers"])
        request_id = self._request_id(headers)
        rid_token = request_id_var.set(request_id)
        # filled in by the fast path / CallFieldsMiddleware with the JSON-RPC id and tool name
        call: dict[str, Any] = {}
        supplied_correlation = correlation_id(headers.get(CORRELATION_HEADER, b"").decode("latin-1"))
        if supplied_correlation is not None:
            call["correlation_id"] = supplied_correlation
        call_token = call_fields_var.set(call)
        http_method: str = scope["method"]
        status = 0
        metrics = self.metrics

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
        try:
            origin = headers.get(b"origin")
            if (
                self.check_origin
                and origin is not None
                and not origin_allowed(origin.decode("latin-1"), self.allowed_origins)
            ):
                await respond(send_observed, 403, b'{"error":"invalid Origin header"}')
                return
            if self.authenticator is not None:
                outcome = await self.authenticator.authenticate(headers)
                if isinstance(outcome, AuthFailure):
                    await self._unauthorized(send_observed, outcome, headers)
                    return
                scope["user"] = outcome
                user_token = auth_context_var.set(outcome)
            length = headers.get(b"content-length")
            if length is not None and length.isdigit():
                metrics.record_request_bytes(int(length))
            if http_method == "POST" and self.fast_path is not None:
                body = await self._read_body(receive)
                if body is None:
                    await respond(send_observed, 413, b"Request body too large", [(b"content-type", b"text/plain")])
                    return
                if await self.fast_path.try_serve(scope["headers"], headers, body, send_observed):
                    return
                receive = _replay(body, receive)
            await self.session_manager.handle_request(scope, receive, send_observed)
        except Exception:
            logger.exception("unhandled error serving /mcp")
            if status == 0:
                body = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"Internal error"}}'
                await respond(send_observed, 500, body)
        finally:
            if user_token is not None:
                auth_context_var.reset(user_token)
            if counted:
                self.state.in_flight_calls -= 1
            metrics.count_http(http_method, status)
            if self.access_log:
                write_access_line(
                    {
                        "request_id": request_id,
                        "http_method": http_method,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": duration_ms(started),
                        "mcp_method": headers.get(b"mcp-method", b"").decode("latin-1")[:64] or None,
                        "client": (scope.get("client") or ("", 0))[0],
                        **call,
                    }
                )
            call_fields_var.reset(call_token)
            request_id_var.reset(rid_token)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields the already-read body once, then defers to the real one (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _flush_logs_periodically() -> None:
    while True:
        await anyio.sleep(ACCESS_FLUSH_SECONDS)
        flush_access_log()
