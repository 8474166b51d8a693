"""Sampling, elicitation, roots and per-request logging for 2026-07-28 clients of a handshake-era child.

A handshake-era stdio child asks its client for input with its own JSON-RPC requests
(`elicitation/create`, `sampling/createMessage`, `roots/list`) and logs with `notifications/message`;
over stdio none of them names the request it belongs to. So a 2026-07-28 request that can use them
(its `_meta` client capabilities declare sampling, elicitation or roots, or it carries a `logLevel`)
runs on a child of its own for the call's whole life: a *lease*. Everything that child sends while
leased belongs to that one call.

- Children are warm and reused, never started per request in steady state: one idle list per
  capability set, each child initialized with exactly the capabilities its clients declared (a server
  such as server-everything registers its eliciting tools only for a client that can elicit). They
  count against `--pool-size` together with the 2025-11-25 sessions; an idle one gives its slot up
  to a new session; at the cap with none idle the request gets 503 + -32000 (retry later).
- The child's request ends the HTTP answer with `resultType: "input_required"`, its request in
  `inputRequests` and a fresh `requestState`: 32 random bytes that name the lease, single-use, bound
  to the method, tool/prompt name or uri, the arguments' digest and the authenticated principal, and
  expiring after the input timeout. The retry's `inputResponses` go to the child as its answers and
  the retry's response carries the result or the next `input_required`. Anything else gets -32602
  "Invalid or expired requestState", as the SDK's server says.
- A client that never retries: the lease expires, the call is cancelled on the child, the child's
  open requests are answered with an error and the child goes back to the pool.
- Log lines at or above the request's `logLevel` go on that request's stream only (buffered while
  the client is away between rounds); progress follows its round's progress token.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import principal_components
from mcp_types.methods import INPUT_REQUIRED_METHODS
from starlette.types import Receive

from .. import __version__
from .child import CAPABILITIES_KEY, Child, ChildError, ChildExited, obj
from .modern import SERVER_INFO_KEY, stamp_modern_answer
from .replies import INTERNAL_ERROR, INVALID_REQUEST, POOL_FULL, child_failure, outcome_of, rpc_error
from .sessions import ChildPool, PoolFull

logger = logging.getLogger("aksmcp_server.bridge.mrtr")

LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"
# The client capabilities a bridge can relay, and which child request each one covers.
RELAYABLE = ("elicitation", "sampling", "roots")
INPUT_METHODS = {"elicitation/create": "elicitation", "sampling/createMessage": "sampling", "roots/list": "roots"}
LEVELS = {name: rank for rank, name in enumerate(("debug", "info", "notice", "warning", "error", "critical", "alert"))}
LEVELS["emergency"] = len(LEVELS)
BUFFER_LIMIT = 256
INVALID_PARAMS = -32602
INVALID_STATE = "Invalid or expired requestState"


def wants_lease(params: Any) -> bool:
    """Whether a 2026-07-28 request needs a child of its own (cheap: a few dict lookups, no copies)."""
    if type(params) is not dict:
        return False
    if "requestState" in params:
        return True
    meta = params.get("_meta")
    if type(meta) is not dict:
        return False
    if LOG_LEVEL_KEY in meta:
        return True
    caps = meta.get(CAPABILITIES_KEY)
    return type(caps) is dict and ("elicitation" in caps or "sampling" in caps or "roots" in caps)


class Reply(Protocol):
    """What the HTTP side's per-request response object offers (bridge.http._Reply)."""

    pending: list[dict[str, Any]]
    wake: asyncio.Future[None] | None

    def sink(self, message: dict[str, Any]) -> None: ...
    def nudge(self, _: object = None) -> None: ...
    async def event(self, message: dict[str, Any], more: bool = True) -> None: ...
    async def close_unanswered(self) -> None: ...
    async def final(self, message: dict[str, Any], status: int = 200) -> None: ...


def _digest(method: str, params: dict[str, Any]) -> tuple[str, str]:
    """(target, arguments digest): what a requestState is bound to, as the SDK's boundary binds it."""
    if method == "resources/read":
        target, args = str(params.get("uri", "")), {}
    else:
        target, args = str(params.get("name", "")), obj(params.get("arguments"))
    canonical = json.dumps(args, sort_keys=True, separators=(",", ":"))
    return target, hashlib.sha256(canonical.encode()).hexdigest()


def _principal() -> str | None:
    token = get_access_token()
    return None if token is None else json.dumps(principal_components(token))


