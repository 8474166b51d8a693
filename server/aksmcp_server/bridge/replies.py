"""What the bridge's HTTP side answers with, shared by its ASGI app (bridge.http) and its plain path (bridge.plain)."""

from __future__ import annotations

from typing import Any

from .child import ChildExited, dumps_line

INTERNAL_ERROR = -32603
INVALID_REQUEST = -32600
PARSE_ERROR = -32700
POOL_FULL = -32000  # the implementation-defined range; the message says what happened and what to do
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


def rpc_error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def child_failure(request_id: Any, exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ChildExited):
        data: dict[str, Any] = {"exitStatus": exc.status}
        if exc.stderr_tail:
            data["stderr"] = exc.stderr_tail[-5:]
        return rpc_error(request_id, INTERNAL_ERROR, f"{exc}; it is being restarted", data)
    return rpc_error(request_id, INTERNAL_ERROR, f"the MCP server is unavailable: {exc}")


def accepts_sse(headers: dict[bytes, bytes]) -> bool:
    accept = headers.get(b"accept")
    return accept is not None and accept.find(b"text/event-stream") >= 0  # not `in`: see metrics.error_codes_in


def sse_event(message: dict[str, Any]) -> bytes:
    return b"event: message\ndata: " + dumps_line(message)[:-1] + b"\n\n"


def wants_progress(params: Any) -> bool:
    """Whether a request's params ask for progress notifications (a `progressToken` in `_meta`)."""
    return type(params) is dict and type(params.get("_meta")) is dict and "progressToken" in params["_meta"]


def outcome_of(answer: dict[str, Any] | None) -> str:
    """A tool call's outcome label for the metrics: ok, tool_error, or protocol_error (no result object)."""
    result = answer.get("result") if answer is not None else None
    if type(result) is dict:
        return "tool_error" if result.get("isError") else "ok"
    return "protocol_error"
