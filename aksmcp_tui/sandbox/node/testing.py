"""Helpers for testing the node: a Store + Node with a minimal HTTP front (pods get/log/portforward),
pod builders, condition waits and process checks. Used by tests/sandbox/test_node_*, test_logs*,
test_portforward*; needs no API server, so the node can be tested on its own."""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from aksmcp_tui.sandbox.node.node import Node
from aksmcp_tui.sandbox.store import NotFoundError, Store

# A tiny HTTP server on $PORT: GET → "hello from <pod> host=<Host header>", or 500 once the file
# named by $FAIL_FILE exists (to make probes fail on demand).
HTTP_SERVER = """
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 500 if os.path.exists(os.environ.get('FAIL_FILE', '/nonexistent/x')) else 200
        body = ('hello from ' + os.environ.get('HOSTNAME', '') + ' host=' + str(self.headers.get('Host'))).encode()
        self.send_response(code)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
print('listening on', os.environ['PORT'], flush=True)
http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
"""


async def wait_for(check: Callable[[], Any], within: float = 30.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll ``check`` until it returns something truthy; AssertionError after ``within`` seconds."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            last = result
        except (NotFoundError, AssertionError, KeyError, IndexError, TypeError) as error:
            last = error
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what or check}: last={last!r}")
        await asyncio.sleep(interval)


def pid_alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def python_container(name: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "sandbox.test/python:1", "command": [sys.executable, "-c", code], **extra}


def pod_manifest(
    name: str, containers: list[dict[str, Any]], namespace: str = "default", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"containers": containers, **spec},
    }


def container_status(pod: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for status in statuses:
        if name is None or status.get("name") == name:
            return dict(status)
    return {}


def condition(pod: dict[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or []
    )


class NodeHarness:
    """Store + Node + an HTTP front that serves pods' get, log and portforward like the API server."""

    def __init__(self, state_dir: Path, **node_options: Any) -> None:
        self.store = Store()
        options: dict[str, Any] = {"backoff_base": 0.2, "backoff_max": 2.0, "stop_grace": 5.0}
        options.update(node_options)
        self.node = Node(self.store, state_dir, **options)
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> NodeHarness:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
        await self.store.create("namespaces", namespace)
        await self.node.start()
        app = web.Application()
        base = "/api/v1/namespaces/{namespace}/pods/{name}"
        app.router.add_get(base, self._get_pod)
        app.router.add_get(base + "/log", self._log)
        app.router.add_get(base + "/portforward", self._portforward)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.node.stop()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _pod(self, request: web.Request) -> dict[str, Any]:
        try:
            return await self.store.get("pods", request.match_info["namespace"], request.match_info["name"])
        except NotFoundError:
            raise web.HTTPNotFound() from None

    async def _get_pod(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(await self._pod(request))

    async def _log(self, request: web.Request) -> web.StreamResponse:
        return await self.node.serve_log(request, await self._pod(request))

    async def _portforward(self, request: web.Request) -> web.StreamResponse:
        return await self.node.serve_portforward(request, await self._pod(request))

    async def create(self, pod: dict[str, Any]) -> dict[str, Any]:
        return await self.store.create("pods", pod)

    async def get(self, name: str, namespace: str = "default") -> dict[str, Any]:
        return await self.store.get("pods", namespace, name)

    async def wait_pod(
        self, name: str, check: Callable[[dict[str, Any]], bool], within: float = 30.0, what: str = ""
    ) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            pod = await self.get(name)
            return pod if check(pod) else None

        return await wait_for(probe, within, what=what or f"pod {name}")

    async def wait_gone(self, name: str, within: float = 30.0) -> None:
        async def gone() -> bool:
            try:
                await self.get(name)
            except NotFoundError:
                return True
            return False

        await wait_for(gone, within, what=f"pod {name} removed")

    async def events(self, name: str) -> list[dict[str, Any]]:
        items, _ = await self.store.list("events", "default")
        return [e for e in items if (e.get("involvedObject") or {}).get("name") == name]

    async def event_reasons(self, name: str) -> list[str]:
        return [str(e.get("reason")) for e in await self.events(name)]

    def kube_client(self) -> Any:
        """An official (sync) kubernetes CoreV1Api pointed at this front."""
        from kubernetes import client

        configuration = client.Configuration(host=self.url)
        return client.CoreV1Api(client.ApiClient(configuration))
