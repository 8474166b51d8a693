"""The SDK's OAuth client flow for servers that answer 401 with MCP authorization metadata.

`oauth_provider(server_url)` builds the SDK's `OAuthClientProvider` (PKCE, RFC 9728 discovery, dynamic
client registration or CIMD, RFC 8707 resource) with what a terminal needs around it: a loopback
redirect listener on 127.0.0.1, the browser opened (or the URL printed when there is none), and
tokens cached owner-only (0600) under the state dir, one file per server.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import webbrowser
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aksmcp_tui.core.paths import state_dir

CALLBACK_TIMEOUT_S = 300.0  # a person signs in: minutes, not seconds


def token_path(server_url: str) -> Path:
    digest = hashlib.sha256(server_url.encode()).hexdigest()[:20]
    return state_dir() / "oauth" / f"{digest}.json"


class FileTokenStorage:
    """The SDK's TokenStorage in one 0600 JSON file (tokens and the registered client)."""

    def __init__(self, server_url: str, redirect_uri: str | None = None) -> None:
        self.path = token_path(server_url)
        self.server_url = server_url
        self.redirect_uri = redirect_uri

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({**data, "server": self.server_url}, handle)
        os.replace(tmp, self.path)

    async def get_tokens(self) -> Any:
        from mcp.shared.auth import OAuthToken

        tokens = self._read().get("tokens")
        return OAuthToken.model_validate(tokens) if tokens else None

    async def set_tokens(self, tokens: Any) -> None:
        data = self._read()
        data["tokens"] = tokens.model_dump(mode="json", exclude_none=True)
        self._write(data)

    async def get_client_info(self) -> Any:
        from mcp.shared.auth import OAuthClientInformationFull

        info = self._read().get("client")
        if not info:
            return None
        # registered for another loopback port (an earlier run): register again rather than be refused
        if self.redirect_uri and self.redirect_uri not in [str(u) for u in info.get("redirect_uris") or []]:
            return None
        return OAuthClientInformationFull.model_validate(info)

    async def set_client_info(self, client_info: Any) -> None:
        data = self._read()
        data["client"] = client_info.model_dump(mode="json", exclude_none=True)
        self._write(data)


class LoopbackCallback:
    """One authorization response on http://127.0.0.1:PORT/callback (RFC 8252 loopback redirect)."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.redirect_uri = f"http://127.0.0.1:{self.port}/callback"
        self._result: asyncio.Future[dict[str, str]] | None = None
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._result = asyncio.get_running_loop().create_future()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await asyncio.wait_for(reader.readline(), 10)).decode("latin-1")
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            target = request_line.split(" ")[1] if " " in request_line else "/"
            parts = urlsplit(target)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            ok = parts.path == "/callback" and ("code" in query or "error" in query)
            body = b"Signed in: you can close this tab and go back to aksmcp.\n" if ok else b"Not found\n"
            status = b"200 OK" if ok else b"404 Not Found"
            writer.write(
                b"HTTP/1.1 "
                + status
                + b"\r\nContent-Type: text/plain\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
            if ok and self._result is not None and not self._result.done():
                self._result.set_result(query)
        except (TimeoutError, OSError, IndexError):
            pass
        finally:
            writer.close()

    async def wait(self) -> dict[str, str]:
        assert self._result is not None
        try:
            return await asyncio.wait_for(self._result, CALLBACK_TIMEOUT_S)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


def open_in_browser(url: str) -> bool:
    """True when a browser took the URL (there is none on a headless box: then the URL is printed)."""
    try:
        return bool(webbrowser.open(url))
    except webbrowser.Error:
        return False


async def oauth_provider(
    server_url: str,
    *,
    open_url: Callable[[str], bool | Awaitable[bool]] = open_in_browser,
    say: Callable[[str], None] = lambda text: None,
) -> Any:
    """The SDK's OAuth provider for `server_url`, with a loopback callback and owner-only token cache."""
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

    callback = LoopbackCallback()

    async def redirect(authorization_url: str) -> None:
        await callback.start()
        opened = open_url(authorization_url)
        if not isinstance(opened, bool):
            opened = await opened
        if not opened:
            say(f"open this URL to sign in: {authorization_url}")
        else:
            say("signing in through your browser…")

    async def wait_for_code() -> AuthorizationCodeResult:
        query = await callback.wait()
        if "error" in query:
            raise PermissionError(f"sign-in refused: {query.get('error')} {query.get('error_description', '')}".strip())
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))

    metadata = OAuthClientMetadata(
        client_name="aksmcp",
        redirect_uris=[callback.redirect_uri],  # type: ignore[list-item]
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(
        server_url=server_url,
        client_metadata=metadata,
        storage=FileTokenStorage(server_url, callback.redirect_uri),
        redirect_handler=redirect,
        callback_handler=wait_for_code,
    )
