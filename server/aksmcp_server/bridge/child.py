"""One stdio MCP server process, driven as a JSON-RPC peer.

The bridge is the child's only client: it does the handshake itself (`initialize` first, because a
handshake-era server may choke on anything else before it; `server/discover` when `initialize` is
refused, for servers that speak only 2026-07-28) and allocates every id the child sees, so ids from
different HTTP clients can never collide on the child's stdin. Progress tokens are remapped the same
way, which is what lets a progress notification find the one HTTP stream it belongs to.

The child's stdin stays open until the caller says so (the SDK's stdio server drops in-flight requests
on EOF); stderr lines go to the bridge log with the child's label; when stdout ends, every request still
waiting fails with `ChildExited` carrying the exit status and the last stderr lines.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import json
import logging
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mcp_types.version import LATEST_HANDSHAKE_VERSION, LATEST_MODERN_VERSION

from .process import ChildProcess, spawn
from .scheduling import SCHEDULING

try:
    import orjson

    loads: Callable[[bytes | bytearray], Any] = orjson.loads

    def dumps_line(value: Any) -> bytes:
        return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)

except ImportError:  # pragma: no cover - orjson is a dependency; the stdlib is the fallback
    loads = json.loads

    def dumps_line(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


logger = logging.getLogger("aksmcp_server.bridge.child")

PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
MODERN_ENVELOPE_KEYS = (PROTOCOL_VERSION_KEY, CAPABILITIES_KEY, CLIENT_INFO_KEY, "io.modelcontextprotocol/logLevel")
# A stdout line may hold a large tool result; asyncio's default 64 KiB line limit would kill the reader.
MAX_LINE_BYTES = 64 * 1024 * 1024
READ_CHUNK = 256 * 1024
STDERR_TAIL_LINES = 20
MAX_STDERR_LINE = 4000

# What a request's future resolves to when its client cancelled it: the spec says a cancelled request
# gets no answer, so the HTTP side ends the response without one.
CANCELLED_BY_CLIENT: dict[str, Any] = {"cancelled": True}

Sink = Callable[[dict[str, Any]], None]
"""Delivers one server-to-client message to an HTTP stream (never blocks)."""


class ChildError(Exception):
    """The child could not be started or did not complete the handshake."""


class ChildExited(Exception):
    """The child's stdout ended while a request was waiting for its answer."""

    def __init__(self, label: str, status: int | None, stderr_tail: Sequence[str]) -> None:
        self.status = status
        self.stderr_tail = list(stderr_tail)
        if status is None:
            how = "closed its output"
        elif status < 0:
            how = f"was killed by {signal.Signals(-status).name if -status in signal.valid_signals() else -status}"
        else:
            how = f"exited with status {status}"
        super().__init__(f"the MCP server process ({label}) {how} before answering")


Settled = Callable[["asyncio.Future[dict[str, Any]]"], None]
"""Called with a request's future as soon as it is settled (see `Child.begin`)."""


class _Pending:
    __slots__ = ("client_id", "client_token", "future", "on_settled", "sink")

    def __init__(
        self, future: asyncio.Future[dict[str, Any]], sink: Sink | None, client_id: Any, on_settled: Settled | None
    ) -> None:
        self.future = future
        self.sink = sink
        self.client_id = client_id
        self.client_token: Any = None
        self.on_settled = on_settled

    def settle(self, answer: dict[str, Any] | None = None, failure: BaseException | None = None) -> None:
        future = self.future
        if future.done():
            return
        if failure is not None:
            future.set_exception(failure)
        else:
            future.set_result(answer)  # type: ignore[arg-type]
        if self.on_settled is not None:
            try:
                self.on_settled(future)
            except Exception:
                # Not the child's fault: the other answers read with this one must still be delivered.
                logger.exception("handling a request's answer failed")


