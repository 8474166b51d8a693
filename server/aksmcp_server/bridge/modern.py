"""What a 2026-07-28 client's answer must carry when the child that produced it is handshake-era."""

from __future__ import annotations

from typing import Any

from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS

SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
# Results the 2026-07-28 revision makes cacheable: `ttlMs` and `cacheScope` are required there. A
# handshake-era child sets neither; "immediately stale, private" is the SDK's own default.
CACHEABLE = frozenset({"tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read"})
RESOURCE_NOT_FOUND_LEGACY = -32002
INVALID_PARAMS = -32602


def stamp_modern_answer(answer: dict[str, Any], method: str, server_info: dict[str, Any], *, child_modern: bool) -> int:
    """Give a result `resultType`, cache hints and `serverInfo` (a modern child's result is left as it
    is); move resource-not-found to -32602. Returns the HTTP status the answer goes out with."""
    result = answer.get("result")
    if type(result) is dict:
        if not child_modern:
            result.setdefault("resultType", "complete")
            if method in CACHEABLE:
                result.setdefault("ttlMs", 0)
                result.setdefault("cacheScope", "private")
            meta = result.get("_meta")
            if type(meta) is dict:
                meta.setdefault(SERVER_INFO_KEY, server_info)
            else:
                result["_meta"] = {SERVER_INFO_KEY: server_info}
        return 200
    error = answer.get("error")
    if type(error) is dict:
        if error.get("code") == RESOURCE_NOT_FOUND_LEGACY:  # resource not found moved to -32602 in 2026-07-28
            error["code"] = INVALID_PARAMS
        return ERROR_CODE_HTTP_STATUS.get(error.get("code"), 200)  # type: ignore[arg-type]
    return 200
