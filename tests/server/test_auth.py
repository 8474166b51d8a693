"""Auth against a real server: API key (Bearer and X-API-Key) and Entra ID JWTs checked against a JWKS
served on 127.0.0.1 by a tiny http.server this test starts (signature, issuer, audience, exp, nbf,
algorithm, key rotation)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from conftest import API_KEY, RunningServer, StartServer
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from test_http_protocol import call_body, modern_headers

TENANT = "11111111-2222-3333-4444-555555555555"
AUDIENCE = "api://aksmcp-test"
ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"


# ---------------------------------------------------------------------------------------- API key --


async def _post(server: RunningServer, headers: dict[str, str]) -> httpx2.Response:
    async with httpx2.AsyncClient() as http:
        return await http.post(
            server.url,
            json=call_body("system_info"),
            headers={**modern_headers("tools/call", "system_info"), **headers},
        )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong-key-0123456789abcdef"},
        {"authorization": f"Bearer {API_KEY}x"},
        {"authorization": f"Basic {API_KEY}"},
        {"authorization": "Bearer"},
        {"x-api-key": "nope"},
        {"x-api-key": API_KEY[:-1]},
    ],
    ids=["missing", "wrong", "longer", "basic-scheme", "empty-bearer", "wrong-x-api-key", "prefix"],
)
async def test_api_key_refused(apikey_server: RunningServer, headers: dict[str, str]) -> None:
    response = await _post(apikey_server, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert API_KEY not in response.text


@pytest.mark.parametrize(
    "headers", [{"authorization": f"Bearer {API_KEY}"}, {"x-api-key": API_KEY}], ids=["bearer", "x-api-key"]
)
async def test_api_key_accepted(apikey_server: RunningServer, headers: dict[str, str]) -> None:
    response = await _post(apikey_server, headers)
    assert response.status_code == 200
    assert response.json()["result"]["isError"] is False


async def test_probes_and_metrics_need_no_key(apikey_server: RunningServer) -> None:
    async with httpx2.AsyncClient(base_url=apikey_server.base) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200
        assert (await http.get("/metrics")).status_code == 200


async def test_sdk_client_without_key_fails(apikey_server: RunningServer) -> None:
    # A failure while connecting escapes as an ExceptionGroup wrapping MCPError (see reference/mcp.md 4.5).
    with pytest.raises((MCPError, ExceptionGroup, httpx2.HTTPStatusError)):
        async with Client(apikey_server.url, mode="auto") as client:
            await client.list_tools()


async def test_api_key_never_logged(apikey_server: RunningServer) -> None:
    await _post(apikey_server, {"authorization": f"Bearer {API_KEY}"})
    await _post(apikey_server, {"x-api-key": "wrong-but-secret-value"})
    apikey_server.wait_for_log(lambda e: e.get("logger") == "aksmcp_server.access" and e.get("status") == 401)
    text = "".join(apikey_server.lines)
    assert API_KEY not in text
    assert "wrong-but-secret-value" not in text


# ---------------------------------------------------------------------------------------- Entra ID --


class Jwks:
    """A JWKS endpoint on 127.0.0.1 whose key set the test can swap (rotation)."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.hits = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.hits += 1
                body = json.dumps({"keys": jwks.keys}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/discovery/v2.0/keys"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def publish(self, *keys: tuple[str, rsa.RSAPrivateKey]) -> None:
        published = []
        for kid, private in keys:
            jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
            published.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        self.keys = published

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def token(private: rsa.RSAPrivateKey, kid: str, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "oid": "object-1",
        "azp": "client-app",
        "scp": "mcp.use",
        "iat": now,
        "nbf": now - 10,
        "exp": now + 600,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    yield server
    server.close()


@pytest.fixture
def entra_keys(jwks: Jwks) -> dict[str, rsa.RSAPrivateKey]:
    keys = {"key-1": new_key()}
    jwks.publish(("key-1", keys["key-1"]))
    return keys


@pytest.fixture
def entra_server(start_server: StartServer, jwks: Jwks, entra_keys: dict[str, rsa.RSAPrivateKey]) -> RunningServer:
    return start_server(
        {
            "AKSMCP_AUTH_MODE": "entra",
            "AKSMCP_ENTRA_TENANT_ID": TENANT,
            "AKSMCP_ENTRA_AUDIENCE": AUDIENCE,
            "AKSMCP_ENTRA_JWKS_URL": jwks.url,
            "AKSMCP_ENTRA_JWKS_MIN_REFRESH_SECONDS": "0",
        }
    )


async def test_entra_valid_token(entra_server: RunningServer, entra_keys: dict[str, rsa.RSAPrivateKey]) -> None:
    good = token(entra_keys["key-1"], "key-1")
    response = await _post(entra_server, {"authorization": f"Bearer {good}"})
    assert response.status_code == 200, response.text
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {good}"}) as http,
        Client(streamable_http_client(entra_server.url, http_client=http), mode="legacy") as client,
    ):
        assert not (await client.call_tool("system_info", {})).is_error


def _forged(entra_keys: dict[str, rsa.RSAPrivateKey]) -> dict[str, str]:
    key = entra_keys["key-1"]
    now = int(time.time())
    return {
        "wrong-signature": token(new_key(), "key-1"),
        "wrong-issuer": token(key, "key-1", iss="https://login.microsoftonline.com/other-tenant/v2.0"),
        "wrong-audience": token(key, "key-1", aud="api://someone-else"),
        "expired": token(key, "key-1", exp=now - 3600, iat=now - 7200, nbf=now - 7200),
        "not-yet-valid": token(key, "key-1", nbf=now + 3600),
        "no-exp": token(key, "key-1", exp=None),
        "unknown-kid": token(key, "key-zzz"),
        "hs256": jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 600},
            "secret" * 8,
            algorithm="HS256",
            headers={"kid": "key-1"},
        ),
        "alg-none": jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 600}, None, algorithm="none", headers={"kid": "key-1"}
        ),
        "garbage": "not.a.jwt",
        "tampered": token(key, "key-1")[:-4] + "AAAA",
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong-signature",
        "wrong-issuer",
        "wrong-audience",
        "expired",
        "not-yet-valid",
        "no-exp",
        "unknown-kid",
        "hs256",
        "alg-none",
        "garbage",
        "tampered",
    ],
)
async def test_entra_refuses_bad_tokens(
    entra_server: RunningServer, entra_keys: dict[str, rsa.RSAPrivateKey], case: str
) -> None:
    response = await _post(entra_server, {"authorization": f"Bearer {_forged(entra_keys)[case]}"})
    assert response.status_code == 401, (case, response.text)
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge


