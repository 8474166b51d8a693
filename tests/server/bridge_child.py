"""A small stdio MCP server (official SDK) for the bridge tests: what the third-party servers cannot do
on demand: slow calls with progress, a crash mid-call, logging, sampling, list_changed, its own pid.

Run: python tests/server/bridge_child.py   (stdio; the bridge starts it)
"""

from __future__ import annotations

import asyncio
import os
import sys

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp_types import SamplingMessage, TextContent

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


if __name__ == "__main__":
    _stderr(f"bridge test child {os.getpid()} ready")
    server.run()
