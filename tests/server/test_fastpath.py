"""The tools/call fast path answers exactly like the SDK pipeline.

Two real servers on the same workspace, one with AKSMCP_FAST_PATH=false (every request through the SDK),
get the same requests in both eras; status, content type and the decoded JSON body must be equal. The
fast-path counter proves which requests the fast path took, and that it declines the ones it must not
answer (those then get the SDK's answer on both servers).
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from conftest import RunningServer, StartServer
from prometheus_client.parser import text_string_to_metric_families
from test_http_protocol import BASE_HEADERS, META, modern_headers

LEGACY = "2025-11-25"


def modern_call(name: str, arguments: Any, request_id: Any = 1, meta: Any = None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name, "arguments": arguments, "_meta": META if meta is None else meta}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def legacy_call(name: str, arguments: Any, request_id: Any = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


LEGACY_HEADERS = {**BASE_HEADERS, "mcp-protocol-version": LEGACY}

# (label, headers, body, expected to take the fast path)
CASES: list[tuple[str, dict[str, str], dict[str, Any], bool]] = [
    (
        "modern read",
        modern_headers("tools/call", "file_operation"),
        modern_call("file_operation", {"operation": "read", "path": "hello.txt"}),
        True,
    ),
    (
        "modern list",
        modern_headers("tools/call", "file_operation"),
        modern_call("file_operation", {"operation": "list", "path": "sub"}, request_id="abc"),
        True,
    ),
    (
        "modern stat",
        modern_headers("tools/call", "file_operation"),
        modern_call("file_operation", {"operation": "stat", "path": "hello.txt"}),
        True,
    ),
    (
        "modern traversal",
        modern_headers("tools/call", "file_operation"),
        modern_call("file_operation", {"operation": "read", "path": "../../etc/passwd"}),
        True,
    ),
    (
        "modern missing file",
        modern_headers("tools/call", "file_operation"),
        modern_call("file_operation", {"operation": "read", "path": "nope.txt"}),
        True,
    ),
    (
        "modern bad argument type",
        modern_headers("tools/call", "file_operation"),
        modern_call("file_operation", {"operation": "read", "path": {"x": 1}}),
        True,
    ),
    (
        "modern bad enum",
        modern_headers("tools/call", "file_operation"),
        modern_call("file_operation", {"operation": "chmod", "path": "hello.txt"}),
        True,
    ),
    (
        "modern missing argument",
        modern_headers("tools/call", "execute_command"),
        modern_call("execute_command", {}),
        True,
    ),
    (
        "modern command refused",
        modern_headers("tools/call", "execute_command"),
        modern_call("execute_command", {"command": "ls"}),
        True,
    ),
    (
        "modern client info",
        modern_headers("tools/call", "file_operation"),
        modern_call(
            "file_operation",
            {"operation": "read", "path": "hello.txt"},
            meta={**META, "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}},
        ),
        True,
    ),
    ("legacy read", LEGACY_HEADERS, legacy_call("file_operation", {"operation": "read", "path": "hello.txt"}), True),
    (
        "legacy no version header",
        BASE_HEADERS,
        legacy_call("file_operation", {"operation": "read", "path": "sub/nested.txt"}, request_id=99),
        True,
    ),
    ("legacy tool error", LEGACY_HEADERS, legacy_call("file_operation", {"operation": "read", "path": "/etc"}), True),
    # Declined by the fast path: the SDK answers on both servers.
    ("modern unknown tool", modern_headers("tools/call", "nope"), modern_call("nope", {}), False),
    (
        "modern name mismatch",
        modern_headers("tools/call", "system_info"),
        modern_call("file_operation", {"operation": "read", "path": "hello.txt"}),
        False,
    ),
    (
        "modern method header mismatch",
        modern_headers("tools/list", "file_operation"),
        modern_call("file_operation", {"operation": "read", "path": "hello.txt"}),
        False,
    ),
    (
        "modern missing capabilities",
        modern_headers("tools/call", "file_operation"),
        modern_call("file_operation", {}, meta={"io.modelcontextprotocol/protocolVersion": "2026-07-28"}),
        False,
    ),
    (
        "modern bad capabilities",
        modern_headers("tools/call", "file_operation"),
        modern_call(
            "file_operation",
            {"operation": "read", "path": "hello.txt"},
            meta={**META, "io.modelcontextprotocol/clientCapabilities": {"sampling": 5}},
        ),
        False,
    ),
    (
        "modern arguments not an object",
        modern_headers("tools/call", "file_operation"),
        modern_call("file_operation", ["read"]),
        False,
    ),
    (
        "modern bool id",
        modern_headers("tools/call", "file_operation"),
        modern_call("file_operation", {"operation": "read", "path": "hello.txt"}, request_id=True),
        False,
    ),
    (
        "modern progress token",
        modern_headers("tools/call", "file_operation"),
        modern_call("file_operation", {"operation": "read", "path": "hello.txt"}, meta={**META, "progressToken": 1}),
        False,
    ),
    (
        "modern unsupported version",
        {**modern_headers("tools/call", "file_operation"), "mcp-protocol-version": "2099-01-01"},
        modern_call("file_operation", {}, meta={**META, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}),
        False,
    ),
    (
        "legacy with _meta",
        LEGACY_HEADERS,
        {
            **legacy_call("file_operation", {"operation": "read", "path": "hello.txt"}),
            "params": {
                "name": "file_operation",
                "arguments": {"operation": "read", "path": "hello.txt"},
                "_meta": {"progressToken": "p"},
            },
        },
        False,
    ),
    ("legacy unknown tool", LEGACY_HEADERS, legacy_call("nope", {}), False),
    (
        "wrong content type",
        {**modern_headers("tools/call", "file_operation"), "content-type": "text/plain"},
        modern_call("file_operation", {"operation": "read", "path": "hello.txt"}),
        False,
    ),
]


def _fast_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "mcp_fast_path_calls_total":
                return float(sample.value)
    return 0.0


@pytest.fixture
def pair(start_server: StartServer) -> tuple[RunningServer, RunningServer]:
    return start_server(), start_server({"AKSMCP_FAST_PATH": "false"})


async def test_fast_path_answers_like_the_sdk(pair: tuple[RunningServer, RunningServer]) -> None:
    fast, sdk = pair
    async with httpx2.AsyncClient() as http:
        for label, headers, body, takes_fast_path in CASES:
            before = _fast_count((await http.get(f"{fast.base}/metrics")).text)
            got = await http.post(fast.url, json=body, headers=headers)
            want = await http.post(sdk.url, json=body, headers=headers)
            after = _fast_count((await http.get(f"{fast.base}/metrics")).text)
            assert after - before == (1 if takes_fast_path else 0), label
            assert got.status_code == want.status_code, label
            assert got.headers.get("content-type") == want.headers.get("content-type"), label
            if want.headers.get("content-type", "").startswith("application/json"):
                assert got.json() == want.json(), label
            else:
                assert got.text == want.text, label
        assert _fast_count((await http.get(f"{sdk.base}/metrics")).text) == 0


async def test_system_info_same_shape(pair: tuple[RunningServer, RunningServer]) -> None:
    fast, sdk = pair
    headers = modern_headers("tools/call", "system_info")
    async with httpx2.AsyncClient() as http:
        got = (await http.post(fast.url, json=modern_call("system_info", {}), headers=headers)).json()
        want = (await http.post(sdk.url, json=modern_call("system_info", {}), headers=headers)).json()
    # Uptimes and load differ between two calls; everything else must match.
    for doc in (got, want):
        doc["result"]["content"] = len(doc["result"]["content"])
        for key in ("process_uptime_seconds", "system_uptime_seconds", "load_average", "memory", "workspace"):
            doc["result"]["structuredContent"].pop(key)
    assert got == want


async def test_fast_path_refuses_bad_host_and_origin(start_server: StartServer) -> None:
    server = start_server({"AKSMCP_ALLOWED_ORIGINS": "https://app.example.com"})
    body = modern_call("file_operation", {"operation": "read", "path": "hello.txt"})
    headers = modern_headers("tools/call", "file_operation")
    async with httpx2.AsyncClient() as http:
        assert (await http.post(server.url, json=body, headers={**headers, "host": "evil.example"})).status_code == 421
        bad_origin = await http.post(server.url, json=body, headers={**headers, "origin": "https://evil.example"})
        assert bad_origin.status_code == 403
        good_origin = await http.post(server.url, json=body, headers={**headers, "origin": "https://app.example.com"})
        assert good_origin.status_code == 200
        assert _fast_count((await http.get(f"{server.base}/metrics")).text) == 1


async def test_stateful_mode_keeps_legacy_on_the_sdk(start_server: StartServer) -> None:
    server = start_server({"AKSMCP_STATEFUL": "true"})
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            server.url,
            json=legacy_call("file_operation", {"operation": "read", "path": "hello.txt"}),
            headers=LEGACY_HEADERS,
        )
        # No session id: the SDK's stateful transport refuses, and the fast path must not answer it.
        assert response.status_code == 400
        assert _fast_count((await http.get(f"{server.base}/metrics")).text) == 0


async def test_repeated_headers_are_left_to_the_sdk(pair: tuple[RunningServer, RunningServer]) -> None:
    fast, sdk = pair
    body = modern_call("file_operation", {"operation": "read", "path": "hello.txt"})
    base = list(modern_headers("tools/call", "file_operation").items())
    async with httpx2.AsyncClient() as http:
        for extra in (("mcp-name", "file_operation"), ("mcp-protocol-version", "2026-07-28"), ("accept", "*/*")):
            headers = [*base, extra]
            got = await http.post(fast.url, json=body, headers=headers)
            want = await http.post(sdk.url, json=body, headers=headers)
            assert got.status_code == want.status_code, extra
            assert got.json() == want.json(), extra
        assert _fast_count((await http.get(f"{fast.base}/metrics")).text) == 0
