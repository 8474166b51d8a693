"""Windsurf (Cascade): `~/.codeium/windsurf/mcp_config.json`, user scope only.

The remote key is `serverUrl` (Cursor's `url` does not connect); headers expand `${env:VAR}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aksmcp_tui.core.ide.clients.base import JsonFormat, bearer, home, inline_note, reference_note
from aksmcp_tui.core.ide.model import EntrySpec, Scope


class WindsurfWriter(JsonFormat):
    client = "windsurf"
    title = "Windsurf"
    scopes = ("user",)

    def path(self, scope: Scope, project_dir: Path) -> Path:
        return home() / ".codeium" / "windsurf" / "mcp_config.json"

    def entry(self, spec: EntrySpec) -> tuple[dict[str, Any], list[str]]:
        value: dict[str, Any] = {"serverUrl": spec.url}
        headers = bearer(spec, f"${{env:{spec.secret_env}}}")
        if headers:
            value["headers"] = headers
        notes = ["in Windsurf, press refresh in the MCP panel (Cascade) to load the change"]
        if spec.secret_mode == "reference":
            notes.append(reference_note(spec, "Windsurf"))
        elif spec.secret_mode == "inline":
            notes.append(inline_note(self.path(spec.scope, Path.cwd())))
        return value, notes
