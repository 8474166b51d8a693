"""`aksmcp tools|call|resources|prompts|test` end to end: exact flags, output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aksmcp_tui.cli import main
from aksmcp_tui.core.mcpclient.store import load_history
from tests.mcpclient.conftest import Served
from tests.tools import require_tool


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_tools_and_call_on_aksmcp_server(aksmcp_server: Served, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "tools", aksmcp_server.url, "-o", "json")
    assert code == 0, err
    document = json.loads(out)
    assert document["protocolVersion"] == "2026-07-28" and document["serverInfo"]["name"] == "aksmcp-server"
    assert "file_operation" in [t["name"] for t in document["tools"]]
    code, out, err = run(capsys, "tools", aksmcp_server.url, "--protocol", "2025-11-25")
    assert code == 0 and "file_operation" in out and "MCP 2025-11-25" in err
    code, out, err = run(
        capsys, "call", aksmcp_server.url, "file_operation", "--arg", "operation=list", "--arg", "path=.", "-o", "json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["isError"] is False and result["structuredContent"]
    history = load_history()
    assert history[-1].name == "file_operation" and history[-1].outcome == "ok"
    assert history[-1].arguments == {"operation": "list", "path": "."}


def test_call_exit_codes(aksmcp_server: Served, capsys: pytest.CaptureFixture[str]) -> None:
    # isError (a path outside the workspace is refused) -> 1
    code, out, err = run(
        capsys, "call", aksmcp_server.url, "file_operation", "--json", '{"operation":"read","path":"../x"}'
    )
    assert code == 1 and "isError" in err and out.strip()
    # bad input -> 2: unknown tool, invalid JSON, arguments that fail the schema, a bad target
    code, _, err = run(capsys, "call", aksmcp_server.url, "no_such_tool")
    assert code == 2 and "no tool named 'no_such_tool'" in err and "file_operation" in err
    code, _, err = run(capsys, "call", aksmcp_server.url, "file_operation", "--json", "{oops")
    assert code == 2 and "--json is not valid JSON" in err
    code, _, err = run(capsys, "call", aksmcp_server.url, "file_operation", "--arg", "operation=shred")
    assert code == 2 and "argument /operation" in err
    code, _, err = run(capsys, "call", "ftp://example/mcp", "x")
    assert code == 2 and "is not a target" in err
    code, _, err = run(capsys, "tools", "--stdio")
    assert code == 2 and "after `--`" in err
    code, _, err = run(capsys, "tools", aksmcp_server.url, "--header", "no-colon")
    assert code == 2 and "NAME:VALUE" in err
    # connection failure -> 1
    code, _, err = run(capsys, "tools", "http://127.0.0.1:9/mcp")
    assert code == 1 and "cannot connect" in err


def test_stdio_time_server(capsys: pytest.CaptureFixture[str]) -> None:
    command = require_tool("mcp-server-time")
    code, out, err = run(capsys, "tools", "--stdio", "--", command)
    assert code == 0, err
    assert "get_current_time" in out and "timezone*" in out
    code, out, err = run(capsys, "call", "--stdio", "get_current_time", "--arg", "timezone=UTC", "--", command)
    assert code == 0, err
    assert json.loads(out)["timezone"] == "UTC"
    code, out, err = run(capsys, "call", "--stdio", "get_current_time", "--arg", "timezone=Mars/Olympus", "--", command)
    assert code == 1 and "Invalid timezone" in out


def test_uvx_form_from_the_issue_when_uvx_exists(capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's own example line; uvx (installed by .ci/install-tools) resolves the package from PyPI itself."""
    uvx = require_tool("uvx")
    code, out, _ = run(capsys, "tools", "--stdio", "--", uvx, "mcp-server-time")
    assert code == 0 and "get_current_time" in out


def test_resources_and_prompts(zoo: Served, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "resources", zoo.url)
    assert code == 0, err
    assert "zoo://animals" in out and "zoo://animal/{name}" in out and "(template)" in out
    code, out, _ = run(capsys, "resources", zoo.url, "--read", "zoo://animal/okapi")
    assert code == 0 and out.strip() == "okapi is here"
    code, out, _ = run(capsys, "prompts", zoo.url, "-o", "json")
    assert code == 0 and json.loads(out)["prompts"][0]["name"] == "describe"
    code, out, _ = run(capsys, "prompts", zoo.url, "--get", "describe", "--arg", "animal=lion", "--arg", "style=long")
    assert code == 0 and "user: Describe the lion in a long way." in out
    code, _, err = run(capsys, "resources", zoo.url, "--read", "zoo://nothing")
    assert code == 1 and "-32602" in err


def test_call_with_nested_args_and_progress(zoo: Served, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "call",
        zoo.url,
        "create_order",
        "--arg",
        "customer.name=Ann",
        "--arg",
        "customer.address.city=Oslo",
        "--arg",
        "customer.address.zip=01234",
        "--arg",
        "quantity=2",
    )
    assert code == 0, err
    assert '"summary": "2 for Ann in Oslo (low)"' in out
    code, out, err = run(capsys, "call", zoo.url, "count", "--arg", "n=2")
    assert code == 0 and "counted to 2" in out
    assert "progress 1/2 step 1 of 2" in err and "step 2" in err


def test_key_handling(apikey_server: Served, api_key_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "tools", apikey_server.url)
    assert code == 1 and "--api-key-file" in err and "401" in err
    code, out, err = run(capsys, "tools", apikey_server.url, "--api-key-file", str(api_key_file))
    assert code == 0 and "system_info" in out
    code, _, err = run(capsys, "tools", apikey_server.url, "--api-key-file", "/nonexistent/key")
    assert code == 2 and "no such file" in err


def test_the_console_script_runs_as_a_process(aksmcp_server: Served) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "aksmcp_tui.cli", "call", aksmcp_server.url, "system_info", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "python" in json.loads(done.stdout)["structuredContent"]
