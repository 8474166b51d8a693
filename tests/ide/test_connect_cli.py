"""`aksmcp connect` from the command line: bad input fails clearly and leaves files untouched,
--dry-run shows a masked diff and writes nothing, --list/--remove/--refresh, one backup per run."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from aksmcp_tui.cli import main
from aksmcp_tui.core.ide import WRITERS, Resolved, Target, commit, plan, refresh_entries_for_forward
from aksmcp_tui.core.paths import state_dir

from .clientfiles import SEEDS, entry_of, load
from .conftest import Home

URL = "http://127.0.0.1:8931/mcp"
KEY = "cli-key-0123456789abcdef"


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TEST_MCP_KEY", KEY)
    return "TEST_MCP_KEY"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["connect", *args])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(path: Path) -> tuple[bytes, int, int]:
    info = path.stat()
    return path.read_bytes(), info.st_mtime_ns, stat.S_IMODE(info.st_mode)


def test_unknown_client_and_bad_target(ide_home: Home, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "emacs", URL)
    assert code == 1 and "unknown client 'emacs'" in err and "vscode" in err
    code, _, err = run(capsys, "cursor", "svc/x")
    assert code == 1 and "expected deploy/NAME" in err
    code, _, err = run(capsys, "windsurf", URL, "--scope", "project")
    assert code == 1 and "Windsurf has no project-scope MCP configuration" in err
    code, _, err = run(capsys, "cursor", URL, "--name", "has space")
    assert code == 1 and "entry name 'has space'" in err
    code, _, err = run(capsys, "cursor", URL, "--api-key-env", "NOT_SET_ANYWHERE")
    assert code == 1 and "missing key: environment variable NOT_SET_ANYWHERE is not set" in err
    assert not any(ide_home.home.rglob("*.json")), "nothing may be written on bad input"


@pytest.mark.parametrize(
    ("client", "relative", "broken", "where"),
    [
        ("vscode", ".config/Code/User/mcp.json", '{\n  "servers": {\n    "a": {,}\n  }\n}\n', ":3:11:"),
        ("gemini-cli", ".gemini/settings.json", '{\n  "mcpServers": [1, 2\n}\n', ":3:1:"),
        ("codex", ".codex/config.toml", "[mcp_servers.a\nurl = 1\n", ":1:"),
        ("continue", ".continue/config.yaml", "mcpServers:\n  - name: a\n   bad: [\n", ":3:"),
        ("claude-code", ".claude.json", '{"mcpServers": {"a": 1}, "mcpServers": "x"}', "mcpServers is not an object"),
        ("vscode", ".config/Code/User/mcp.json", '{"servers": {}, "inputs": {}}', "inputs is not a list"),
    ],
)
def test_unparseable_file_is_refused_and_untouched(
    client: str,
    relative: str,
    broken: str,
    where: str,
    ide_home: Home,
    key_env: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = ide_home.home / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(broken)
    before = snapshot(path)
    code, _, err = run(capsys, client, URL, "--api-key-env", key_env)
    assert code == 1
    assert str(path) in err and where in err and "not touching it" in err
    assert snapshot(path) == before
    assert not (state_dir() / "ide" / "entries.json").exists()


def test_an_entry_aksmcp_did_not_write_is_not_replaced(
    ide_home: Home, key_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = ide_home.home / ".gemini" / "settings.json"
    path.parent.mkdir()
    mine = '{\n  "mcpServers": {\n    "demo": {"command": "my-own-server"}\n  }\n}\n'
    path.write_text(mine)
    code, _, err = run(capsys, "gemini-cli", URL, "--name", "demo", "--api-key-env", key_env)
    assert code == 1 and "already has an entry 'demo' that aksmcp did not write" in err
    assert path.read_text() == mine
    code, out, _ = run(capsys, "gemini-cli", URL, "--name", "demo", "--api-key-env", key_env, "--force")
    assert code == 0 and "wrote Gemini CLI entry 'demo'" in out
    code, _, _ = run(capsys, "gemini-cli", URL, "--name", "demo", "--api-key-env", key_env)
    assert code == 0  # now it is ours: connecting again is fine


@pytest.mark.parametrize("client", ["vscode", "codex", "continue"])
def test_crlf_files_stay_crlf(client: str, ide_home: Home, key_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = WRITERS[client].path("user", ide_home.project)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(SEEDS[client][0].replace("\n", "\r\n").encode())
    assert run(capsys, client, URL, "--name", "demo", "--api-key-env", key_env)[0] == 0
    data = path.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n") and entry_of(client, load(client, path), "demo")
    assert run(capsys, "--remove", f"{client}:demo")[0] == 0
    assert path.read_bytes().count(b"\n") == path.read_bytes().count(b"\r\n")


def test_read_only_file_is_refused(ide_home: Home, key_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = ide_home.home / ".cursor" / "mcp.json"
    path.parent.mkdir()
    path.write_text('{"mcpServers": {}}\n')
    path.chmod(0o444)
    before = snapshot(path)
    code, _, err = run(capsys, "cursor", URL, "--api-key-env", key_env)
    assert code == 1 and f"{path} is read-only" in err
    assert snapshot(path) == before


def test_dry_run_shows_a_masked_diff_and_writes_nothing(
    ide_home: Home, key_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "claude-code", URL, "--api-key-env", key_env, "--name", "demo", "--dry-run")
    assert code == 0
    assert out.startswith("--- /dev/null\n+++ ") and '+      "url": "http://127.0.0.1:8931/mcp",' in out
    assert "Bearer ********" in out and KEY not in out
    assert not (ide_home.home / ".claude.json").exists()
    assert not (state_dir() / "ide" / "entries.json").exists()
    code, out, _ = run(capsys, "cursor", URL, "--scope", "project", "--dry-run")
    assert code == 0 and "${env:" not in out  # no key given: no header at all
    code, out, _ = run(capsys, "cursor", "http://mcp.example.test/mcp", "--api-key-env", key_env, "--dry-run")
    assert code == 0 and "the key crosses the network unencrypted" in out


def test_connect_list_remove(ide_home: Home, key_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "codex", URL, "--api-key-env", key_env, "--name", "demo")
    assert code == 0 and "wrote Codex entry 'demo'" in out and "mode 0600" in out and KEY not in out
    code, out, _ = run(capsys, "vscode", URL, "--api-key-env", key_env, "--name", "demo", "--scope", "project")
    assert code == 0 and "secret storage" in out
    code, out, _ = run(capsys, "--list", "-o", "json")
    entries = json.loads(out)["entries"]
    assert {(e["client"], e["scope"], e["state"], e["secret"]) for e in entries} == {
        ("codex", "user", "ok", "inline"),
        ("vscode", "project", "ok", "input"),
    }
    assert KEY not in out
    code, out, _ = run(capsys, "--list")
    assert code == 0 and "codex" in out and "vscode" in out

    code, _, err = run(capsys, "--remove", "demo")
    assert code == 1 and "matches several entries" in err
    code, out, _ = run(capsys, "--remove", "codex:demo", "--dry-run")
    assert code == 0 and "-[mcp_servers.demo]" in out and KEY not in out
    assert "demo" in (ide_home.home / ".codex" / "config.toml").read_text()
    code, out, _ = run(capsys, "--remove", "codex:demo")
    assert code == 0 and "removed codex entry 'demo'" in out
    config = (ide_home.home / ".codex" / "config.toml").read_text()
    assert "demo" not in config and KEY not in config
    code, _, err = run(capsys, "--remove", "codex:demo")
    assert code == 1 and "no recorded entry" in err
    # Removed by hand: --list says so, --remove forgets it without touching the file.
    vscode_file = ide_home.project / ".vscode" / "mcp.json"
    vscode_file.write_text("{}\n")
    code, out, _ = run(capsys, "--list")
    assert "missing" in out
    code, out, _ = run(capsys, "--remove", "vscode:demo")
    assert code == 0 and "no longer had entry" in out and vscode_file.read_text() == "{}\n"


def test_refresh_of_url_entries_changes_nothing(
    ide_home: Home, key_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "gemini-cli", URL, "--api-key-env", key_env)[0] == 0
    before = snapshot(ide_home.home / ".gemini" / "settings.json")
    code, out, _ = run(capsys, "--refresh")
    assert code == 0 and "up to date: gemini-cli" in out
    assert snapshot(ide_home.home / ".gemini" / "settings.json") == before


def test_one_backup_per_run(ide_home: Home) -> None:
    path = ide_home.home / ".cursor" / "mcp.json"
    path.parent.mkdir()
    original = '{\n  "mcpServers": {\n    "mine": {"url": "https://example.test/mcp"}\n  }\n}\n'
    path.write_text(original)
    old = "http://127.0.0.1:9"
    for name in ("a", "b"):
        commit(plan("cursor", Resolved(Target("url", url=old + "/mcp"), old + "/mcp", KEY), name=name))
    backups = sorted((state_dir() / "ide" / "backups").rglob("*"))
    files_before = [b for b in backups if b.is_file()]
    changed = refresh_entries_for_forward(old, "http://127.0.0.1:10")
    assert len(changed) == 2
    files = [b for b in (state_dir() / "ide" / "backups").rglob("*") if b.is_file()]
    new = [f for f in files if f not in files_before]
    assert len(new) == 1, "two entries of one file rewritten in one run: one backup"
    assert '"a"' in new[0].read_text() and "127.0.0.1:9/" in new[0].read_text()
    assert stat.S_IMODE(new[0].stat().st_mode) == 0o600
    assert os.stat(path).st_mode & 0o077 == 0
