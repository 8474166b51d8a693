"""Bridge mode: serve any stdio MCP server over Streamable HTTP with the runtime's health, metrics and auth.

- `child`    one stdio MCP server process: spawn, handshake, id remapping, stderr to the log, exit handling
- `sessions` the children: one shared child for stateless (2026-07-28) traffic, one per 2025-11-25
             session from a bounded pool with idle reaping
- `http`     the ASGI app: both protocol revisions on /mcp, whatever revision the child speaks
- `runner`   `aksmcp-server bridge -- COMMAND ...` under the same draining uvicorn server
- `coalesce` uvicorn's httptools protocol with a response's head and body in one send(), and the hand-off
             of a complete POST /mcp to the plain path
- `plain`    a 2025-11-25 request in an open session answered from the parser's and the child's
             callbacks, without uvicorn's per-request Task and ASGI messages
- `replies`  the JSON-RPC errors and event-stream framing both paths answer with
- `fast`     the hot path's shortcuts: an exact-match test before the SDK's validation ladder, a lazy
             disconnect watch
- `scheduling` the bridge's threads under SCHED_BATCH so the children get the CPU first; children forked
             under the normal policy
"""

from __future__ import annotations
