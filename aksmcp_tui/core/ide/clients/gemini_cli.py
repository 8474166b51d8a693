"""Gemini CLI: `~/.gemini/settings.json` (user) or `.gemini/settings.json` (project), `mcpServers`.

Streamable HTTP is `httpUrl` (`url` means the old SSE transport). String values expand `$VAR` and
`${VAR}` from the environment, which is how the project file refers to the key. The file is JSON
with comments allowed (the CLI strips them), so it is edited as JSONC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aksmcp_tui.core.ide.clients.base import JsonFormat, bearer, home, inline_note, reference_note
from aksmcp_tui.core.ide.model import EntrySpec, Scope


class GeminiCliWriter(JsonFormat):
    client = "gemini-cli"
    title = "Gemini CLI"

    def path(self, scope: Scope, project_dir: Path) -> Path:
        return (project_dir if scope == "project" else home()) / ".gemini" / "settings.json"

    def entry(self, spec: EntrySpec) -> tuple[dict[str, Any], list[str]]:
        value: dict[str, Any] = {"httpUrl": spec.url}
        headers = bearer(spec, f"${{{spec.secret_env}}}")
        if headers:
            value["headers"] = headers
        notes = []
        if spec.scope == "project":
            notes.append("Gemini CLI uses a project's servers only once the folder is trusted (it asks on first start)")
        if spec.secret_mode == "reference":
            notes.append(reference_note(spec, "Gemini CLI"))
        elif spec.secret_mode == "inline":
            notes.append(inline_note(self.path(spec.scope, Path.cwd())))
        return value, notes
