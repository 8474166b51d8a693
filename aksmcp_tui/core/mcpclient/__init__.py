"""Talk MCP to any server: a deployment (through a managed forward), a URL, or a stdio command.

- `targets`: the one target syntax (`parse_target`) and its resolution to an `Endpoint`
- `session`: `McpSession`, the official SDK client in either revision, with typed events
- `capture`: every JSON-RPC message both ways, with timings and sizes (`TrafficLog`)
- `forms`: a tool's inputSchema as a form model; JSON Schema 2020-12 validation per field
- `results`: results by content type; structuredContent checked against outputSchema
- `store`: saved requests (one YAML file each) and the call history
- `export`: copy as curl (both revisions) and as `aksmcp call`
- `conformance`: the checks of `aksmcp test`
- `oauth`: the SDK's OAuth client flow for servers that advertise authorization metadata
"""

from aksmcp_tui.core.mcpclient.capture import TrafficEntry, TrafficLog
from aksmcp_tui.core.mcpclient.session import (
    CallOutcome,
    ConsoleError,
    ListChangedEvent,
    LogEvent,
    McpSession,
    ProgressEvent,
    SessionEvent,
)
from aksmcp_tui.core.mcpclient.targets import Endpoint, McpTarget, TargetError, parse_target, resolve_endpoint

__all__ = [
    "CallOutcome",
    "ConsoleError",
    "Endpoint",
    "ListChangedEvent",
    "LogEvent",
    "McpSession",
    "McpTarget",
    "ProgressEvent",
    "SessionEvent",
    "TargetError",
    "TrafficEntry",
    "TrafficLog",
    "parse_target",
    "resolve_endpoint",
]
