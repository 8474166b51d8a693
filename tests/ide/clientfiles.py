"""How each client reads its file, written independently of aksmcp's writers (stdlib json/tomllib and
PyYAML, not the round-trip libraries the writers use), and how it expands its secret references."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

# Clients whose own parser accepts comments (VS Code's JSONC; Gemini CLI strips comments).
JSONC_CLIENTS = {"vscode", "gemini-cli"}
USER_ONLY = {"claude-desktop", "windsurf"}


def strip_jsonc(text: str) -> str:
    """Comments and trailing commas out (strings kept), the way VS Code's parser tolerates them."""
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        else:
            out.append(ch)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


def load(client: str, path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if client == "codex":
        return tomllib.loads(text)
    if client == "continue":
        return yaml.safe_load(text)
    if client in JSONC_CLIENTS:
        return json.loads(strip_jsonc(text))
    return json.loads(text)  # strict JSON (JSON.parse) for the others


def entry_of(client: str, data: Any, name: str) -> dict[str, Any] | None:
    if client == "vscode":
        return (data.get("servers") or {}).get(name)
    if client == "codex":
        return (data.get("mcp_servers") or {}).get(name)
    if client == "continue":
        return next((s for s in data.get("mcpServers") or [] if s.get("name") == name), None)
    return (data.get("mcpServers") or {}).get(name)


def endpoint(client: str, data: Any, name: str, key: str) -> tuple[str, dict[str, str]]:
    """The URL and headers the client would send, with its own reference syntax resolved to `key`.

    A reference in a syntax the client does not expand is left as it is (and the server then says 401).
    """
    entry = entry_of(client, data, name)
    assert entry is not None, f"{client}: no entry {name!r}"
    if client == "vscode":
        assert entry["type"] == "http"
        url, headers = entry["url"], dict(entry.get("headers") or {})
        ids = {i["id"] for i in data.get("inputs") or [] if i.get("password") is True}
        headers = {
            k: re.sub(r"\$\{input:([^}]+)\}", lambda m: key if m.group(1) in ids else m.group(0), v)
            for k, v in headers.items()
        }
    elif client == "cursor":
        url, headers = entry["url"], _expand(entry.get("headers"), r"\$\{env:[A-Za-z_0-9]+\}", key)
    elif client == "windsurf":
        url, headers = entry["serverUrl"], _expand(entry.get("headers"), r"\$\{env:[A-Za-z_0-9]+\}", key)
    elif client == "gemini-cli":
        url, headers = entry["httpUrl"], _expand(entry.get("headers"), r"\$\{[A-Za-z_0-9]+\}|\$[A-Za-z_0-9]+", key)
    elif client == "claude-code":
        assert entry["type"] == "http"
        url, headers = entry["url"], _expand(entry.get("headers"), r"\$\{[A-Za-z_0-9]+(?::-[^}]*)?\}", key)
    elif client == "codex":
        url = entry["url"]
        headers = dict(entry.get("http_headers") or {})
        if entry.get("bearer_token_env_var"):
            headers["Authorization"] = f"Bearer {key}"
    elif client == "continue":
        assert entry["type"] == "streamable-http"
        url = entry["url"]
        headers = _expand(
            (entry.get("requestOptions") or {}).get("headers"), r"\$\{\{\s*secrets\.[A-Za-z_0-9]+\s*\}\}", key
        )
    else:
        raise AssertionError(f"{client} has no URL entry")
    return url, headers


def _expand(headers: Any, pattern: str, key: str) -> dict[str, str]:
    return {k: re.sub(pattern, key, v) for k, v in dict(headers or {}).items()}


# A file each client might already have: another entry, a key aksmcp does not know, and (where the
# format has them) comments that must survive.
SEEDS: dict[str, tuple[str, str]] = {
    # client: (text, a comment line that must survive or "")
    "vscode": (
        '// my MCP servers\n{\n  "servers": {\n    // the team\'s\n'
        '    "other": {"type": "stdio", "command": "other-mcp"},\n'
        '  },\n  "inputs": [\n    {"type": "promptString", "id": "tok", "password": true}\n  ],\n  "x-unknown": 1\n}\n',
        "// the team's",
    ),
    "gemini-cli": (
        '{\n  // theme first\n  "theme": "Dracula",\n'
        '  "mcpServers": {\n    "other": {"command": "uvx", "args": ["x"]}\n  }\n}\n',
        "// theme first",
    ),
    "cursor": (
        '{\n  "mcpServers": {\n    "other": {"command": "npx", "args": ["-y", "x"]}\n  },\n  "x-unknown": true\n}\n',
        "",
    ),
    "windsurf": (
        '{\n  "mcpServers": {\n    "other": {"serverUrl": "https://example.test/mcp"}\n  },\n  "x-unknown": true\n}\n',
        "",
    ),
    "claude-desktop": (
        '{\n  "globalShortcut": "Ctrl+Space",\n'
        '  "mcpServers": {\n    "other": {"command": "uvx", "args": ["x"]}\n  }\n}\n',
        "",
    ),
    "claude-code": (
        '{\n  "numStartups": 3,\n'
        '  "mcpServers": {\n    "other": {"type": "stdio", "command": "x", "args": []}\n  }\n}\n',
        "",
    ),
    "codex": (
        '# my codex settings\nmodel = "o5"\n\n[mcp_servers.other]\ncommand = "npx" # inline note\nargs = ["-y", "x"]\n',
        "# inline note",
    ),
    "continue": (
        "name: Local Config\nversion: 1.0.0\nschema: v1\n# models I use\nmodels: []\nmcpServers:\n"
        "  - name: other  # keep me\n    command: uvx\n    args: [x]\n",
        "# keep me",
    ),
}
