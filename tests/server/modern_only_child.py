"""A stdio MCP server that speaks only 2026-07-28: it refuses `initialize` and needs the `_meta` envelope
on every request. The SDK's server answers both eras, so this one is written out by hand (JSON lines, the
shapes of the 2026-07-28 schema) to prove the bridge lets a 2025-11-25 client use such a server.

Run: python tests/server/modern_only_child.py   (stdio; the bridge starts it)
"""

from __future__ import annotations

import json
import sys
from typing import Any

VERSION = "2026-07-28"
INFO = {"name": "modern-only", "version": "1.0.0"}
TOOL = {
    "name": "echo",
    "description": "Return the text.",
    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
}


ASK = {
    "name": "ask",
    "description": "Ask the user (2026-07-28 input_required, produced by this server itself).",
    "inputSchema": {"type": "object", "properties": {}},
}
QUESTION = {
    "method": "elicitation/create",
    "params": {
        "mode": "form",
        "message": "modern asks",
        "requestedSchema": {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]},
    },
}


def ask(params: dict[str, Any], meta: dict[str, Any], stamp: dict[str, Any]) -> dict[str, Any]:
    """Round one: input_required (if the client can elicit); round two: what the user said."""
    responses = params.get("inputResponses") or {}
    if params.get("requestState") == "modern-state" and "q" in responses:
        said = (responses["q"].get("content") or {}).get("answer")
        return {"content": [{"type": "text", "text": f"modern heard {said}"}], "isError": False, **stamp}
    if "elicitation" not in (meta.get("io.modelcontextprotocol/clientCapabilities") or {}):
        return {"content": [{"type": "text", "text": "cannot ask"}], "isError": True, **stamp}
    return {**stamp, "resultType": "input_required", "inputRequests": {"q": QUESTION}, "requestState": "modern-state"}


def answer(request: dict[str, Any]) -> dict[str, Any]:
    method = request.get("method")
    params = request.get("params") or {}
    meta = params.get("_meta") or {}
    if method == "initialize":
        return {"code": -32601, "message": "initialize is not supported: this server speaks 2026-07-28 only"}
    if meta.get("io.modelcontextprotocol/protocolVersion") != VERSION:
        return {"code": -32602, "message": "missing the 2026-07-28 _meta envelope"}
    stamp = {"resultType": "complete", "_meta": {"io.modelcontextprotocol/serverInfo": INFO}}
    if method == "server/discover":
        return {
            "supportedVersions": [VERSION],
            "capabilities": {"tools": {}},
            "ttlMs": 0,
            "cacheScope": "private",
            **stamp,
        }
    if method == "tools/list":
        return {"tools": [TOOL, ASK], "ttlMs": 0, "cacheScope": "private", **stamp}
    if method == "tools/call" and params.get("name") == "ask":
        return ask(params, meta, stamp)
    if method == "tools/call" and params.get("name") == "echo":
        text = str((params.get("arguments") or {}).get("text", ""))
        return {"content": [{"type": "text", "text": f"modern says {text}"}], "isError": False, **stamp}
    return {"code": -32601, "message": f"Method not found: {method}"}


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        if "id" not in request:
            continue
        outcome = answer(request)
        key = "error" if "code" in outcome and "message" in outcome and len(outcome) == 2 else "result"
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request["id"], key: outcome}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
