"""Request authentication for /mcp: a static API key, or Microsoft Entra ID access tokens (JWT, RS256).

This is our own ASGI step rather than the SDK's TokenVerifier/RequireAuthMiddleware because the API key
must also be accepted from `X-API-Key`, which the SDK's bearer backend never looks at. The successful
identity is still handed to the SDK the way its own middleware does it (`scope["user"]` and the auth
context variable), so stateful sessions stay bound to the credential that opened them and sealed
request state stays bound to the principal.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx2
import jwt
from jwt.algorithms import RSAAlgorithm
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken

from .config import EntraSettings

logger = logging.getLogger("aksmcp_server.auth")

ALGORITHMS = ["RS256"]
CLOCK_SKEW_SECONDS = 60


@dataclass(frozen=True)
class AuthFailure:
    """Why a request was refused; `description` is safe to send (it names no token content)."""

    error: str
    description: str


class Authenticator(Protocol):
    scheme_hint: str

    async def authenticate(self, headers: dict[bytes, bytes]) -> AuthenticatedUser | AuthFailure: ...

    def resource_metadata(self, headers: dict[bytes, bytes]) -> dict[str, Any] | None:
        """RFC 9728 protected-resource metadata, for authenticators backed by an OAuth server."""
        ...


def _bearer(headers: dict[bytes, bytes]) -> str | None:
    raw = headers.get(b"authorization")
    if raw is None:
        return None
    scheme, _, value = raw.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class ApiKeyAuthenticator:
    scheme_hint = 'Bearer realm="aksmcp"'

    def __init__(self, key: str, *previous: str) -> None:
        # The current key first, then any key a rotation is retiring: both are valid until the pods roll.
        self._keys = tuple(k.encode("utf-8") for k in (key, *previous) if k)

    def resource_metadata(self, headers: dict[bytes, bytes]) -> dict[str, Any] | None:
        # A static key has no authorization server to advertise; advertising one would send OAuth-capable
        # clients into a login flow instead of using their configured header.
        return None

    async def authenticate(self, headers: dict[bytes, bytes]) -> AuthenticatedUser | AuthFailure:
        return self.check(headers)

    def check(self, headers: dict[bytes, bytes]) -> AuthenticatedUser | AuthFailure:
        """`authenticate` without the event loop: a key check needs no I/O (the bridge's plain path uses it)."""
        presented = headers.get(b"x-api-key")
        if presented is None:
            bearer = _bearer(headers)
            presented = bearer.encode("latin-1", errors="replace") if bearer is not None else None
        if presented is None:
            return AuthFailure("invalid_request", "missing credentials: send Authorization: Bearer <key> or X-API-Key")
        presented = presented.strip()
        # Compare against every key (no early exit), each in constant time.
        matched = [hmac.compare_digest(presented, key) for key in self._keys]
        if not any(matched):
            return AuthFailure("invalid_token", "invalid API key")
        # Identity for session binding: a digest of the key presented (never the key itself), so a client
        # keeps the same identity on old and new replicas while a rotation rolls through.
        client_id = "apikey:" + hashlib.sha256(presented).hexdigest()[:12]
        return AuthenticatedUser(AccessToken(token="apikey", client_id=client_id, scopes=[]))


class JwksCache:
    """The tenant's signing keys by `kid`: fetched once, kept for `cache_seconds`, refetched early when a
    token names a kid we do not know (key rotation), but at most once per `min_refresh_seconds`."""

    def __init__(self, url: str, cache_seconds: float, min_refresh_seconds: float) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.min_refresh_seconds = min_refresh_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        self.fetch_count = 0

    async def key_for(self, kid: str) -> Any | None:
        now = time.monotonic()
        if now - self._fetched_at > self.cache_seconds or (
            kid not in self._keys and now - self._fetched_at >= self.min_refresh_seconds
        ):
            await self._refresh(kid)
        return self._keys.get(kid)

    async def _refresh(self, kid: str) -> None:
        async with self._lock:
            now = time.monotonic()
            # Another request may have refreshed while we waited for the lock.
            if kid in self._keys and now - self._fetched_at <= self.cache_seconds:
                return
            if now - self._fetched_at < self.min_refresh_seconds and self._keys:
                return
            try:
                async with httpx2.AsyncClient(timeout=10.0) as client:
                    response = await client.get(self.url)
                    response.raise_for_status()
                    document = response.json()
                keys: dict[str, Any] = {}
                for jwk in document.get("keys", []):
                    if jwk.get("kty") == "RSA" and jwk.get("kid") and jwk.get("use", "sig") == "sig":
                        keys[jwk["kid"]] = RSAAlgorithm.from_jwk(json.dumps(jwk))
            except Exception as exc:
                # Keep serving with the keys we have; a failed fetch is not a reason to drop known keys.
                logger.warning("JWKS fetch failed", extra={"jwks_url": self.url, "error": type(exc).__name__})
                self._fetched_at = now
                return
            self._keys = keys
            self._fetched_at = now
            self.fetch_count += 1
            logger.info("JWKS fetched", extra={"jwks_url": self.url, "key_count": len(keys)})


class EntraAuthenticator:
    scheme_hint = 'Bearer realm="aksmcp"'

    def __init__(self, settings: EntraSettings) -> None:
        self.settings = settings
        self.jwks = JwksCache(settings.jwks_url, settings.jwks_cache_seconds, settings.jwks_min_refresh_seconds)

    def resource_url(self, headers: dict[bytes, bytes]) -> str:
        if self.settings.resource_url:
            return self.settings.resource_url
        # Behind an Ingress the scheme the client used arrives as X-Forwarded-Proto.
        scheme = headers.get(b"x-forwarded-proto", b"http").decode("latin-1").split(",")[0].strip()
        host = headers.get(b"host", b"localhost").decode("latin-1")
        return f"{'https' if scheme == 'https' else 'http'}://{host}/mcp"

    def metadata_url(self, headers: dict[bytes, bytes]) -> str:
        resource = self.resource_url(headers)
        scheme, _, rest = resource.partition("://")
        authority, _, path = rest.partition("/")
        return f"{scheme}://{authority}/.well-known/oauth-protected-resource/{path}".rstrip("/")

    def resource_metadata(self, headers: dict[bytes, bytes]) -> dict[str, Any] | None:
        document: dict[str, Any] = {
            "resource": self.resource_url(headers),
            "authorization_servers": [self.settings.issuers[0]],
            "bearer_methods_supported": ["header"],
        }
        if self.settings.scopes:
            document["scopes_supported"] = list(self.settings.scopes)
        return document

    async def authenticate(self, headers: dict[bytes, bytes]) -> AuthenticatedUser | AuthFailure:
        token = _bearer(headers)
        if token is None:
            return AuthFailure("invalid_request", "missing bearer token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            return AuthFailure("invalid_token", "malformed token")
        if header.get("alg") not in ALGORITHMS:
            return AuthFailure("invalid_token", "unsupported token algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            return AuthFailure("invalid_token", "token has no key id")
        key = await self.jwks.key_for(kid)
        if key is None:
            return AuthFailure("invalid_token", "token signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=list(self.settings.audiences),
                issuer=list(self.settings.issuers),
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            return AuthFailure("invalid_token", "token expired")
        except jwt.ImmatureSignatureError:
            return AuthFailure("invalid_token", "token not yet valid")
        except jwt.InvalidAudienceError:
            return AuthFailure("invalid_token", "token audience is not this server")
        except jwt.InvalidIssuerError:
            return AuthFailure("invalid_token", "token issuer is not the configured tenant")
        except jwt.InvalidSignatureError:
            return AuthFailure("invalid_token", "token signature is invalid")
        except jwt.InvalidTokenError:
            return AuthFailure("invalid_token", "token is invalid")
        subject = str(claims.get("oid") or claims.get("sub") or "")
        client_id = str(claims.get("azp") or claims.get("appid") or subject or "entra")
        scopes = str(claims.get("scp", "")).split() + [str(r) for r in claims.get("roles", []) or []]
        return AuthenticatedUser(
            AccessToken(
                token="jwt",
                client_id=client_id,
                scopes=scopes,
                expires_at=int(claims["exp"]),
                subject=subject or None,
                claims={"iss": claims.get("iss")},
            )
        )


def challenge(authenticator: Authenticator, failure: AuthFailure, headers: dict[bytes, bytes]) -> str:
    description = failure.description.replace('"', "'")
    value = f'{authenticator.scheme_hint}, error="{failure.error}", error_description="{description}"'
    if isinstance(authenticator, EntraAuthenticator):
        value += f', resource_metadata="{authenticator.metadata_url(headers)}"'
    return value
