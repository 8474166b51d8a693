"""Continue: user scope `~/.continue/config.yaml` (`mcpServers` list), project scope a block file
`.continue/mcpServers/aksmcp.yaml` (a block needs `name`, `version`, `schema: v1`).

Remote entries are `type: streamable-http` with `url` and `requestOptions.headers`. Secrets are
`${{ secrets.NAME }}`, resolved from Continue's `.env` files (`~/.continue/.env`) or its Hub.
MCP tools are only offered in agent mode.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aksmcp_tui.core.ide.clients.base import home, inline_note
from aksmcp_tui.core.ide.clients.formats import YamlListFormat
from aksmcp_tui.core.ide.model import EntrySpec, Scope


def continue_home() -> Path:
    override = os.environ.get("CONTINUE_GLOBAL_DIR")
    return Path(override) if override else home() / ".continue"


class ContinueWriter(YamlListFormat):
    client = "continue"
    title = "Continue"

    def path(self, scope: Scope, project_dir: Path) -> Path:
        if scope == "project":
            # One block file holds every entry aksmcp writes for the project.
            return project_dir / ".continue" / "mcpServers" / "aksmcp.yaml"
        return continue_home() / "config.yaml"

    def new_document(self, name: str) -> dict[str, Any]:
        return {"name": "aksmcp MCP servers", "version": "0.0.1", "schema": "v1"}

    def entry(self, spec: EntrySpec) -> tuple[dict[str, Any], list[str]]:
        value: dict[str, Any] = {"type": "streamable-http", "url": spec.url}
        notes = ["Continue offers MCP tools in agent mode only"]
        mode = spec.secret_mode
        if mode == "inline":
            assert spec.api_key is not None
            value["requestOptions"] = {"headers": {"Authorization": f"Bearer {spec.api_key}"}}
            notes.append(inline_note(self.path(spec.scope, Path.cwd())))
        elif mode == "reference":
            value["requestOptions"] = {"headers": {"Authorization": f"Bearer ${{{{ secrets.{spec.secret_env} }}}}"}}
            notes.append(
                f"the key is not in the file: Continue resolves secrets.{spec.secret_env}; put "
                f"{spec.secret_env}=<key> in {continue_home() / '.env'} (or define it in Continue Hub)"
            )
        return value, notes
