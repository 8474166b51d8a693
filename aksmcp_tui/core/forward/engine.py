"""The forward engine: accept on a local port, pick a ready pod per connection, one websocket stream
per connection, bytes both ways.

Healing rules (why the code looks like this):
- Pods come from a live watch (Backends), never a lookup per connection, so the choice is instant.
- A new connection goes to the ready, non-terminating pod with the fewest open connections (ties
  rotate), so a rollout's terminating pods drain: they keep what they have, get nothing new.
- Until the pod has sent its first byte, everything the client wrote is kept (up to REPLAY_LIMIT);
  a stream that fails before then (pod gone, port refused, upgrade refused, closed without
  answering) is re-opened on another ready pod and the bytes replayed: the client never sees it.
- No ready pod: the connection waits (state "waiting") up to `hold_timeout`, then is refused and
  the reason recorded.
- Once the pod has answered, a failure is final for that connection only. One exception, for MCP
  (HTTP) targets: when the pod closes a kept-alive connection cleanly right after the client sent
  its next request (a draining server closes idle connections), that unanswered request is re-sent
  to another pod, exactly as if the client had opened a fresh connection.
- One spare stream is kept open to a ready pod, so an accepted connection starts at once instead
  of after a TLS handshake and websocket upgrade to the API server (tens of ms); a spare that died
  meanwhile is retried like any stream that fails before the first byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from aksmcp_tui.core.forward.backends import Backends, PodInfo, backoff_delays
from aksmcp_tui.core.forward.ports import port_taken_message
from aksmcp_tui.core.forward.probe import ProbeResult, probe_mcp
from aksmcp_tui.core.forward.spec import ForwardError, ForwardStatus, forward_id, normalize_target
from aksmcp_tui.core.forward.stream import PortForwardStream, StreamFailed
from aksmcp_tui.core.kube import KubeContext

log = logging.getLogger("aksmcp.forward")

CHUNK = 64 * 1024
REPLAY_LIMIT = 1024 * 1024  # bytes kept for a retry before the pod's first byte
HOLD_TIMEOUT = 30.0
RECENT_FAILURE_SECONDS = 30.0  # a connection failure keeps the forward "degraded" this long
POD_COOLDOWN = 2.0  # a pod whose stream just failed is avoided this long
LINGER_AFTER_LOCAL_EOF = 30.0  # v4 has no half-close: wait this long for the pod's answer
PROBE_INTERVAL = 15.0
SPARE_MAX_AGE = 60.0
SPARE_REFILL_DELAY = 0.05  # an older spare is replaced (servers and middle boxes may drop idle streams)

StateListener = Callable[[ForwardStatus, str], None]  # (new status, previous state)


class Forwarder:
    """One forward: a local listener plus the watch of its target's pods."""

    def __init__(
        self,
        kube: KubeContext,
        namespace: str,
        target: str,
        remote_port: int | str | None = None,
        *,
        local_port: int = 0,
        address: str = "127.0.0.1",
        hold_timeout: float = HOLD_TIMEOUT,
        probe: bool | None = None,
        probe_interval: float = PROBE_INTERVAL,
        prewarm: bool = True,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.target = normalize_target(target)
        self.remote_port = remote_port
        self.address = address
        self.requested_port = local_port
        self.local_port = local_port
        self.hold_timeout = hold_timeout
        self.probe_enabled = probe
        self.probe_interval = probe_interval
        self.id = forward_id(kube.name, namespace, self.target)
        self.backends = Backends(kube, namespace, self.target, remote_port)
        self.backends.on_change = self._changed
        self.listeners: list[StateListener] = []
        # health
        self.started_at: float | None = None
        self.reconnects = 0
        self.open_connections = 0
        self.total_connections = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.last_error: str | None = None
        self.last_failure_at = float("-inf")
        self.fatal: str | None = None
        # the cluster refuses streams outright (403, no websocket support): "failed" until one works
        self.blocked: str | None = None
        self.pod_in_use: str | None = None
        self.probe_result: ProbeResult | None = None
        self._state = "waiting"
        self._server: asyncio.Server | None = None
        self._conn_tasks: set[asyncio.Task[None]] = set()
        self._probe_task: asyncio.Task[None] | None = None
        self._probe_session: aiohttp.ClientSession | None = None
        self._rotation = itertools.count()
        self._cooldown: dict[str, float] = {}
        self._had_api_problem = False
        self.http_aware = False
        self.prewarm = prewarm
        self._spare: PortForwardStream | None = None
        self._spare_wanted = asyncio.Event()
        self._spare_task: asyncio.Task[None] | None = None

    # lifecycle

    async def start(self) -> None:
        """Resolve the target, bind the local port, start watching. Raises ForwardError."""
        await self.backends.resolve()
        try:
            self._server = await asyncio.start_server(self._accept, self.address, self.requested_port, limit=CHUNK)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ForwardError(port_taken_message(self.address, self.requested_port)) from None
            if exc.errno in (errno.EADDRNOTAVAIL, errno.EINVAL):
                raise ForwardError(f"cannot listen on {self.address}: not an address of this machine") from None
            if exc.errno == errno.EACCES:
                raise ForwardError(
                    f"not allowed to listen on port {self.requested_port} (ports below 1024 need root)"
                ) from None
            raise ForwardError(f"cannot listen on {self.address}:{self.requested_port}: {exc.strerror}") from None
        self.local_port = int(self._server.sockets[0].getsockname()[1])
        self.started_at = time.monotonic()
        # MCP (HTTP) targets: a request sent on a connection the pod closed meanwhile is re-sent
        self.http_aware = self.remote_port in (None, "mcp") or self.backends._port_for_pod == "mcp"
        self.backends.start()
        if self.prewarm:
            self._spare_wanted.set()
            self._spare_task = asyncio.create_task(self._spare_loop(), name=f"forward-spare-{self.id}")
        if self._should_probe():
            self._probe_task = asyncio.create_task(self._probe_loop(), name=f"forward-probe-{self.id}")
        log.info("forward %s %s/%s listening on %s", self.id, self.namespace, self.target, self.local_url)

    def _should_probe(self) -> bool:
        if self.probe_enabled is not None:
            return self.probe_enabled
        # MCP targets: the default port (named "mcp") or a port named "mcp".
        return self.remote_port in (None, "mcp") or self.backends._port_for_pod == "mcp"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._conn_tasks):
            task.cancel()
        if self._conn_tasks:
            await asyncio.gather(*self._conn_tasks, return_exceptions=True)
        if self._spare_task is not None:
            self._spare_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._spare_task
        if self._spare is not None:
            spare, self._spare = self._spare, None
            await spare.close()
        if self._probe_task is not None:
            self._probe_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe_task
        if self._probe_session is not None:
            await self._probe_session.close()
        await self.backends.stop()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        self.fatal = self.fatal or "stopped"
        self._changed()

    # status

    @property
    def local_url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.local_port}"

    def state(self) -> str:
        if self.fatal or self._server is None or self.blocked:
            return "failed"
        if not self.backends.ready():
            return "waiting"
        if (
            self.backends.problem
            or (self.probe_result is not None and not self.probe_result.ok)
            or time.monotonic() - self.last_failure_at < RECENT_FAILURE_SECONDS
        ):
            return "degraded"
        return "active"

    def status(self) -> ForwardStatus:
        probe = self.probe_result
        error = self.fatal or self.blocked or self.backends.problem or self.last_error
        if error is None and probe is not None and not probe.ok:
            error = probe.error
        state = self.state()
        if error is None and state == "waiting" and self.backends.synced.is_set():
            error = self._no_pod_reason()
        pod = self.pod_in_use
        ready = self.backends.ready()
        if pod is None or pod not in self.backends.pods:
            pod = ready[0].name if ready else None
        return ForwardStatus(
            id=self.id,
            context=self.kube.name,
            namespace=self.namespace,
            target=self.target,
            local_url=self.local_url,
            mcp_url=self.local_url + "/mcp",
            state=state,
            pod=pod,
            reconnects=self.reconnects,
            mcp_latency_ms=probe.latency_ms if probe is not None and probe.ok else None,
            last_error=error,
            open_connections=self.open_connections,
            total_connections=self.total_connections,
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            uptime_s=round(time.monotonic() - self.started_at, 1) if self.started_at else 0.0,
            local_port=self.local_port,
            remote_port=self.backends.resolved_remote,
            address=self.address,
            ready_pods=len(ready),
            mcp_protocol=probe.protocol if probe is not None else None,
        )

    def _changed(self) -> None:
        spare = self._spare
        if spare is not None and not self._pod_ready(spare.pod):
            self._spare = None  # its pod stopped being ready: never hand it out
            self._spare_wanted.set()
            asyncio.get_running_loop().create_task(spare.close())
        if self.backends.problem:
            self._had_api_problem = True
        elif self._had_api_problem:
            self._had_api_problem = False
            self.reconnects += 1  # the watch came back by itself
        new = self.state()
        if new != self._state:
            old, self._state = self._state, new
            status = self.status()
            log.info(
                "forward %s %s: %s -> %s%s",
                self.id,
                self.target,
                old,
                new,
                f" ({status.last_error})" if status.last_error and new != "active" else "",
            )
            for listener in list(self.listeners):
                try:
                    listener(status, old)
                except Exception:
                    log.exception("forward state listener failed")

    def _failure(self, reason: str) -> None:
        self.last_error = reason
        self.last_failure_at = time.monotonic()
        self._changed()

    # pod choice

    def _pick(self, tried: set[str]) -> PodInfo | None:
        now = time.monotonic()
        candidates = [p for p in self.backends.ready() if p.name not in tried]
        fresh = [p for p in candidates if self._cooldown.get(p.name, 0.0) <= now]
        pool = fresh or candidates
        if not pool:
            return None
        load = {name: 0 for name in (p.name for p in pool)}
        for task in self._conn_tasks:
            pod = getattr(task, "aksmcp_pod", None)
            if pod in load:
                load[pod] += 1
        least = min(load.values())
        best = [p for p in pool if load[p.name] == least]
        return best[next(self._rotation) % len(best)]

    def _pod_ready(self, name: str) -> bool:
        pod = self.backends.pods.get(name)
        return pod is not None and pod.ready

    def _take_spare(self) -> PortForwardStream | None:
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        self._spare_wanted.set()
        first = spare.first
        # done already: it died, or the server spoke first (stale greeting); either way not for a client
        dead = first is not None and first.done()
        if dead or not self._pod_ready(spare.pod) or time.monotonic() - spare.opened_at > SPARE_MAX_AGE:
            asyncio.get_running_loop().create_task(spare.close())
            return None
        return spare

    async def _spare_loop(self) -> None:
        """Keep one stream open ahead of need (refilled after each use, with back-off on failures).

        Only for protocols where the client speaks first (HTTP, MCP): when a spare receives bytes
        before any client, it is dropped and spares stop for this forward."""
        delays = backoff_delays(0.5, 10.0)
        while self.prewarm:
            await self._spare_wanted.wait()
            self._spare_wanted.clear()
            if self._spare is not None:
                old, self._spare = self._spare, None
                await old.close()
            pod = self._pick(set())
            if pod is None or pod.port is None:
                await self.backends.wait_changed(5.0)
                self._spare_wanted.set()
                continue
            try:
                stream = await PortForwardStream.open(self.kube, self.namespace, pod.name, pod.port)
            except StreamFailed:
                await asyncio.sleep(next(delays))
                self._spare_wanted.set()
                continue
            stream.prewarmed = True
            first = stream.watch_first()
            self._spare = stream
            taken = asyncio.ensure_future(self._spare_wanted.wait())
            try:
                await asyncio.wait({taken, first}, timeout=SPARE_MAX_AGE, return_when=asyncio.FIRST_COMPLETED)
            finally:
                taken.cancel()
                await asyncio.gather(taken, return_exceptions=True)
            if self._spare is not stream:
                delays = backoff_delays(0.5, 10.0)
                # Handed out: make the next one, but not while the connection that took it does
                # its first round trip (a TLS handshake would hold the event loop right then).
                await asyncio.sleep(SPARE_REFILL_DELAY)
                continue
            if first.done():
                self._spare = None
                await stream.close()
                if first.result().data is not None:
                    # The server speaks first: a greeting kept for later may come from a pod (or a
                    # stream) that is gone by the time a client gets it. No spares for this forward.
                    self.prewarm = False
                    return
                # it died while idle; a server that closes idle streams at once gets back-off
                if time.monotonic() - stream.opened_at < 1.0:
                    await asyncio.sleep(next(delays))
            self._spare_wanted.set()  # too old or died: replace it

    async def _dial(self, tried: set[str], deadline: float, reason: str = "") -> PortForwardStream | None:
        """A stream to some ready pod, waiting for one up to `deadline`. None: refused (reason recorded)."""
        loop = asyncio.get_running_loop()
        if not tried:
            spare = self._take_spare()
            if spare is not None:
                self.pod_in_use = spare.pod
                return spare
        while True:
            pod = self._pick(tried)
            if pod is None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    why = reason or self.backends.problem or self._no_pod_reason()
                    self._failure(f"connection refused after waiting {self.hold_timeout:.0f} s: {why}")
                    return None
                # Pods already tried may come back (a single replica restarting): try them again soon.
                await self.backends.wait_changed(min(remaining, 0.5))
                if self._pick(tried) is None and self.backends.ready() != []:
                    tried.clear()
                continue
            assert pod.port is not None
            try:
                stream = await PortForwardStream.open(self.kube, self.namespace, pod.name, pod.port)
            except StreamFailed as failed:
                reason = failed.reason
                tried.add(pod.name)
                self._cooldown[pod.name] = time.monotonic() + POD_COOLDOWN
                self.reconnects += 1
                if not failed.retryable:
                    self.blocked = reason
                    self._failure(reason)
                    return None
                self.last_error = reason
                continue
            self.pod_in_use = pod.name
            if self.blocked:
                self.blocked = None
                self._changed()
            return stream

    def _no_pod_reason(self) -> str:
        pods = self.backends.pods
        if not pods:
            return f"{self.target} has no pods in namespace {self.namespace}"
        if any(p.port is None for p in pods.values()):
            return f"the pods of {self.target} have no container port {self.remote_port}"
        ready = [p.name for p in self.backends.ready()]
        if ready:
            return f"no stream to {', '.join(ready[:4])} succeeded"
        states = ", ".join(
            f"{p.name} {'terminating' if p.terminating else p.phase.lower() if p.phase != 'Running' else 'not ready'}"
            for p in list(pods.values())[:4]
        )
        return f"no ready pod behind {self.target} ({states})"

    # connections

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conn_tasks.add(task)
        self.open_connections += 1
        self.total_connections += 1
        try:
            await _Connection(self, reader, writer, task).run()
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # a bug in one connection must not take the listener down
            log.exception("forward %s: connection failed", self.id)
            self._failure(f"internal error: {type(exc).__name__}: {exc}")
        finally:
            self.open_connections -= 1
            self._conn_tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    # the MCP probe

    async def probe_now(self) -> ProbeResult:
        if self._probe_session is None:
            self._probe_session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=10.0),
                connector=aiohttp.TCPConnector(limit=1, keepalive_timeout=self.probe_interval * 2),
            )
        result = await probe_mcp(self._probe_session, self.local_url + "/mcp")
        self.probe_result = result
        if not result.ok:
            self.last_error = result.error  # the most recent error is the one to show
        self._changed()
        return result

    async def _probe_loop(self) -> None:
        while True:
            if self.backends.ready():
                try:
                    await self.probe_now()
                except Exception as exc:  # the probe must never stop for good
                    log.exception("forward %s: MCP probe crashed", self.id)
                    self.probe_result = ProbeResult(False, None, error=f"MCP probe failed: {type(exc).__name__}: {exc}")
                    self._changed()
                await asyncio.sleep(self.probe_interval)
            else:
                await self.backends.wait_changed(self.probe_interval)


