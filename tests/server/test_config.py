"""Settings: flags over environment, refusals, and the Host/Origin allow-lists derived from them."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from aksmcp_server.config import ConfigError, load_settings
from aksmcp_server.security import allowed_hosts, allowed_origins, transport_security
from conftest import StartServer
from test_http_protocol import call_body, modern_headers


def test_flags_win_over_environment(tmp_path: Path) -> None:
    env = {"AKSMCP_TRANSPORT": "stdio", "AKSMCP_PORT": "9000", "AKSMCP_WORKSPACE": "/nonexistent"}
    settings = load_settings(["--transport", "http", "--port", "0", "--workspace", str(tmp_path)], env)
    assert settings.transport == "http"
    assert settings.port == 0
    assert settings.workspace == tmp_path.resolve()
    assert settings.host == "127.0.0.1"
    assert settings.stateful is False
    assert settings.auth_mode == "none"


def test_api_key_file_selects_apikey_mode_and_is_not_in_repr(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("k" * 32 + "\n")
    settings = load_settings(["--workspace", str(tmp_path)], {"AKSMCP_API_KEY_FILE": str(key)})
    assert settings.auth_mode == "apikey"
    assert settings.api_key == "k" * 32
    assert "k" * 32 not in repr(settings)


@pytest.mark.parametrize(
    "env",
    [
        {"AKSMCP_HOST": "0.0.0.0", "AKSMCP_TRANSPORT": "http"},
        {"AKSMCP_HOST": "::", "AKSMCP_TRANSPORT": "http"},
        {"AKSMCP_AUTH_MODE": "none", "AKSMCP_HOST": "10.1.2.3", "AKSMCP_TRANSPORT": "http"},
        {"AKSMCP_AUTH_MODE": "entra", "AKSMCP_ENTRA_AUDIENCE": "api://x"},
        {
            "AKSMCP_AUTH_MODE": "entra",
            "AKSMCP_ENTRA_TENANT_ID": "t",
            "AKSMCP_ENTRA_AUDIENCE": "a",
            "AKSMCP_ENTRA_JWKS_URL": "http://example.com/keys",
        },
        {"AKSMCP_STATE_KEY_FILE": "/nonexistent/key"},
        {"AKSMCP_LOG_LEVEL": "LOUD"},
        {"AKSMCP_PORT": "http"},
    ],
)
def test_refusals(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(["--workspace", str(tmp_path)], env)


def test_short_state_key_refused(tmp_path: Path) -> None:
    key = tmp_path / "state"
    key.write_bytes(b"short")
    with pytest.raises(ConfigError, match="32 bytes"):
        load_settings(["--workspace", str(tmp_path)], {"AKSMCP_STATE_KEY_FILE": str(key)})


def test_default_allow_lists_are_loopback_only(tmp_path: Path) -> None:
    settings = load_settings(["--workspace", str(tmp_path)], {})
    hosts = allowed_hosts(settings)
    assert set(hosts) == {"127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"}
    assert all("127.0.0.1" in o or "localhost" in o or "[::1]" in o for o in allowed_origins(settings))


def test_configured_hosts_and_bind_address(tmp_path: Path) -> None:
    settings = load_settings(
        ["--workspace", str(tmp_path), "--host", "10.0.0.7"],
        {
            "AKSMCP_API_KEY": "x" * 20,
            "AKSMCP_ALLOWED_HOSTS": "aksmcp-server, mcp.example.com:443",
            "AKSMCP_ALLOWED_ORIGINS": "https://app.example.com/",
        },
    )
    hosts = allowed_hosts(settings)
    assert {"aksmcp-server", "aksmcp-server:*", "mcp.example.com:443", "10.0.0.7", "10.0.0.7:*"} <= set(hosts)
    assert "mcp.example.com" not in hosts  # a port given means only that port
    origins = allowed_origins(settings)
    assert "https://app.example.com" in origins
    assert "https://aksmcp-server:*" in origins
    assert transport_security(settings).enable_dns_rebinding_protection is True


async def test_shared_state_key_and_name_start(start_server: StartServer, tmp_path: Path) -> None:
    key = tmp_path / "state-key"
    key.write_bytes(b"0123456789abcdef0123456789abcdef")
    key.chmod(0o600)
    server = start_server({"AKSMCP_STATE_KEY_FILE": str(key), "AKSMCP_SERVER_NAME": "fleet-a"})
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            server.url, json=call_body("system_info"), headers=modern_headers("tools/call", "system_info")
        )
    result = response.json()["result"]
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "fleet-a"