async def test_entra_missing_token(entra_server: RunningServer) -> None:
    response = await _post(entra_server, {})
    assert response.status_code == 401
    assert "www-authenticate" in response.headers
    # An API key header is not a token.
    response = await _post(entra_server, {"x-api-key": "whatever-0123456789"})
    assert response.status_code == 401


async def test_entra_key_rotation(
    entra_server: RunningServer, jwks: Jwks, entra_keys: dict[str, rsa.RSAPrivateKey]
) -> None:
    first = token(entra_keys["key-1"], "key-1")
    assert (await _post(entra_server, {"authorization": f"Bearer {first}"})).status_code == 200
    hits_after_first = jwks.hits
    # Cached: a second call with the same kid does not refetch.
    assert (await _post(entra_server, {"authorization": f"Bearer {first}"})).status_code == 200
    assert jwks.hits == hits_after_first

    rotated = new_key()
    jwks.publish(("key-2", rotated))
    second = token(rotated, "key-2")
    assert (await _post(entra_server, {"authorization": f"Bearer {second}"})).status_code == 200
    assert jwks.hits == hits_after_first + 1
    # key-1 left the set: after the refetch it is no longer trusted.
    assert (await _post(entra_server, {"authorization": f"Bearer {first}"})).status_code == 401


def test_entra_without_audience_refuses_to_start(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server({"AKSMCP_AUTH_MODE": "entra", "AKSMCP_ENTRA_TENANT_ID": TENANT}, wait=False)
    assert server.proc.wait(timeout=20) == 2
    deadline = time.monotonic() + 5
    while "AKSMCP_ENTRA_AUDIENCE" not in "".join(server.lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "AKSMCP_ENTRA_AUDIENCE" in "".join(server.lines)
    assert "Traceback" not in "".join(server.lines)


async def test_entra_protected_resource_metadata(entra_server: RunningServer) -> None:
    async with httpx2.AsyncClient() as http:
        refused = await _post(entra_server, {})
        challenge = refused.headers["www-authenticate"]
        expected = f"http://127.0.0.1:{entra_server.port}/.well-known/oauth-protected-resource/mcp"
        assert f'resource_metadata="{expected}"' in challenge
        document = (await http.get(expected)).json()
        assert document["resource"] == f"http://127.0.0.1:{entra_server.port}/mcp"
        assert document["authorization_servers"] == [ISSUER]
        assert document["bearer_methods_supported"] == ["header"]
        behind_ingress = await http.get(
            f"{entra_server.base}/.well-known/oauth-protected-resource",
            headers={"host": "mcp.example.com", "x-forwarded-proto": "https"},
        )
        assert behind_ingress.json()["resource"] == "https://mcp.example.com/mcp"


async def test_api_key_mode_advertises_no_oauth(apikey_server: RunningServer) -> None:
    async with httpx2.AsyncClient() as http:
        missing = await http.get(f"{apikey_server.base}/.well-known/oauth-protected-resource/mcp")
        assert missing.status_code == 404
        refused = await _post(apikey_server, {})
        assert "resource_metadata" not in refused.headers["www-authenticate"]
