"""Cheap answers for the bridge's common case, with the general code kept for everything else.

Measured under bench/bridge.py (server/README.md "How fast"), the bridge's own CPU per call went to
generic machinery rather than to checks, so the hot path takes shortcuts that leave every check in place:

- `plain_modern_meta`: an exact-match test for the well-formed 2026-07-28 request. It accepts only what
  the SDK's `classify_inbound_request` ladder would route (the envelope pair present, the routing headers
  given once each and equal to the body, a supported version); anything else, including every request
  the ladder would reject, goes to the ladder, which answers with its own error. Only validation is
  skipped: what `_modern` decides after it (discover, listen, which child serves the call) still runs.
- `LazyDisconnectWatch`: a 2026-07-28 client cancels a call by closing its response stream, so the
  bridge has to notice a disconnect; a task per request that sits in `receive()` cost more than the
  rest of a fast call's forwarding. Fast calls are answered before the watch would start; a slow call
  gets the same task, `DISCONNECT_WATCH_DELAY_S` later.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mcp.shared.inbound import NAME_BEARING_METHODS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.types import Receive

from .child import CAPABILITIES_KEY, PROTOCOL_VERSION_KEY

# A client that gives up on a call within this long loses nothing by being noticed this late: the
# call's answer is dropped either way, and the child is told to cancel it once the watch starts.
DISCONNECT_WATCH_DELAY_S = 0.05
_MODERN_VERSIONS = {version.encode("latin-1"): version for version in MODERN_PROTOCOL_VERSIONS}
_BASE64_SENTINEL = b"=?"


def plain_modern_meta(
    message: dict[str, Any], headers: dict[bytes, bytes], raw_headers: list[tuple[bytes, bytes]]
) -> dict[str, Any] | None:
    """The request's `_meta` when it is a well-formed, plain 2026-07-28 request; None = "ask the ladder".

    `message` has a `method` and an `id` (the caller checked); `headers` is `dict(raw_headers)`.
    """
    if len(headers) != len(raw_headers):
        return None  # a repeated header of any kind: the ladder's duplicate check decides
    params = message.get("params")
    if type(params) is not dict:
        return None
    meta = params.get("_meta")
    if type(meta) is not dict or CAPABILITIES_KEY not in meta:
        return None
    version = _MODERN_VERSIONS.get(headers.get(b"mcp-protocol-version", b""))
    if version is None or meta.get(PROTOCOL_VERSION_KEY) != version:
        return None
    method = message["method"]
    method_header = headers.get(b"mcp-method")
    if type(method) is not str or method_header is None or method_header.decode("latin-1") != method:
        return None
    name_key = NAME_BEARING_METHODS.get(method)
    if name_key is not None:
        name = params.get(name_key)
        if name is not None:
            name_header = headers.get(b"mcp-name")
            # A base64-wrapped header is the ladder's to decode; a plain one must equal the body.
            if name_header is None or name_header.startswith(_BASE64_SENTINEL) or name_header.decode("latin-1") != name:
                return None
    return meta


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class LazyDisconnectWatch:
    """`done` resolves when the client disconnects; nothing watches until `delay` has passed."""

    __slots__ = ("_handle", "_receive", "_task", "done")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, receive: Receive, delay: float = DISCONNECT_WATCH_DELAY_S
    ) -> None:
        self.done: asyncio.Future[None] = loop.create_future()
        self._receive = receive
        self._task: asyncio.Future[None] | None = None
        self._handle: asyncio.TimerHandle | None = loop.call_later(delay, self._start)

    def _start(self) -> None:
        self._handle = None
        if self.done.done():
            return
        self._task = asyncio.ensure_future(_wait_disconnect(self._receive))
        self._task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Future[None]) -> None:
        # Any end but our own cancel means the request's stream is gone (an error reading it, too).
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as lost
            if not self.done.done():
                self.done.set_result(None)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._task is not None:
            self._task.cancel()
        self.done.cancel()
