"""A sandbox on its own thread and event loop, and fixed MCP workloads seeded with the official client.

Why a thread: the dashboard under test (Pilot, snapshot tests, benchmarks) runs its own event loop,
and snapshot tests even run it with asyncio.run(); a sandbox served from a thread keeps answering
whatever loop the test uses, like a real cluster would.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SLEEPER = "import time\nwhile True: time.sleep(1)"


class ThreadedSandbox:
    def __init__(self, state_dir: Path, **options: Any) -> None:
        self.state_dir = state_dir
        self.options = options
        self.cluster: Any = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="sandbox", daemon=True)

    def __enter__(self) -> ThreadedSandbox:
        self._thread.start()
        if not self._ready.wait(120):
            raise RuntimeError("the sandbox did not start within 120 s")
        if self.error is not None:
            raise RuntimeError(f"the sandbox failed to start: {self.error!r}") from self.error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    @property
    def kubeconfig_path(self) -> Path:
        return Path(self.cluster.kubeconfig_path)

    @property
    def url(self) -> str:
        return str(self.cluster.url)

    @property
    def token(self) -> str:
        return str(self.cluster.token)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from aksmcp_tui.sandbox import SandboxCluster

        try:
            async with SandboxCluster(self.state_dir, **self.options) as cluster:
                self.cluster = cluster
                self._loop = asyncio.get_running_loop()
                self._stop = asyncio.Event()
                self._ready.set()
                await self._stop.wait()
        except BaseException as error:  # report start-up failures to the test thread
            self.error = error
            self._ready.set()


def api_client(kubeconfig: Path, context: str = "aksmcp-sandbox") -> Any:
    from kubernetes import config

    return config.new_client_from_config(config_file=str(kubeconfig), context=context)


def ensure_namespace(api: Any, name: str) -> None:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        client.CoreV1Api(api).create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except ApiException as error:
        if error.status != 409:
            raise


def deployment(
    name: str,
    namespace: str,
    *,
    replicas: int = 1,
    mcp_label: bool = True,
    port_name: str = "http",
    image: str | None = None,
) -> dict[str, Any]:
    labels = {"app": name}
    if mcp_label:
        labels["app.kubernetes.io/component"] = "mcp-server"
    container = {
        "name": "server",
        "image": image or f"ghcr.io/example/{name}:1.0",
        "command": [sys.executable, "-c", SLEEPER],
        "ports": [{"containerPort": 8080, "name": port_name}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def service(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}, "ports": [{"name": "mcp", "port": 80, "targetPort": 8080}]},
    }


# The fixed fleet of the UI tests and snapshots: three MCP workloads and one that is not.
FLEET = (
    deployment("alpha-mcp", "team-a"),
    deployment("beta-mcp", "team-a", replicas=2, mcp_label=False, port_name="mcp"),
    deployment("gamma-mcp", "team-b", replicas=0),
    deployment("web-frontend", "team-b", mcp_label=False),
)
MCP_NAMES = ["alpha-mcp", "beta-mcp", "gamma-mcp"]


def seed_fleet(kubeconfig: Path) -> datetime:
    """Create the fixed fleet; returns a time just after creation (snapshot clocks count from it)."""
    from kubernetes import client

    api = api_client(kubeconfig)
    try:
        for namespace in ("team-a", "team-b"):
            ensure_namespace(api, namespace)
        apps = client.AppsV1Api(api)
        for body in FLEET:
            apps.create_namespaced_deployment(body["metadata"]["namespace"], body)
        client.CoreV1Api(api).create_namespaced_service("team-a", service("alpha-mcp", "team-a"))
    finally:
        api.close()
    return datetime.now(UTC)


def wait_ready(kubeconfig: Path, names: dict[str, tuple[str, int]], within: float = 60.0) -> None:
    """Block until each deployment name → (namespace, replicas) reports that many ready replicas."""
    from kubernetes import client

    api = api_client(kubeconfig)
    try:
        apps = client.AppsV1Api(api)
        deadline = time.monotonic() + within
        pending = dict(names)
        while pending:
            for name, (namespace, replicas) in list(pending.items()):
                status = apps.read_namespaced_deployment(name, namespace).status
                if (status.ready_replicas or 0) == replicas:
                    del pending[name]
            if pending and time.monotonic() > deadline:
                raise AssertionError(f"deployments not ready within {within:.0f} s: {sorted(pending)}")
            time.sleep(0.1)
    finally:
        api.close()
