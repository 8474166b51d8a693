"""Helpers for the dashboard tests: kubeconfig files, free ports, waiting on conditions, a 403 server."""

from __future__ import annotations

import asyncio
import html
import json
import re
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from textual.app import App
from textual.pilot import Pilot


def free_port() -> int:
    """A port nobody listens on (bound to 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_kubeconfig(
    path: Path,
    contexts: dict[str, str],
    *,
    token: str = "test-token",
    current: str | None = None,
    user: dict[str, Any] | None = None,
) -> Path:
    """A kubeconfig with one cluster+user per context name → server URL; mode 0600."""
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [],
        "users": [],
        "contexts": [],
        "current-context": current or next(iter(contexts)),
    }
    for name, server in contexts.items():
        config["clusters"].append({"name": name, "cluster": {"server": server}})
        config["users"].append({"name": name, "user": user if user is not None else {"token": token}})
        config["contexts"].append({"name": name, "context": {"cluster": name, "user": name}})
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], what: str, within: float = 20.0) -> None:
    """Let the app run until `condition()` holds; fail with `what` after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")
        await pilot.pause(0.05)


def _status(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message}
    body.update({"reason": reason, "code": code})
    return web.Response(status=code, text=json.dumps(body), content_type="application/json")


@asynccontextmanager
async def forbidding_api_server(forbidden_namespace: str, *, token: str | None = None) -> AsyncIterator[str]:
    """A tiny real HTTP server on 127.0.0.1 speaking just enough of the Kubernetes API: discovery, empty
    lists and idle watches everywhere, except 403 Forbidden Status for anything in `forbidden_namespace`
    and for cluster-wide lists. (The sandbox has no RBAC, so it cannot produce a 403.) With `token`, any
    other bearer token gets 401 Unauthorized, as an expired token does."""

    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path
        if token is not None and request.headers.get("Authorization") != f"Bearer {token}":
            return _status(401, "Unauthorized", "Unauthorized")
        if path == "/apis":
            return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        if path == "/api":
            return web.json_response({"kind": "APIVersions", "versions": ["v1"]})
        if "/namespaces/" not in path or f"/namespaces/{forbidden_namespace}/" in path:
            resource = path.rstrip("/").rsplit("/", 1)[-1]
            scope = f'in the namespace "{forbidden_namespace}"' if "/namespaces/" in path else "at the cluster scope"
            return _status(
                403,
                "Forbidden",
                f'{resource} is forbidden: User "tester" cannot list resource "{resource}" {scope}',
            )
        if request.query.get("watch") in ("true", "1"):
            response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            await response.prepare(request)
            await asyncio.sleep(3600)  # an idle watch: nothing changes
            return response
        empty = {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []}
        return web.json_response(empty)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def screen_text(app: App[Any]) -> str:
    """What the terminal shows, as text (from the SVG screenshot: tags dropped, entities decoded)."""
    svg = app.export_screenshot()
    body = svg.split("</style>", 1)[-1]
    return html.unescape(re.sub(r"<[^>]+>", "", body)).replace("\xa0", " ")
