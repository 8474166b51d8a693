"""A fast path for the one request that dominates production traffic: a plain, well-formed `tools/call`.

Profiling the SDK's Streamable HTTP path (py-spy, see bench/server.py) showed that for a cheap tool most
of each request goes to generic machinery around the call rather than to the protocol checks: per-request
transport/dispatcher objects (legacy leg), Starlette Request objects, the OpenTelemetry and request-state
middleware layers, two pydantic validations of the same envelope, and result re-validation through
models. This module answers exactly the requests whose answer is fully determined without any of that,
and hands everything else to the SDK unchanged (the caller then replays the body to the SDK).

What it serves (anything else returns False = "not mine"):
- POST, JSON content type, an Accept the SDK would accept in JSON-response mode, a Host/Origin the
  configured guard accepts;
- a JSON object `{"jsonrpc":"2.0","id":<int|str>,"method":"tools/call","params":{...}}` with no other keys,
  `params` holding only `name`, `arguments` (an object) and `_meta`, for a registered tool that takes no
  Context, no resolvers and declares no `x-mcp-header`;
- modern era (2026-07-28): the routing headers present once each and equal to the body (version, method,
  plain-ASCII name), `_meta` holding only the protocol version, client capabilities and client info, and
  no `Mcp-Param-*` headers;
- legacy era (stateless mode only): no or a handshake-era `MCP-Protocol-Version` header and no `_meta`.

The envelope is still validated by the SDK's own per-version schema (`validate_client_request`), cached per
distinct `_meta` (clients send the same one on every call); arguments are validated and the tool run by the
SDK's `Tool.run`; the result goes through the SDK's per-version result sieve (`serialize_server_result`)
and gets the same `resultType`/`serverInfo` stamping. tests/server/test_fastpath.py compares the answers
with the SDK's for both eras, byte-for-byte after JSON decoding. Not done on this path: OpenTelemetry spans
(the SDK's tracer is a no-op unless the operator installs an OpenTelemetry SDK; set
AKSMCP_FAST_PATH=false then).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.runner import modern_error_data
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS
from mcp_types import DEFAULT_NEGOTIATED_VERSION, CallToolResult, TextContent
from mcp_types.methods import serialize_server_result, validate_client_request
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.types import Send

from .logs import note_call
from .metrics import Metrics
from .security import origin_allowed

try:
    # orjson (optional) parses and writes JSON several times faster than the stdlib; both produce the
    # same decoded values (orjson leaves non-ASCII unescaped, which JSON allows).
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
    _dumps: Callable[[Any], bytes] = orjson.dumps
except ImportError:  # pragma: no cover - exercised only where orjson is missing
    _loads = json.loads

    def _dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()


# The SDK logs tool failures under this name; keep the same lines on the fast path.
sdk_logger = logging.getLogger("mcp.server.mcpserver.server")

PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
MODERN_META_KEYS = frozenset({PROTOCOL_VERSION_KEY, CAPABILITIES_KEY, CLIENT_INFO_KEY})
ENVELOPE_KEYS = frozenset({"jsonrpc", "id", "method", "params"})
PARAM_KEYS = frozenset({"name", "arguments", "_meta"})
_META_CACHE_LIMIT = 512
_JSON_HEADERS = [(b"content-type", b"application/json")]


def _accepts_json(accept: bytes | None) -> bool:
    # Mirrors the SDK's check_accept_headers in JSON-response mode: no header, */*, application/json
    # or application/* (parameters ignored).
    if accept is None:
        return True
    for part in accept.decode("latin-1").split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media in ("application/json", "application/*", "*/*"):
            return True
    return False


def _is_json_content_type(value: bytes | None) -> bool:
    if value is None:
        return False
    first = value.decode("latin-1").split(";", 1)[0]
    return any(part.strip() == "application/json" for part in first.split(","))


def _fast_path_eligible(tool: Tool) -> bool:
    """Tools that need nothing from a request context: no Context parameter, no resolvers, no x-mcp-header."""
    return tool.context_kwarg is None and not tool.resolved_params and "x-mcp-header" not in json.dumps(tool.parameters)


class HostGuard:
    """The SDK's Host/Origin rules as a yes/no answer (a "no" goes to the SDK, which answers 421/403)."""

    def __init__(self, settings: TransportSecuritySettings) -> None:
        self.enabled = settings.enable_dns_rebinding_protection
        self.exact_hosts = frozenset(settings.allowed_hosts)
        self.host_prefixes = tuple(h[:-1] for h in settings.allowed_hosts if h.endswith(":*"))
        self.origins = list(settings.allowed_origins)

    def allows(self, host: bytes | None, origin: bytes | None) -> bool:
        if not self.enabled:
            return True
        if host is None:
            return False
        host_text = host.decode("latin-1")
        if host_text not in self.exact_hosts and not host_text.startswith(self.host_prefixes):
            return False
        return origin is None or origin == b"" or origin_allowed(origin.decode("latin-1"), self.origins)


