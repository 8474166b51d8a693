"""JSON-lines logging with a per-request id, joined to the MCP call it served.

Logs go to stdout for HTTP (what `kubectl logs` collects) and to stderr for stdio, where stdout is the
protocol. The request id lives in a context variable so SDK log lines emitted while serving a request
carry it too. Tracebacks are logged server-side only; they never reach a client.

Each line of a request also carries the MCP call it belongs to (`rpc_id`: the JSON-RPC id, `tool`, and
`correlation_id`: the caller's own id, from the `X-Aksmcp-Correlation-Id` header or
`params._meta["io.aksmcp/correlation-id"]`), so `aksmcp logs` and the console can show the lines one
call caused, across replicas.
"""

from __future__ import annotations

import contextvars
import io
import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from typing import Any, BinaryIO, TextIO, cast

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("aksmcp_request_id", default=None)
# The MCP call being served: {"rpc_id", "tool", "correlation_id"} (whichever are known). The HTTP layer
# sets a fresh dict per request (its access line reads it back); the SDK middleware and the fast path
# fill it in, and the middleware sets a copy for the call so every line logged during it carries them.
call_fields_var: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "aksmcp_call_fields", default=None
)
CORRELATION_HEADER = b"x-aksmcp-correlation-id"
CORRELATION_META_KEY = "io.aksmcp/correlation-id"
_CORRELATION_RE = re.compile(r"^[A-Za-z0-9._:/-]{1,128}$")  # client input: bounded, no log injection


def correlation_id(value: Any) -> str | None:
    """A client-supplied correlation id, if it is a sane one (else ignored, never logged)."""
    return value if isinstance(value, str) and _CORRELATION_RE.match(value) else None


def note_call(rpc_id: Any = None, tool: Any = None, correlation: Any = None) -> dict[str, Any]:
    """Record what is known of the current call in the request's fields; returns the new fields."""
    new: dict[str, Any] = {}
    if isinstance(rpc_id, int | str) and not isinstance(rpc_id, bool):
        new["rpc_id"] = rpc_id if isinstance(rpc_id, int) else rpc_id[:128]
    if isinstance(tool, str) and tool:
        new["tool"] = tool[:128]
    checked = correlation_id(correlation)
    if checked is not None:
        new["correlation_id"] = checked
    fields = call_fields_var.get()
    if fields is not None and new:
        fields.update(new)
    return new


class CallFieldsMiddleware:
    """SDK server middleware (outermost): every request's log lines carry its JSON-RPC id, tool name and
    the caller's correlation id from `_meta`."""

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params = ctx.params if isinstance(ctx.params, Mapping) else {}
        meta = params.get("_meta")
        new = note_call(
            ctx.request_id,
            params.get("name") if ctx.method == "tools/call" else None,
            meta.get(CORRELATION_META_KEY) if isinstance(meta, Mapping) else None,
        )
        if not new:
            return await call_next(ctx)
        token = call_fields_var.set({**(call_fields_var.get() or {}), **new})
        try:
            return await call_next(ctx)
        finally:
            call_fields_var.reset(token)


_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        call = call_fields_var.get()
        if call:
            entry.update(call)
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and key != "color_message":
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


# Where access lines go (`configure_logging`): a binary writer of their own, or the log stream itself.
_access_stream: BinaryIO | TextIO | None = None
_access_binary = False

try:
    import orjson

    def _dump_line(entry: dict[str, Any]) -> bytes:
        return orjson.dumps(entry, default=str, option=orjson.OPT_APPEND_NEWLINE)

except ImportError:  # pragma: no cover - orjson is optional

    def _dump_line(entry: dict[str, Any]) -> bytes:
        return (json.dumps(entry, default=str, separators=(",", ":")) + "\n").encode()


_access_dirty = False
ACCESS_FLUSH_SECONDS = 0.2


_second_cache: tuple[int, str] = (-1, "")
_MILLIS = tuple(f".{n:03d}Z" for n in range(1000))  # a table, not a format spec per line (callgrind)


def _utc_now() -> str:
    global _second_cache
    now = time.time()
    second = int(now)
    if _second_cache[0] != second:
        _second_cache = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return _second_cache[1] + _MILLIS[int((now - second) * 1000)]


def duration_ms(started: float) -> float:
    """Milliseconds since `started` (a perf_counter reading), to 0.01 ms: cheaper than round(x, 2)."""
    return int((time.perf_counter() - started) * 100_000 + 0.5) / 100


_ACCESS_HEAD = '","level":"info","logger":"aksmcp_server.access","msg":"request",'  # after {"ts":"...


def write_access_line(fields: dict[str, Any]) -> None:
    """One access-log line per request, in the same shape as JsonLinesFormatter's output.

    Written straight to the log stream: going through `logging` (caller lookup, LogRecord, formatter)
    cost more than a tool call in the benchmark, and these lines carry only fields we build ourselves
    (none named ts, level, logger or msg).
    """
    stream = _access_stream
    if stream is None:
        return
    global _access_dirty
    # The fixed head, then the fields' own JSON object without its opening brace: one object, with no
    # merged dict built per request.
    head = ('{"ts":"' + _utc_now() + _ACCESS_HEAD).encode()
    body = _dump_line(fields)
    line = head + body[1:] if len(body) > 3 else head[:-1] + b"}\n"  # ({} has no fields to follow the head)
    if _access_binary:
        cast(BinaryIO, stream).write(line)
    else:
        cast(TextIO, stream).write(line.decode())
    # No flush per line (a write syscall per request); `flush_access_log` runs a few times a second
    # and at shutdown.
    _access_dirty = True


def flush_access_log() -> None:
    global _access_dirty
    if _access_dirty and _access_stream is not None:
        _access_dirty = False
        _access_stream.flush()


def _access_writer(stream: TextIO) -> tuple[BinaryIO | TextIO, bool]:
    """Where access lines go, and whether it takes bytes: `stream`, or, when it writes through
    (PYTHONUNBUFFERED=1, which the image sets so that other log lines are never held back), a buffered
    binary writer on the same file descriptor.

    Through a write-through stream every request cost a write() syscall and, in a pod, a wake-up of the
    container runtime's log reader. Lines stay whole (each is far smaller than the buffer, and only the
    event loop's thread writes them); they leave on `flush_access_log`, a few times a second and at
    shutdown, so they may trail other log lines by that much (each carries its own timestamp).
    """
    if not getattr(stream, "write_through", False):
        return stream, False
    try:
        fd = stream.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return stream, False
    return open(fd, "wb", buffering=1 << 16, closefd=False), True


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send every logger (ours, the SDK's, uvicorn's) through one JSON-lines handler."""
    global _access_stream, _access_binary
    flush_access_log()  # what an earlier configuration still holds
    _access_stream, _access_binary = None, False
    if logging.getLevelName(level) <= logging.INFO:
        _access_stream, _access_binary = _access_writer(stream or sys.stdout)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonLinesFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Our access log replaces uvicorn's (which has no request id and a different shape).
    logging.getLogger("uvicorn.access").disabled = True
    # The SDK logs one INFO line per stateless request ("Terminating session" etc.); keep it at WARNING
    # unless the operator asks for DEBUG.
    if level != "DEBUG":
        for name in ("mcp.server.streamable_http", "mcp.server.streamable_http_manager", "httpx", "httpx2"):
            logging.getLogger(name).setLevel(logging.WARNING)
