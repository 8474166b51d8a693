"""The SDK's OAuth client flow against a server that advertises authorization metadata (and is its own
authorization server, tests/mcpclient/oauth_server.py): PKCE sign-in through a "browser" that follows the
redirect, tokens cached owner-only, reused without a browser, and the printed URL when there is none."""

from __future__ import annotations

import asyncio
import json
import stat
import sys
from collections.abc import Iterator

import httpx2
import pytest

from aksmcp_tui.cli import main
from aksmcp_tui.core.mcpclient import ConsoleError, McpSession, parse_target, resolve_endpoint
from aksmcp_tui.core.mcpclient.oauth import token_path
from tests.mcpclient.conftest import HERE, Served, _port_line, start


@pytest.fixture(scope="module")
def oauth_server() -> Iterator[Served]:
    served = start([sys.executable, str(HERE / "oauth_server.py")], _port_line)
    yield served
    served.stop()


async def _follow(url: str) -> None:
    """What a browser does: GET the authorization URL and follow redirects to the loopback callback."""
    async with httpx2.AsyncClient(follow_redirects=True, timeout=30) as client:
        response = await client.get(url)
        assert response.status_code == 200 and "Signed in" in response.text


async def _wait_ready(url: str) -> None:
    async with httpx2.AsyncClient(timeout=5) as client:
        for _ in range(200):
            try:
                if (await client.post(url, json={})).status_code == 401:
                    return
            except httpx2.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the OAuth test server never answered")


async def test_sign_in_cache_and_reuse(oauth_server: Served) -> None:
    await _wait_ready(oauth_server.url)
    opened: list[str] = []
    tasks: list[asyncio.Task[None]] = []

    def browser(url: str) -> bool:
        opened.append(url)
        tasks.append(asyncio.get_running_loop().create_task(_follow(url)))
        return True

    endpoint = await resolve_endpoint(parse_target(oauth_server.url))
    notes: list[str] = []
    async with McpSession(endpoint, open_url=browser, say=notes.append) as session:
        assert [t.name for t in await session.list_tools()] == ["whoami"]
        assert (await session.call_tool("whoami", {})).ok
    assert len(opened) == 1 and "code_challenge=" in opened[0] and "code_challenge_method=S256" in opened[0]
    assert "resource=" in opened[0]  # RFC 8707
    assert any("OAuth sign-in" in n for n in notes)
    cache = token_path(oauth_server.url)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert json.loads(cache.read_text())["tokens"]["access_token"]
    # signed in: the cached token is used, no browser
    async with McpSession(endpoint, open_url=browser, say=notes.append) as session:
        assert (await session.call_tool("whoami", {})).ok
    assert len(opened) == 1


async def test_no_browser_prints_the_url(oauth_server: Served) -> None:
    await _wait_ready(oauth_server.url)
    printed: list[str] = []
    tasks: list[asyncio.Task[None]] = []

    def say(text: str) -> None:
        printed.append(text)
        if text.startswith("open this URL to sign in: "):  # the user copies it into a browser elsewhere
            tasks.append(asyncio.get_running_loop().create_task(_follow(text.split(": ", 1)[1])))

    endpoint = await resolve_endpoint(parse_target(oauth_server.url))
    async with McpSession(endpoint, open_url=lambda url: False, say=say) as session:
        assert (await session.call_tool("whoami", {})).ok
    assert any(p.startswith("open this URL to sign in: http://127.0.0.1:") for p in printed)


async def test_no_oauth_says_what_to_do(oauth_server: Served, capsys: pytest.CaptureFixture[str]) -> None:
    await _wait_ready(oauth_server.url)
    endpoint = await resolve_endpoint(parse_target(oauth_server.url))
    with pytest.raises(ConsoleError) as refused:
        async with McpSession(endpoint, oauth=False):
            pass
    assert refused.value.code == 401 and "OAuth" in refused.value.message
    code = await asyncio.to_thread(main, ["tools", oauth_server.url, "--no-oauth"])
    assert code == 1 and "wants an OAuth token" in capsys.readouterr().err
