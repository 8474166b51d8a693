"""The console core against real servers: aksmcp-server, the SDK zoo server, and PyPI stdio servers."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from aksmcp_tui.core.mcpclient import (
    ConsoleError,
    ListChangedEvent,
    LogEvent,
    McpSession,
    ProgressEvent,
    parse_target,
    resolve_endpoint,
)
from aksmcp_tui.core.mcpclient.results import render_resource, render_result
from tests.mcpclient.conftest import API_KEY, Served, start_zoo
from tests.tools import require_tool


async def _session(url: str, protocol: str = "auto", **kwargs: object) -> McpSession:
    endpoint = await resolve_endpoint(parse_target(url, **kwargs))  # type: ignore[arg-type]
    return McpSession(endpoint, protocol=protocol)


@pytest.mark.parametrize(("protocol", "first_method"), [("auto", "server/discover"), ("2025-11-25", "initialize")])
async def test_aksmcp_server_both_revisions(aksmcp_server: Served, protocol: str, first_method: str) -> None:
    async with await _session(aksmcp_server.url, protocol) as session:
        expected = "2026-07-28" if protocol == "auto" else "2025-11-25"
        assert session.protocol_version == expected
        assert session.server_info is not None and session.server_info.name == "aksmcp-server"
        assert session.instructions and "workspace" in session.instructions
        tools = await session.list_tools()
        assert {"file_operation", "system_info", "execute_command"} <= {t.name for t in tools}
        outcome = await session.call_tool("file_operation", {"operation": "list", "path": "."})
        assert outcome.ok and outcome.exit_code == 0
        assert outcome.elapsed_ms > 0
        entries = list(session.traffic)
    assert entries[0].method == first_method and entries[0].direction == "out"
    calls = [e for e in entries if e.method == "tools/call"]
    assert len(calls) == 1 and calls[0].payload["params"]["name"] == "file_operation"
    answer = next(e for e in entries if e.direction == "in" and e.id == calls[0].id)
    assert answer.elapsed_ms is not None and answer.elapsed_ms > 0
    assert answer.size == len(answer.text.encode()) > 20
    assert "result" in answer.payload


async def test_progress_log_and_structured_output(zoo: Served) -> None:
    events: list[object] = []
    endpoint = await resolve_endpoint(parse_target(zoo.url))
    async with McpSession(endpoint, on_event=events.append) as session:
        await session.list_tools()
        outcome = await session.call_tool("count", {"n": 3})
        assert outcome.ok
        assert [p.progress for p in outcome.progress] == [1, 2, 3]
        assert outcome.progress[-1].total == 3 and outcome.progress[-1].message == "step 3 of 3"
        logs = [e for e in events if isinstance(e, LogEvent)]
        assert [str(e.data) for e in logs] == ["step 1", "step 2", "step 3"]
        assert any(isinstance(e, ProgressEvent) for e in events)
        order = await session.call_tool(
            "create_order",
            {"customer": {"name": "Ann", "address": {"city": "Oslo", "zip": "01234"}}, "quantity": 2},
        )
        rendered = render_result(order.result, session.find_tool("create_order"))  # type: ignore[arg-type]
        assert rendered.has_output_schema and rendered.structured_errors == []
        assert rendered.structured == {"order_id": 42, "summary": "2 for Ann in Oslo (low)"}
        picture = await session.call_tool("picture", {})
        parts = render_result(picture.result).parts  # type: ignore[arg-type]
        assert [p.kind for p in parts] == ["text", "image"]
        assert parts[1].mime_type == "image/png" and parts[1].size == 70 and parts[1].data is not None
        failing = await session.call_tool("picture", {"fail": True})
        assert not failing.ok and failing.exit_code == 1
        assert render_result(failing.result).is_error  # type: ignore[arg-type]


async def test_audio_links_and_embedded_resources(zoo: Served) -> None:
    async with await _session(zoo.url) as session:
        outcome = await session.call_tool("media", {})
        parts = render_result(outcome.result).parts  # type: ignore[arg-type]
        assert [p.kind for p in parts] == ["audio", "resource_link", "resource"]
        assert parts[0].text == "[audio audio/wav, 12 B]"
        assert parts[1].uri == "zoo://animals" and parts[1].text == "[link animals: zoo://animals]"
        assert parts[2].text == "[resource zoo://note]\nan embedded note"


async def test_resources_templates_prompts(zoo: Served) -> None:
    async with await _session(zoo.url) as session:
        await session.refresh_all()
        assert [str(r.uri) for r in session.resources] == ["zoo://animals"]
        assert [t.uri_template for t in session.templates] == ["zoo://animal/{name}"]
        parts = render_resource(await session.read_resource("zoo://animals"))
        assert parts[0].kind == "json" and "zebra" in parts[0].text
        assert "okapi is here" in render_resource(await session.read_resource("zoo://animal/okapi"))[0].text
        prompt = await session.get_prompt("describe", {"animal": "lion"})
        assert "Describe the lion in a short way." in str(prompt.messages[0].content)
        with pytest.raises(ConsoleError) as missing:
            await session.read_resource("zoo://nothing")
        assert missing.value.code == -32602


@pytest.mark.parametrize("protocol", ["2025-11-25", "2026-07-28"])
async def test_cancel_a_long_call(zoo: Served, protocol: str) -> None:
    async with await _session(zoo.url, protocol) as session:
        task = asyncio.create_task(session.call_tool("slow", {"seconds": 60}))
        for _ in range(500):  # until the request is on the wire
            if "tools/call" in session.traffic.methods("out"):
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        if protocol == "2025-11-25":  # on 2026-07-28 closing the request's stream is the cancellation
            for _ in range(500):
                if "notifications/cancelled" in session.traffic.methods("out"):
                    break
                await asyncio.sleep(0.01)
            assert "notifications/cancelled" in session.traffic.methods("out")
        # the session stays usable after the cancel
        assert (await session.call_tool("slow", {"seconds": 0})).ok


async def test_server_gone_mid_call() -> None:
    """The transport dies under a pending call: the caller gets a ConsoleError that says so (exit 1)."""
    served = start_zoo()
    try:
        with pytest.raises(ConsoleError) as gone:
            async with await _session(served.url) as session:
                task = asyncio.create_task(session.call_tool("slow", {"seconds": 60}))
                for _ in range(500):
                    if "tools/call" in session.traffic.methods("out"):
                        break
                    await asyncio.sleep(0.01)
                served.proc.kill()
                outcome = await asyncio.wait_for(task, 30)
                if outcome.error is not None:  # a transport that reports it per call instead
                    raise outcome.error
        assert gone.value.exit_code == 1 and ("went away" in gone.value.message or gone.value.message)
    finally:
        served.stop()


async def test_mcp_server_time_stdio() -> None:
    command = require_tool("mcp-server-time")
    endpoint = await resolve_endpoint(parse_target(None, stdio=True, stdio_command=[command]))
    async with McpSession(endpoint) as session:
        assert session.protocol_version in ("2026-07-28", "2025-11-25")
        names = [t.name for t in await session.list_tools()]
        assert "get_current_time" in names
        outcome = await session.call_tool("get_current_time", {"timezone": "UTC"})
        assert outcome.ok and '"timezone": "UTC"' in render_result(outcome.result).plain_text()  # type: ignore[arg-type]


async def test_mcp_server_git_stdio(tmp_path: Path) -> None:
    command = require_tool("mcp-server-git")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)  # noqa: ASYNC221
    (repo / "a.txt").write_text("hello\n")
    endpoint = await resolve_endpoint(
        parse_target(None, stdio=True, stdio_command=[command, "--repository", str(repo)])
    )
    async with McpSession(endpoint, protocol="2025-11-25") as session:
        names = [t.name for t in await session.list_tools()]
        assert "git_status" in names
        outcome = await session.call_tool("git_status", {"repo_path": str(repo)})
        assert outcome.ok and "a.txt" in render_result(outcome.result).plain_text()  # type: ignore[arg-type]


async def test_stdio_command_that_exits_at_once() -> None:
    endpoint = await resolve_endpoint(
        parse_target(None, stdio=True, stdio_command=["sh", "-c", "echo broken config >&2; exit 3"])
    )
    with pytest.raises(ConsoleError) as failure:
        async with McpSession(endpoint):
            pass
    assert "did not speak MCP" in failure.value.message and "broken config" in failure.value.message
    missing = await resolve_endpoint(parse_target(None, stdio=True, stdio_command=["/nonexistent/mcp-server"]))
    with pytest.raises(ConsoleError) as not_found:
        async with McpSession(missing):
            pass
    assert not_found.value.exit_code == 2


async def test_url_that_is_not_mcp(aksmcp_server: Served) -> None:
    url = aksmcp_server.url.replace("/mcp", "/nothing-here")
    with pytest.raises(ConsoleError) as failure:
        async with await _session(url):
            pass
    assert "HTTP 404" in failure.value.message and "/mcp" in failure.value.message
    with pytest.raises(ConsoleError) as refused:
        async with await _session("http://127.0.0.1:9/mcp"):
            pass
    assert "cannot connect" in refused.value.message


async def test_keys(apikey_server: Served, api_key_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ConsoleError) as no_key:
        async with await _session(apikey_server.url):
            pass
    assert no_key.value.code == 401 and "--api-key-file" in no_key.value.message
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-key\n")
    with pytest.raises(ConsoleError) as bad_key:
        async with await _session(apikey_server.url, api_key_file=str(wrong)):
            pass
    assert "rejected the credentials" in bad_key.value.message
    async with await _session(apikey_server.url, api_key_file=str(api_key_file)) as session:
        assert "system_info" in [t.name for t in await session.list_tools()]
    key = API_KEY
    async with await _session(apikey_server.url, headers=[f"X-API-Key: {key}"]) as s:
        assert s.protocol_version == "2026-07-28"


async def test_bearer_from_azure_uses_the_token_source(apikey_server: Served, api_key_file: Path) -> None:
    """--bearer-from-azure: the token (here from a stand-in for azure-identity's chain) goes in Authorization."""
    asked: list[str] = []

    async def token_source(scope: str) -> str:
        asked.append(scope)
        return API_KEY

    target = parse_target(apikey_server.url, bearer_scope="api://mcp/.default")
    endpoint = await resolve_endpoint(target, token_source=token_source)
    assert asked == ["api://mcp/.default"]
    async with McpSession(endpoint) as session:
        assert await session.list_tools()


@pytest.mark.parametrize("protocol", ["auto", "2025-11-25"])
async def test_list_changed_refreshes_the_tools(protocol: str) -> None:
    served = start_zoo()  # its own server: the test adds a tool to it
    try:
        events: list[object] = []
        endpoint = await resolve_endpoint(parse_target(served.url))
        async with McpSession(endpoint, protocol=protocol, on_event=events.append) as session:
            await session.list_tools()
            assert session.find_tool("grown") is None
            assert (await session.call_tool("grow", {})).ok
            for _ in range(400):
                if any(isinstance(e, ListChangedEvent) and e.kind == "tools" for e in events):
                    break
                await asyncio.sleep(0.025)
            assert any(isinstance(e, ListChangedEvent) for e in events), events
            assert session.find_tool("grown") is not None
    finally:
        served.stop()
