"""A small stdio MCP server (official SDK) for the bridge tests: what the third-party servers cannot do
on demand: slow calls with progress, a crash mid-call, logging, sampling, elicitation, list_changed,
resource subscriptions and updates, its own pid.

Run: python tests/server/bridge_child.py   (stdio; the bridge starts it)
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp_types import EmptyResult, SamplingMessage, SubscribeRequestParams, TextContent, UnsubscribeRequestParams
from pydantic import BaseModel

server = MCPServer("bridge-test-child", version="1.0.0", instructions="test child for the aksmcp bridge")


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@server.tool()
def echo(text: str) -> str:
    """Return the text."""
    return text


@server.tool()
def whoami() -> int:
    """This process's pid: tells the tests which child answered."""
    return os.getpid()


@server.tool()
async def slow(seconds: float, tag: str, ctx: Context) -> str:
    """Take `seconds`, reporting progress four times; logs to stderr when cancelled."""
    _stderr(f"slow started {tag}")
    try:
        for step in range(4):
            await ctx.report_progress(step, 4, f"{tag} step {step}")
            await asyncio.sleep(seconds / 4)
    except asyncio.CancelledError:
        _stderr(f"slow cancelled {tag}")
        raise
    _stderr(f"slow finished {tag}")
    return f"slept {seconds} ({tag})"


@server.tool()
def crash() -> str:
    """Die mid-call, like a server hitting a fatal bug."""
    _stderr("crashing on purpose")
    os._exit(3)


@server.tool()
async def shout(text: str, ctx: Context) -> str:
    """Send `text` as a logging notification."""
    await ctx.info(text)
    return "logged"


@server.tool()
async def ask(question: str, ctx: Context) -> str:
    """Ask the client's model (sampling) and return its answer."""
    result = await ctx.session.create_message(
        [SamplingMessage(role="user", content=TextContent(type="text", text=question))],
        max_tokens=20,
        related_request_id=ctx.request_id,
    )
    content = result.content
    return content.text if isinstance(content, TextContent) else str(content)


@server.tool()
async def touch_tools(ctx: Context) -> str:
    """Announce that the tool list changed (notifications/tools/list_changed)."""
    await ctx.session.send_tool_list_changed()
    return "announced"


@server.tool()
async def roots(ctx: Context) -> str:
    """The client's roots (roots/list), comma-separated."""
    result = await ctx.session.list_roots()
    return ",".join(str(root.uri) for root in result.roots)


class Answer(BaseModel):
    answer: str


@server.tool()
async def confirm(question: str, ctx: Context) -> str:
    """Ask the user (elicitation) and return what they said; logs to stderr when cancelled."""
    try:
        result = await ctx.elicit(question, Answer)
    except asyncio.CancelledError:
        _stderr(f"confirm cancelled {question}")
        raise
    if result.action == "accept" and result.data is not None:
        return f"{result.action}: {result.data.answer}"
    return result.action


@server.tool()
async def interview(ctx: Context) -> str:
    """Two elicitation rounds in a row, a log line and a sampling request in between."""
    first = await ctx.elicit("name?", Answer)
    await ctx.debug("debug line")
    await ctx.warning(f"got {first.data.answer if first.data else first.action}")
    sampled = await ctx.session.create_message(
        [SamplingMessage(role="user", content=TextContent(type="text", text="rhyme?"))],
        max_tokens=5,
        related_request_id=ctx.request_id,
    )
    second = await ctx.elicit("quest?", Answer)
    rhyme = sampled.content.text if isinstance(sampled.content, TextContent) else "?"
    return f"{first.data.answer if first.data else '-'}/{rhyme}/{second.data.answer if second.data else '-'}"


NOTES: dict[str, str] = {}


@server.resource("note://{name}")
def note(name: str) -> str:
    """A note that `set_note` changes."""
    return NOTES.get(name, "")


@server.tool()
async def set_note(name: str, text: str, ctx: Context) -> str:
    """Change a note and announce it: `resources/updated` for 2025-11-25 subscribers, the bus for 2026-07-28."""
    NOTES[name] = text
    uri = f"note://{name}"
    if uri in SUBSCRIBED:
        await ctx.session.send_resource_updated(uri)
    return "noted"


SUBSCRIBED: set[str] = set()


async def _subscribe(ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
    SUBSCRIBED.add(str(params.uri))
    return EmptyResult()


async def _unsubscribe(ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
    SUBSCRIBED.discard(str(params.uri))
    return EmptyResult()


# MCPServer has no `resources/subscribe` handler of its own (it serves 2026-07-28 listen streams); a
# handshake-era server that supports subscriptions registers one on the low-level server.
server._lowlevel_server.add_request_handler("resources/subscribe", SubscribeRequestParams, _subscribe)
server._lowlevel_server.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, _unsubscribe)


if __name__ == "__main__":
    _stderr(f"bridge test child {os.getpid()} ready")
    server.run()
