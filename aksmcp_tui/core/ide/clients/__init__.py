"""One writer per MCP client; `WRITERS` maps the CLI's client names to them."""

from __future__ import annotations

from aksmcp_tui.core.ide.clients.base import ClientWriter
from aksmcp_tui.core.ide.clients.claude_code import ClaudeCodeWriter
from aksmcp_tui.core.ide.clients.claude_desktop import ClaudeDesktopWriter
from aksmcp_tui.core.ide.clients.codex import CodexWriter
from aksmcp_tui.core.ide.clients.continue_dev import ContinueWriter
from aksmcp_tui.core.ide.clients.cursor import CursorWriter
from aksmcp_tui.core.ide.clients.gemini_cli import GeminiCliWriter
from aksmcp_tui.core.ide.clients.vscode import VsCodeWriter
from aksmcp_tui.core.ide.clients.windsurf import WindsurfWriter

WRITERS: dict[str, ClientWriter] = {
    w.client: w
    for w in (
        VsCodeWriter(),
        CursorWriter(),
        ClaudeDesktopWriter(),
        ClaudeCodeWriter(),
        WindsurfWriter(),
        GeminiCliWriter(),
        CodexWriter(),
        ContinueWriter(),
    )
}
CLIENTS: tuple[str, ...] = tuple(WRITERS)

__all__ = ["CLIENTS", "WRITERS", "ClientWriter"]
