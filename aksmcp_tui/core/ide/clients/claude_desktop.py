"""Claude Desktop: `claude_desktop_config.json`, user scope only, stdio servers only.

The app does not connect to URLs from its config file (remote "connectors" are reached from
Anthropic's cloud, which cannot see a local forward, and take no custom headers). So the entry is a
stdio shim: `npx -y mcp-remote URL --header Authorization:${AUTH}` with the value in the entry's
`env` (no space after the colon: mcp-remote's README warns that spaces in args are mangled).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aksmcp_tui.core.ide.clients.base import JsonFormat, app_config_dir, inline_note
from aksmcp_tui.core.ide.model import EntrySpec, Scope

HEADER_VAR = "AKSMCP_AUTH_HEADER"


class ClaudeDesktopWriter(JsonFormat):
    client = "claude-desktop"
    title = "Claude Desktop"
    scopes = ("user",)
    headers_helper = True  # the entry is a command: it can fetch an Entra ID token before the shim starts

    def path(self, scope: Scope, project_dir: Path) -> Path:
        return app_config_dir() / "Claude" / "claude_desktop_config.json"

    def entry(self, spec: EntrySpec) -> tuple[dict[str, Any], list[str]]:
        args = ["-y", "mcp-remote", spec.url, "--transport", "http-only"]
        host = urlsplit(spec.url).hostname or ""
        if urlsplit(spec.url).scheme == "http" and host not in ("127.0.0.1", "localhost", "::1"):
            args.append("--allow-http")
        value: dict[str, Any] = {"command": "npx", "args": args}
        notes = [
            "Claude Desktop only runs stdio servers from its config: the entry runs the mcp-remote shim "
            "(needs Node.js/npx), which connects to the URL; restart Claude Desktop to load it"
        ]
        mode = spec.secret_mode
        if spec.entra_helper:
            from aksmcp_tui.core.ide.entra_header import exec_argv

            args += ["--header", f"Authorization:${{{HEADER_VAR}}}"]
            command = exec_argv(*spec.entra_helper, HEADER_VAR, ["npx", *args])
            value = {"command": command[0], "args": command[1:]}
            notes.append(
                "the entry first gets an Entra ID token from azure-identity, then starts mcp-remote with it: "
                "no token is in the file; the token lasts about an hour, so restart Claude Desktop when calls "
                "start failing with 401"
            )
        elif mode == "inline":
            assert spec.api_key is not None
            args += ["--header", f"Authorization:${{{HEADER_VAR}}}"]
            value["env"] = {HEADER_VAR: f"Bearer {spec.api_key}"}
            notes.append(inline_note(self.path(spec.scope, Path.cwd())))
        elif mode == "reference":
            # Claude Desktop expands nothing itself; mcp-remote expands ${VAR} in a header from the
            # environment it inherits, so VAR holds the whole header value.
            args += ["--header", f"Authorization:${{{spec.secret_env}}}"]
            notes.append(
                f"the key is not in the file: set {spec.secret_env}='Bearer <key>' in the environment "
                "Claude Desktop starts with (mcp-remote reads it from there)"
            )
        return value, notes

    def entry_url(self, entry: dict[str, Any]) -> str | None:
        args = entry.get("args") or []
        return next((a for a in args if isinstance(a, str) and a.startswith(("http://", "https://"))), None)
