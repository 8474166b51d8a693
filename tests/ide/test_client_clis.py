"""The clients' own CLIs (pinned in .ci/install-tools) read the files aksmcp wrote, offline:
Gemini CLI and Claude Code connect to the entries (user scope inline key, project scope through the
environment reference), Codex parses them (`codex mcp list --json` does not connect)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from tools import require_tool

from aksmcp_tui.core.ide import Resolved, Target, commit, plan
from aksmcp_tui.core.ide.jsonc import JsoncDocument

from .conftest import API_KEY, Home, Server

PROJECT_VAR = "AKSMCP_PROJ_API_KEY"


def _write(client: str, url: str, home: Home) -> None:
    resolved = Resolved(Target("url", url=url), url, API_KEY)
    commit(plan(client, resolved, scope="user", name="demo"))
    commit(plan(client, resolved, scope="project", name="proj", project_dir=home.project))


def _run(command: list[str], home: Home, key: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AKSMCP_", "GEMINI_", "ANTHROPIC_", "OPENAI_"))}
    env[PROJECT_VAR] = key
    env["NO_BROWSER"] = "1"
    return subprocess.run(
        command, cwd=home.project, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


@pytest.mark.parametrize(
    ("key", "project_state"), [(API_KEY, "Connected"), ("wrong-key-0123456789abcdef", "Disconnected")]
)
def test_gemini_cli_connects(key: str, project_state: str, ide_home: Home, mcp_server: Server) -> None:
    gemini = require_tool("gemini")
    _write("gemini-cli", mcp_server.url, ide_home)
    # Gemini CLI ignores a project's servers until the folder is trusted.
    (ide_home.home / ".gemini" / "trustedFolders.json").write_text(json.dumps({str(ide_home.project): "TRUST_FOLDER"}))
    result = _run([gemini, "mcp", "list"], ide_home, key)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert f"demo: {mcp_server.url} (http) - Connected" in out
    assert f"proj: {mcp_server.url} (http) - {project_state}" in out


@pytest.mark.parametrize(("key", "connected"), [(API_KEY, True), ("wrong-key-0123456789abcdef", False)])
def test_claude_code_connects(key: str, connected: bool, ide_home: Home, mcp_server: Server) -> None:
    claude = require_tool("claude")
    _write("claude-code", mcp_server.url, ide_home)
    pending = _run([claude, "mcp", "list"], ide_home, key).stdout
    assert "demo: " in pending and "✔ Connected" in pending.split("demo: ")[1].splitlines()[0]
    assert "Pending approval" in pending.split("proj: ")[1].splitlines()[0]  # the note aksmcp prints
    # What approving in `claude` records, in the same user file aksmcp merged into.
    user_file = ide_home.home / ".claude.json"
    doc = JsoncDocument(user_file.read_text())
    doc.set(("projects", str(ide_home.project)), {"enabledMcpjsonServers": ["proj"], "hasTrustDialogAccepted": True})
    user_file.write_text(doc.text)
    result = _run([claude, "mcp", "list"], ide_home, key)
    proj_line = result.stdout.split("proj: ")[1].splitlines()[0]
    assert proj_line.startswith(mcp_server.url)
    assert ("✔ Connected" in proj_line) is connected, result.stdout
    got = _run([claude, "mcp", "get", "proj"], ide_home, key).stdout
    assert f"Authorization: Bearer ${{{PROJECT_VAR}}}" in got  # the reference, never the key


def test_codex_reads_entries(ide_home: Home, mcp_server: Server) -> None:
    codex = require_tool("codex")
    _write("codex", mcp_server.url, ide_home)
    user_file = ide_home.home / ".codex" / "config.toml"
    # Codex reads .codex/config.toml only in a trusted project.
    with user_file.open("a") as handle:
        handle.write(f'\n[projects."{ide_home.project}"]\ntrust_level = "trusted"\n')
    result = _run([codex, "mcp", "list", "--json"], ide_home, API_KEY)
    assert result.returncode == 0, result.stderr
    servers = {s["name"]: s for s in json.loads(result.stdout)}
    assert servers["demo"]["enabled"] and servers["proj"]["enabled"]
    assert servers["demo"]["transport"]["type"] == "streamable_http"
    assert servers["demo"]["transport"]["url"] == mcp_server.url
    assert servers["demo"]["transport"]["http_headers"] == {"Authorization": f"Bearer {API_KEY}"}
    assert servers["proj"]["transport"]["bearer_token_env_var"] == PROJECT_VAR
    assert servers["proj"]["transport"]["http_headers"] is None
