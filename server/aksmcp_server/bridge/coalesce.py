"""uvicorn's httptools protocol with each response's writes leaving in one send().

uvicorn writes a response's head and its body with two `transport.write` calls, so a JSON answer went
out as two TCP segments: two send() syscalls here, and a client that wakes up for the head and again for
the body. Under bench/bridge.py that was the largest single cost left in the bridge's hot path: the
first send woke the client, which took the CPU before the body was written (server/README.md "How
fast"). Here writes are held until the response is complete (or, for a stream of SSE events, until
the current event-loop step ends) and then go out as one write; nothing is reordered or dropped.

It also lets the app answer a plain POST to /mcp without uvicorn's per-request machinery (a Task, an
ASGI scope, receive/send messages): the body of such a POST is held until it is complete and offered to
the app's `serve_plain` (bridge.plain), which answers it through a `PlainExchange` written straight to
the transport from the parser's and the child's callbacks. What the app declines, and every other
request, is handed to uvicorn exactly as if it had just been parsed. The exchange stands in uvicorn's
`cycle` slot, so pipelining, keep-alive, shutdown and a lost connection work as for any request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# A larger body is handed to uvicorn from its first byte over: a big request is not the common case,
# and uvicorn's own flow control then applies to it.
PLAIN_BODY_LIMIT = 256 * 1024
_MCP_TARGETS = frozenset({b"/mcp", b"/mcp/"})
_CHUNKED = (b"transfer-encoding", b"chunked")


class CoalescingTransport:
    """A transport whose writes in one event-loop step leave together; everything else is the real one's."""

    __slots__ = ("_chunks", "_loop", "_scheduled", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._chunks: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._chunks.append(data)
        if not self._scheduled:
            # A stream's events must not wait for the end of the response: at most one step.
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def write_now(self, data: bytes) -> None:
        """A whole response: out at once, after anything held (no flush to schedule)."""
        if self._chunks:
            self._chunks.append(data)
            self.flush()
        elif not self._transport.is_closing():
            self._transport.write(data)

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        self._scheduled = False
        chunks = self._chunks
        if not chunks:
            return
        self._chunks = []
        if not self._transport.is_closing():
            self._transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        # Asked at least once per response: through __getattr__ it would cost an AttributeError each time.
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


_encoded_defaults: tuple[list[tuple[bytes, bytes]] | None, bytes] = (None, b"")


def _default_header_lines(defaults: list[tuple[bytes, bytes]]) -> bytes:
    """uvicorn's default headers (date, server) as header lines. uvicorn puts a new list in place when
    the date changes, once a second, so the lines are built once per list rather than per response."""
    global _encoded_defaults
    if _encoded_defaults[0] is not defaults:
        _encoded_defaults = (defaults, b"".join(b"%s: %s\r\n" % (name, value) for name, value in defaults))
    return _encoded_defaults[1]


class _NoWaiter:
    """uvicorn sets `cycle.message_event` when the connection is lost; a plain exchange has no reader."""

    __slots__ = ()

    def set(self) -> None:
        pass


_NO_WAITER = _NoWaiter()


class PlainExchange:
    """One response written straight to the transport: whole (`respond`) or as a chunked stream (`start`,
    `chunk`, `end`). It sits in the protocol's `cycle` slot, so it has the fields uvicorn reads there."""

    __slots__ = ("_protocol", "disconnected", "keep_alive", "message_event", "response_complete", "streaming")

    def __init__(self, protocol: CoalescingHttpToolsProtocol) -> None:
        self._protocol = protocol
        self.streaming = False  # `start` was called: the response is chunked
        self.response_complete = False
        self.disconnected = False  # set by uvicorn when the client goes away; writes are dropped then
        self.keep_alive = True  # cleared by uvicorn's graceful shutdown: the connection closes after this
        self.message_event = _NO_WAITER

    def _head(self, status: int, headers: list[tuple[bytes, bytes]]) -> list[bytes]:
        parts = [STATUS_LINE[status], _default_header_lines(self._protocol.server_state.default_headers)]
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        if not self.keep_alive:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        return parts

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """The whole response; `headers` must not hold content-length (it is added here)."""
        if self.response_complete:
            return
        if not self.disconnected:
            parts = self._head(status, [*headers, (b"content-length", b"%d" % len(body))])
            parts.append(body)
            self._protocol.coalescing.write_now(b"".join(parts))
        self._complete()

    def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        """Begin a streamed (chunked) response."""
        self.streaming = True
        if not self.disconnected:
            self._protocol.transport.write(b"".join(self._head(status, [*headers, _CHUNKED])))

    def chunk(self, data: bytes) -> None:
        if data and not self.disconnected and not self.response_complete:
            self._protocol.transport.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end(self) -> None:
        if self.response_complete:
            return
        if not self.disconnected:
            self._protocol.transport.write(b"0\r\n\r\n")
        self._complete()

    def _complete(self) -> None:
        self.response_complete = True
        protocol = self._protocol
        if not self.keep_alive and not protocol.transport.is_closing():
            protocol.transport.close()
        protocol.on_response_complete()


PlainServer = Callable[[PlainExchange, str, list[tuple[bytes, bytes]], bytes, tuple[str, int] | None], bool]
"""The app's `serve_plain(exchange, path, headers, body, client)`: True when it took the request (it will
answer through the exchange), False to have uvicorn run the app on it as usual."""


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """Pass as uvicorn's `http` protocol class."""

    _serve_plain: PlainServer | None = None
    _plain_body: bytearray | None = None  # the body of a POST /mcp being held for `serve_plain`

    coalescing: CoalescingTransport  # also `self.transport`, typed as uvicorn's

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.coalescing = CoalescingTransport(transport, self.loop)
        super().connection_made(self.coalescing)  # type: ignore[arg-type]
        # uvicorn wraps the app in middleware for some settings; then there is no plain path to take.
        self._serve_plain = getattr(self.app, "serve_plain", None)

    def on_message_begin(self) -> None:
        # uvicorn builds the request's ASGI scope here (a dict, a copy of the app state); a request the
        # plain path takes never needs it, so it is built only when the request goes to uvicorn.
        self.url = b""
        self.expect_100_continue = False
        self.headers = []

    def _build_scope(self) -> None:
        """uvicorn's own `on_message_begin`, keeping what the parser has delivered since."""
        url, headers, expect_100_continue = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()
        self.url, self.headers, self.expect_100_continue = url, headers, expect_100_continue
        self.scope["headers"] = headers

    def on_headers_complete(self) -> None:
        parser = self.parser
        if (
            self._serve_plain is not None
            and self.url in _MCP_TARGETS  # exactly /mcp: no query string, nothing to decode
            and parser.get_method() == b"POST"
            and parser.get_http_version() == "1.1"
            and parser.should_keep_alive()
            and not parser.should_upgrade()
            and not self.expect_100_continue
            and (self.cycle is None or self.cycle.response_complete)  # else uvicorn queues it (pipelining)
        ):
            self._plain_body = bytearray()
            return
        self._build_scope()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        held = self._plain_body
        if held is None:
            super().on_body(body)
            return
        held += body
        if len(held) > PLAIN_BODY_LIMIT:
            self._plain_body = None
            self._to_uvicorn(held)

    def on_message_complete(self) -> None:
        held = self._plain_body
        if held is None:
            super().on_message_complete()
            return
        self._plain_body = None
        assert self._serve_plain is not None
        previous = self.cycle
        exchange = PlainExchange(self)
        # In the slot before the app sees it: the app may answer at once (which ends the exchange).
        self.cycle = exchange  # type: ignore[assignment]
        if self._serve_plain(exchange, self.url.decode("ascii"), self.headers, bytes(held), self.client):
            return
        self.cycle = previous
        self._to_uvicorn(held)
        super().on_message_complete()

    def _to_uvicorn(self, held: bytearray) -> None:
        """Replay the held request's callbacks, as uvicorn would have run them (the parser is unchanged)."""
        self._build_scope()
        super().on_headers_complete()
        if held:
            super().on_body(bytes(held))

    def on_response_complete(self) -> None:
        # The whole response is buffered by now: head and body leave in one send().
        self.coalescing.flush()
        super().on_response_complete()
