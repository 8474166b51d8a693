"""`--bearer-from-azure SCOPE` through the real azure-identity chain, against the local fake of Azure's token
endpoint (App Service managed identity: IDENTITY_ENDPOINT + IDENTITY_HEADER, HTTPS on 127.0.0.1): the zoo
behind a bearer check serves only tokens issued for its audience.

Exit codes: a wrong scope reaches the server and is refused (401), exit 1 like any rejected credential; a
credential that yields no token at all is exit 2 like an unreadable --api-key-file: nothing was sent, the
command line's credential cannot be produced, and the fix is the user's (sign in, or fix the flag)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aksmcp_tui.cli import main
from tests.azure_cloud.conftest import guard_loopback, point_azure_at
from tests.azure_cloud.fake_arm import FakeAzure
from tests.mcpclient.conftest import ZOO_AUDIENCE, Served

SCOPE = ZOO_AUDIENCE + "/.default"


@pytest.fixture(scope="session")
def fake_entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeAzure]:
    with FakeAzure(tmp_path_factory.mktemp("fake-entra")) as fake:
        yield fake


@pytest.fixture
def signed_in(fake_entra: FakeAzure, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    fake_entra.reset()
    point_azure_at(monkeypatch, fake_entra)
    outside = guard_loopback(monkeypatch)
    yield outside
    assert not outside, f"a test tried to leave loopback: {outside}"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_tools_with_a_token_from_azure_identity(
    entra_zoo: Served, fake_entra: FakeAzure, signed_in: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # without a token the server refuses; no OAuth metadata, so the message names the flags
    code, _, err = _run(capsys, "tools", entra_zoo.url, "--no-oauth")
    assert code == 1 and "needs a key (401 Unauthorized)" in err and "OAuth" not in err
    assert "for an Entra ID protected server, --bearer-from-azure SCOPE" in err
    code, out, err = _run(capsys, "tools", entra_zoo.url, "--bearer-from-azure", SCOPE)
    assert code == 0, err
    assert "approve" in out and "photo" in out and "Traceback" not in err
    # the token came from the fake's managed-identity endpoint, for the scope's resource
    (asked,) = fake_entra.requests("/msi/token", "GET")
    assert asked.query["resource"] == ZOO_AUDIENCE and asked.status == 200
    assert fake_entra.state.tokens_issued == 1
    code, out, err = _run(
        capsys, "call", entra_zoo.url, "area", "--bearer-from-azure", SCOPE, "--json", '{"figure":{"r":1}}'
    )
    assert code == 0 and "circle area 3.14" in out, err


def test_a_wrong_scope_is_refused_by_the_server(
    entra_zoo: Served, fake_entra: FakeAzure, signed_in: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "tools", entra_zoo.url, "--bearer-from-azure", "api://someone-else/.default")
    assert code == 1 and out == ""
    assert "refused the Entra ID token for --bearer-from-azure api://someone-else/.default" in err
    assert "401" in err and "Traceback" not in err
    assert fake_entra.requests("/msi/token")[0].query["resource"] == "api://someone-else"


def test_no_azure_sign_in_is_a_clear_message(
    entra_zoo: Served, fake_entra: FakeAzure, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_entra.reset()
    point_azure_at(monkeypatch, fake_entra, signed_in=False)  # no managed identity, no az, no env credentials
    outside = guard_loopback(monkeypatch)
    code, out, err = _run(capsys, "tools", entra_zoo.url, "--bearer-from-azure", SCOPE)
    assert code == 2 and out == ""
    assert f"--bearer-from-azure {SCOPE}: no Azure sign-in found" in err and "az login" in err
    assert "Traceback" not in err and len(err.splitlines()) <= 3
    assert not outside  # IMDS (169.254.169.254) was never probed
    assert fake_entra.requests("/msi/token") == []


def test_a_failing_token_endpoint_is_a_clear_message(
    entra_zoo: Served,
    fake_entra: FakeAzure,
    signed_in: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-secret")  # the endpoint answers 400
    code, out, err = _run(capsys, "tools", entra_zoo.url, "--bearer-from-azure", SCOPE)
    assert code == 2 and out == "" and "Traceback" not in err
    assert f"--bearer-from-azure {SCOPE}: no token (ManagedIdentityCredential: " in err, err
    assert "missing or wrong X-IDENTITY-HEADER" in err and len(err.splitlines()) == 1
    assert fake_entra.requests("/msi/token")[0].status == 400
