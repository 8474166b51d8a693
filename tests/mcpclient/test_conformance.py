"""`aksmcp test`: passes aksmcp-server, fails a non-compliant server and says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aksmcp_tui.cli import main
from tests.mcpclient.conftest import Served
from tests.tools import require_tool


def _checks(out: str) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in json.loads(out)["checks"]}


def test_aksmcp_server_passes(aksmcp_server: Served, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["test", aksmcp_server.url, "-o", "json"])
    out, _err = capsys.readouterr()
    checks = _checks(out)
    assert code == 0, out
    for name in (
        "negotiation 2026-07-28 (server/discover)",
        "negotiation 2025-11-25 (initialize)",
        "ping (2025-11-25)",
        "unknown method → -32601",
        "malformed JSON → -32700",
        "invalid params → -32602",
        "Origin protection (DNS rebinding)",
        "Host protection (DNS rebinding)",
        "/healthz",
        "/readyz",
        "/metrics",
        "tools/list + schemas (auto)",
        "tools/list + schemas (2025-11-25)",
    ):
        assert checks[name]["status"] == "pass", (name, checks[name])
    assert checks["auth: 401 without the key"]["status"] == "skip"
    assert not any(name.startswith("call ") for name in checks)  # no tool is called without --call


def test_auth_is_checked_when_a_key_is_given(
    apikey_server: Served, api_key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["test", apikey_server.url, "--api-key-file", str(api_key_file), "-o", "json"])
    out, _ = capsys.readouterr()
    checks = _checks(out)
    assert checks["auth: 401 without the key"]["status"] == "pass"
    assert code == 0, out


def test_call_checks_the_named_tool(aksmcp_server: Served, capsys: pytest.CaptureFixture[str]) -> None:
    main(["test", aksmcp_server.url, "--call", "file_operation", "--arg", "operation=list", "-o", "json"])
    out, _ = capsys.readouterr()
    checks = _checks(out)
    assert checks["call file_operation"]["status"] == "pass", checks["call file_operation"]
    assert checks["call file_operation with an undeclared argument"]["status"] == "pass"


def test_noncompliant_server_fails_with_reasons(noncompliant: Served, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["test", noncompliant.url, "--call", "echo", "--arg", "text=hi", "-o", "json"])
    out, _ = capsys.readouterr()
    assert code == 1
    document = json.loads(out)
    assert document["passed"] is False
    checks = _checks(out)
    legacy = checks["negotiation 2025-11-25 (initialize)"]
    assert legacy["status"] == "fail" and "'1.0.0'" in legacy["detail"]
    assert checks["negotiation 2026-07-28 (server/discover)"]["status"] == "fail"
    assert checks["Origin protection (DNS rebinding)"]["status"] == "fail"
    assert checks["Host protection (DNS rebinding)"]["status"] == "fail"
    assert "-32603" in checks["unknown method → -32601"]["detail"]
    assert "HTTP 500" in checks["malformed JSON → -32700"]["detail"]
    assert checks["unknown tool is refused"]["status"] == "fail"
    undeclared = checks["call echo with an undeclared argument"]
    assert undeclared["status"] == "fail" and "silently accepted" in undeclared["detail"]
    # the table form says the same, with a summary line
    code = main(["test", noncompliant.url])
    out, err = capsys.readouterr()
    assert code == 1 and "FAIL" in out and "check(s) failed" in err


def test_stdio_server_conformance(capsys: pytest.CaptureFixture[str]) -> None:
    command = require_tool("mcp-server-time")
    code = main(["test", "--stdio", "-o", "json", "--", command])
    out, _ = capsys.readouterr()
    checks = _checks(out)
    assert checks["negotiation 2026-07-28"]["status"] == "pass"
    assert checks["tools/list + schemas (auto)"]["status"] == "pass"
    assert code in (0, 1)  # the third-party server's own legacy support decides; the table says which
