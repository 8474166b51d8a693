"""Graceful shutdown on SIGTERM, metrics read back with the Prometheus text parser, startup refusals."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
from conftest import RunningServer, StartServer, server_env
from mcp import Client
from prometheus_client.parser import text_string_to_metric_families
from test_http_protocol import call_body, modern_headers


async def _wait_until(predicate_coro: object, limit_s: float = 15.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if await predicate_coro():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_sigterm_drains_in_flight_call(start_server: StartServer) -> None:
    server = start_server({"AKSMCP_ENABLE_TEST_TOOLS": "1", "AKSMCP_GRACE_SECONDS": "30"})
    async with httpx2.AsyncClient(timeout=30) as http:

        async def slow_call() -> httpx2.Response:
            return await http.post(
                server.url,
                json=call_body("slow_operation", {"seconds": 3}),
                headers=modern_headers("tools/call", "slow_operation"),
            )

        call = asyncio.create_task(slow_call())

        async def in_flight() -> bool:
            metrics = (await http.get(f"{server.base}/metrics")).text
            return _sample(metrics, "mcp_http_requests_in_flight") >= 1

        await _wait_until(in_flight)
        server.proc.send_signal(signal.SIGTERM)

        async def not_ready() -> bool:
            return (await http.get(f"{server.base}/readyz")).status_code == 503

        await _wait_until(not_ready)
        assert (await http.get(f"{server.base}/healthz")).status_code == 200
        assert not call.done(), "the slow call must still be running while the server drains"
        response = await call
    assert response.status_code == 200
    assert response.json()["result"]["isError"] is False
    assert response.json()["result"]["structuredContent"] == {"slept_seconds": 3}
    assert await asyncio.to_thread(server.proc.wait, 20) == 0


async def test_sigterm_grace_period_bounds_the_drain(start_server: StartServer) -> None:
    server = start_server({"AKSMCP_ENABLE_TEST_TOOLS": "1", "AKSMCP_GRACE_SECONDS": "1"})
    async with httpx2.AsyncClient(timeout=30) as http:
        call = asyncio.create_task(
            http.post(
                server.url,
                json=call_body("slow_operation", {"seconds": 60}),
                headers=modern_headers("tools/call", "slow_operation"),
            )
        )

        async def in_flight() -> bool:
            return _sample((await http.get(f"{server.base}/metrics")).text, "mcp_http_requests_in_flight") >= 1

        await _wait_until(in_flight)
        server.proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(server.proc.wait, 20)
        call.cancel()
    assert code == 0


def _sample(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items()):
                return float(sample.value)
    return 0.0


async def test_metrics_count_calls_errors_and_stay_bounded(server: RunningServer) -> None:
    async with Client(server.url, mode="auto") as client:
        for _ in range(3):
            assert not (await client.call_tool("system_info", {})).is_error
        assert (await client.call_tool("file_operation", {"operation": "read", "path": "../x"})).is_error
        for i in range(5):
            assert (await client.call_tool(f"made_up_tool_{i}", {})).is_error
    async with httpx2.AsyncClient() as http:
        bad = b'{"jsonrpc":"2.0","id":1,'
        await http.post(server.url, content=bad, headers=modern_headers("tools/call", "x"))
        unknown = {"jsonrpc": "2.0", "id": 2, "method": "nope", "params": {"_meta": call_body("x")["params"]["_meta"]}}
        await http.post(server.url, json=unknown, headers=modern_headers("nope"))
        text = (await http.get(f"{server.base}/metrics")).text

    assert _sample(text, "mcp_tool_calls_total", {"tool": "system_info", "outcome": "ok"}) == 3
    assert _sample(text, "mcp_tool_calls_total", {"tool": "file_operation", "outcome": "tool_error"}) == 1
    assert _sample(text, "mcp_tool_calls_total", {"tool": "unknown", "outcome": "tool_error"}) == 5
    assert "made_up_tool" not in text
    assert _sample(text, "mcp_tool_call_duration_seconds_count", {"tool": "system_info"}) == 3
    assert _sample(text, "mcp_jsonrpc_errors_total", {"code": "-32700"}) == 1
    assert _sample(text, "mcp_jsonrpc_errors_total", {"code": "-32601"}) == 1
    assert _sample(text, "mcp_active_sessions") == 0
    tools_seen = {
        s.labels["tool"]
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "mcp_tool_calls_total"
    }
    assert tools_seen == {"file_operation", "execute_command", "system_info", "unknown"}


def _run_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aksmcp_server", *args],
        env=server_env(env),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_refuses_non_loopback_without_auth(tmp_path: Path) -> None:
    for args, env in (
        (["--transport", "http", "--host", "0.0.0.0", "--workspace", str(tmp_path)], None),
        (["--workspace", str(tmp_path)], {"AKSMCP_TRANSPORT": "http", "AKSMCP_HOST": "10.0.0.1"}),
    ):
        result = _run_cli(args, env)
        assert result.returncode == 2
        assert "refusing to serve without authentication" in result.stderr
        assert "Traceback" not in result.stderr


def test_bad_config_values_exit_2(tmp_path: Path) -> None:
    cases = [
        (["--transport", "http", "--port", "99999"], {}),
        (["--transport", "http", "--workspace", str(tmp_path / "missing")], {}),
        (["--transport", "http"], {"AKSMCP_AUTH_MODE": "magic"}),
        (["--transport", "http"], {"AKSMCP_AUTH_MODE": "apikey"}),
        (["--transport", "http"], {"AKSMCP_API_KEY": "short"}),
        (["--transport", "http"], {"AKSMCP_API_KEY_FILE": str(tmp_path / "nope")}),
        (["--transport", "http"], {"AKSMCP_STATEFUL": "maybe"}),
        (["--transport", "http"], {"AKSMCP_GRACE_SECONDS": "soon"}),
        (["--transport", "carrier-pigeon"], {}),
    ]
    for args, env in cases:
        result = _run_cli([*args, "--workspace", str(tmp_path)] if "--workspace" not in args else args, env)
        assert result.returncode == 2, (args, env, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stderr.strip()


def test_stdio_keeps_stdout_for_the_protocol(tmp_path: Path) -> None:
    request = b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'
    result = subprocess.run(
        [sys.executable, "-m", "aksmcp_server", "--transport", "stdio", "--workspace", str(tmp_path)],
        input=request,
        env=server_env({"AKSMCP_LOG_LEVEL": "DEBUG"}),
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 0
    for line in result.stdout.splitlines():
        assert line.startswith(b'{"jsonrpc":"2.0"'), line


def test_stdio_exits_0_on_sigterm_with_stdin_open(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "aksmcp_server", "--transport", "stdio", "--workspace", str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env(),
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
        proc.stdin.flush()
        assert proc.stdout.readline().startswith(b'{"jsonrpc":"2.0","id":1')  # up and answering
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
