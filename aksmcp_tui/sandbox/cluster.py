"""SandboxCluster: the API server, its store on disk, the controllers and the node, in-process."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib
import json
import logging
import os
import secrets
import socket
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from aksmcp_tui.sandbox.apiserver.app import ApiServer
from aksmcp_tui.sandbox.apiserver.resources import Registry
from aksmcp_tui.sandbox.apiserver.tls import ensure_certificates, server_context
from aksmcp_tui.sandbox.controllers.deployment import DeploymentController
from aksmcp_tui.sandbox.controllers.endpoints import EndpointsController
from aksmcp_tui.sandbox.controllers.namespace import NamespaceController
from aksmcp_tui.sandbox.controllers.owners import OwnerIndex
from aksmcp_tui.sandbox.controllers.replicaset import ReplicaSetController
from aksmcp_tui.sandbox.daemon import reap_leftover_pods
from aksmcp_tui.sandbox.persistence import StateFile
from aksmcp_tui.sandbox.store import NODE_NAME, Store, now_rfc3339

log = logging.getLogger(__name__)

CONTEXT = "aksmcp-sandbox"


def write_private(path: Path, text: str) -> None:
    """Write a file atomically with mode 0600 (it holds a token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


def kubeconfig_text(url: str, token: str, ca_pem: bytes | None = None, context: str = CONTEXT) -> str:
    # JSON is valid YAML and needs no dependency to write.
    cluster: dict[str, Any] = {"server": url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": "default"}}],
        "current-context": context,
        "preferences": {},
    }
    return json.dumps(config, indent=2) + "\n"


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _import_models() -> None:
    with contextlib.suppress(ImportError):
        importlib.import_module("kubernetes.client.models")


class SandboxCluster:
    """`async with SandboxCluster(state_dir) as sb:` — a local cluster on 127.0.0.1.

    Two listeners serve the same API with the same bearer token: `url` (plain http, for
    in-process tests and raw HTTP) and `https_url` (TLS with a local CA), which the kubeconfig
    uses because kubectl never sends a token over plain http.

    port=0 picks a free port; port=None reuses the previous run's port when it is free
    (so a merged kubeconfig stays valid across restarts). run_node=False serves the API and
    controllers without running pod processes (pods stay Pending; deleted pods are removed
    at once)."""

    def __init__(
        self,
        state_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int | None = 0,
        run_node: bool = True,
        bookmark_interval: float = 1.0,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.host = host
        self._requested_port = port
        self.run_node = run_node
        self.store = Store()
        self.registry = Registry()
        self.token = ""
        self.port = 0
        self.tls_port = 0
        self.node: Any = None
        self.notice: str | None = None
        self._bookmark_interval = bookmark_interval
        self._state = StateFile(self.state_dir / "state.db")
        self._runner: web.AppRunner | None = None
        self._api: ApiServer | None = None
        self._owners: OwnerIndex | None = None
        self._controllers: list[Any] = []
        self._reaper: asyncio.Task[None] | None = None
        self._warm: asyncio.Task[None] | None = None
        self._started = False

    # ------------------------------------------------------------------ paths
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def https_url(self) -> str:
        return f"https://{self.host}:{self.tls_port}"

    @property
    def ca_path(self) -> Path:
        return self.state_dir / "ca.crt"

    @property
    def kubeconfig_path(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def endpoint_path(self) -> Path:
        return self.state_dir / "endpoint.json"

    # -------------------------------------------------------------- lifecycle
    async def __aenter__(self) -> SandboxCluster:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _load_token(self) -> str:
        path = self.state_dir / "token"
        with contextlib.suppress(OSError):
            token = path.read_text().strip()
            if len(token) >= 32:
                return token
        token = secrets.token_urlsafe(32)
        write_private(path, token + "\n")
        return token

    def _choose_port(self, key: str) -> int:
        if self._requested_port is not None:
            return self._requested_port
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            previous = int(json.loads((self.state_dir / "ports.json").read_text())[key])
            if previous and _port_free(self.host, previous):
                return previous
        return 0

    async def _listen(self, port: int, tls: bool) -> int:
        assert self._runner is not None
        context = None
        if tls:
            _, cert, key = ensure_certificates(self.state_dir)
            context = server_context(cert, key)
        site = web.TCPSite(self._runner, self.host, port, ssl_context=context, reuse_address=True)
        try:
            await site.start()
        except OSError:
            site = web.TCPSite(self._runner, self.host, 0, ssl_context=context)
            await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        return int(sockets[0].getsockname()[1])

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(self.state_dir, 0o700)
        self.token = self._load_token()
        # Pod processes a previous host of this state dir left running (it was SIGKILLed or
        # crashed) would hold their ports and run twice once the node restarts their pods.
        killed = reap_leftover_pods(self.state_dir)
        if killed:
            log.warning("killed %d pod process(es) left over by a previous sandbox: %s", len(killed), killed)
        # The official client's models (used for strict field checks) take ~1 s to import:
        # load them in the background instead of on the first create.
        self._warm = asyncio.create_task(asyncio.to_thread(_import_models), name="sandbox-warm-models")
        self._state.load_into(self.store)
        self.notice = self._state.notice
        for resource, obj in self.store.all_objects():
            if resource == "customresourcedefinitions":
                self.registry.install_crd(obj)
        self._owners = OwnerIndex(self.store)
        namespaces = NamespaceController(self.store)
        namespaces.bootstrap()
        self._ensure_node_object()
        self._controllers = [
            namespaces,
            DeploymentController(self.store, self._owners),
            ReplicaSetController(self.store, self._owners),
            EndpointsController(self.store),
        ]
        self._api = ApiServer(self.store, self.registry, self.token, lambda: self.node, self._bookmark_interval)
        self._runner = web.AppRunner(self._api.make_app(), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        self.port = await self._listen(self._choose_port("port"), tls=False)
        self.tls_port = await self._listen(self._choose_port("tls_port"), tls=True)
        self._api.server_address = f"{self.host}:{self.port}"
        self._started = True
        try:
            self._owners.start()
            for controller in self._controllers:
                controller.start()
            self._state.start(self.store)
            if self.run_node:
                await self._start_node()
            if self.node is None:
                self._reaper = asyncio.create_task(self._reap_deleted_pods(), name="sandbox-pod-reaper")
            write_private(self.kubeconfig_path, kubeconfig_text(self.https_url, self.token, self.ca_path.read_bytes()))
            ports = {"port": self.port, "tls_port": self.tls_port}
            write_private(self.state_dir / "ports.json", json.dumps(ports) + "\n")
            write_private(
                self.endpoint_path,
                json.dumps({"url": self.url, "https_url": self.https_url, **ports, "pid": os.getpid()}) + "\n",
            )
        except BaseException:
            await self.stop()
            raise

    async def _start_node(self) -> None:
        try:
            module = importlib.import_module("aksmcp_tui.sandbox.node")
            node_class = module.Node
        except (ImportError, AttributeError) as error:
            log.warning("sandbox node unavailable (%s); pods will not run", error)
            return
        self.node = node_class(self.store, self.state_dir, NODE_NAME)
        await self.node.start()

    def _ensure_node_object(self) -> None:
        if self.store.peek("nodes", None, NODE_NAME) is not None:
            return
        now = now_rfc3339()
        self.store.create_now(
            "nodes",
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": NODE_NAME,
                    "labels": {
                        "kubernetes.io/hostname": NODE_NAME,
                        "kubernetes.io/os": "linux",
                        "node-role.kubernetes.io/control-plane": "",
                    },
                },
                "spec": {},
                "status": {
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "KubeletReady",
                            "message": "sandbox node runs pods as local processes",
                            "lastHeartbeatTime": now,
                            "lastTransitionTime": now,
                        }
                    ],
                    "addresses": [
                        {"type": "InternalIP", "address": "127.0.0.1"},
                        {"type": "Hostname", "address": NODE_NAME},
                    ],
                    "capacity": {"cpu": str(os.cpu_count() or 1), "memory": "8Gi", "pods": "250"},
                    "allocatable": {"cpu": str(os.cpu_count() or 1), "memory": "8Gi", "pods": "250"},
                    "nodeInfo": {
                        "kubeletVersion": "v1.32.4-aksmcp-sandbox",
                        "operatingSystem": "linux",
                        "architecture": "amd64",
                        "containerRuntimeVersion": "sandbox://processes",
                        "osImage": "aksmcp sandbox",
                        "kernelVersion": os.uname().release,
                        "bootID": "sandbox",
                        "machineID": "sandbox",
                        "systemUUID": "00000000-0000-0000-0000-000000000000",
                        "kubeProxyVersion": "",
                    },
                },
            },
        )

    async def _reap_deleted_pods(self) -> None:
        """Without a node nothing finishes graceful pod deletion; do it at once."""
        for entry in self.store.list_entries("pods")[0]:
            if entry.obj["metadata"].get("deletionTimestamp"):
                self.store.remove_now("pods", entry.namespace, entry.name)
        _, watcher = self.store.subscribe("pods", resource_version=self.store.resource_version)
        try:
            while True:
                event = await watcher.queue.get()
                if event is None:
                    return
                if event.type == "MODIFIED" and event.entry.obj["metadata"].get("deletionTimestamp"):
                    self.store.remove_now("pods", event.entry.namespace, event.entry.name)
        finally:
            self.store.unsubscribe("pods", watcher)

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self._api is not None:
            self._api.closing.set()
        if self.node is not None:
            try:
                await self.node.stop()
            except Exception:
                log.exception("stopping the sandbox node failed")
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        for controller in self._controllers:
            await controller.stop()
        if self._owners is not None:
            await self._owners.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self._state.close(self.store)
        if self._warm is not None:
            with contextlib.suppress(Exception):
                await self._warm
        with contextlib.suppress(OSError):
            self.endpoint_path.unlink()

    async def wait_until(self, predicate: Any, limit: float = 30.0) -> None:
        """Helper for tests: wait until predicate(store) is true."""
        deadline = asyncio.get_running_loop().time() + limit
        while not predicate(self.store):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("condition not reached")
            await asyncio.sleep(0.05)
