"""VS Code (Copilot agent mode): `mcp.json` with `servers` and `inputs` (JSONC).

User scope: the profile's `mcp.json` (Code/User/ in the app config folder); project: `.vscode/mcp.json`.
The key never goes in either file: a `promptString` input with `password: true` asks once and VS Code
keeps the answer in its secret storage; the header says `Bearer ${input:ID}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aksmcp_tui.core.ide.clients.base import JsonFormat, app_config_dir
from aksmcp_tui.core.ide.files import IdeError
from aksmcp_tui.core.ide.model import EntrySpec, Rendered, Scope


def input_id(name: str) -> str:
    return f"aksmcp-{name}-api-key"


class VsCodeWriter(JsonFormat):
    client = "vscode"
    title = "VS Code"
    container = ("servers",)

    def path(self, scope: Scope, project_dir: Path) -> Path:
        if scope == "project":
            return project_dir / ".vscode" / "mcp.json"
        return app_config_dir() / "Code" / "User" / "mcp.json"

    def entry(self, spec: EntrySpec) -> tuple[dict[str, Any], list[str]]:
        value: dict[str, Any] = {"type": "http", "url": spec.url}
        notes = []
        if spec.secret_mode != "none":
            value["headers"] = {"Authorization": f"Bearer ${{input:{input_id(spec.name)}}}"}
            notes.append(
                "VS Code asks for the API key the first time it starts the server and keeps it in its "
                "secret storage (the file holds only an input reference)"
            )
        return value, notes

    def write(self, text: str | None, path: Path, spec: EntrySpec) -> Rendered:
        value, notes = self.entry(spec)
        document = self.doc(text, path)
        document.set((*self.container, spec.name), value)
        if spec.secret_mode != "none":
            wanted = {
                "type": "promptString",
                "id": input_id(spec.name),
                "description": f"API key of the MCP server {spec.name} (aksmcp)",
                "password": True,
            }
            inputs = document.get(("inputs",))
            if inputs is not None and not isinstance(inputs, list):
                raise IdeError(f"{path}: inputs is not a list; not touching it")
            index = _input_index(inputs, input_id(spec.name))
            if index is None:
                document.append(("inputs",), wanted)
            elif inputs is not None and inputs[index] != wanted:
                document.set(("inputs", index), wanted)
        # Never inline: the file does not need to be private.
        return Rendered(document.text, notes, inline_secret=False)

    def remove(self, text: str, path: Path, name: str) -> str:
        document = self.doc(text, path)
        document.delete((*self.container, name))
        index = _input_index(document.get(("inputs",)), input_id(name))
        if index is not None:
            document.delete(("inputs", index))
        return document.text


def _input_index(inputs: Any, wanted_id: str) -> int | None:
    if not isinstance(inputs, list):
        return None
    for i, item in enumerate(inputs):
        if isinstance(item, dict) and item.get("id") == wanted_id:
            return i
    return None