class _Connection:
    """One accepted local connection and its (possibly re-opened) stream."""

    def __init__(
        self, fwd: Forwarder, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, task: asyncio.Task[None]
    ) -> None:
        self.fwd = fwd
        self.reader = reader
        self.writer = writer
        self.task = task
        self.replay = bytearray()
        self.overflow = False
        self.committed = False
        self.local_eof = asyncio.Event()
        self.lock = asyncio.Lock()
        self.stream: PortForwardStream | None = None
        self.last_pod_data = 0.0
        self.lingered = False
        # HTTP targets: what the client sent since the pod's last byte (a request not answered yet)
        self.tail = bytearray()
        self.tail_overflow = False
        self._linger: asyncio.TimerHandle | None = None
        self._closing: asyncio.Task[None] | None = None
        # Fewer drain() waits on a fast local reader; a slow one still pushes back at 1 MiB.
        writer.transport.set_write_buffer_limits(high=1024 * 1024)

    async def run(self) -> None:
        fwd = self.fwd
        deadline = asyncio.get_running_loop().time() + fwd.hold_timeout
        tried: set[str] = set()
        stream = await fwd._dial(tried, deadline)
        if stream is None:
            return
        self._use(stream)
        upload = asyncio.create_task(self._client_to_pod())
        try:
            loop = asyncio.get_running_loop()
            while True:
                result = await stream.receive()
                data, error = result.data, result.error
                if self.lingered:
                    break  # the pod stayed silent after the client's EOF
                if data is not None:
                    if self.local_eof.is_set():
                        self.last_pod_data = loop.time()
                    if not self.committed:
                        self.committed = True
                        self.replay = bytearray()
                    if self.tail:
                        self.tail = bytearray()  # the pod answered what the client sent last
                    fwd.bytes_in += len(data)
                    self.writer.write(data)
                    await self.writer.drain()  # back-pressure: a slow client slows the stream
                    continue
                # the pod side ended
                if (
                    self.committed
                    and error is None
                    and fwd.http_aware
                    and self.tail
                    and not self.tail_overflow
                    and not self.local_eof.is_set()
                ):
                    # HTTP keep-alive race: the pod closed an idle connection (a draining server
                    # does) just as the client sent its next request on it. That request was never
                    # answered, so it goes to another pod, as a fresh connection would have.
                    self.committed, self.replay, self.tail = False, self.tail, bytearray()
                    fwd.reconnects += 1
                    deadline = loop.time() + fwd.hold_timeout
                    tried = set()
                    benign = True  # not the pod's fault: no cooldown, no error
                else:
                    benign = False
                # A spare that died while waiting is no business of the client's: always try again.
                retry = (
                    not self.committed
                    and not self.overflow
                    and (error is not None or len(self.replay) > 0 or stream.prewarmed)
                )
                if not retry:
                    if error:
                        fwd._failure(error)
                    break
                if not benign and not (stream.prewarmed and error is None and not self.replay):
                    # (a spare closed while idle says nothing bad about its pod)
                    tried.add(stream.pod)
                    fwd._cooldown[stream.pod] = time.monotonic() + POD_COOLDOWN
                    fwd.reconnects += 1
                    fwd.last_error = error or f"pod {stream.pod} closed the connection before answering"
                await stream.close()
                async with self.lock:
                    new = await fwd._dial(tried, deadline, fwd.last_error or "")
                    if new is None:
                        break
                    stream = new
                    self._use(stream)
                    if self.replay:
                        # a stream the pod side already closed fails here; its receive() says why
                        with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
                            await stream.send(bytes(self.replay))
        except (ConnectionError, aiohttp.ClientError):
            pass  # the local client went away
        finally:
            if self._linger is not None:
                self._linger.cancel()
            upload.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await upload
            if self.stream is not None:
                await self.stream.close()

    def _use(self, stream: PortForwardStream) -> None:
        self.stream = stream
        self.task.aksmcp_pod = stream.pod  # type: ignore[attr-defined]

    def _arm_linger(self) -> None:
        """After the client's EOF, give the pod LINGER_AFTER_LOCAL_EOF of silence before giving up
        (v4 cannot pass the EOF on, so a pod waiting for more would otherwise hold the stream)."""
        loop = asyncio.get_running_loop()
        quiet = loop.time() - self.last_pod_data
        if quiet >= LINGER_AFTER_LOCAL_EOF:
            self.lingered = True
            if self.stream is not None:
                self._closing = loop.create_task(self.stream.close())
            return
        self._linger = loop.call_later(LINGER_AFTER_LOCAL_EOF - quiet, self._arm_linger)

    async def _client_to_pod(self) -> None:
        while True:
            data = await self.reader.read(CHUNK)
            if not data:
                self.local_eof.set()  # v4 cannot pass EOF on: keep reading the pod's answer
                self.last_pod_data = asyncio.get_running_loop().time()
                self._arm_linger()
                return
            async with self.lock:
                if not self.committed:
                    if len(self.replay) + len(data) <= REPLAY_LIMIT:
                        self.replay += data
                    else:
                        self.overflow = True
                elif self.fwd.http_aware:
                    if len(self.tail) + len(data) <= REPLAY_LIMIT:
                        self.tail += data
                    else:
                        self.tail_overflow = True
                self.fwd.bytes_out += len(data)
                stream = self.stream
                if stream is None:
                    continue
                with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
                    await stream.send(data)


