"""OpenAI Codex: `$CODEX_HOME/config.toml` (default `~/.codex`), or `.codex/config.toml` in a trusted project.

A `[mcp_servers.NAME]` table with `url` is a Streamable HTTP server. Codex refuses an inline
`bearer_token`; the key is either named by `bearer_token_env_var` (project scope) or a literal
`http_headers` value (user scope, file 0600).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aksmcp_tui.core.ide.clients.base import home, inline_note, reference_note
from aksmcp_tui.core.ide.clients.formats import TomlFormat
from aksmcp_tui.core.ide.model import EntrySpec, Scope


class CodexWriter(TomlFormat):
    client = "codex"
    title = "Codex"

    def path(self, scope: Scope, project_dir: Path) -> Path:
        if scope == "project":
            return project_dir / ".codex" / "config.toml"
        codex_home = os.environ.get("CODEX_HOME")
        return (Path(codex_home) if codex_home else home() / ".codex") / "config.toml"

    def entry(self, spec: EntrySpec) -> tuple[dict[str, Any], list[str]]:
        value: dict[str, Any] = {"url": spec.url}
        notes = []
        if spec.secret_mode == "reference":
            value["bearer_token_env_var"] = spec.secret_env
            notes.append(reference_note(spec, "Codex"))
        elif spec.secret_mode == "inline":
            assert spec.api_key is not None
            value["http_headers"] = {"Authorization": f"Bearer {spec.api_key}"}
            notes.append(inline_note(self.path(spec.scope, Path.cwd())))
        if spec.scope == "project":
            notes.append("Codex reads .codex/config.toml only in a project you have marked as trusted")
        return value, notes
