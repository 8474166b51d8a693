"""API-key rotation on the server side: the key being retired (AKSMCP_API_KEY_PREVIOUS_FILE) is accepted
beside the current one, a missing or empty previous-key file means no rotation, and a client keeps one
identity whichever replica (old key only, or both keys) answers it."""

from __future__ import annotations

from pathlib import Path

import pytest
from aksmcp_server.auth import ApiKeyAuthenticator, AuthFailure
from aksmcp_server.config import ConfigError, load_settings
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser

OLD = "old-key-0123456789abcdef"
NEW = "new-key-0123456789abcdef"


def _settings(tmp_path: Path, previous: str | None) -> object:
    current = tmp_path / "api-key"
    current.write_text(NEW + "\n")
    env = {"AKSMCP_API_KEY_FILE": str(current), "AKSMCP_API_KEY_PREVIOUS_FILE": str(tmp_path / "previous")}
    if previous is not None:
        (tmp_path / "previous").write_text(previous)
    return load_settings(["--workspace", str(tmp_path)], env)


def test_previous_key_file_is_read_and_hidden(tmp_path: Path) -> None:
    settings = _settings(tmp_path, OLD + "\n")
    assert settings.previous_api_key == OLD  # type: ignore[attr-defined]
    assert OLD not in repr(settings)


@pytest.mark.parametrize("content", [None, "", "\n"])
def test_missing_or_empty_previous_key_means_none(tmp_path: Path, content: str | None) -> None:
    assert _settings(tmp_path, content).previous_api_key is None  # type: ignore[attr-defined]


def test_short_previous_key_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="previous API key"):
        _settings(tmp_path, "short")


async def test_both_keys_accepted_with_one_identity_per_key() -> None:
    old_pod = ApiKeyAuthenticator(OLD)
    rolled_pod = ApiKeyAuthenticator(NEW, OLD)
    for pod in (old_pod, rolled_pod):
        assert isinstance(await pod.authenticate({b"authorization": f"Bearer {OLD}".encode()}), AuthenticatedUser)
    assert isinstance(await rolled_pod.authenticate({b"x-api-key": NEW.encode()}), AuthenticatedUser)
    refused = await old_pod.authenticate({b"x-api-key": NEW.encode()})
    assert isinstance(refused, AuthFailure) and refused.error == "invalid_token"
    assert isinstance(await rolled_pod.authenticate({b"x-api-key": b"other-key-0123456789"}), AuthFailure)
    # The same key presented to an old and a rolled replica is the same principal (session binding).
    a = await old_pod.authenticate({b"x-api-key": OLD.encode()})
    b = await rolled_pod.authenticate({b"x-api-key": OLD.encode()})
    assert isinstance(a, AuthenticatedUser) and isinstance(b, AuthenticatedUser)
    assert a.access_token.client_id == b.access_token.client_id
    assert OLD not in a.access_token.client_id