class Tunnel:
    """An in-process forward for a short job (smoke test, metrics scrape, console)."""

    def __init__(self, forwarder: Forwarder) -> None:
        self.forwarder = forwarder

    @property
    def local_port(self) -> int:
        return self.forwarder.local_port

    @property
    def local_url(self) -> str:
        return self.forwarder.local_url

    @property
    def mcp_url(self) -> str:
        return self.forwarder.local_url + "/mcp"

    def status(self) -> ForwardStatus:
        return self.forwarder.status()

    async def wait_ready(self, within: float = 60.0) -> bool:
        """True once a ready pod is known (connections would otherwise be held)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not self.forwarder.backends.ready():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await self.forwarder.backends.wait_changed(remaining)
        return True


@asynccontextmanager
async def open_tunnel(
    kube: KubeContext,
    namespace: str,
    target: str,
    remote_port: int | str | None = None,
    *,
    local_port: int = 0,
    address: str = "127.0.0.1",
    hold_timeout: float = HOLD_TIMEOUT,
    probe: bool = False,
    **options: Any,
) -> AsyncIterator[Tunnel]:
    """Forward `target` (svc/NAME, deploy/NAME, pod/NAME) in-process while the block runs.
    Raises ForwardError (unknown target or port, local port taken) before yielding."""
    forwarder = Forwarder(
        kube,
        namespace,
        target,
        remote_port,
        local_port=local_port,
        address=address,
        hold_timeout=hold_timeout,
        probe=probe,
        **options,
    )
    await forwarder.start()
    try:
        yield Tunnel(forwarder)
    finally:
        await forwarder.stop()
