"""The forward daemon: runs every managed forward headless and answers its clients (the CLI and
the dashboard) over a unix socket with JSON over HTTP (aiohttp).

- Definitions persist with their local port; a restart brings each back on the same port. A
  forward that cannot start yet (context unreachable, port held by someone else, workload not
  there) is kept, reported as failed with the reason, and retried with back-off.
- The socket is 0600 in a 0700 directory. A socket left by a crashed daemon is detected (nothing
  accepts on it) and replaced; a live one means another daemon runs, and this one refuses to start.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import json
import logging
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from aksmcp_tui.core.forward.backends import backoff_delays
from aksmcp_tui.core.forward.engine import Forwarder
from aksmcp_tui.core.forward.ports import next_free_port, port_free, stable_port
from aksmcp_tui.core.forward.spec import ForwardError, ForwardSpec, ForwardStatus, normalize_target, parse_port
from aksmcp_tui.core.forward.store import (
    load_definitions,
    pid_path,
    private_dir,
    save_definitions,
    socket_path,
    spec_id,
    write_atomic,
)
from aksmcp_tui.core.kube import KubeContext, KubeProblem

log = logging.getLogger("aksmcp.forward")
API = "/v1"


class DaemonError(Exception):
    """The daemon cannot start (another runs, the socket directory is unusable)."""


class LogRing(logging.Handler):
    """The last lines of the daemon's log, and live followers (`aksmcp forward logs -f`)."""

    def __init__(self, size: int = 2000) -> None:
        super().__init__()
        self.lines: collections.deque[str] = collections.deque(maxlen=size)
        self.followers: set[asyncio.Queue[str]] = set()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        self.lines.append(line)
        for queue in list(self.followers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(line)


class ManagedForward:
    """A persisted definition and, once it could start, its Forwarder."""

    def __init__(self, spec: ForwardSpec) -> None:
        self.spec = spec
        self.id = spec_id(spec)
        self.forwarder: Forwarder | None = None
        self.problem: str | None = None
        self.starter: asyncio.Task[None] | None = None
        self.created = time.monotonic()

    def status(self) -> ForwardStatus:
        if self.forwarder is not None:
            status = self.forwarder.status()
            status.kubeconfig = self.spec.kubeconfig
            return status
        port = self.spec.local_port or 0
        host = f"[{self.spec.address}]" if ":" in self.spec.address else self.spec.address
        url = f"http://{host}:{port}"
        return ForwardStatus(
            id=self.id,
            context=self.spec.context,
            namespace=self.spec.namespace,
            target=self.spec.target,
            local_url=url,
            mcp_url=url + "/mcp",
            state="failed",
            pod=None,
            reconnects=0,
            mcp_latency_ms=None,
            last_error=self.problem or "starting",
            local_port=port,
            remote_port=self.spec.remote_port,
            address=self.spec.address,
            kubeconfig=self.spec.kubeconfig,
        )


class ForwardDaemon:
    def __init__(self, *, socket: Path | None = None, probe_interval: float | None = None) -> None:
        self.socket = socket or socket_path()
        self.forwards: dict[str, ManagedForward] = {}
        self.kubes: dict[tuple[str, str | None], KubeContext] = {}
        self.ring = LogRing()
        self.event_queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self.stopping = asyncio.Event()
        self.probe_interval = probe_interval
        self._runner: web.AppRunner | None = None
        self._lock = asyncio.Lock()

    # lifecycle

    async def run(self) -> None:
        """Serve until SIGTERM/SIGINT or POST /v1/shutdown."""
        logging.getLogger("aksmcp").addHandler(self.ring)
        await self.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stopping.set)
        try:
            await self.stopping.wait()
        finally:
            await self.stop()
            logging.getLogger("aksmcp").removeHandler(self.ring)

    async def start(self) -> None:
        self._claim_socket()
        app = web.Application()
        app.add_routes(
            [
                web.get(f"{API}/status", self._h_status),
                web.get(f"{API}/forwards", self._h_list),
                web.post(f"{API}/forwards", self._h_ensure),
                web.delete(API + "/forwards/{key:.+}", self._h_remove),
                web.post(API + "/restart/{key:.+}", self._h_restart),
                web.get(f"{API}/events", self._h_events),
                web.get(f"{API}/logs", self._h_logs),
                web.post(f"{API}/shutdown", self._h_shutdown),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        old_umask = os.umask(0o177)  # the socket is born 0600: no window where others may connect
        try:
            await web.UnixSite(self._runner, str(self.socket)).start()
        finally:
            os.umask(old_umask)
        os.chmod(self.socket, 0o600)
        write_atomic(pid_path(), f"{os.getpid()}\n")
        specs, problem = load_definitions()
        if problem:
            log.warning("%s", problem)
        for spec in specs:
            managed = ManagedForward(spec)
            self.forwards[managed.id] = managed
            managed.starter = asyncio.create_task(self._keep_starting(managed))
        log.info("forward daemon %d listening on %s with %d forward(s)", os.getpid(), self.socket, len(specs))

    def _claim_socket(self) -> None:
        private_dir(self.socket.parent)
        if not self.socket.exists() and not self.socket.is_symlink():
            return
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(self.socket))
        except OSError as exc:
            if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT, errno.ENOTSOCK):
                raise DaemonError(f"cannot check the control socket {self.socket}: {exc.strerror}") from None
            log.warning("replaced a stale control socket %s (its daemon is gone)", self.socket)
            self.socket.unlink(missing_ok=True)
            return
        finally:
            probe.close()
        pid = _read_pid()
        running = f" (pid {pid})" if pid else ""
        raise DaemonError(f"a forward daemon already runs{running} on {self.socket}")

    async def stop(self) -> None:
        for managed in list(self.forwards.values()):
            await self._halt(managed)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for kube in self.kubes.values():
            with contextlib.suppress(Exception):
                await kube.close()
        self.kubes.clear()
        with contextlib.suppress(OSError):
            self.socket.unlink()
        with contextlib.suppress(OSError, ValueError):
            if _read_pid() == os.getpid():
                pid_path().unlink()
        log.info("forward daemon %d stopped", os.getpid())

    # forwards

    async def _kube(self, spec: ForwardSpec) -> KubeContext:
        key = (spec.context, spec.kubeconfig)
        if key not in self.kubes:
            self.kubes[key] = await KubeContext.open(spec.context, spec.kubeconfig)
        return self.kubes[key]

    async def _start(self, managed: ManagedForward) -> None:
        """One attempt. Raises ForwardError."""
        spec = managed.spec
        try:
            kube = await self._kube(spec)
        except KubeProblem as problem:
            raise ForwardError(problem.message) from None
        options: dict[str, Any] = {}
        if self.probe_interval is not None:
            options["probe_interval"] = self.probe_interval
        forwarder = Forwarder(
            kube,
            spec.namespace,
            spec.target,
            spec.remote_port,
            local_port=spec.local_port or 0,
            address=spec.address,
            **options,
        )
        forwarder.listeners.append(self._state_changed)
        await forwarder.start()
        managed.forwarder = forwarder
        managed.problem = None

    async def _keep_starting(self, managed: ManagedForward) -> None:
        """Start a persisted forward, retrying with back-off while it cannot (its port never changes)."""
        delays = backoff_delays(1.0, 30.0)
        while managed.forwarder is None:
            try:
                await self._start(managed)
                log.info(
                    "forward %s %s/%s on %s",
                    managed.id,
                    managed.spec.namespace,
                    managed.spec.target,
                    managed.status().local_url,
                )
                self._publish(managed.status(), "failed")
                return
            except ForwardError as exc:
                if managed.problem != str(exc):
                    log.warning("forward %s %s cannot start yet: %s", managed.id, managed.spec.target, exc)
                managed.problem = str(exc)
            await asyncio.sleep(next(delays))

    async def _halt(self, managed: ManagedForward) -> None:
        if managed.starter is not None and managed.starter is not asyncio.current_task():
            managed.starter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await managed.starter
        managed.starter = None
        if managed.forwarder is not None:
            forwarder, managed.forwarder = managed.forwarder, None
            forwarder.listeners.clear()
            await forwarder.stop()

    def _persist(self) -> None:
        save_definitions([m.spec for m in self.forwards.values()])

    def _choose_port(self, spec: ForwardSpec) -> int:
        taken = {m.spec.local_port for m in self.forwards.values() if m.spec.local_port}
        if spec.local_port:
            if spec.local_port in taken:
                other = next(m for m in self.forwards.values() if m.spec.local_port == spec.local_port)
                raise ForwardError(
                    f"local port {spec.local_port} is already used by forward {other.id} "
                    f"({other.spec.namespace}/{other.spec.target})"
                )
            return spec.local_port
        start = stable_port(spec.context, spec.namespace, spec.target)
        if start not in taken and port_free(spec.address, start):
            return start
        port = next_free_port(spec.address, start + 1, avoid={p for p in taken if p})
        if port is None:
            raise ForwardError("no free local port found near the stable default: give --local-port")
        return port

    async def ensure(self, spec: ForwardSpec) -> ForwardStatus:
        async with self._lock:
            key = spec_id(spec)
            existing = self.forwards.get(key)
            if existing is not None:
                if spec.local_port and spec.local_port != existing.spec.local_port:
                    raise ForwardError(
                        f"{spec.target} in {spec.namespace} is already forwarded on port {existing.spec.local_port}"
                        f" (forward {existing.id}); remove it first to change the port"
                    )
                return existing.status()
            fixed = ForwardSpec(
                context=spec.context,
                namespace=spec.namespace,
                target=normalize_target(spec.target),
                remote_port=parse_port(spec.remote_port),
                local_port=self._choose_port(spec),
                address=spec.address,
                kubeconfig=spec.kubeconfig,
            )
            managed = ManagedForward(fixed)
            await self._start(managed)  # bad input fails here, before anything is saved
            assert managed.forwarder is not None
            with contextlib.suppress(TimeoutError):  # answer with the real state, not "waiting"
                await asyncio.wait_for(managed.forwarder.backends.synced.wait(), 5.0)
            self.forwards[managed.id] = managed
            self._persist()
            log.info(
                "forward %s added: %s/%s -> %s", managed.id, fixed.namespace, fixed.target, managed.status().local_url
            )
            return managed.status()

    def find(self, key: str, namespace: str | None = None, context: str | None = None) -> ManagedForward:
        if key in self.forwards:
            return self.forwards[key]
        try:
            target = normalize_target(key)
        except ForwardError:
            raise ForwardError(f"no forward {key!r} (give an ID from `aksmcp forward ls` or a TARGET)") from None
        matches = [
            m
            for m in self.forwards.values()
            if m.spec.target == target
            and (namespace is None or m.spec.namespace == namespace)
            and (context is None or m.spec.context == context)
        ]
        if not matches:
            raise ForwardError(f"no forward of {target}" + (f" in namespace {namespace}" if namespace else ""))
        if len(matches) > 1:
            ids = ", ".join(f"{m.id} ({m.spec.context}/{m.spec.namespace})" for m in matches)
            raise ForwardError(f"{target} is forwarded more than once: {ids}; give the ID or -n/--context")
        return matches[0]

    async def remove(self, key: str, namespace: str | None = None, context: str | None = None) -> str:
        async with self._lock:
            managed = self.find(key, namespace, context)
            await self._halt(managed)
            del self.forwards[managed.id]
            self._persist()
            log.info("forward %s removed (%s/%s)", managed.id, managed.spec.namespace, managed.spec.target)
            return managed.id

    async def restart(self, key: str) -> ForwardStatus:
        async with self._lock:
            managed = self.find(key)
            await self._halt(managed)
            managed.problem = "restarting"
            try:
                await self._start(managed)
            except ForwardError as exc:
                managed.problem = str(exc)
                managed.starter = asyncio.create_task(self._keep_starting(managed))
            log.info("forward %s restarted", managed.id)
            return managed.status()

    # events

    def _state_changed(self, status: ForwardStatus, previous: str) -> None:
        self._publish(status, previous)

    def _publish(self, status: ForwardStatus, previous: str) -> None:
        event = {"forward": status.to_json(), "previous": previous}
        for queue in list(self.event_queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)

    # HTTP handlers

    async def _h_status(self, request: web.Request) -> web.Response:
        return web.json_response({"pid": os.getpid(), "socket": str(self.socket), "forwards": len(self.forwards)})

    async def _h_list(self, request: web.Request) -> web.Response:
        return web.json_response([m.status().to_json() for m in self.forwards.values()])

    async def _h_ensure(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            spec = ForwardSpec.from_json(data)
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, f"bad forward definition: {exc}")
        except ForwardError as exc:
            return _error(400, str(exc))
        try:
            status = await self.ensure(spec)
        except ForwardError as exc:
            return _error(400, str(exc))
        return web.json_response(status.to_json())

    async def _h_remove(self, request: web.Request) -> web.Response:
        try:
            removed = await self.remove(
                request.match_info["key"], request.query.get("namespace"), request.query.get("context")
            )
        except ForwardError as exc:
            return _error(404, str(exc))
        return web.json_response({"removed": removed})

    async def _h_restart(self, request: web.Request) -> web.Response:
        try:
            status = await self.restart(request.match_info["key"])
        except ForwardError as exc:
            return _error(404, str(exc))
        return web.json_response(status.to_json())

    async def _h_events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self.event_queues.add(queue)
        try:
            while not self.stopping.is_set():
                event = await queue.get()
                await response.write(json.dumps(event).encode() + b"\n")
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.event_queues.discard(queue)
        return response

    async def _h_logs(self, request: web.Request) -> web.StreamResponse:
        lines = int(request.query.get("lines", "200") or 200)
        follow = request.query.get("follow") in ("1", "true")
        response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        await response.prepare(request)
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=5000)
        if follow:
            self.ring.followers.add(queue)
        try:
            recent = list(self.ring.lines)[-lines:] if lines > 0 else []
            await response.write("".join(line + "\n" for line in recent).encode())
            while follow and not self.stopping.is_set():
                line = await queue.get()
                await response.write((line + "\n").encode())
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.ring.followers.discard(queue)
        return response

    async def _h_shutdown(self, request: web.Request) -> web.Response:
        asyncio.get_running_loop().call_soon(self.stopping.set)
        return web.json_response({"stopping": os.getpid()})


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _read_pid() -> int | None:
    try:
        return int(pid_path().read_text().strip())
    except (OSError, ValueError):
        return None


def read_pid() -> int | None:
    """The pid recorded by a running daemon (None when none is recorded)."""
    return _read_pid()
