"""The sandbox's node: watches pods in the store and runs each one as local processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from aiohttp import web

from aksmcp_tui.sandbox.node.docker_runtime import DockerEngine
from aksmcp_tui.sandbox.node.logs import DEFAULT_MAX_BYTES
from aksmcp_tui.sandbox.node.logserve import serve_log
from aksmcp_tui.sandbox.node.portforward import serve_portforward
from aksmcp_tui.sandbox.node.worker import PodWorker
from aksmcp_tui.sandbox.scheduling import unschedulable_reason
from aksmcp_tui.sandbox.store import GoneError, NotFoundError, Store, now_rfc3339

log = logging.getLogger(__name__)

_TERMINAL = ("Succeeded", "Failed")


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


class Node:
    """Runs the pods bound to ``node_name`` (and adopts pods with no node) as local processes.

    ``backoff_base``/``backoff_max`` are the kubelet's crash and image-pull back-off (10 s doubling
    to 5 min); tests pass a small base. When not given, the environment variables
    ``AKSMCP_SANDBOX_BACKOFF_BASE`` / ``AKSMCP_SANDBOX_BACKOFF_MAX`` (seconds) can set them, so a
    cluster built elsewhere (SandboxCluster, the daemon) can be tuned without code changes.
    ``stop_grace`` caps each pod's grace period on ``stop()``.
    """

    def __init__(
        self,
        store: Store,
        state_dir: Path,
        node_name: str = "sandbox-node",
        *,
        backoff_base: float | None = None,
        backoff_max: float | None = None,
        stop_grace: float = 10.0,
        log_max_bytes: int = DEFAULT_MAX_BYTES,
        runtime: str | None = None,
    ) -> None:
        self.store = store
        self.state_dir = Path(state_dir)
        self.node_name = node_name
        if backoff_base is None:
            backoff_base = _env_seconds("AKSMCP_SANDBOX_BACKOFF_BASE", 10.0)
        if backoff_max is None:
            backoff_max = _env_seconds("AKSMCP_SANDBOX_BACKOFF_MAX", 300.0)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.stop_grace = stop_grace
        self.log_max_bytes = log_max_bytes
        # "process" (default), "docker" (every pod in Docker), "auto" (Docker when reachable);
        # a pod's annotation sandbox.aksmcp.dev/runtime overrides it.
        self.runtime = runtime or os.environ.get("AKSMCP_SANDBOX_RUNTIME", "") or "process"
        if self.runtime not in ("process", "docker", "auto"):
            raise ValueError(f"runtime must be process, docker or auto, not {self.runtime!r}")
        self.docker = DockerEngine()
        self.workers: dict[str, PodWorker] = {}
        self._watch_task: asyncio.Task[None] | None = None
        self._stopped = False
        self._reaping: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._watch_task is not None:
            return
        self._stopped = False
        (self.state_dir / "pods").mkdir(parents=True, exist_ok=True)
        if self.runtime == "auto":
            self.runtime = "docker" if await self.docker.available() else "process"
            log.info("sandbox node runtime: %s", self.runtime)
        started = asyncio.Event()
        self._watch_task = asyncio.create_task(self._watch(started), name="sandbox node")
        await started.wait()

    async def stop(self) -> None:
        """Terminate every pod's processes (grace capped by stop_grace); pods stay in the store."""
        self._stopped = True
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch_task
            self._watch_task = None
        workers = list(self.workers.values())
        self.workers.clear()
        if self._reaping:
            await asyncio.gather(*self._reaping, return_exceptions=True)
        await asyncio.gather(*(self._stop_worker(w) for w in workers), return_exceptions=True)

    async def _stop_worker(self, worker: PodWorker) -> None:
        deleting = worker.terminate_task
        if deleting is None:
            await worker.terminate(min(float(worker.termination_grace), self.stop_grace), remove=False)
            return
        # Already being deleted: let it finish (it removes the pod), but within stop_grace.
        try:
            await asyncio.wait_for(asyncio.shield(deleting), self.stop_grace)
        except TimeoutError:
            worker.kill_now.set()
            await deleting

    async def _watch(self, started: asyncio.Event) -> None:
        while not self._stopped:
            try:
                items, rv = await self.store.list("pods")
                seen = set()
                for pod in items:
                    seen.add((pod.get("metadata") or {}).get("uid"))
                    await self._on_pod(pod)
                for uid, worker in list(self.workers.items()):
                    if uid not in seen:
                        await self._on_gone(worker)
                if not started.is_set():
                    self._forget_old_pod_dirs(seen)
                started.set()
                async for type_, pod in self.store.watch("pods", resource_version=rv):
                    if type_ == "DELETED":
                        gone = self.workers.get(str((pod.get("metadata") or {}).get("uid")))
                        if gone is not None:
                            await self._on_gone(gone)
                    else:
                        await self._on_pod(pod)
            except GoneError:
                continue  # fell behind: list again
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sandbox node watch failed; restarting it")
                started.set()
                await asyncio.sleep(1)

    async def _on_pod(self, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        spec = pod.get("spec") or {}
        node = spec.get("nodeName")
        if not uid or (node and node != self.node_name):
            return
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
            return
        if meta.get("deletionTimestamp"):
            # Nothing runs for it here (e.g. deleted while the node was down): finish the delete.
            with contextlib.suppress(NotFoundError):
                await self.store.remove("pods", meta.get("namespace"), str(meta.get("name")))
            return
        if (pod.get("status") or {}).get("phase") in _TERMINAL:
            return
        if not node:
            if await self._unschedulable(pod):
                return
            await self._bind(pod)
        worker = PodWorker(self, pod)
        self.workers[uid] = worker
        worker.start()

    async def _unschedulable(self, pod: dict[str, Any]) -> bool:
        """Leave a pod that cannot fit this node Pending, marked as the scheduler would (once)."""
        node = self.store.peek("nodes", None, self.node_name)
        if node is None:
            return False
        reason = unschedulable_reason(pod, node, [])  # the same check as the store's binding
        if reason is None:
            return False
        meta = pod.get("metadata") or {}
        conditions = (pod.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "PodScheduled" and c.get("message") == reason for c in conditions):
            return True

        def mark(obj: dict[str, Any]) -> bool:
            status = obj.setdefault("status", {})
            status["phase"] = "Pending"
            status["conditions"] = [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": reason,
                    "lastProbeTime": None,
                    "lastTransitionTime": now_rfc3339(),
                }
            ]
            return True

        with contextlib.suppress(NotFoundError):
            updated = await self.store.mutate("pods", meta.get("namespace"), str(meta.get("name")), mark)
            await self.store.record_event(updated, "FailedScheduling", reason, "Warning", "default-scheduler")
        return True

    async def _bind(self, pod: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}

        def bind(obj: dict[str, Any]) -> bool:
            if (obj.get("spec") or {}).get("nodeName"):
                return False
            obj.setdefault("spec", {})["nodeName"] = self.node_name
            return True

        with contextlib.suppress(NotFoundError):
            pod.update(await self.store.mutate("pods", meta.get("namespace"), str(meta.get("name")), bind))

    async def _on_gone(self, worker: PodWorker) -> None:
        """The pod vanished from the store without the node finishing it (force delete)."""
        self.workers.pop(worker.uid, None)
        task = asyncio.create_task(worker.terminate(0, remove=True))
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)

    def _forget_old_pod_dirs(self, live_uids: set[Any]) -> None:
        """Volumes and logs of pods removed while no node ran (e.g. between `sandbox down` and `up`)."""
        pods_dir = self.state_dir / "pods"
        for entry in pods_dir.iterdir() if pods_dir.is_dir() else []:
            if entry.is_dir() and entry.name not in live_uids:
                shutil.rmtree(entry, ignore_errors=True)

    def forget(self, worker: PodWorker) -> None:
        if self.workers.get(worker.uid) is worker:
            del self.workers[worker.uid]

    def worker_for(self, pod: dict[str, Any]) -> PodWorker | None:
        return self.workers.get(str((pod.get("metadata") or {}).get("uid") or ""))

    def container_pid(self, namespace: str, name: str, container: str | None = None) -> int | None:
        """The pid of a running container's main process (for tests and diagnostics)."""
        for worker in self.workers.values():
            if worker.namespace == namespace and worker.name == name:
                for c in worker.containers:
                    if (container is None or c.name == container) and c.running and c.process is not None:
                        return c.process.pid
        return None

    def pids(self) -> list[int]:
        """Every running container process (main pids) on this node."""
        return [
            c.process.pid
            for w in self.workers.values()
            for c in w.containers + w.init_containers
            if c.process is not None and c.running
        ]

    # ------------------------------------------------------------ HTTP subresources
    async def serve_log(self, request: web.Request, pod: dict[str, Any]) -> web.StreamResponse:
        return await serve_log(request, pod, self.worker_for(pod))

    async def serve_portforward(self, request: web.Request, pod: dict[str, Any]) -> web.StreamResponse:
        return await serve_portforward(request, pod, self.worker_for(pod))
