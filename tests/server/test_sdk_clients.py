"""The official SDK client, both protocol eras, over Streamable HTTP and stdio, against real processes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import API_KEY, RunningServer, StartServer, server_env
from jsonschema import Draft202012Validator
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

EXPECTED_TOOLS = {"file_operation", "execute_command", "system_info"}


async def exercise(client: Client[Any], workspace: Path, *, legacy: bool) -> None:
    tools = await client.list_tools()
    names = {tool.name for tool in tools.tools}
    assert names >= EXPECTED_TOOLS
    for tool in tools.tools:
        Draft202012Validator.check_schema(tool.input_schema)
        if tool.output_schema is not None:
            Draft202012Validator.check_schema(tool.output_schema)

    info = await client.call_tool("system_info", {})
    assert not info.is_error
    assert info.structured_content is not None
    assert info.structured_content["cpu_count"] >= 1
    assert info.structured_content["workspace"]["path"] == str(workspace)

    read = await client.call_tool("file_operation", {"operation": "read", "path": "hello.txt"})
    assert not read.is_error, read.content
    assert read.structured_content == {"path": "hello.txt", "size": 17, "content": "hello, workspace\n"}

    wrote = await client.call_tool("file_operation", {"operation": "write", "path": "out/new.txt", "content": "x"})
    assert not wrote.is_error
    assert (workspace / "out" / "new.txt").read_text() == "x"

    listing = await client.call_tool("file_operation", {"operation": "list", "path": "."})
    assert not listing.is_error
    assert {"hello.txt", "sub", "out"} <= {e["name"] for e in listing.structured_content["entries"]}

    stat = await client.call_tool("file_operation", {"operation": "stat", "path": "sub"})
    assert stat.structured_content["type"] == "dir"

    deleted = await client.call_tool("file_operation", {"operation": "delete", "path": "out/new.txt"})
    assert not deleted.is_error
    assert not (workspace / "out" / "new.txt").exists()

    escape = await client.call_tool("file_operation", {"operation": "read", "path": "../../etc/passwd"})
    assert escape.is_error
    assert "outside the workspace" in escape.content[0].text or "'..'" in escape.content[0].text

    refused = await client.call_tool("execute_command", {"command": "ls"})
    assert refused.is_error
    assert "disabled" in refused.content[0].text

    unknown = await client.call_tool("no_such_tool", {})
    assert unknown.is_error

    if legacy:
        await client.send_ping()


@pytest.mark.filterwarnings("ignore:ping is removed")
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_http_both_eras(server: RunningServer, mode: str) -> None:
    async with Client(server.url, mode=mode) as client:
        assert client.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
        assert client.server_info is not None and client.server_info.name == "aksmcp-server"
        await exercise(client, server.workspace, legacy=mode == "legacy")


@pytest.mark.filterwarnings("ignore:ping is removed")
@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("json_response", ["true", "false"], ids=["json", "sse"])
async def test_http_stateful_mode(start_server: StartServer, mode: str, json_response: str) -> None:
    server = start_server(
        {"AKSMCP_STATEFUL": "true", "AKSMCP_SERVER_NAME": "stateful-one", "AKSMCP_JSON_RESPONSE": json_response}
    )
    async with Client(server.url, mode=mode) as client:
        assert client.server_info is not None and client.server_info.name == "stateful-one"
        await exercise(client, server.workspace, legacy=mode == "legacy")


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_http_with_api_key_header(apikey_server: RunningServer, mode: str) -> None:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}) as http,
        Client(streamable_http_client(apikey_server.url, http_client=http), mode=mode) as client,
    ):
        result = await client.call_tool("system_info", {})
        assert not result.is_error


@pytest.mark.filterwarnings("ignore:ping is removed")
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_stdio_both_eras(workspace: Path, mode: str) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "aksmcp_server", "--transport", "stdio", "--workspace", str(workspace)],
        env={k: v for k, v in server_env().items() if k in ("PATH", "HOME", "PYTHONPATH", "VIRTUAL_ENV")},
    )
    async with Client(params, mode=mode) as client:
        assert client.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
        await exercise(client, workspace, legacy=mode == "legacy")
