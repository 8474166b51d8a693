"""`auth-entra` end to end on the token side: a client gets an Entra ID token through azure-identity
(the Azure CLI credential) for the scope the deployment's annotations name, and a real aksmcp-server in
Entra mode accepts it (signature against the tenant's JWKS, issuer, audience); without it, or with a
token for another API, 401.

Entra ID itself cannot exist here: its two wire formats are served locally instead: the JWKS document
(on 127.0.0.1) and the Azure CLI's `az account get-access-token --output json` answer (a stand-in `az`
on PATH, which records the arguments it was called with)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from aksmcp_tui.core import components
from aksmcp_tui.core.components.entra import token_scope
from tests.components.support import CLIENT_ID, TENANT

ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"
SCOPE = f"api://{CLIENT_ID}/access_as_user"
KID = "test-key-1"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _token(key: rsa.RSAPrivateKey, audience: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": audience, "exp": now + 600, "iat": now, "nbf": now, "oid": "user-1", "tid": TENANT}
    claims["scp"] = "access_as_user"
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


@pytest.fixture
async def jwks_url(signing_key: rsa.RSAPrivateKey) -> AsyncIterator[str]:
    jwk = json.loads(RSAAlgorithm.to_jwk(signing_key.public_key()))
    document = {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}

    async def keys(_: web.Request) -> web.Response:
        return web.json_response(document)

    app = web.Application()
    app.router.add_get("/discovery/v2.0/keys", keys)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/discovery/v2.0/keys"
    finally:
        await runner.cleanup()


@pytest.fixture
def fake_az(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """An `az` that answers get-access-token with the token in TOKEN_FILE, logging its arguments."""
    bindir, token_file, calls = tmp_path / "bin", tmp_path / "token", tmp_path / "az-calls"
    bindir.mkdir()
    script = bindir / "az"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, time\n"
        f"open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1:3] != ['account', 'get-access-token']:\n"
        "    sys.exit('unexpected az call')\n"
        "exp = int(time.time()) + 600\n"
        f"print(json.dumps({{'accessToken': open({str(token_file)!r}).read(), 'expires_on': exp,\n"
        "    'expiresOn': time.strftime('%Y-%m-%d %H:%M:%S.000000', time.localtime(exp)),\n"
        f"    'subscription': 'sub', 'tenant': {TENANT!r}, 'tokenType': 'Bearer'}}))\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    yield token_file, calls


@pytest.fixture
def entra_server(tmp_path: Path, jwks_url: str) -> Iterator[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO / "server"),
        "AKSMCP_TRANSPORT": "http",
        "AKSMCP_HOST": "127.0.0.1",
        "AKSMCP_PORT": "0",
        "AKSMCP_WORKSPACE": str(tmp_path),
        "AKSMCP_AUTH_MODE": "entra",
        # what auth-entra-settings.yaml sets, plus the JWKS address of the local stand-in
        "AKSMCP_ENTRA_TENANT_ID": TENANT,
        "AKSMCP_ENTRA_AUDIENCE": f"api://{CLIENT_ID},{CLIENT_ID}",
        "AKSMCP_ENTRA_SCOPES": SCOPE,
        "AKSMCP_ENTRA_ISSUER": ISSUER,
        "AKSMCP_ENTRA_JWKS_URL": jwks_url,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "aksmcp_server"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert proc.stdout is not None
        port = None
        deadline = time.monotonic() + 30
        for line in proc.stdout:
            entry = json.loads(line) if line.startswith("{") else {}
            if entry.get("msg") == "listening":
                port = int(entry["port"])
                break
            assert time.monotonic() < deadline, "server did not start"
        assert port is not None, "server exited before listening"
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(30)


def test_token_scope_is_the_apis_default_scope() -> None:
    assert token_scope(SCOPE) == f"api://{CLIENT_ID}/.default"
    assert token_scope(f"api://{CLIENT_ID}/.default") == f"api://{CLIENT_ID}/.default"


async def test_client_token_through_azure_identity_is_accepted(
    entra_server: str, fake_az: tuple[Path, Path], signing_key: rsa.RSAPrivateKey
) -> None:
    token_file, calls = fake_az
    token_file.write_text(_token(signing_key, CLIENT_ID))  # a v2.0 token: aud is the client ID
    deployment: dict[str, Any] = {"metadata": {"annotations": {}}}
    assert await components.bearer_for_deployment(deployment) is None  # not an Entra deployment
    # the annotations auth-entra's settings patch puts on the Deployment
    deployment["metadata"]["annotations"] = {
        "aksmcp.dev/entra-tenant-id": TENANT,
        "aksmcp.dev/entra-client-id": CLIENT_ID,
        "aksmcp.dev/entra-scope": SCOPE,
    }
    bearer = await components.bearer_for_deployment(deployment)
    assert bearer is not None and bearer.startswith("Bearer ey")
    az_args = json.loads(calls.read_text().splitlines()[-1])
    assert az_args[:2] == ["account", "get-access-token"]
    assert f"api://{CLIENT_ID}" in " ".join(az_args) and TENANT in az_args
    async with (
        httpx2.AsyncClient(headers={"Authorization": bearer}) as http,
        Client(streamable_http_client(entra_server, http_client=http)) as client,
    ):
        result = await client.call_tool("system_info", {})
        assert not result.is_error
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    async with httpx2.AsyncClient(timeout=30) as http:
        missing = await http.post(entra_server, json=body, headers=headers)
        assert missing.status_code == 401
        other_api = _token(signing_key, "api://some-other-api")
        wrong = await http.post(entra_server, json=body, headers={**headers, "authorization": f"Bearer {other_api}"})
        assert wrong.status_code == 401 and "audience" in wrong.headers["www-authenticate"]


async def test_no_sign_in_is_a_clear_error(fake_az: tuple[Path, Path], tmp_path: Path) -> None:
    (tmp_path / "bin" / "az").write_text("#!/bin/sh\necho 'Please run az login to setup account.' >&2\nexit 1\n")
    with pytest.raises(components.EntraTokenError, match="az login --tenant"):
        await asyncio.wait_for(components.entra_access_token(TENANT, SCOPE), 60)
