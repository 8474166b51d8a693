"""The MCP health probe: one protocol round trip through the tunnel.

Pod readiness says the process answers /readyz; only an MCP request says the MCP server works.
A minimal JSON-RPC POST rather than the SDK client: the SDK's `Client` costs a discover probe plus
session setup per use (measured in bench/forward.py), while this keeps one pooled keep-alive
connection, so the probe also keeps its stream from idling out. `server/discover` (2026-07-28)
first; any other answer means a legacy server: `initialize` + `tools/list` (+ DELETE of a session).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
PROBE_TIMEOUT = 10.0
_CLIENT_INFO = {"name": "aksmcp-forward-probe", "version": "1"}


@dataclass
class ProbeResult:
    ok: bool
    latency_ms: float | None
    protocol: str | None = None
    error: str | None = None


def _meta() -> dict[str, Any]:
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": _CLIENT_INFO,
    }


async def _post(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[int, dict[str, Any] | None, Mapping[str, str]]:
    all_headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers}
    async with session.post(url, data=json.dumps(body), headers=all_headers) as resp:
        text = await resp.text()
        payload: dict[str, Any] | None = None
        if "text/event-stream" in resp.headers.get("Content-Type", ""):
            for line in text.splitlines():
                if line.startswith("data:"):
                    try:
                        candidate = json.loads(line[5:].strip())
                    except ValueError:
                        continue
                    if isinstance(candidate, dict) and candidate.get("id") == body.get("id"):
                        payload = candidate
        elif text:
            try:
                decoded = json.loads(text)
                payload = decoded if isinstance(decoded, dict) else None
            except ValueError:
                payload = None
        return resp.status, payload, resp.headers


async def probe_mcp(session: aiohttp.ClientSession, url: str) -> ProbeResult:
    """One MCP round trip to `url` (the forward's /mcp). Never raises."""
    start = time.perf_counter()
    try:
        return await _probe(session, url, start)
    except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
        detail = str(exc) or type(exc).__name__
        if isinstance(exc, TimeoutError):
            detail = f"no answer within {PROBE_TIMEOUT:.0f} s"
        return ProbeResult(False, None, error=f"MCP probe failed: {detail}")


def _elapsed(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


async def _probe(session: aiohttp.ClientSession, url: str, start: float) -> ProbeResult:
    discover = {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": _meta()}}
    headers = {"MCP-Protocol-Version": MODERN, "Mcp-Method": "server/discover"}
    status, payload, _ = await _post(session, url, discover, headers)
    if status in (401, 403):
        # The server answered: it is up and wants credentials (the forward cannot know them).
        return ProbeResult(True, _elapsed(start), None, error=None)
    result = (payload or {}).get("result")
    if status == 200 and isinstance(result, dict) and "supportedVersions" in result:
        return ProbeResult(True, _elapsed(start), MODERN)
    if status >= 500 or status == 404:
        return ProbeResult(False, None, error=f"MCP probe: HTTP {status} from {url}")
    # legacy: the handshake, then one real request
    start = time.perf_counter()
    init = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "initialize",
        "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": _CLIENT_INFO},
    }
    status, payload, resp_headers = await _post(session, url, init, {})
    if status != 200 or not isinstance((payload or {}).get("result"), dict):
        error = ((payload or {}).get("error") or {}).get("message") if payload else None
        return ProbeResult(
            False, None, error=f"MCP probe: initialize failed (HTTP {status}{': ' + error if error else ''})"
        )
    protocol = str(payload["result"].get("protocolVersion") or LEGACY)  # type: ignore[index]
    session_headers = {"MCP-Protocol-Version": protocol}
    session_id = resp_headers.get("Mcp-Session-Id")
    if session_id:
        session_headers["Mcp-Session-Id"] = session_id
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    await _post(session, url, note, session_headers)
    tools = {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}}
    status, payload, _ = await _post(session, url, tools, session_headers)
    latency = _elapsed(start)
    if session_id:
        async with session.delete(url, headers=session_headers):
            pass
    if status != 200 or not isinstance((payload or {}).get("result"), dict):
        return ProbeResult(False, None, protocol, error=f"MCP probe: tools/list failed (HTTP {status})")
    return ProbeResult(True, latency, protocol)
