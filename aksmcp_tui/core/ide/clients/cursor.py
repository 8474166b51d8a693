"""Cursor: `~/.cursor/mcp.json` (user) or `.cursor/mcp.json` (project), `mcpServers` with `url`.

A `url` (instead of `command`) makes the entry remote (Streamable HTTP, SSE fallback). Cursor expands
`${env:VAR}` in headers, which is how the project file refers to the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aksmcp_tui.core.ide.clients.base import JsonFormat, bearer, home, inline_note, reference_note
from aksmcp_tui.core.ide.model import EntrySpec, Scope


class CursorWriter(JsonFormat):
    client = "cursor"
    title = "Cursor"

    def path(self, scope: Scope, project_dir: Path) -> Path:
        return (project_dir if scope == "project" else home()) / ".cursor" / "mcp.json"

    def entry(self, spec: EntrySpec) -> tuple[dict[str, Any], list[str]]:
        value: dict[str, Any] = {"url": spec.url}
        headers = bearer(spec, f"${{env:{spec.secret_env}}}")
        if headers:
            value["headers"] = headers
        notes = []
        if spec.secret_mode == "reference":
            notes.append(reference_note(spec, "Cursor"))
        elif spec.secret_mode == "inline":
            notes.append(inline_note(self.path(spec.scope, Path.cwd())))
        return value, notes
