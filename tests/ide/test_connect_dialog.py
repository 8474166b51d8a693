"""The dashboard's Connect dialog (`i`) on the sandbox: client list, scope, preview, result; the
entry it writes answers MCP through the managed forward the real daemon runs; a missing key is shown,
not raised."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from forward.support import create, ensure_namespace, wait_ready
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from textual.widgets import Button, OptionList, Static
from ui.support import wait_for

from aksmcp_tui.core.ide import CLIENTS
from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from aksmcp_tui.ui.app import AksmcpApp, make_app
from aksmcp_tui.ui.screens.connect import ConnectScreen
from aksmcp_tui.ui.screens.main import MainScreen
from aksmcp_tui.ui.widgets.fleet_table import FleetTable

from .clientfiles import endpoint, load
from .conftest import Home
from .test_deploy_target import KEY, keyed_deployment, put_secret

pytestmark = pytest.mark.timeout(150)
NAMESPACE = "ide-dialog"
SIZE = (150, 44)


def _text(screen: ConnectScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


async def _open_dialog(pilot: Any, app: AksmcpApp, name: str) -> ConnectScreen:
    main = app.screen_stack[0]
    assert isinstance(main, MainScreen)
    table = main.query_one(FleetTable)
    await wait_for(pilot, lambda: name in table.visible_names(), f"{name} in the fleet", within=40)
    await pilot.press("slash", *name, "enter")
    await wait_for(pilot, lambda: table.selected is not None and table.selected.name == name, f"{name} selected")
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(app.screen, ConnectScreen), "the Connect dialog")
    assert isinstance(app.screen, ConnectScreen)
    return app.screen


async def _pick(pilot: Any, screen: ConnectScreen, client: str) -> None:
    screen.query_one(OptionList).highlighted = CLIENTS.index(client)
    await wait_for(pilot, lambda: screen.change is not None and screen.change.client == client, f"{client} preview")


async def test_connect_dialog_writes_entries_that_answer(
    ide_home: Home, kube: KubeContext, sandbox_session: ThreadedSandbox, daemon: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    await ensure_namespace(kube, NAMESPACE)
    await put_secret(kube, "dialog-key", KEY, NAMESPACE)
    await create(kube, NAMESPACE, keyed_deployment("dialog-mcp", "dialog-key"))
    await create(kube, NAMESPACE, keyed_deployment("keyless-mcp", "never-created"))
    await wait_ready(kube, NAMESPACE, "app=dialog-mcp", 1)

    app = make_app(kubeconfig=str(sandbox_session.kubeconfig_path))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_dialog(pilot, app, "dialog-mcp")
        # The dialog starts the daemon and its forward: give it the time a cold start takes here.
        await wait_for(pilot, lambda: screen.change is not None, "the first preview", within=60)
        assert screen.resolved is not None
        forward_url = screen.resolved.url
        assert forward_url.startswith("http://127.0.0.1:") and forward_url in _text(screen, "#connect-status")
        # The preview is the diff, keys masked; nothing is written before `w`.
        await _pick(pilot, screen, "codex")
        preview = _text(screen, "#connect-preview")
        assert "+[mcp_servers.dialog-mcp]" in preview and "Bearer ********" in preview and KEY not in preview
        codex_file = ide_home.home / ".codex" / "config.toml"
        assert not codex_file.exists()
        await pilot.press("w")
        await wait_for(pilot, lambda: screen.written == [codex_file], "the codex file written")
        assert "Wrote entry 'dialog-mcp'" in _text(screen, "#connect-result")
        assert screen.query_one("#connect-write", Button).disabled  # written: nothing left to write
        url, headers = endpoint("codex", load("codex", codex_file), "dialog-mcp", KEY)
        assert url == forward_url and headers == {"Authorization": f"Bearer {KEY}"}
        assert "system_info" in await list_tools(url, headers)

        # Project scope: the key stays out of the file, the preview says what to set.
        await pilot.click("#scope-project")
        await _pick(pilot, screen, "claude-code")
        await wait_for(pilot, lambda: screen.change is not None and screen.change.scope == "project", "project")
        assert "approve" in _text(screen, "#connect-preview")
        await pilot.press("w")
        project_file = ide_home.project / ".mcp.json"
        await wait_for(pilot, lambda: project_file in screen.written, "the project file written")
        assert KEY not in project_file.read_text()
        url, headers = endpoint("claude-code", load("claude-code", project_file), "dialog-mcp", KEY)
        assert "system_info" in await list_tools(url, headers)

        # Windsurf has no project file: said in the dialog, nothing to write.
        await _pick_error(pilot, screen, "windsurf", "no project-scope")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "back to the fleet")

        # A deployment whose key Secret is missing: the dialog says so and writes nothing.
        await pilot.press("escape")
        screen = await _open_dialog(pilot, app, "keyless-mcp")
        await wait_for(pilot, lambda: "missing key" in _text(screen, "#connect-result"), "the missing key")
        assert screen.change is None and screen.query_one("#connect-write", Button).disabled
        await pilot.press("w")
        assert screen.written == []
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), "back to the fleet")


async def _pick_error(pilot: Any, screen: ConnectScreen, client: str, message: str) -> None:
    screen.query_one(OptionList).highlighted = CLIENTS.index(client)
    await wait_for(pilot, lambda: message in _text(screen, "#connect-result"), f"{client}: {message}")
    assert screen.change is None and screen.query_one("#connect-write", Button).disabled


async def list_tools(url: str, headers: dict[str, str]) -> list[str]:
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http)) as session,
    ):
        return [t.name for t in (await session.list_tools()).tools]
