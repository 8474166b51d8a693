"""Raw HTTP against a real server: routes, limits, bad input, Host/Origin guard, error codes, no tracebacks."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from conftest import RunningServer, StartServer

MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
BASE_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def modern_headers(method: str, name: str | None = None) -> dict[str, str]:
    headers = {**BASE_HEADERS, "mcp-protocol-version": MODERN, "mcp-method": method}
    if name is not None:
        headers["mcp-name"] = name
    return headers


def call_body(name: str, arguments: dict[str, Any] | None = None, request_id: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments or {}, "_meta": META},
    }


def no_traceback(response: httpx2.Response) -> None:
    assert "Traceback" not in response.text
    assert 'File "' not in response.text


async def test_health_ready_metrics_routes(server: RunningServer) -> None:
    async with httpx2.AsyncClient(base_url=server.base) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/readyz")).json() == {"status": "ready"}
        metrics = await http.get("/metrics")
        assert metrics.status_code == 200
        assert "mcp_tool_calls_total" in metrics.text
        missing = await http.get("/nope")
        assert missing.status_code == 404


async def test_modern_tools_call_and_request_id(server: RunningServer) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            server.url,
            json=call_body("system_info"),
            headers={**modern_headers("tools/call", "system_info"), "x-request-id": "req-42"},
        )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-42"
    result = response.json()["result"]
    assert result["isError"] is False
    assert result["resultType"] == "complete"
    server.wait_for_log(
        lambda e: e.get("logger") == "aksmcp_server.access" and e.get("request_id") == "req-42" and e["status"] == 200
    )


async def test_malformed_json_is_parse_error(server: RunningServer) -> None:
    async with httpx2.AsyncClient() as http:
        for headers in (modern_headers("tools/call", "system_info"), BASE_HEADERS):
            response = await http.post(server.url, content=b'{"jsonrpc": "2.0", "id": 1, "method": ', headers=headers)
            assert response.status_code in (200, 400)
            assert response.json()["error"]["code"] == -32700
            no_traceback(response)


async def test_unknown_method_is_method_not_found(server: RunningServer) -> None:
    body = {"jsonrpc": "2.0", "id": 7, "method": "no/such/method", "params": {"_meta": META}}
    async with httpx2.AsyncClient() as http:
        response = await http.post(server.url, json=body, headers=modern_headers("no/such/method"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == -32601
    assert response.json()["id"] == 7


async def test_bad_params_is_invalid_params(server: RunningServer) -> None:
    body = {"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {"name": 123, "_meta": META}}
    async with httpx2.AsyncClient() as http:
        response = await http.post(server.url, json=body, headers=modern_headers("tools/call", "123"))
        assert response.json()["error"]["code"] in (-32602, -32020)
        missing_meta = {"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {}}
        response = await http.post(server.url, json=missing_meta, headers=modern_headers("tools/list"))
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32602
        no_traceback(response)


async def test_tool_argument_errors_are_tool_results(server: RunningServer) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            server.url,
            json=call_body("file_operation", {"operation": "explode", "path": 5}),
            headers=modern_headers("tools/call", "file_operation"),
        )
    result = response.json()["result"]
    assert result["isError"] is True
    no_traceback(response)


async def test_oversized_body_is_413(start_server: StartServer) -> None:
    server = start_server({"AKSMCP_MAX_BODY_BYTES": "2048"})
    big = call_body("file_operation", {"operation": "write", "path": "big.txt", "content": "x" * 4096})
    async with httpx2.AsyncClient() as http:
        response = await http.post(server.url, json=big, headers=modern_headers("tools/call", "file_operation"))
        assert response.status_code == 413

        async def chunks() -> Any:
            # No Content-Length: the cap must hold for a streamed body too.
            for _ in range(8):
                yield b" " * 1024

        streamed = await http.post(server.url, content=chunks(), headers=modern_headers("tools/call", "x"))
        assert streamed.status_code == 413
        small = await http.post(
            server.url, json=call_body("system_info"), headers=modern_headers("tools/call", "system_info")
        )
        assert small.status_code == 200
    assert not (server.workspace / "big.txt").exists()


async def test_get_on_modern_endpoint_is_405(server: RunningServer) -> None:
    async with httpx2.AsyncClient() as http:
        response = await http.get(server.url, headers={"mcp-protocol-version": MODERN, "accept": "application/json"})
    assert response.status_code == 405


@pytest.mark.parametrize("era", ["modern", "legacy"])
async def test_unknown_host_is_421(server: RunningServer, era: str) -> None:
    headers = modern_headers("tools/call", "system_info") if era == "modern" else BASE_HEADERS
    body = call_body("system_info") if era == "modern" else _initialize()
    async with httpx2.AsyncClient() as http:
        response = await http.post(server.url, json=body, headers={**headers, "host": "evil.example.com"})
        assert response.status_code == 421
        # Probes are not Host-checked: kubelet uses the pod IP.
        health = await http.get(f"{server.base}/healthz", headers={"host": "10.1.2.3:8080"})
        assert health.status_code == 200


async def test_configured_host_is_accepted(start_server: StartServer) -> None:
    server = start_server({"AKSMCP_ALLOWED_HOSTS": "aksmcp-server.mcp-system.svc,mcp.example.com"})
    async with httpx2.AsyncClient() as http:
        for host in ("aksmcp-server.mcp-system.svc:8080", "mcp.example.com", "127.0.0.1:1234"):
            response = await http.post(
                server.url,
                json=call_body("system_info"),
                headers={**modern_headers("tools/call", "system_info"), "host": host},
            )
            assert response.status_code == 200, host
        legacy = await http.post(server.url, json=_initialize(), headers={**BASE_HEADERS, "host": "mcp.example.com"})
        assert legacy.status_code == 200
        assert legacy.json()["result"]["protocolVersion"] == "2025-11-25"
        other = await http.post(
            server.url,
            json=call_body("system_info"),
            headers={**modern_headers("tools/call", "system_info"), "host": "other.example.com"},
        )
        assert other.status_code == 421


async def test_wildcard_hosts_still_check_origin(start_server: StartServer) -> None:
    server = start_server({"AKSMCP_ALLOWED_HOSTS": "*"})
    async with httpx2.AsyncClient() as http:
        ok = await http.post(
            server.url,
            json=call_body("system_info"),
            headers={**modern_headers("tools/call", "system_info"), "host": "anything.example"},
        )
        assert ok.status_code == 200
        bad = await http.post(
            server.url,
            json=call_body("system_info"),
            headers={**modern_headers("tools/call", "system_info"), "origin": "https://evil.example"},
        )
        assert bad.status_code == 403


@pytest.mark.parametrize("era", ["modern", "legacy"])
async def test_bad_origin_is_403(start_server: StartServer, era: str) -> None:
    server = start_server({"AKSMCP_ALLOWED_ORIGINS": "https://app.example.com"})
    headers = modern_headers("tools/call", "system_info") if era == "modern" else BASE_HEADERS
    body = call_body("system_info") if era == "modern" else _initialize()
    async with httpx2.AsyncClient() as http:
        bad = await http.post(server.url, json=body, headers={**headers, "origin": "https://evil.example"})
        assert bad.status_code == 403
        good = await http.post(server.url, json=body, headers={**headers, "origin": "https://app.example.com"})
        assert good.status_code == 200
        local = await http.post(server.url, json=body, headers={**headers, "origin": "http://localhost:3000"})
        assert local.status_code == 200


async def test_legacy_stateless_has_no_session(server: RunningServer) -> None:
    async with httpx2.AsyncClient() as http:
        init = await http.post(server.url, json=_initialize(), headers=BASE_HEADERS)
        assert init.status_code == 200
        assert "mcp-session-id" not in init.headers
        ping = await http.post(
            server.url,
            json={"jsonrpc": "2.0", "id": 2, "method": "ping"},
            headers={**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"},
        )
        assert ping.json() == {"jsonrpc": "2.0", "id": 2, "result": {}}


async def test_stateful_issues_session_ids(start_server: StartServer) -> None:
    server = start_server({"AKSMCP_STATEFUL": "1"})
    async with httpx2.AsyncClient() as http:
        init = await http.post(server.url, json=_initialize(), headers=BASE_HEADERS)
        session_id = init.headers["mcp-session-id"]
        missing = await http.post(
            server.url,
            json={"jsonrpc": "2.0", "id": 2, "method": "ping"},
            headers={**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"},
        )
        assert missing.status_code == 400
        metrics = (await http.get(f"{server.base}/metrics")).text
        assert "mcp_active_sessions 1.0" in metrics
        gone = await http.delete(server.url, headers={**BASE_HEADERS, "mcp-session-id": session_id})
        assert gone.status_code == 200


def _initialize() -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
    }
