"""deploy/NAME targets on the sandbox: the console core, the CLI and the console screen reach aksmcp-server
pods through a managed forward (the daemon is started when none runs, and stopped at the end)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from aksmcp_tui.cli import main
from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.core.mcpclient import McpSession, McpTarget, parse_target, resolve_endpoint
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from aksmcp_tui.ui.console_app import ConsoleApp
from aksmcp_tui.ui.screens.console import ConsoleScreen
from tests.forward.support import create, ensure_namespace, server_deployment, wait_ready

pytestmark = pytest.mark.timeout(240)
NS = "console-deploy"


@pytest.fixture
def daemon_env(sandbox_session: ThreadedSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("KUBECONFIG", str(sandbox_session.kubeconfig_path))
    yield
    subprocess.run(
        [sys.executable, "-m", "aksmcp_tui", "forward", "daemon", "--stop"],
        capture_output=True,
        timeout=60,
        env=os.environ,
        check=False,
    )


@pytest.fixture
async def deployed(sandbox_session: ThreadedSandbox, daemon_env: None) -> AsyncIterator[None]:
    async with await KubeContext.open(kubeconfig=str(sandbox_session.kubeconfig_path)) as kube:
        await ensure_namespace(kube, NS)
        existing = await kube.get(f"/apis/apps/v1/namespaces/{NS}/deployments")
        if "mcp" not in {d["metadata"]["name"] for d in existing["items"]}:
            await create(kube, NS, server_deployment("mcp", replicas=1))
        await wait_ready(kube, NS, "app=mcp", 1, within=120)
    yield


async def test_deploy_target_through_a_managed_forward(deployed: None, capsys: pytest.CaptureFixture[str]) -> None:
    target = parse_target("deploy/mcp", namespace=NS)
    endpoint = await resolve_endpoint(target)
    assert endpoint.url is not None and endpoint.url.startswith("http://127.0.0.1:") and endpoint.url.endswith("/mcp")
    assert endpoint.note and "deploy/mcp" in endpoint.note
    for protocol, expected in (("auto", "2026-07-28"), ("2025-11-25", "2025-11-25")):
        async with McpSession(endpoint, protocol=protocol) as session:
            assert session.protocol_version == expected
            assert "file_operation" in [t.name for t in await session.list_tools()]
            outcome = await session.call_tool("system_info", {})
            assert outcome.ok
    # the CLI, twice: the second run reuses the forward the first one created
    code = await asyncio.to_thread(main, ["tools", "deploy/mcp", "-n", NS, "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "through forward http://127.0.0.1:" in err
    first_url = json.loads(out)["url"]
    code = await asyncio.to_thread(main, ["call", "deploy/mcp", "system_info", "-n", NS, "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    assert result["isError"] is False and "python" in result["structuredContent"]
    assert first_url == endpoint.url
    # conformance through the forward
    code = await asyncio.to_thread(main, ["test", "deploy/mcp", "-n", NS, "-o", "json"])
    out, _ = capsys.readouterr()
    report = json.loads(out)
    failed = [c for c in report["checks"] if c["status"] == "fail"]
    assert code == 0 and not failed, failed
    # bad input stays bad input
    assert await asyncio.to_thread(main, ["tools", "deploy/Not_A_Name", "-n", NS]) == 2
    assert await asyncio.to_thread(main, ["tools", "deploy/mcp", "--context", "no-such-context"]) == 2
    assert "not found" in capsys.readouterr().err


async def test_console_screen_on_a_deployment(deployed: None) -> None:
    app = ConsoleApp(McpTarget("deploy", name="mcp", namespace=NS), label="deploy/mcp")
    async with app.run_test(size=(150, 50)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConsoleScreen)
        for _ in range(600):
            if screen.state != "connecting" and screen.form_ready:
                break
            await pilot.pause(0.05)
        assert screen.state == "connected", screen.problem
        assert screen.session is not None and "file_operation" in [t.name for t in screen.session.tools]
        assert any("through forward" in line for line in screen.event_lines)


async def test_c_on_a_deployment_opens_the_console(deployed: None, sandbox_session: ThreadedSandbox) -> None:
    from aksmcp_tui.ui.app import make_app
    from aksmcp_tui.ui.screens.main import MainScreen
    from aksmcp_tui.ui.widgets.fleet_table import FleetTable

    app = make_app(kubeconfig=str(sandbox_session.kubeconfig_path), context="aksmcp-sandbox", namespace=NS)
    async with app.run_test(size=(150, 50)) as pilot:
        main_screen = app.screen
        assert isinstance(main_screen, MainScreen)
        table = main_screen.query_one(FleetTable)
        for _ in range(600):
            if [w.name for w in table.visible_workloads()] == ["mcp"]:
                break
            await pilot.pause(0.05)
        assert [w.name for w in table.visible_workloads()] == ["mcp"]
        table.focus()
        await pilot.press("c")
        for _ in range(600):
            if isinstance(app.screen, ConsoleScreen) and app.screen.state != "connecting" and app.screen.form_ready:
                break
            await pilot.pause(0.05)
        console = app.screen
        assert isinstance(console, ConsoleScreen) and console.state == "connected", getattr(console, "problem", None)
        assert console.target.kind == "deploy" and console.target.name == "mcp" and console.target.namespace == NS
        await pilot.press("escape")
        for _ in range(100):
            if isinstance(app.screen, MainScreen):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, MainScreen)


async def test_a_key_protected_deployment_needs_no_key_flag(
    deployed: None, sandbox_session: ThreadedSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """aksmcp's own deployments take an API key from a Secret: deploy/NAME finds it there (as `c` does)."""
    import base64

    key = "console-key-0123456789abcdef"
    async with await KubeContext.open(kubeconfig=str(sandbox_session.kubeconfig_path)) as kube:
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "keyed-api-key"},
            "data": {"api-key": base64.b64encode(key.encode()).decode()},
        }
        existing = await kube.get(f"/api/v1/namespaces/{NS}/secrets")
        if "keyed-api-key" not in {s["metadata"]["name"] for s in existing["items"]}:
            await kube.request("POST", f"/api/v1/namespaces/{NS}/secrets", body=secret)
        body = server_deployment("keyed", replicas=1)
        body["spec"]["template"]["spec"]["containers"][0]["env"].append(
            {"name": "AKSMCP_API_KEY", "valueFrom": {"secretKeyRef": {"name": "keyed-api-key", "key": "api-key"}}}
        )
        deployments = await kube.get(f"/apis/apps/v1/namespaces/{NS}/deployments")
        if "keyed" not in {d["metadata"]["name"] for d in deployments["items"]}:
            await create(kube, NS, body)
        await wait_ready(kube, NS, "app=keyed", 1, within=120)
    code = await asyncio.to_thread(main, ["call", "deploy/keyed", "system_info", "-n", NS, "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["isError"] is False
    assert f"API key from Secret {NS}/keyed-api-key" in err
    assert key not in out + err
    # a key the user gives wins, and a wrong one is refused by the server
    code = await asyncio.to_thread(
        main, ["call", "deploy/keyed", "system_info", "-n", NS, "--header", "Authorization: Bearer wrong"]
    )
    out, err = capsys.readouterr()
    assert code != 0 and "401" in out + err
