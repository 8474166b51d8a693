"""uvicorn's httptools protocol with each response's writes leaving in one send().

uvicorn writes a response's head and its body with two `transport.write` calls, so a JSON answer went
out as two TCP segments: two send() syscalls here, and a client that wakes up for the head and again for
the body. Under bench/bridge.py that was the largest single cost left in the bridge's hot path: the
first send woke the client, which took the CPU before the body was written (server/README.md "How
fast"). Here writes are held until the response is complete (or, for a stream of SSE events, until
the current event-loop step ends) and then go out as one write; nothing is reordered or dropped.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


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

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """Pass as uvicorn's `http` protocol class."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

    def on_response_complete(self) -> None:
        # The whole response is buffered by now: head and body leave in one send().
        self.transport.flush()  # type: ignore[attr-defined]
        super().on_response_complete()