@dataclass(eq=False)
class Lease:
    """One 2026-07-28 call running on a child of its own, across all of its MRTR rounds."""

    child: Child
    key: str
    capabilities: dict[str, Any]
    method: str
    binding: tuple[str, str, str | None]
    log_level: int | None
    tool: str | None
    started: float = field(default_factory=time.perf_counter)
    child_id: int = -1
    future: asyncio.Future[dict[str, Any]] | None = None
    token: str | None = None
    reply: Reply | None = None
    # The child's own requests: key -> the child's message (its id unchanged); `unsent` not yet asked.
    outstanding: dict[str, dict[str, Any]] = field(default_factory=dict)
    unsent: list[str] = field(default_factory=list)
    buffer: collections.deque[dict[str, Any]] = field(default_factory=lambda: collections.deque(maxlen=BUFFER_LIMIT))
    expiry: asyncio.TimerHandle | None = None
    counter: int = 0
    done: bool = False

    def deliver(self, message: dict[str, Any]) -> None:
        """A notification for this call: to the open round's stream, or kept for the next round."""
        if self.reply is not None:
            self.reply.sink(message)
        else:
            self.buffer.append(message)

    def nudge(self, _: object = None) -> None:
        if self.reply is not None:
            self.reply.nudge()


class LeasePool:
    """The leased children and the requestStates that name their calls."""

    def __init__(self, pool: ChildPool, input_timeout: float, metrics: Any = None) -> None:
        self.pool = pool
        self.input_timeout = input_timeout
        self.metrics = metrics
        self.idle: dict[str, list[tuple[Child, float]]] = {}
        self.children: set[Child] = set()
        self.by_child: dict[Child, Lease] = {}
        self.by_token: dict[str, Lease] = {}
        self.starting = 0
        self._reaper: asyncio.Task[None] | None = None
        pool.leases = self

    # ------------------------------------------------------------------ the pool --

    @property
    def count(self) -> int:
        return len(self.children) + self.starting

    def make_room(self) -> bool:
        """Close one idle leased child so a session or another lease can have its slot."""
        for key, children in self.idle.items():
            if children:
                child, _ = children.pop(0)
                self._retire(child)
                if not children:
                    del self.idle[key]
                return True
        return False

    def _retire(self, child: Child) -> None:
        self.children.discard(child)
        self.pool._background(child.close())

    async def acquire(self, capabilities: dict[str, Any]) -> tuple[Child, str]:
        key = json.dumps(capabilities, sort_keys=True)
        idle = self.idle.get(key)
        while idle:
            child, _ = idle.pop()
            if child.alive:
                return child, key
            self.children.discard(child)
        if self.pool.closing:
            raise ChildError("the bridge is shutting down")
        if len(self.pool.sessions) + self.count >= self.pool.pool_size and not self.make_room():
            raise PoolFull(self.pool.pool_size)
        self.starting += 1
        try:
            child = self.pool._spawn(f"input-{secrets.token_hex(3)}", self._on_message)
            await child.start(
                capabilities, {"name": "aksmcp-bridge", "version": __version__}, self.pool.startup_timeout
            )
        finally:
            self.starting -= 1
        self.children.add(child)
        self.pool.on_child_started("input")
        self.pool._background(self._watch_exit(child))
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_idle(), name="bridge-input-reaper")
        if "logging" in (child.init_result.get("capabilities") or {}):
            await self._log_everything(child)  # before the first call, so none of its lines is filtered out
        return child, key

    async def _log_everything(self, child: Child) -> None:
        # The bridge filters by each request's level, so the child sends every level it has.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.pool.startup_timeout):
                await child.call(
                    {"jsonrpc": "2.0", "id": 0, "method": "logging/setLevel", "params": {"level": "debug"}}
                )

    def release(self, lease: Lease) -> None:
        if lease.done:
            return
        lease.done = True
        if lease.expiry is not None:
            lease.expiry.cancel()
        if lease.token is not None:
            self.by_token.pop(lease.token, None)
        child = lease.child
        self.by_child.pop(child, None)
        future = lease.future
        if future is not None:
            cancelled = not future.done()
            child.finish(lease.child_id, cancelled=cancelled)
        for message in lease.outstanding.values():
            # The call is over: the child's questions will never be answered by a client.
            with contextlib.suppress(ChildExited):
                child.respond(rpc_error(message["id"], INVALID_REQUEST, "the request was abandoned by its client"))
        lease.outstanding.clear()
        if child.alive and not self.pool.closing and child in self.children:
            self.idle.setdefault(lease.key, []).append((child, time.monotonic()))
        else:
            self.children.discard(child)

    async def _watch_exit(self, child: Child) -> None:
        await child.exited.wait()
        self.children.discard(child)
        for key, children in list(self.idle.items()):
            self.idle[key] = [(c, t) for c, t in children if c is not child]
        self.pool.on_child_exited("input")

    async def _reap_idle(self) -> None:
        interval = max(0.05, min(self.pool.idle_seconds / 4, 30.0))
        while not self.pool.closing:
            await asyncio.sleep(interval)
            cutoff = time.monotonic() - self.pool.idle_seconds
            for key, children in list(self.idle.items()):
                keep = [(c, t) for c, t in children if t >= cutoff]
                for child, stamp in children:
                    if stamp < cutoff:
                        self._retire(child)
                self.idle[key] = keep

    def all_children(self) -> list[Child]:
        if self._reaper is not None:
            self._reaper.cancel()
        for lease in list(self.by_child.values()):
            if lease.expiry is not None:
                lease.expiry.cancel()
        return list(self.children)

    # ------------------------------------------------------------------ the child's messages --

    def _on_message(self, child: Child, message: dict[str, Any]) -> None:
        lease = self.by_child.get(child)
        method = message.get("method")
        if "id" in message:
            if method == "ping":
                child.respond({"jsonrpc": "2.0", "id": message["id"], "result": {}})
                return
            refusal = self._refusal(lease, str(method), message)
            if refusal is not None:
                with contextlib.suppress(ChildExited):
                    child.respond(rpc_error(message["id"], INVALID_REQUEST, refusal))
                return
            assert lease is not None
            lease.counter += 1
            key = f"{INPUT_METHODS[str(method)]}-{lease.counter}"
            lease.outstanding[key] = message
            lease.unsent.append(key)
            lease.nudge()
            return
        if lease is not None and method == "notifications/message":
            level = LEVELS.get(str(obj(message.get("params")).get("level")), 0)
            if lease.log_level is not None and level >= lease.log_level:
                lease.deliver(message)
            return
        if lease is not None and method == "notifications/cancelled":
            # The child gave up one of its own requests: stop asking the client for it.
            request_id = obj(message.get("params")).get("requestId")
            for key, pending in list(lease.outstanding.items()):
                if pending.get("id") == request_id:
                    del lease.outstanding[key]
                    with contextlib.suppress(ValueError):
                        lease.unsent.remove(key)
            return
        if method in ("notifications/tools/list_changed", "notifications/prompts/list_changed") or (
            method == "notifications/resources/list_changed"
        ):
            self.pool._on_shared_message(child, message)  # listeners hear what any child announces

    def _refusal(self, lease: Lease | None, method: str, message: dict[str, Any]) -> str | None:
        """Why the child's request cannot go to the client, or None when it can."""
        capability = INPUT_METHODS.get(method)
        if capability is None:
            return f"{method} is not relayed by the bridge"
        if lease is None or lease.future is None or lease.future.done():
            return f"{method} arrived outside a request; the bridge relays it only during the call that asks"
        if lease.method not in INPUT_REQUIRED_METHODS:
            return f"{method} cannot be relayed during {lease.method}"
        declared = lease.capabilities.get(capability)
        if type(declared) is not dict:
            return f"the client did not declare the {capability} capability"
        if capability == "elicitation":
            mode = obj(message.get("params")).get("mode") or "form"
            if (declared.get("form") is not None or declared.get("url") is not None) and mode not in declared:
                return f"the client does not support {mode} elicitation"
        return None

    # ------------------------------------------------------------------ rounds --

    async def serve(self, message: dict[str, Any], reply: Reply, receive: Receive, server_info: dict[str, Any]) -> None:
        """Answer one 2026-07-28 request (a first call or a retry) that needs a leased child."""
        request_id = message["id"]
        method = str(message["method"])
        params: dict[str, Any] = message["params"]
        state = params.pop("requestState", None)
        responses = params.pop("inputResponses", None)
        target, digest = _digest(method, params)
        if state is not None:
            lease = self.by_token.pop(state, None) if isinstance(state, str) else None
            if lease is None or lease.done or lease.method != method or lease.binding != (target, digest, _principal()):
                if lease is not None:
                    self.by_token[state] = lease  # a foreign retry does not burn the owner's state
                await reply.final(
                    rpc_error(request_id, INVALID_PARAMS, INVALID_STATE, {"reason": "invalid_request_state"}), 400
                )
                return
            if lease.expiry is not None:
                lease.expiry.cancel()
            lease.token = None
            self._answer(lease, responses)
            self._follow_progress(lease, params)
        else:
            lease_or_error = await self._begin(message, method, params, (target, digest, _principal()))
            if isinstance(lease_or_error, tuple):
                answer, status = lease_or_error
                await reply.final(answer, status)
                return
            lease = lease_or_error
        await self._round(lease, request_id, reply, receive, server_info)

    async def _begin(
        self, message: dict[str, Any], method: str, params: dict[str, Any], binding: tuple[str, str, str | None]
    ) -> Lease | tuple[dict[str, Any], int]:
        meta = obj(params.get("_meta"))
        declared = obj(meta.get(CAPABILITIES_KEY))
        capabilities = {name: declared[name] for name in RELAYABLE if type(declared.get(name)) is dict}
        level = meta.get(LOG_LEVEL_KEY)
        try:
            child, key = await self.acquire(capabilities)
        except PoolFull as exc:
            text = (
                f"all {exc.size} MCP server processes of the bridge are busy (--pool-size {exc.size}: sessions plus "
                "calls that need sampling, elicitation, roots or logging); retry later"
            )
            return rpc_error(message["id"], POOL_FULL, text, {"poolSize": exc.size}), 503
        except ChildError as exc:
            return child_failure(message["id"], exc), 503
        tool = None
        if method == "tools/call" and self.metrics is not None:
            tool = self.metrics.tool_label(params.get("name"))
        lease = Lease(
            child=child,
            key=key,
            capabilities=capabilities,
            method=method,
            binding=binding,
            log_level=LEVELS.get(level) if isinstance(level, str) else None,
            tool=tool,
        )
        self.by_child[child] = lease
        child.prepare(message)
        try:
            lease.child_id, lease.future = child.begin(message, lease.deliver)
        except ChildExited as exc:
            self.release(lease)
            return rpc_error(message["id"], INTERNAL_ERROR, f"{exc}; it is being restarted"), 200
        lease.future.add_done_callback(lease.nudge)
        return lease

    def _answer(self, lease: Lease, responses: Any) -> None:
        """The client's answers go to the child, each as the response to the child's own request."""
        for key, response in obj(responses).items():
            pending = lease.outstanding.pop(key, None)
            if pending is None:
                continue
            with contextlib.suppress(ValueError):
                lease.unsent.remove(key)
            if type(response) is dict:
                answer: dict[str, Any] = {"jsonrpc": "2.0", "id": pending["id"], "result": response}
            else:
                answer = rpc_error(pending["id"], INVALID_PARAMS, "the client's input response is not an object")
            with contextlib.suppress(ChildExited):
                lease.child.respond(answer)
        # A question the retry left unanswered is asked again.
        for key in lease.outstanding:
            if key not in lease.unsent:
                lease.unsent.append(key)

    def _follow_progress(self, lease: Lease, params: dict[str, Any]) -> None:
        """Progress of a later round goes to that round's progress token."""
        token = obj(params.get("_meta")).get("progressToken")
        pending = lease.child.progress.get(lease.child_id)
        if token is not None and pending is not None:
            pending.client_token = token

    async def _round(self, lease: Lease, request_id: Any, reply: Reply, receive: Receive, info: dict[str, Any]) -> None:
        future = lease.future
        assert future is not None
        loop = asyncio.get_running_loop()
        lease.reply = reply
        reply.pending.extend(lease.buffer)
        lease.buffer.clear()
        watcher = asyncio.ensure_future(_wait_disconnect(receive))
        watcher.add_done_callback(reply.nudge)
        try:
            while True:
                reply.wake = loop.create_future()
                if not (future.done() or watcher.done() or reply.pending or lease.unsent):
                    await reply.wake
                while reply.pending and not watcher.done():
                    await reply.event(reply.pending.pop(0))
                if future.done() or watcher.done() or lease.unsent:
                    break
        finally:
            lease.reply = None
            watcher.cancel()
        if future.done():
            await self._finish(lease, request_id, reply, info)
        elif watcher.done():
            # 2026-07-28: closing the response stream is the cancellation.
            self.release(lease)
        else:
            await self._ask(lease, request_id, reply, info)

    async def _ask(self, lease: Lease, request_id: Any, reply: Reply, info: dict[str, Any]) -> None:
        requests = {}
        for key in lease.unsent:
            asked = lease.outstanding[key]
            requests[key] = {"method": asked["method"], "params": obj(asked.get("params"))}
        lease.unsent.clear()
        token = secrets.token_urlsafe(32)
        lease.token = token
        self.by_token[token] = lease
        lease.expiry = asyncio.get_running_loop().call_later(self.input_timeout, self._expire, lease, token)
        result = {"resultType": "input_required", "inputRequests": requests, "requestState": token}
        result["_meta"] = {SERVER_INFO_KEY: info}
        await reply.final({"jsonrpc": "2.0", "id": request_id, "result": result})

    def _expire(self, lease: Lease, token: str) -> None:
        if lease.token == token and lease.reply is None:
            logger.info(
                "input request expired: the client never retried",
                extra={"session": lease.child.label, "timeout_s": self.input_timeout},
            )
            self.release(lease)

    async def _finish(self, lease: Lease, request_id: Any, reply: Reply, info: dict[str, Any]) -> None:
        assert lease.future is not None
        try:
            answer = lease.future.result()
        except ChildExited as exc:
            answer = child_failure(None, exc)
        self.release(lease)
        answer["id"] = request_id
        status = stamp_modern_answer(answer, lease.method, info, child_modern=False)
        if lease.tool is not None and self.metrics is not None:
            self.metrics.record_tool_call(lease.tool, outcome_of(answer), time.perf_counter() - lease.started)
        await reply.final(answer, status)


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
