"""Claude Code: project scope `.mcp.json`, user scope `~/.claude.json` (both `mcpServers`).

HTTP entries are `{"type": "http", "url", "headers"}`; `${VAR}` is expanded, which is how the
project file refers to the key. Project servers wait for approval the first time Claude Code
starts in the folder. `CLAUDE_CONFIG_DIR` moves the user file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aksmcp_tui.core.ide.clients.base import JsonFormat, bearer, home, inline_note, reference_note
from aksmcp_tui.core.ide.model import EntrySpec, Scope


class ClaudeCodeWriter(JsonFormat):
    client = "claude-code"
    title = "Claude Code"
    headers_helper = True  # `headersHelper`: a shell command whose stdout is a JSON object of headers

    def path(self, scope: Scope, project_dir: Path) -> Path:
        if scope == "project":
            return project_dir / ".mcp.json"
        config_dir = os.environ.get("CLAUDE_CONFIG_DIR")
        return Path(config_dir) / ".claude.json" if config_dir else home() / ".claude.json"

    def entry(self, spec: EntrySpec) -> tuple[dict[str, Any], list[str]]:
        value: dict[str, Any] = {"type": "http", "url": spec.url}
        headers = bearer(spec, f"${{{spec.secret_env}}}")
        if headers:
            value["headers"] = headers
        notes = []
        if spec.entra_helper:
            from aksmcp_tui.core.ide.entra_header import helper_command

            value["headersHelper"] = helper_command(*spec.entra_helper)
            notes.append(
                "Claude Code runs the entry's headersHelper for a fresh Entra ID token when it connects: "
                "no token is in the file"
            )
        if spec.scope == "project":
            notes.append(
                f"Claude Code asks to approve project servers from .mcp.json: start `claude` in the project "
                f"and approve {spec.name!r} (or run `claude mcp list` to see it pending)"
            )
        if spec.secret_mode == "reference":
            notes.append(reference_note(spec, "Claude Code"))
        elif spec.secret_mode == "inline":
            notes.append(inline_note(self.path(spec.scope, Path.cwd())))
        return value, notes
