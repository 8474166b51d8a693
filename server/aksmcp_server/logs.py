"""JSON-lines logging with a per-request id.

Logs go to stdout for HTTP (what `kubectl logs` collects) and to stderr for stdio, where stdout is the
protocol. The request id lives in a context variable so SDK log lines emitted while serving a request
carry it too. Tracebacks are logged server-side only; they never reach a client.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any, TextIO

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("aksmcp_request_id", default=None)

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
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and key != "color_message":
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


_access_stream: TextIO | None = None

try:
    import orjson

    def _dump_line(entry: dict[str, Any]) -> str:
        return orjson.dumps(entry, default=str, option=orjson.OPT_APPEND_NEWLINE).decode()

except ImportError:  # pragma: no cover - orjson is optional

    def _dump_line(entry: dict[str, Any]) -> str:
        return json.dumps(entry, default=str, separators=(",", ":")) + "\n"


_access_dirty = False
ACCESS_FLUSH_SECONDS = 0.2


_second_cache: tuple[int, str] = (-1, "")


def _utc_now() -> str:
    global _second_cache
    now = time.time()
    second = int(now)
    if _second_cache[0] != second:
        _second_cache = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_second_cache[1]}.{int((now - second) * 1000):03d}Z"


def write_access_line(fields: dict[str, Any]) -> None:
    """One access-log line per request, in the same shape as JsonLinesFormatter's output.

    Written straight to the log stream: going through `logging` (caller lookup, LogRecord, formatter)
    cost more than a tool call in the benchmark, and these lines carry only fields we build ourselves.
    """
    stream = _access_stream
    if stream is None:
        return
    global _access_dirty
    entry = {"ts": _utc_now(), "level": "info", "logger": "aksmcp_server.access", "msg": "request", **fields}
    stream.write(_dump_line(entry))
    # No flush per line (a write syscall per request); `flush_access_log` runs a few times a second
    # and at shutdown.
    _access_dirty = True


def flush_access_log() -> None:
    global _access_dirty
    if _access_dirty and _access_stream is not None:
        _access_dirty = False
        _access_stream.flush()


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send every logger (ours, the SDK's, uvicorn's) through one JSON-lines handler."""
    global _access_stream
    _access_stream = (stream or sys.stdout) if logging.getLevelName(level) <= logging.INFO else None
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
