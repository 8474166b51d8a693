"""Traffic capture: every JSON-RPC message both ways, with timings and sizes.

The capture wraps the SDK transport's two streams (not the HTTP client), so it sees exactly the
messages the session exchanges whatever the transport (Streamable HTTP in either revision, stdio).
Serialising a message for display costs more than a tool call's own bookkeeping, so an entry keeps
the SDK's model and renders its JSON (and so its size) on first use: an unread capture adds a
deque append per message.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

from mcp.client._transport import Transport, TransportStreams
from mcp.shared.message import SessionMessage

Direction = Literal["out", "in"]
MAX_ENTRIES = 5000  # a long console session must not grow without bound


@dataclass
class TrafficEntry:
    seq: int
    direction: Direction  # "out": client -> server
    monotonic: float
    wall: datetime
    _model: Any = field(repr=False)
    elapsed_ms: float | None = None  # for a response: time since its request went out
    _payload: dict[str, Any] | None = field(default=None, repr=False)
    _size: int | None = field(default=None, repr=False)

    @property
    def payload(self) -> dict[str, Any]:
        if self._payload is None:
            dumped = self._model.model_dump(by_alias=True, mode="json", exclude_none=True)
            self._payload = dumped if isinstance(dumped, dict) else {"value": dumped}
        return self._payload

    @property
    def text(self) -> str:
        return json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False)

    @property
    def size(self) -> int:
        """Bytes of the message's compact JSON (UTF-8), what a transport would carry."""
        if self._size is None:
            self._size = len(self.text.encode())
        return self._size

    @property
    def method(self) -> str | None:
        return getattr(self._model, "method", None)

    @property
    def id(self) -> str | int | None:
        return getattr(self._model, "id", None)

    @property
    def kind(self) -> str:
        if hasattr(self._model, "method"):
            return "request" if hasattr(self._model, "id") else "notification"
        return "error" if hasattr(self._model, "error") else "response"

    @property
    def label(self) -> str:
        """The message's name in the traffic pane: its method, marked "(retry)" when it is a 2026-07-28
        multi-round-trip retry (it carries inputResponses/requestState); "input_required" for a result that
        asks the client for input instead of answering. Read off the model, no serialising."""
        method = self.method
        if method is not None:
            params = getattr(self._model, "params", None)
            if isinstance(params, dict) and ("inputResponses" in params or "requestState" in params):
                return f"{method} (retry)"
            return method
        result = getattr(self._model, "result", None)
        if isinstance(result, dict) and result.get("resultType") == "input_required":
            return "input_required"
        return self.kind

    def summary(self) -> str:
        arrow = "→" if self.direction == "out" else "←"
        name = "result" if self.label == "response" else self.label
        ident = f" #{self.id}" if self.id is not None else ""
        timing = f" {self.elapsed_ms:.1f} ms" if self.elapsed_ms is not None else ""
        return f"{arrow} {name}{ident} {self.size} B{timing}"

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "direction": self.direction,
            "time": self.wall.isoformat(),
            "kind": self.kind,
            "method": self.method,
            "id": self.id,
            "size": self.size,
            "elapsed_ms": self.elapsed_ms,
            "message": self.payload,
        }


class TrafficLog:
    """A bounded, observable list of captured messages."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: deque[TrafficEntry] = deque(maxlen=max_entries)
        self._seq = 0
        self._pending: dict[tuple[Direction, Any], float] = {}  # (request direction, id) -> sent at
        self.listeners: list[Callable[[TrafficEntry], None]] = []

    def record(self, direction: Direction, model: Any) -> TrafficEntry:
        now = time.monotonic()
        self._seq += 1
        entry = TrafficEntry(self._seq, direction, now, datetime.now(UTC), model)
        ident = getattr(model, "id", None)
        if ident is not None:
            if hasattr(model, "method"):
                self._pending[(direction, ident)] = now
            else:  # a response answers a request that went the other way
                sent = self._pending.pop(("in" if direction == "out" else "out", ident), None)
                if sent is not None:
                    entry.elapsed_ms = (now - sent) * 1000.0
        self._entries.append(entry)
        for listener in list(self.listeners):
            listener(entry)
        return entry

    def __iter__(self) -> Iterator[TrafficEntry]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self._pending.clear()

    def methods(self, direction: Direction | None = None) -> list[str]:
        return [e.method for e in self if e.method and (direction is None or e.direction == direction)]


class _CapturingRead:
    def __init__(self, inner: Any, log: TrafficLog) -> None:
        self._inner = inner
        self._log = log

    async def receive(self) -> Any:
        item = await self._inner.receive()
        if isinstance(item, SessionMessage):
            self._log.record("in", item.message)
        return item

    def __aiter__(self) -> _CapturingRead:
        return self

    async def __anext__(self) -> Any:
        item = await self._inner.__anext__()
        if isinstance(item, SessionMessage):
            self._log.record("in", item.message)
        return item

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _CapturingRead:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return bool(await self._inner.__aexit__(exc_type, exc, tb))

    def __getattr__(self, name: str) -> Any:  # last_context and whatever else the dispatcher peeks at
        return getattr(self._inner, name)


class _CapturingWrite:
    def __init__(self, inner: Any, log: TrafficLog) -> None:
        self._inner = inner
        self._log = log

    async def send(self, item: SessionMessage, /) -> None:
        self._log.record("out", item.message)
        await self._inner.send(item)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _CapturingWrite:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return bool(await self._inner.__aexit__(exc_type, exc, tb))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CapturingTransport:
    """A `Transport` that records every message of the transport it wraps."""

    def __init__(self, inner: Transport, log: TrafficLog) -> None:
        self._inner = inner
        self.log = log

    async def __aenter__(self) -> TransportStreams:
        read, write = await self._inner.__aenter__()
        return _CapturingRead(read, self.log), _CapturingWrite(write, self.log)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return await self._inner.__aexit__(exc_type, exc, tb)
