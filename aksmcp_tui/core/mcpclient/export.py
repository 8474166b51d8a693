"""Copy a request as `curl` (either protocol revision) or as an `aksmcp call` command line.

Secrets stay out: an Authorization or key header becomes a shell variable reference ($MCP_TOKEN),
so a copied command can be pasted into a ticket.
"""

from __future__ import annotations

import base64
import json
import shlex
from typing import Any

from aksmcp_tui.core.mcpclient.targets import McpTarget

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
_SECRET_HEADERS = {"authorization", "x-api-key", "api-key", "cookie"}


def _header_value(value: str) -> str:
    """Mcp-Name and friends: non-ASCII values go as =?base64?...?= (2026-07-28 transport rule)."""
    if value.isascii() and value.isprintable():
        return value
    return "=?base64?" + base64.b64encode(value.encode()).decode() + "?="


def _secret_headers(target: McpTarget) -> list[str]:
    out = []
    for key, _value in target.headers:
        if key.lower() in _SECRET_HEADERS:
            out.append(f"{key}: $MCP_TOKEN" if key.lower() != "authorization" else "Authorization: Bearer $MCP_TOKEN")
        else:
            out.append(f"{key}: {_value}")
    if target.api_key_file or target.bearer_scope:
        out.append("Authorization: Bearer $MCP_TOKEN")
    return out


def _curl(url: str, headers: list[str], body: dict[str, Any]) -> str:
    parts = ["curl", "-sS", "-w", "'\\n'", "-X", "POST", shlex.quote(url)]
    for header in headers:
        # double quotes keep $MCP_TOKEN expandable; other values are quoted for the shell
        quoted = f'"{header}"' if "$MCP_TOKEN" in header else shlex.quote(header)
        parts += ["-H", quoted]
    parts += ["--data", shlex.quote(json.dumps(body, separators=(",", ":"), ensure_ascii=False))]
    return " \\\n  ".join([" ".join(parts[:7]), *[" ".join(parts[i : i + 2]) for i in range(7, len(parts), 2)]])


def _name_of(method: str, params: dict[str, Any]) -> str | None:
    if method in ("tools/call", "prompts/get"):
        return str(params.get("name"))
    if method == "resources/read":
        return str(params.get("uri"))
    return None


def as_curl(url: str, target: McpTarget, method: str, params: dict[str, Any], *, protocol: str = MODERN) -> str:
    """A curl command for one request. 2026-07-28: one POST with `_meta` and the routing headers.
    2025-11-25: the initialize handshake first (its session id captured), then the request."""
    base = ["Content-Type: application/json", "Accept: application/json, text/event-stream", *_secret_headers(target)]
    if protocol == MODERN:
        body_params = dict(params)
        body_params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "curl", "version": "1"},
        }
        headers = [*base, f"MCP-Protocol-Version: {MODERN}", f"Mcp-Method: {method}"]
        name = _name_of(method, params)
        if name is not None:
            headers.append(f"Mcp-Name: {_header_value(name)}")
        return _curl(url, headers, {"jsonrpc": "2.0", "id": 1, "method": method, "params": body_params})
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "curl", "version": "1"}},
    }
    first = _curl(url, [*base, f"MCP-Protocol-Version: {LEGACY}"], init)
    first = first.replace("curl -sS", "curl -sS -D /tmp/mcp-headers", 1)
    session = 'SID=$(sed -n "s/^mcp-session-id: *//Ip" /tmp/mcp-headers | tr -d "\\r")'
    session_header = "Mcp-Session-Id: ${SID}"
    second = _curl(
        url,
        [*base, f"MCP-Protocol-Version: {LEGACY}"],
        {"jsonrpc": "2.0", "id": 2, "method": method, "params": params},
    )
    initialized = _curl(
        url, [*base, f"MCP-Protocol-Version: {LEGACY}"], {"jsonrpc": "2.0", "method": "notifications/initialized"}
    )
    # a stateless server issues no session id: the header is then sent empty, which it ignores
    initialized = initialized.replace(" \\\n  --data", f' \\\n  -H "{session_header}" \\\n  --data', 1)
    second = second.replace(" \\\n  --data", f' \\\n  -H "{session_header}" \\\n  --data', 1)
    return "\n".join([first, session, initialized, second])


def as_aksmcp_call(target: McpTarget, tool: str, arguments: dict[str, Any], *, protocol: str = "auto") -> str:
    args = ["aksmcp", "call", *target.cli_positional(), tool, *target.cli_options()]
    if arguments:
        args += ["--json", json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)]
    if protocol != "auto":
        args += ["--protocol", protocol]
    if target.kind == "stdio":
        args += ["--", *target.command]
    # double quotes keep $MCP_TOKEN expandable (shlex would single-quote it into a literal)
    return " ".join(f'"{a}"' if "$MCP_TOKEN" in a else shlex.quote(a) for a in args)
