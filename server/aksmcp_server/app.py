"""Build the SDK `MCPServer` with our tools, middleware and request-state policy."""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.server.request_state import RequestStateSecurity

from . import __version__
from .config import Settings
from .logs import CallFieldsMiddleware
from .metrics import Metrics, ToolMetricsMiddleware
from .tools import build_tools

INSTRUCTIONS = (
    "Reference dev-tools server deployed by aksmcp. Files are confined to the server's workspace; "
    "commands run only when allow-listed."
)


def build_mcp_server(settings: Settings) -> tuple[MCPServer[Any], Metrics, list[Tool]]:
    # Every replica must seal MRTR requestState with the same key and the same audience (the server
    # name); without a configured key the SDK's per-process key is fine for a single replica.
    state_security = RequestStateSecurity(keys=[settings.state_key]) if settings.state_key else None
    tools = build_tools(settings)
    server: MCPServer[Any] = MCPServer(
        settings.server_name,
        version=__version__,
        instructions=INSTRUCTIONS,
        request_state_security=state_security,
        log_level=settings.log_level,  # type: ignore[arg-type]
        tools=tools,
    )
    metrics = Metrics(tool.name for tool in tools)
    server.middleware.append(CallFieldsMiddleware())  # first: the metrics middleware's lines carry the call
    server.middleware.append(ToolMetricsMiddleware(metrics))
    return server, metrics, tools
