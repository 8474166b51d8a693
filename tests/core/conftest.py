"""A tiny real HTTP API server on 127.0.0.1 for the cases the sandbox does not model
(exec-plugin tokens, a 403 for one namespace, a server that never answers)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web


@dataclass
class StubApi:
    url: str = ""
    accepted: set[str] = field(default_factory=set)  # bearer tokens; empty: accept any
    forbidden_namespaces: set[str] = field(default_factory=set)
    forbidden_pods: bool = False
    seen_tokens: list[str] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    stall: asyncio.Event = field(default_factory=asyncio.Event)  # set: requests to /stall hang


def status(code: int, reason: str, message: str) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": reason,
        "message": message,
        "code": code,
    }
    return web.json_response(body, status=code)


@pytest.fixture
async def stub_api() -> AsyncIterator[StubApi]:
    api = StubApi()

    @web.middleware
    async def auth(request: web.Request, handler: Any) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        api.seen_tokens.append(token)
        if api.accepted and token not in api.accepted:
            return status(401, "Unauthorized", "Unauthorized")
        return await handler(request)

    async def list_deployments(request: web.Request) -> web.Response:
        namespace = request.match_info.get("ns")
        if namespace in api.forbidden_namespaces:
            return status(
                403,
                "Forbidden",
                f'deployments.apps is forbidden: User "dev" cannot list resource "deployments" in API group "apps" '
                f'in the namespace "{namespace}"',
            )
        items = [d for d in api.deployments if namespace in (None, d["metadata"]["namespace"])]
        return web.json_response(
            {"kind": "DeploymentList", "apiVersion": "apps/v1", "metadata": {"resourceVersion": "7"}, "items": items}
        )

    async def list_pods(request: web.Request) -> web.Response:
        if api.forbidden_pods:
            return status(403, "Forbidden", 'pods is forbidden: User "dev" cannot list resource "pods"')
        return web.json_response(
            {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "7"}, "items": []}
        )

    async def groups(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "kind": "APIGroupList",
                "groups": [
                    {
                        "name": "apps",
                        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
                    }
                ],
            }
        )

    async def stall(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        return web.json_response({})

    app = web.Application(middlewares=[auth])
    app.router.add_get("/apis", groups)
    app.router.add_get("/apis/apps/v1/deployments", list_deployments)
    app.router.add_get("/apis/apps/v1/namespaces/{ns}/deployments", list_deployments)
    app.router.add_get("/api/v1/pods", list_pods)
    app.router.add_get("/api/v1/namespaces/{ns}/pods", list_pods)
    app.router.add_get("/stall", stall)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    api.url = f"http://127.0.0.1:{port}"
    try:
        yield api
    finally:
        await runner.cleanup()


FAKE_KUBELOGIN = """#!{python}
# A stand-in for kubelogin: prints an ExecCredential whose token expires in {lifetime} s.
import json, os, sys, datetime
state = {state!r}
count = int(open(state).read()) + 1 if os.path.exists(state) else 1
open(state, "w").write(str(count))
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
assert info["kind"] == "ExecCredential", info
if {fail!r}:
    print("AADSTS700082: the refresh token has expired; run az login", file=sys.stderr)
    sys.exit(1)
expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds={lifetime})
stamp = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
status = {{"token": {token!r} or "tok-%d" % count, "expirationTimestamp": stamp}}
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", "status": status}}))
"""


@dataclass
class FakeKubelogin:
    """A fake `kubelogin` on PATH (a real executable the exec plugin code runs)."""

    bin_dir: Path

    def install(self, *, lifetime: int = 3, fail: bool = False, token: str = "") -> None:
        """token "": prints tok-1, tok-2, ... (one per run); else always that token."""
        script = self.bin_dir / "kubelogin"
        script.write_text(
            FAKE_KUBELOGIN.format(
                python=sys.executable, state=str(self.state), lifetime=lifetime, fail=fail, token=token
            )
        )
        script.chmod(0o755)

    @property
    def state(self) -> Path:
        return self.bin_dir / "kubelogin.count"

    @property
    def invocations(self) -> int:
        return int(self.state.read_text()) if self.state.exists() else 0


@pytest.fixture
def fake_kubelogin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeKubelogin:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return FakeKubelogin(bin_dir)


@pytest.fixture
def kubeconfig_for(tmp_path: Path) -> Any:
    """kubeconfig_for(server, user, context="stub", namespace=None) -> path of a 0600 kubeconfig."""

    def make(server: str, user: dict[str, Any], context: str = "stub", namespace: str | None = None) -> str:
        ctx: dict[str, Any] = {"cluster": "stub", "user": "stub-user"}
        if namespace:
            ctx["namespace"] = namespace
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "contexts": [{"name": context, "context": ctx}],
            "clusters": [{"name": "stub", "cluster": {"server": server}}],
            "users": [{"name": "stub-user", "user": user}],
        }
        path = tmp_path / f"kubeconfig-{context}"
        path.write_text(yaml.safe_dump(doc))
        path.chmod(0o600)
        return str(path)

    return make


EXEC_USER = {
    "exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "kubelogin",
        "args": ["get-token", "--login", "azurecli"],
        "installHint": "Install kubelogin: az aks install-cli",
    }
}


@pytest.fixture
def exec_user() -> dict[str, Any]:
    return json.loads(json.dumps(EXEC_USER))


class TcpProxy:
    """A real TCP proxy on 127.0.0.1 in front of an API server, to cut connections (a network drop)
    and to hold requests for a while (a client that was away long enough for its resourceVersion
    to expire)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.released = asyncio.Event()
        self.released.set()
        self.held = 0  # connections waiting for release()
        self.connections = 0  # accepted so far
        self.refusing = False  # True: new connections are cut at once (the cluster is "down")
        self.watch_requests = 0  # watch requests forwarded (connections are kept alive and reused)
        self._changed = asyncio.Condition()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, predicate: Any, within: float = 20.0) -> None:
        """Wait until predicate(self) holds (re-checked at every connection)."""
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: predicate(self))

    def hold(self) -> None:
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool) -> None:
        try:
            while data := await reader.read(65536):
                if upstream:
                    self.watch_requests += data.count(b"watch=true")
                    if not self.released.is_set():
                        # Park the request: the client is "away" until release().
                        self.held += 1
                        await self._notify()
                        await self.released.wait()
                        self.held -= 1
                writer.write(data)
                await writer.drain()
                await self._notify()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.refusing:
            writer.transport.abort()
            return
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        for pipe in (self._pipe(reader, up_writer, upstream=True), self._pipe(up_reader, writer, upstream=False)):
            task = asyncio.create_task(pipe)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        self.release()
        if self._server is not None:
            self._server.close()
        self.drop_all()
        for task in list(self._tasks):
            task.cancel()


@pytest.fixture
async def tcp_proxy() -> AsyncIterator[Any]:
    """tcp_proxy(url) -> started TcpProxy in front of that http://host:port."""
    proxies: list[TcpProxy] = []

    async def make(url: str) -> TcpProxy:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        proxy = TcpProxy(parts.hostname or "127.0.0.1", int(parts.port or 80))
        await proxy.start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        await proxy.close()
