"""The bridge's children: one shared child for stateless traffic, one child per 2025-11-25 session.

Why both (server/README.md says it for operators):
- A 2026-07-28 request stands alone (its capabilities and version travel in `_meta`; its progress comes
  back on its own response stream), so every such request can share one long-lived child: ids and
  progress tokens are remapped per request (`child.Child`), so callers can never see each other's
  answers. The shared child is told the client supports no sampling/elicitation/roots, so it has no
  reason to send requests nobody could answer.
- A 2025-11-25 session is stateful: the server sends logging, resource updates and its own requests
  (sampling, elicitation, roots) on a channel that, over stdio, names no request. With one child per
  session every such message has exactly one possible recipient, and the child is initialized with that
  client's real capabilities. The pool is bounded (`--pool-size`), idle sessions are reaped, and at the
  cap a new session gets a clear "pool full" answer instead of a child.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from .child import Child, ChildError, Sink, obj

logger = logging.getLogger("aksmcp_server.bridge")

BACKLOG_LIMIT = 256
SHARED_LABEL = "shared"
RESTART_BACKOFF_MAX_S = 30.0


class PoolFull(Exception):
    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(
            f"the bridge has {size} open sessions, each with its own MCP server process (--pool-size {size}); "
            "close a session or retry later"
        )


@dataclass(eq=False)  # kept in a set: identity, not value
class Listener:
    """A 2026-07-28 `subscriptions/listen` stream: which notifications it asked for, where they go."""

    sink: Sink
    subscription_id: Any
    tools: bool = False
    prompts: bool = False
    resources: bool = False
    resource_uris: frozenset[str] = frozenset()


Owner = tuple[str, str | None, str | None]
"""The authenticated principal that opened a session (`principal_components`: client id, issuer, subject)."""


@dataclass
class LegacySession:
    """One 2025-11-25 Streamable HTTP session and its child."""

    id: str
    capabilities: dict[str, Any]
    client_info: dict[str, Any]
    protocol_version: str
    owner: Owner | None = None  # None: the bridge runs without auth
    child: Child | None = None
    last_active: float = field(default_factory=time.monotonic)
    in_flight: int = 0
    get_stream: asyncio.Queue[dict[str, Any] | None] | None = None
    post_sinks: list[Sink] = field(default_factory=list)
    backlog: collections.deque[dict[str, Any]] = field(default_factory=lambda: collections.deque(maxlen=BACKLOG_LIMIT))
    closed: bool = False
    restart_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def touch(self) -> None:
        self.last_active = time.monotonic()

    def deliver(self, message: dict[str, Any]) -> None:
        """A message from the child that belongs to the session rather than to one request."""
        if self.get_stream is not None:
            self.get_stream.put_nowait(message)
        elif self.post_sinks:
            # No standalone stream open: the spec lets the server use any open response stream.
            self.post_sinks[-1](message)
        else:
            self.backlog.append(message)


class ChildPool:
    def __init__(
        self,
        command: Sequence[str],
        *,
        pool_size: int,
        idle_seconds: float,
        startup_timeout: float,
        cwd: str | None,
        on_child_started: Callable[[str], None] | None = None,
        on_child_exited: Callable[[str], None] | None = None,
        on_tools_seen: Callable[[list[str]], None] | None = None,
        input_timeout: float = 300.0,
    ) -> None:
        self.command = list(command)
        self.pool_size = pool_size
        self.idle_seconds = idle_seconds
        self.startup_timeout = startup_timeout
        self.cwd = cwd
        self.on_child_started = on_child_started or (lambda kind: None)
        self.on_child_exited = on_child_exited or (lambda kind: None)
        self.on_tools_seen = on_tools_seen or (lambda names: None)
        self.shared: Child | None = None
        self.shared_error: str | None = None
        self._shared_lock = asyncio.Lock()
        self._shared_failures = 0
        self._shared_retry_at = 0.0
        self.sessions: dict[str, LegacySession] = {}
        self.listeners: set[Listener] = set()
        self._resource_refs: collections.Counter[str] = collections.Counter()
        self._tasks: list[asyncio.Task[None]] = []
        self._side_tasks: set[asyncio.Task[None]] = set()
        self.closing = False
        # 2026-07-28 calls that need a child of their own (bridge.mrtr.LeasePool); they share --pool-size.
        self.input_timeout = input_timeout
        self.leases: Any = None

    # ------------------------------------------------------------------ start / stop --

    async def start(self) -> None:
        """Start the shared child in the background (readiness waits for it, liveness does not) and the reaper."""
        self._tasks.append(asyncio.create_task(self._supervise_shared(), name="bridge-supervisor"))
        self._tasks.append(asyncio.create_task(self._reap_idle(), name="bridge-reaper"))

    async def close(self, grace: float = 5.0) -> None:
        """Close every child: stdin first (their in-flight calls have been drained by then)."""
        self.closing = True
        for task in self._tasks:
            task.cancel()
        children = [s.child for s in self.sessions.values() if s.child is not None]
        for session in list(self.sessions.values()):
            self._end_session_streams(session)
        self.sessions.clear()
        if self.shared is not None:
            children.append(self.shared)
        if self.leases is not None:
            children.extend(self.leases.all_children())
        await asyncio.gather(*(child.close(grace) for child in children), return_exceptions=True)

    def ready(self) -> tuple[bool, str | None]:
        if self.shared is not None and self.shared.alive:
            return True, None
        return False, self.shared_error or "the MCP server process is starting"

    # ------------------------------------------------------------------ shared child --

    def _spawn(self, label: str, on_message: Callable[[Child, dict[str, Any]], None]) -> Child:
        return Child(self.command, label=label, on_message=on_message, cwd=self.cwd)

    async def _start_shared(self) -> Child:
        async with self._shared_lock:
            if self.shared is not None and self.shared.alive:
                return self.shared
            if self.closing:
                raise ChildError("the bridge is shutting down")
            child = self._spawn(SHARED_LABEL, self._on_shared_message)
            try:
                await child.start({}, {"name": "aksmcp-bridge", "version": __version__}, self.startup_timeout)
            except ChildError as exc:
                self._shared_failures += 1
                self.shared_error = str(exc)
                backoff = min(RESTART_BACKOFF_MAX_S, 0.5 * 2 ** min(self._shared_failures, 8))
                self._shared_retry_at = time.monotonic() + backoff
                logger.error("cannot start the MCP server", extra={"error": str(exc), "retry_in_s": backoff})
                raise
            self._shared_failures = 0
            self.shared_error = None
            self.shared = child
            self.on_child_started(SHARED_LABEL)
            self._background(self._learn_tools(child))
            self._background(self._watch_exit(child, SHARED_LABEL))
            return child

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._side_tasks.add(task)  # a reference, or the loop may drop the task mid-way
        task.add_done_callback(self._side_tasks.discard)

    async def shared_child(self) -> Child:
        """The live shared child; a dead one is replaced (fast failure while a start keeps failing)."""
        child = self.shared
        if child is not None and child.alive:
            return child
        if self.shared_error is not None and time.monotonic() < self._shared_retry_at:
            raise ChildError(self.shared_error)
        return await self._start_shared()

    async def _supervise_shared(self) -> None:
        # Replaces a dead shared child without waiting for a request, so /readyz recovers by itself.
        while not self.closing:
            child = self.shared
            if child is not None and child.alive:
                await child.exited.wait()
                continue
            delay = max(0.0, self._shared_retry_at - time.monotonic())
            await asyncio.sleep(delay)
            with contextlib.suppress(ChildError):
                await self._start_shared()

    async def _watch_exit(self, child: Child, kind: str) -> None:
        await child.exited.wait()
        self.on_child_exited(kind)

    async def _learn_tools(self, child: Child) -> None:
        """Tool names for the per-tool metrics, from the child itself (never from client input)."""
        if "tools" not in (child.init_result.get("capabilities") or {}):
            return
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": "bridge-tools", "method": "tools/list", "params": {}}
        child.prepare(message)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.startup_timeout):
                answer = await child.call(message)
            self.note_tools(answer.get("result"))

    def note_tools(self, result: Any) -> None:
        if isinstance(result, dict) and isinstance(result.get("tools"), list):
            names = [t["name"] for t in result["tools"] if isinstance(t, dict) and isinstance(t.get("name"), str)]
            self.on_tools_seen(names)

    def _on_shared_message(self, child: Child, message: dict[str, Any]) -> None:
        method = message.get("method")
        if "id" in message:
            # The shared child was told its client has no capabilities; only ping can be answered.
            if method == "ping":
                child.respond({"jsonrpc": "2.0", "id": message["id"], "result": {}})
            else:
                child.respond(
                    {
                        "jsonrpc": "2.0",
                        "id": message["id"],
                        "error": {"code": -32601, "message": f"{method} is not available to stateless clients"},
                    }
                )
            return
        flag = {
            "notifications/tools/list_changed": "tools",
            "notifications/prompts/list_changed": "prompts",
            "notifications/resources/list_changed": "resources",
        }.get(str(method))
        for listener in list(self.listeners):
            if flag is not None and getattr(listener, flag):
                listener.sink(_tag(message, listener.subscription_id))
            elif method == "notifications/resources/updated":
                uri = (message.get("params") or {}).get("uri")
                if uri in listener.resource_uris:
                    listener.sink(_tag(message, listener.subscription_id))

    # ------------------------------------------------------------------ listeners (2026-07-28) --

    async def add_listener(self, listener: Listener) -> None:
        self.listeners.add(listener)
        new = [uri for uri in listener.resource_uris if self._resource_refs[uri] == 0]
        self._resource_refs.update(listener.resource_uris)
        if new:
            child = await self.shared_child()
            for uri in new:
                await child.call({"jsonrpc": "2.0", "id": 0, "method": "resources/subscribe", "params": {"uri": uri}})

    def remove_listener(self, listener: Listener) -> None:
        self.listeners.discard(listener)
        self._resource_refs.subtract(listener.resource_uris)
        child = self.shared
        for uri in listener.resource_uris:
            if self._resource_refs[uri] <= 0:
                del self._resource_refs[uri]
                if child is not None and child.alive:
                    # Fire and forget: nobody waits for the answer of an unsubscribe.
                    with contextlib.suppress(Exception):
                        child.begin(
                            {"jsonrpc": "2.0", "id": 0, "method": "resources/unsubscribe", "params": {"uri": uri}}
                        )

    # ------------------------------------------------------------------ sessions (2025-11-25) --

    async def open_session(
        self,
        capabilities: dict[str, Any],
        client_info: dict[str, Any],
        protocol_version: str,
        owner: Owner | None = None,
    ) -> LegacySession:
        if self.closing:
            raise ChildError("the bridge is shutting down")
        leased = self.leases.count if self.leases is not None else 0
        if len(self.sessions) + leased >= self.pool_size and not (self.leases is not None and self.leases.make_room()):
            raise PoolFull(self.pool_size)
        session = LegacySession(secrets.token_hex(16), capabilities, client_info, protocol_version, owner)
        self.sessions[session.id] = session  # holds the slot while the child starts
        try:
            await self._start_session_child(session)
        except BaseException:
            self.sessions.pop(session.id, None)
            raise
        session.touch()  # idle time counts from a usable session, not from the start of a slow child
        logger.info(
            "session opened", extra={"session": session.id[:8], "child_pid": session.child and session.child.pid}
        )
        return session

    async def _start_session_child(self, session: LegacySession) -> Child:
        label = session.id[:8]

        def on_message(child: Child, message: dict[str, Any]) -> None:
            if message.get("method") == "ping" and "id" in message:
                child.respond({"jsonrpc": "2.0", "id": message["id"], "result": {}})
                return
            session.deliver(message)

        child = self._spawn(label, on_message)
        await child.start(session.capabilities, session.client_info, self.startup_timeout)
        session.child = child
        self.on_child_started("session")
        self._background(self._watch_exit(child, "session"))
        return child

    async def session_child(self, session: LegacySession) -> Child:
        """The session's live child; a dead one is replaced (same capabilities, fresh server state)."""
        child = session.child
        if child is not None and child.alive:
            return child
        async with session.restart_lock:
            child = session.child
            if child is not None and child.alive:
                return child
            if session.closed or self.closing:
                raise ChildError("the session is closed")
            logger.warning("replacing the session's MCP server process", extra={"session": session.id[:8]})
            return await self._start_session_child(session)

    def get_session(self, session_id: str, owner: Owner | None) -> LegacySession | None:
        """The session, if `owner` opened it. As in the SDK's session manager, a session can only be used
        with the credential that created it; to anyone else it does not exist (no hint that it does)."""
        session = self.sessions.get(session_id)
        if session is not None and session.owner != owner:
            logger.warning(
                "refused a request for a session: the credential does not match the one that opened it",
                extra={"session": session_id[:8]},
            )
            return None
        return session

    async def close_session(self, session_id: str, reason: str) -> bool:
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        session.closed = True
        self._end_session_streams(session)
        logger.info("session closed", extra={"session": session_id[:8], "reason": reason})
        if session.child is not None:
            await session.child.close()
        return True

    def _end_session_streams(self, session: LegacySession) -> None:
        session.closed = True
        if session.get_stream is not None:
            session.get_stream.put_nowait(None)

    async def _reap_idle(self) -> None:
        interval = max(0.05, min(self.idle_seconds / 4, 30.0))
        while not self.closing:
            await asyncio.sleep(interval)
            cutoff = time.monotonic() - self.idle_seconds
            for session in list(self.sessions.values()):
                # An open GET stream is a connected client; a client that vanished has dropped it.
                # A session whose child is still starting is not idle either (its initialize is waiting).
                if (
                    session.child is not None
                    and session.in_flight == 0
                    and session.get_stream is None
                    and session.last_active < cutoff
                ):
                    await self.close_session(session.id, "idle")

    # ------------------------------------------------------------------ figures --

    def child_counts(self) -> dict[str, int]:
        sessions = sum(1 for s in self.sessions.values() if s.child is not None and s.child.alive)
        leased = sum(1 for c in self.leases.children if c.alive) if self.leases is not None else 0
        shared = 1 if self.shared is not None and self.shared.alive else 0
        return {"shared": shared, "session": sessions, "input": leased}


def _tag(message: dict[str, Any], subscription_id: Any) -> dict[str, Any]:
    params = obj(message.get("params"))
    meta = obj(params.get("_meta"))
    return {
        **message,
        "params": {**params, "_meta": {**meta, "io.modelcontextprotocol/subscriptionId": subscription_id}},
    }