class ToolCallFastPath:
    def __init__(
        self,
        tools: list[Tool],
        server_info: dict[str, Any],
        metrics: Metrics,
        guard: HostGuard,
        serve_legacy: bool,
    ) -> None:
        self.tools = {
            tool.name: tool
            for tool in tools
            if tool.context_kwarg is None
            and not tool.resolved_params
            and "x-mcp-header" not in json.dumps(tool.parameters)
        }
        self.server_info = server_info
        self.metrics = metrics
        self.guard = guard
        self.serve_legacy = serve_legacy
        self._valid_meta: dict[tuple[str, str], bool] = {}
        self._identity_shapes: set[tuple[Any, ...]] = set()

    def _envelope_ok(self, version: str, name: str, meta: dict[str, Any] | None) -> bool:
        """The SDK's per-version schema check of the params envelope; arguments are checked by Tool.run."""
        # repr is a cheap, exact key for JSON-decoded values (key order only costs extra entries).
        key = (version, "" if meta is None else repr(meta))
        known = self._valid_meta.get(key)
        if known is not None:
            return known
        params: dict[str, Any] = {"name": name, "arguments": {}}
        if meta is not None:
            params["_meta"] = meta
        try:
            validate_client_request("tools/call", version, params)
            ok = True
        except (ValidationError, KeyError, ValueError):
            ok = False
        if len(self._valid_meta) >= _META_CACHE_LIMIT:
            self._valid_meta.clear()
        self._valid_meta[key] = ok
        return ok

    def _sieve(self, version: str, dumped: dict[str, Any]) -> dict[str, Any]:
        """The SDK's per-version result sieve, skipped for result shapes it has already passed unchanged.

        The result comes from the SDK's own CallToolResult model, so its values are already validated;
        what the sieve can still change is which keys a protocol version carries. The shape key holds
        every key (top level and per content item) and the structured content's type, so a shape that
        came through identical once comes through identical again.
        """
        content = dumped.get("content")
        items = tuple(tuple(item) for item in content) if isinstance(content, list) else None
        shape = (version, tuple(dumped), items, type(dumped.get("structuredContent")))
        if shape in self._identity_shapes:
            return dumped
        sieved = serialize_server_result("tools/call", version, dumped)
        if sieved == dumped and len(self._identity_shapes) < _META_CACHE_LIMIT:
            self._identity_shapes.add(shape)
        return sieved

    async def try_serve(
        self, raw_headers: list[tuple[bytes, bytes]], headers: dict[bytes, bytes], body: bytes, send: Send
    ) -> bool:
        """Answer the request and return True, or return False (nothing sent) to let the SDK answer it.

        `headers` is `dict(raw_headers)`; a repeated header name of any kind (the dict is shorter) is left
        to the SDK, which both rejects repeated routing headers and reads the first of other repeats.
        """
        if len(headers) != len(raw_headers) or any(key.startswith(b"mcp-param-") for key in headers):
            return False
        version_header = headers.get(b"mcp-protocol-version")
        method_header = headers.get(b"mcp-method")
        name_header = headers.get(b"mcp-name")
        host = headers.get(b"host")
        origin = headers.get(b"origin")
        accept = headers.get(b"accept")
        content_type = headers.get(b"content-type")
        if not (_is_json_content_type(content_type) and _accepts_json(accept) and self.guard.allows(host, origin)):
            return False
        try:
            request = _loads(body)
        except (ValueError, RecursionError):
            return False
        if not isinstance(request, dict) or request.keys() - ENVELOPE_KEYS or request.get("jsonrpc") != "2.0":
            return False
        request_id = request.get("id")
        if request.get("method") != "tools/call" or not (type(request_id) is int or type(request_id) is str):
            return False
        params = request.get("params")
        if not isinstance(params, dict) or params.keys() - PARAM_KEYS:
            return False
        name = params.get("name")
        if not isinstance(name, str):
            return False
        tool = self.tools.get(name)
        if tool is None:
            return False
        arguments = params.get("arguments", {})
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            return False
        meta = params.get("_meta")

        if version_header is not None and version_header.decode("latin-1") in MODERN_PROTOCOL_VERSIONS:
            version = version_header.decode("latin-1")
            modern = True
            if (
                method_header != b"tools/call"
                or name_header is None
                or name_header.decode("latin-1") != name
                or name_header.startswith(b"=?")
                or not isinstance(meta, dict)
                or meta.keys() - MODERN_META_KEYS
                or meta.get(PROTOCOL_VERSION_KEY) != version
                or not isinstance(meta.get(CAPABILITIES_KEY), dict)
            ):
                return False
        else:
            if not self.serve_legacy or meta is not None:
                return False
            version = version_header.decode("latin-1") if version_header is not None else DEFAULT_NEGOTIATED_VERSION
            if version not in HANDSHAKE_PROTOCOL_VERSIONS:
                return False
            modern = False
        if not self._envelope_ok(version, name, meta):
            return False

        self.metrics.record_fast_path_call()
        note_call(request_id, name)  # the access line and any log line of the call carry them
        await self._call(tool, arguments, request_id, version, modern, send)
        return True

    async def _call(
        self, tool: Tool, arguments: dict[str, Any], request_id: int | str, version: str, modern: bool, send: Send
    ) -> None:
        started = time.perf_counter()
        outcome = "protocol_error"
        status = 200
        try:
            try:
                # No Context: the fast path only takes tools that declare none (checked at start-up).
                result: Any = await tool.run(arguments, context=None, convert_result=True)  # type: ignore[arg-type]
            except (ToolError, UnexpectedToolError) as exc:
                # Same handling and log lines as MCPServer._handle_call_tool.
                if isinstance(exc, UnexpectedToolError):
                    sdk_logger.exception("Tool %r raised an unexpected exception", tool.name)
                elif isinstance(exc.__cause__, ValidationError):
                    fields = sorted({".".join(str(p) for p in err["loc"]) for err in exc.__cause__.errors()})
                    sdk_logger.info("Tool %r rejected arguments: %r", tool.name, fields)
                else:
                    sdk_logger.info("Tool %r failed: %r", tool.name, str(exc))
                result = CallToolResult(content=[TextContent(type="text", text=str(exc))], is_error=True)
            dumped = self._sieve(version, result.model_dump(by_alias=True, mode="json", exclude_none=True))
            if modern:
                if dumped.get("resultType") is None:
                    dumped["resultType"] = "complete"
                meta = dumped.get("_meta")
                if meta is None:
                    dumped["_meta"] = {SERVER_INFO_KEY: self.server_info}
                elif isinstance(meta, dict) and meta.get(SERVER_INFO_KEY) is None:
                    dumped["_meta"] = {**meta, SERVER_INFO_KEY: self.server_info}
            outcome = "tool_error" if dumped.get("isError") else "ok"
            payload: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "result": dumped}
        except Exception as exc:
            error = modern_error_data(exc)
            if modern:
                status = ERROR_CODE_HTTP_STATUS.get(error.code, 200)
            payload = {
                "jsonrpc": "2.0",
                "id": request_id,
                "error": error.model_dump(by_alias=True, mode="json", exclude_none=True),
            }
        finally:
            self.metrics.record_tool_call(tool.name, outcome, time.perf_counter() - started)
        body = _dumps(payload)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
