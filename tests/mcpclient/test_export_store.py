"""Copy as curl (run for real against aksmcp-server in both revisions) and as `aksmcp call` (run for real);
saved requests as YAML files; the history file."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aksmcp_tui.core.mcpclient import parse_target
from aksmcp_tui.core.mcpclient.export import as_aksmcp_call, as_curl
from aksmcp_tui.core.mcpclient.store import (
    HistoryEntry,
    SavedRequest,
    StoreError,
    append_history,
    history_path,
    load_history,
    load_requests,
    save_request,
)
from tests.mcpclient.conftest import API_KEY, Served


def _last_json(text: str) -> dict[str, object]:
    """The JSON-RPC answer from a body that is JSON or SSE."""
    for line in reversed(text.strip().splitlines()):
        line = line.removeprefix("data:").strip()
        if line.startswith("{"):
            loaded: dict[str, object] = json.loads(line)
            return loaded
    raise AssertionError(f"no JSON in {text!r}")


@pytest.mark.parametrize("protocol", ["2026-07-28", "2025-11-25"])
def test_curl_export_runs(apikey_server: Served, api_key_file: Path, protocol: str, tmp_path: Path) -> None:
    target = parse_target(apikey_server.url, api_key_file=str(api_key_file))
    params = {"name": "file_operation", "arguments": {"operation": "list", "path": "."}}
    command = as_curl(apikey_server.url, target, "tools/call", params, protocol=protocol)
    assert API_KEY not in command and "$MCP_TOKEN" in command  # no secret in a copied command
    script = command.replace("/tmp/mcp-headers", str(tmp_path / "headers"))
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, env={**os.environ, "MCP_TOKEN": API_KEY}
    )
    assert done.returncode == 0, done.stderr
    answer = _last_json(done.stdout)
    result = answer["result"]
    assert isinstance(result, dict) and result["isError"] is False


def test_aksmcp_call_export_runs(aksmcp_server: Served) -> None:
    target = parse_target(aksmcp_server.url, headers=["X-Trace: 1"])
    command = as_aksmcp_call(target, "file_operation", {"operation": "list", "path": "."}, protocol="2025-11-25")
    argv = shlex.split(command)
    assert argv[:4] == ["aksmcp", "call", aksmcp_server.url, "file_operation"]
    done = subprocess.run(
        [sys.executable, "-m", "aksmcp_tui", *argv[1:], "-o", "json"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["isError"] is False
    secret = as_aksmcp_call(parse_target(aksmcp_server.url, headers=["Authorization: Bearer s3cret"]), "t", {})
    assert "s3cret" not in secret and '--header "Authorization: Bearer $MCP_TOKEN"' in secret
    stdio = as_aksmcp_call(parse_target(None, stdio=True, stdio_command=["uvx", "mcp-server-time"]), "t", {"a": 1})
    assert stdio == "aksmcp call t --stdio --json '{\"a\":1}' -- uvx mcp-server-time"


def test_saved_requests_are_one_yaml_file_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "project" / ".aksmcp"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder.parent)  # a project's .aksmcp/requests wins over the config dir
    request = SavedRequest(
        name="list root",
        method="tools/call",
        target="deploy/x -n y",
        tool="file_operation",
        arguments={"operation": "list", "path": "."},
    )
    path = save_request(request)
    assert path == folder / "requests" / "list-root.yaml"
    assert yaml.safe_load(path.read_text())["arguments"] == {"operation": "list", "path": "."}
    (folder / "requests" / "broken.yaml").write_text("{: not yaml")
    assert [r.name for r in load_requests()] == ["list root"]
    with pytest.raises(StoreError):
        save_request(SavedRequest(name="../escape", method="tools/call", target="x"))
    monkeypatch.setenv("AKSMCP_REQUESTS_DIR", str(tmp_path / "elsewhere"))
    assert save_request(request).parent == tmp_path / "elsewhere"


def test_history_is_owner_only_and_bounded() -> None:
    for i in range(3):
        append_history(
            HistoryEntry.now(
                target="t", method="tools/call", name=f"n{i}", arguments={"i": i}, outcome="ok", elapsed_ms=1.0
            )
        )
    assert [e.name for e in load_history()] == ["n0", "n1", "n2"]
    assert stat.S_IMODE(history_path().stat().st_mode) == 0o600
    assert load_history(limit=1)[0].name == "n2"