def obj(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (client input is never trusted to be well-formed)."""
    return value if type(value) is dict else {}


def child_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The bridge's environment minus its own settings: API keys and key paths never reach the child."""
    source = os.environ if base is None else base
    return {k: v for k, v in source.items() if not k.startswith("AKSMCP_")}


class Child:
    """A started stdio MCP server. `on_message` gets what the child sends that is not a response or a
    remapped progress notification: other notifications and the child's own requests (sampling, ...)."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        label: str,
        on_message: Callable[[Child, dict[str, Any]], None],
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        self.command = list(command)
        self.label = label
        self.on_message = on_message
        self.env = child_environment(env)
        self.cwd = cwd
        self.proc: ChildProcess | None = None
        self.pending: dict[int, _Pending] = {}
        self.progress: dict[int, _Pending] = {}
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self.init_result: dict[str, Any] = {}
        self.protocol_version = LATEST_HANDSHAKE_VERSION
        self.modern = False
        self.capabilities: dict[str, Any] = {}
        self.client_info: dict[str, Any] = {}
        self.exited = asyncio.Event()
        self.exit_status: int | None = None
        self._next_id = 1
        self._stdin_fd = -1
        self._stdout_fd = -1
        self._read_buffer = bytearray()
        self._write_buffer = bytearray()
        self._waiting_writable = False
        self._stdout_closed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    # ---------------------------------------------------------------- lifecycle --

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and not self.exited.is_set()

    @property
    def in_flight(self) -> int:
        return len(self.pending)

    async def start(self, capabilities: dict[str, Any], client_info: dict[str, Any], timeout: float) -> None:  # noqa: ASYNC109
        """Spawn the process and complete the handshake, or raise `ChildError` with the reason."""
        self.capabilities = capabilities
        self.client_info = client_info
        # stdin and stdout are plain non-blocking pipes served by add_reader/os.write rather than the
        # loop's subprocess transports: under uvloop those added several milliseconds to every round
        # trip (measured: 5-10 ms vs 1.3 ms on the same child), which is the whole budget of a bridge.
        child_stdin, self._stdin_fd = os.pipe()
        self._stdout_fd, child_stdout = os.pipe()
        try:
            with SCHEDULING.forking_children():  # the child runs under the normal policy, not the bridge's
                # Its own process group (a Ctrl-C in the bridge's terminal is the bridge's to handle), in the
                # bridge's session: see process.py for why not a session of its own.
                self.proc = await spawn(
                    self.command, stdin=child_stdin, stdout=child_stdout, env=self.env, cwd=self.cwd
                )
        except OSError as exc:
            for fd in (self._stdin_fd, self._stdout_fd):
                os.close(fd)
            raise ChildError(f"cannot start {self.command[0]!r}: {exc.strerror or exc}") from None
        finally:
            os.close(child_stdin)
            os.close(child_stdout)
        os.set_blocking(self._stdin_fd, False)
        os.set_blocking(self._stdout_fd, False)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._stdout_fd, self._on_readable)
        # A fresh context: the readers outlive the request that started the child, and its request id
        # must not tag the child's log lines forever.
        self._tasks = [
            asyncio.create_task(
                self._read_stdout(), name=f"bridge-child-stdout-{self.label}", context=contextvars.Context()
            ),
            asyncio.create_task(
                self._read_stderr(), name=f"bridge-child-stderr-{self.label}", context=contextvars.Context()
            ),
        ]
        logger.info("child started", extra={"session": self.label, "child_pid": self.proc.pid})
        try:
            async with asyncio.timeout(timeout):
                await self._handshake()
        except TimeoutError:
            await self.close(grace=0.5)
            raise ChildError(f"the MCP server did not answer the handshake within {timeout:g} s") from None
        except ChildExited as exc:
            await self.close(grace=0.5)
            tail = "; ".join(exc.stderr_tail[-3:])
            raise ChildError(f"{exc}" + (f" (stderr: {tail})" if tail else "")) from None

    async def _handshake(self) -> None:
        answer = await self.call(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": LATEST_HANDSHAKE_VERSION,
                    "capabilities": self.capabilities,
                    "clientInfo": self.client_info,
                },
            }
        )
        result = answer.get("result")
        if isinstance(result, dict):
            self.init_result = result
            self.protocol_version = str(result.get("protocolVersion", LATEST_HANDSHAKE_VERSION))
            self.notify({"jsonrpc": "2.0", "method": "notifications/initialized"})
            return
        # A server that refuses `initialize` may speak only 2026-07-28: ask it the modern way.
        self.modern = True
        probe: dict[str, Any] = {"jsonrpc": "2.0", "id": 0, "method": "server/discover", "params": {}}
        self.prepare(probe)  # the 2026-07-28 envelope goes on every request, discover included
        answer = await self.call(probe)
        result = answer.get("result")
        if not isinstance(result, dict) or LATEST_MODERN_VERSION not in (result.get("supportedVersions") or ()):
            raise ChildError(f"the MCP server refused the handshake: {answer.get('error') or answer}")
        self.protocol_version = LATEST_MODERN_VERSION
        meta = result.get("_meta") or {}
        self.init_result = {
            "protocolVersion": LATEST_MODERN_VERSION,
            "capabilities": result.get("capabilities") or {},
            "serverInfo": meta.get("io.modelcontextprotocol/serverInfo") or {"name": "mcp-server", "version": "0"},
            **({"instructions": result["instructions"]} if result.get("instructions") else {}),
        }

    async def close(self, grace: float = 5.0) -> None:
        """Close stdin (the stdio way to say "stop"), then SIGTERM, then SIGKILL."""
        self._closing = True
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            self._close_stdin()
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 2.0)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 2.0)
        self._close_stdin()

    def _close_stdin(self) -> None:
        fd = self._stdin_fd
        if fd < 0:
            return
        if self._write_buffer:
            # What is still queued goes out first, as far as the pipe has room: a child that stopped reading
            # must not hang the bridge's shutdown (best effort: the child may be gone).
            with contextlib.suppress(OSError):
                os.write(fd, self._write_buffer)
            self._write_buffer.clear()
        if self._waiting_writable:
            self._waiting_writable = False
            self._loop.remove_writer(fd)
        self._stdin_fd = -1
        with contextlib.suppress(OSError):
            os.close(fd)

    # ---------------------------------------------------------------- messages --

    def notify(self, message: dict[str, Any]) -> None:
        self._write(message)

    def respond(self, message: dict[str, Any]) -> None:
        """A client's answer to one of the child's own requests (ids are the child's, unchanged)."""
        self._write(message)

    def _write(self, message: dict[str, Any]) -> None:
        if self._stdin_fd < 0 or self.exited.is_set():
            raise ChildExited(self.label, self.exit_status, self.stderr_tail)
        if not self._write_buffer:  # else a flush is already due (this turn's, or the pipe's writability)
            # Written at the end of this turn of the event loop, not now: the requests of concurrent clients
            # that arrive in one turn reach the child in one write(), so its stdin reader wakes once for all
            # of them. On 2 cores the child's threads wait less for a CPU (bench/bridge.py: about 5 % more
            # calls/s at c=8, less child CPU per call); a lone request waits one loop turn, microseconds.
            self._loop.call_soon(self._flush_stdin)
        self._write_buffer += dumps_line(message)

    def _flush_stdin(self) -> None:
        """Write what is queued; a full pipe (a child that reads slowly) waits for writability, never blocks."""
        if self._stdin_fd < 0:
            return
        if self._write_buffer:
            try:
                written = os.write(self._stdin_fd, self._write_buffer)
            except BlockingIOError:
                written = 0
            except OSError:
                # EPIPE: the child closed its stdin or died. Its exit fails what is waiting (with its status
                # and stderr); nothing more can be written, so later requests fail at once.
                logger.warning("the child's stdin is closed", extra={"session": self.label})
                self._write_buffer.clear()
                self._close_stdin()
                return
            del self._write_buffer[:written]
        waiting = bool(self._write_buffer)
        if waiting != self._waiting_writable:
            self._waiting_writable = waiting
            if waiting:
                self._loop.add_writer(self._stdin_fd, self._flush_stdin)
            else:
                self._loop.remove_writer(self._stdin_fd)

    def prepare(self, message: dict[str, Any]) -> None:
        """Adapt a request from an HTTP client to the revision the child speaks (in place)."""
        params = message.get("params")
        if self.modern:
            meta: dict[str, Any] = {PROTOCOL_VERSION_KEY: LATEST_MODERN_VERSION, CAPABILITIES_KEY: self.capabilities}
            if self.client_info:
                meta[CLIENT_INFO_KEY] = self.client_info
            if isinstance(params, dict):
                existing = params.get("_meta")
                if isinstance(existing, dict) and CAPABILITIES_KEY in existing:
                    # A 2026-07-28 client's own capabilities: the child may answer it with input_required.
                    meta[CAPABILITIES_KEY] = existing[CAPABILITIES_KEY]
                params["_meta"] = {**existing, **meta} if isinstance(existing, dict) else meta
            else:
                message["params"] = {"_meta": meta}
            return
        if isinstance(params, dict):
            meta = obj(params.get("_meta"))
            if meta and any(key in meta for key in MODERN_ENVELOPE_KEYS):
                # The 2026-07-28 envelope means nothing to a handshake-era child (it has our handshake).
                trimmed = {k: v for k, v in meta.items() if k not in MODERN_ENVELOPE_KEYS}
                if trimmed:
                    params["_meta"] = trimmed
                else:
                    del params["_meta"]

    def begin(
        self, message: dict[str, Any], sink: Sink | None = None, on_settled: Settled | None = None
    ) -> tuple[int, asyncio.Future[dict[str, Any]]]:
        """Send a request under a bridge-allocated id; the future resolves to the child's answer.

        `sink`, when given, receives progress notifications for this request with the caller's own
        progress token. `on_settled`, when given, is called with the future as soon as it is settled,
        in the same step (a done-callback would wait for the next turn of the event loop, one more
        callback to schedule and run per request). The caller must call `finish(child_id)` once it
        stops waiting.
        """
        if self.exited.is_set():
            raise ChildExited(self.label, self.exit_status, self.stderr_tail)
        client_id = message.get("id")
        child_id = self._next_id
        self._next_id = child_id + 1
        message["id"] = child_id
        future: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        pending = _Pending(future, sink, client_id, on_settled)
        params = message.get("params")
        if type(params) is dict:
            meta = params.get("_meta")
            if type(meta) is dict and "progressToken" in meta:
                pending.client_token = meta["progressToken"]
                params["_meta"] = {**meta, "progressToken": child_id}
                self.progress[child_id] = pending
        self.pending[child_id] = pending
        self._write(message)
        return child_id, future

    def finish(self, child_id: int, *, cancelled: bool = False) -> None:
        """Stop tracking a request; `cancelled` tells the child (the HTTP client went away)."""
        pending = self.pending.pop(child_id, None)
        self.progress.pop(child_id, None)
        if cancelled and pending is not None and not pending.future.done() and not self.exited.is_set():
            with contextlib.suppress(ChildExited, OSError):
                self._write(
                    {
                        "jsonrpc": "2.0",
                        "method": "notifications/cancelled",
                        "params": {"requestId": child_id, "reason": "the HTTP client cancelled the request"},
                    }
                )

    async def call(self, message: dict[str, Any], sink: Sink | None = None) -> dict[str, Any]:
        """`begin` + wait: the child's answer carrying the caller's id. Cancelling the wait cancels the call."""
        client_id = message.get("id")
        child_id, future = self.begin(message, sink)
        try:
            answer = await future
        except asyncio.CancelledError:
            self.finish(child_id, cancelled=True)
            raise
        self.finish(child_id)
        answer["id"] = client_id
        return answer

    def cancel_child_request(self, child_id: int, reason: str | None) -> bool:
        """Forward a client's `notifications/cancelled` for a request it sent through us."""
        pending = self.pending.get(child_id)
        if pending is None or self.exited.is_set():
            return False
        pending.settle(CANCELLED_BY_CLIENT)
        params: dict[str, Any] = {"requestId": child_id}
        if reason:
            params["reason"] = reason
        self._write({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params})
        return True

    def child_id_for(self, client_id: Any) -> int | None:
        """The child-side id of an in-flight request, found by the caller's id (unique within a session)."""
        for child_id, pending in self.pending.items():
            if pending.client_id == client_id and type(pending.client_id) is type(client_id):
                return child_id
        return None

    # ---------------------------------------------------------------- readers --

    def _on_readable(self) -> None:
        try:
            data = os.read(self._stdout_fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._stdout_done()
            return
        buffer = self._read_buffer
        if data.find(b"\n") < 0:  # not `in`: see metrics.error_codes_in
            buffer += data
            if len(buffer) > MAX_LINE_BYTES:
                logger.error("child wrote a line over the size limit", extra={"session": self.label})
                self._stdout_done()
            return
        buffer += data
        lines = buffer.split(b"\n")
        self._read_buffer = bytearray(lines.pop())
        for line in lines:
            if line.strip():
                self._dispatch(line)

    def _stdout_done(self) -> None:
        if self._stdout_fd >= 0:
            self._loop.remove_reader(self._stdout_fd)
            with contextlib.suppress(OSError):
                os.close(self._stdout_fd)
            self._stdout_fd = -1
        self._stdout_closed.set()

    def _dispatch(self, line: bytes | bytearray) -> None:
        try:
            message = loads(line)
        except ValueError:
            logger.warning(
                "child wrote a non-JSON line on stdout (ignored)",
                extra={"session": self.label, "line": line[:200].decode("utf-8", "replace")},
            )
            return
        if type(message) is not dict:
            return
        method = message.get("method")
        if method is None:
            pending = self.pending.get(message.get("id"))  # type: ignore[arg-type]
            if pending is not None:
                pending.settle(message)
            return
        if method == "notifications/progress":
            self._route_progress(message)
            return
        try:
            self.on_message(self, message)
        except Exception:
            logger.exception("handling a message from the child failed", extra={"session": self.label})

    async def _read_stdout(self) -> None:
        try:
            await self._stdout_closed.wait()
        finally:
            if self._stdout_fd >= 0:
                self._stdout_done()
            await self._on_exit()

    def _route_progress(self, message: dict[str, Any]) -> None:
        params = message.get("params")
        token = params.get("progressToken") if isinstance(params, dict) else None
        pending = self.progress.get(token) if type(token) is int else None
        if pending is None or pending.sink is None or pending.future.done():
            return
        assert isinstance(params, dict)
        pending.sink({**message, "params": {**params, "progressToken": pending.client_token}})

    async def _on_exit(self) -> None:
        proc = self.proc
        assert proc is not None
        try:
            await asyncio.wait_for(proc.wait(), 5.0)
        except TimeoutError:
            # Output closed but still running: it can no longer answer, so it is gone for us.
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        self.exit_status = proc.returncode
        self.exited.set()
        failure = ChildExited(self.label, self.exit_status, self.stderr_tail)
        failed = list(self.pending.values())  # settling one may end its request (and `finish` it) at once
        for pending in failed:
            pending.settle(failure=failure)
        log = logger.info if self._closing else logger.warning
        log(
            "child exited",
            extra={
                "session": self.label,
                "child_pid": proc.pid,
                "exit_status": self.exit_status,
                "failed_requests": len(failed),
            },
        )

    async def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        reader = self.proc.stderr
        pid = self.proc.pid
        while True:
            try:
                line = await reader.readline()
            except ValueError:
                continue
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip()[:MAX_STDERR_LINE]
            if not text:
                continue
            self.stderr_tail.append(text)
            logger.info("child stderr", extra={"session": self.label, "child_pid": pid, "line": text})
