"""Every client: write into an empty home, merge into a file with other entries and comments,
refresh after a forward's port change, remove; the file parses as the client parses it, project
files never hold the key, and the entry's URL answers MCP (official SDK client, real server)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from tools import require_tool

from aksmcp_tui.core.ide import CLIENTS, WRITERS, Resolved, Target, commit, plan, refresh_entries_for_forward, remove
from aksmcp_tui.core.ide.record import load as load_record

from .clientfiles import SEEDS, USER_ONLY, endpoint, entry_of, load
from .conftest import API_KEY, Home, Server

CASES = [(c, s) for c in CLIENTS for s in ("user", "project") if not (s == "project" and c in USER_ONLY)]


def _ids(case: tuple[str, str]) -> str:
    return f"{case[0]}-{case[1]}"


async def tools_through(client: str, data: Any, name: str, key: str = API_KEY) -> list[str]:
    """List the server's tools the way the client would connect to the entry."""
    if client == "claude-desktop":
        entry = entry_of(client, data, name)
        assert entry is not None and entry["command"] == "npx" and entry["args"][:2] == ["-y", "mcp-remote"]
        # `npx -y mcp-remote` from the registry = the pinned mcp-remote in .tools (no download in tests).
        env = {k: v.replace("${AKSMCP_TEST_KEY}", key) for k, v in (entry.get("env") or {}).items()}
        params = StdioServerParameters(command=require_tool("mcp-remote"), args=entry["args"][2:], env=env)
        async with Client(params) as session:
            return [t.name for t in (await session.list_tools()).tools]
    url, headers = endpoint(client, data, name, key)
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http)) as session,
    ):
        return [t.name for t in (await session.list_tools()).tools]


def resolved_for(url: str, key: str | None = API_KEY) -> Resolved:
    return Resolved(Target("url", url=url), url, key)


@pytest.mark.parametrize("case", CASES, ids=_ids)
async def test_write_into_empty_home(case: tuple[str, str], ide_home: Home, mcp_server: Server) -> None:
    client, scope = case
    change = plan(client, resolved_for(mcp_server.url), scope=scope, name="demo")  # type: ignore[arg-type]
    assert change.before is None and not change.path.exists()
    commit(change)
    path = change.path
    assert path.is_file()
    text = path.read_text()
    data = load(client, path)
    assert entry_of(client, data, "demo") is not None
    mode = stat.S_IMODE(path.stat().st_mode)
    if scope == "project":
        assert path.is_relative_to(ide_home.project)
        assert API_KEY not in text, "a project-scope file must never hold the key"
        assert not change.inline_secret
    elif client != "vscode":
        assert API_KEY in text and mode == 0o600, "an inline key makes the user file owner-only"
        assert any("0600" in n for n in change.notes)
    else:
        assert API_KEY not in text  # VS Code keeps it in its secret storage through `inputs`
    if client == "claude-desktop":
        # The project's reference syntax: none; the shim's env holds the header.
        assert "Authorization:${AKSMCP_AUTH_HEADER}" in entry_of(client, data, "demo")["args"]
    tools = await tools_through(client, data, "demo")
    assert "system_info" in tools
    recorded = [e for e in load_record() if e.client == client]
    assert [(e.name, e.url, e.file) for e in recorded] == [("demo", mcp_server.url, str(path))]


@pytest.mark.parametrize("case", CASES, ids=_ids)
async def test_merge_keeps_entries_and_comments_then_remove(
    case: tuple[str, str], ide_home: Home, mcp_server: Server
) -> None:
    client, scope = case
    writer = WRITERS[client]
    path = writer.path(scope, ide_home.project)  # type: ignore[arg-type]
    seed, comment = SEEDS[client]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(seed)
    original = load(client, path)

    change = plan(client, resolved_for(mcp_server.url), scope=scope, name="demo")  # type: ignore[arg-type]
    backup = commit(change)
    assert backup is not None and backup.read_text() == seed and stat.S_IMODE(backup.stat().st_mode) == 0o600
    text = path.read_text()
    if comment:
        assert comment in text
    data = load(client, path)
    assert entry_of(client, data, "other") == entry_of(client, original, "other")
    for key in original:
        if key not in ("servers", "mcpServers", "mcp_servers", "inputs"):
            assert data[key] == original[key], f"unknown key {key} lost"
    if client == "vscode":
        assert {"type": "promptString", "id": "tok", "password": True} in data["inputs"]
    assert "system_info" in await tools_through(client, data, "demo")

    # Writing the same entry again changes nothing.
    again = plan(client, resolved_for(mcp_server.url), scope=scope, name="demo")  # type: ignore[arg-type]
    assert not again.changed and again.diff() == ""

    (entry,) = [e for e in load_record() if e.client == client]
    removed = remove(entry)
    assert removed.changed
    after = load(client, path)
    assert entry_of(client, after, "demo") is None
    assert after == original, "remove takes out exactly what connect added"
    if comment:
        assert comment in path.read_text()
    assert load_record() == []


@pytest.mark.parametrize("client", CLIENTS)
async def test_refresh_after_port_change(client: str, ide_home: Home, mcp_server: Server) -> None:
    """The forward daemon's hook: the old port's entries now point at the new port, and answer."""
    old_local = "http://127.0.0.1:9"  # the forward's old port: nothing listens there any more
    change = plan(client, resolved_for(old_local + "/mcp"), name="moved")
    commit(change)
    other = plan(client, resolved_for("http://127.0.0.1:19/mcp"), name="untouched")
    commit(other)

    changed = refresh_entries_for_forward(old_local, mcp_server.local_url)
    assert changed == [f"{client} moved ({change.path})"]
    data = load(client, change.path)
    assert "system_info" in await tools_through(client, data, "moved")
    text = change.path.read_text()
    assert "127.0.0.1:19/mcp" in text and "127.0.0.1:9/" not in text
    urls = {e.name: e.url for e in load_record()}
    assert urls == {"moved": mcp_server.url, "untouched": "http://127.0.0.1:19/mcp"}
    if client != "vscode":
        assert stat.S_IMODE(change.path.stat().st_mode) == 0o600  # still holds the inline key
    # Nothing recorded for the old URL any more: a second call changes nothing.
    assert refresh_entries_for_forward(old_local, mcp_server.local_url) == []


def test_no_key_means_no_header(ide_home: Home) -> None:
    change = plan("cursor", resolved_for("http://127.0.0.1:8080/mcp", key=None), name="open")
    commit(change)
    data = load("cursor", change.path)
    assert data["mcpServers"]["open"] == {"url": "http://127.0.0.1:8080/mcp"}
    assert not change.inline_secret and change.notes == []


def test_vscode_user_file_follows_xdg(ide_home: Home) -> None:
    assert WRITERS["vscode"].path("user", Path("/x")) == ide_home.home / ".config" / "Code" / "User" / "mcp.json"
