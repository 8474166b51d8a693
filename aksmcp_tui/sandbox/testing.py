"""Test helpers: a SandboxCluster on its own thread and event loop (usable from any test,
sync or async, whatever its loop scope), and clients built from the sandbox kubeconfig."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from aksmcp_tui.sandbox.cluster import SandboxCluster


class ThreadedSandbox:
    """`with ThreadedSandbox(state_dir) as sb:` runs a SandboxCluster in a background thread.

    Talk to it over HTTP (kubeconfig_path, url, token); do not touch `cluster.store` from
    another thread."""

    def __init__(self, state_dir: Path, **options: Any) -> None:
        self.cluster = SandboxCluster(state_dir, **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="sandbox", daemon=True)
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def kubeconfig_path(self) -> Path:
        return self.cluster.kubeconfig_path

    @property
    def url(self) -> str:
        return self.cluster.url

    @property
    def https_url(self) -> str:
        return self.cluster.https_url

    @property
    def token(self) -> str:
        return self.cluster.token

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with self.cluster:
                self._ready.set()
                await self._stop.wait()
        except BaseException as error:
            self._error = error
            self._ready.set()

    def call(self, coroutine: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the sandbox's loop (e.g. to inspect the store) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def __enter__(self) -> ThreadedSandbox:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise RuntimeError(f"sandbox failed to start: {self._error}") from self._error
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stop = self._stop
        if stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(stop.set)
        self._thread.join(60)


async def aio_api_client(kubeconfig_path: Path) -> Any:
    """A `kubernetes.aio` ApiClient for the sandbox (close it with `await client.close()`)."""
    from kubernetes.aio import config

    return await config.new_client_from_config(config_file=str(kubeconfig_path))


def sync_api_client(kubeconfig_path: Path) -> Any:
    """A synchronous `kubernetes` ApiClient for the sandbox."""
    from kubernetes import config

    return config.new_client_from_config(config_file=str(kubeconfig_path))


def configmap(name: str, labels: dict[str, str] | None = None, data: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels or {}},
        "data": data or {"k": "v"},
    }


def deployment(
    name: str, replicas: Any = 1, image: str | None = "ghcr.io/aksmcp/aksmcp-server:0.1.0"
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app"}
    if image is not None:
        container["image"] = image
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
        },
    }


def status_of(error: Any) -> dict[str, Any]:
    """The Status body of a kubernetes ApiException."""
    body: dict[str, Any] = json.loads(error.body)
    return body


async def raw(sandbox: Any, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any], Any]:
    """(status, headers, JSON or text body) of a plain HTTP request to the sandbox with its token."""
    import aiohttp

    headers = {"Authorization": f"Bearer {sandbox.token}", **kwargs.pop("headers", {})}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, sandbox.url + path, headers=headers, **kwargs) as response,
    ):
        text = await response.text()
        try:
            body = json.loads(text)
        except ValueError:
            body = text
        return response.status, dict(response.headers), body
