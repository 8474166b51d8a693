"""A small work-queue controller driven by store watches, as client-go's are."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

from aksmcp_tui.sandbox.store import GoneError, Store, WatchEvent

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, name)


class Controller:
    """Subclasses set `watches` (resource -> function mapping an event to keys) and implement
    `reconcile(key)`; `resync_interval` re-queues `resync_keys()` periodically."""

    name = "controller"
    resync_interval: float | None = None

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: dict[Key, None] = {}
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def watches(self) -> dict[str, Callable[[WatchEvent], Iterable[Key]]]:
        return {}

    def initial_keys(self) -> Iterable[Key]:
        return ()

    def resync_keys(self) -> Iterable[Key]:
        return ()

    def reconcile(self, key: Key) -> None:
        raise NotImplementedError

    def enqueue(self, key: Key) -> None:
        self._queue[key] = None
        self._wakeup.set()

    def start(self) -> None:
        for resource, mapper in self.watches().items():
            self._tasks.append(asyncio.create_task(self._watch(resource, mapper), name=f"{self.name}-watch-{resource}"))
        self._tasks.append(asyncio.create_task(self._work(), name=f"{self.name}-worker"))
        if self.resync_interval:
            self._tasks.append(asyncio.create_task(self._resync(self.resync_interval), name=f"{self.name}-resync"))
        for key in self.initial_keys():
            self.enqueue(key)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _watch(self, resource: str, mapper: Callable[[WatchEvent], Iterable[Key]]) -> None:
        while True:
            _, watcher = self.store.subscribe(resource, resource_version=self.store.resource_version)
            try:
                while True:
                    event = await watcher.queue.get()
                    if event is None:
                        raise GoneError("fell behind")
                    for key in mapper(event):
                        self.enqueue(key)
            except GoneError:
                for key in self.initial_keys():
                    self.enqueue(key)
            finally:
                self.store.unsubscribe(resource, watcher)

    async def _resync(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            for key in self.resync_keys():
                self.enqueue(key)

    async def _work(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch = list(self._queue)
            self._queue.clear()
            for index, key in enumerate(batch):
                try:
                    self.reconcile(key)
                except Exception:  # one broken object must not stop the controller
                    log.exception("%s: reconcile of %s failed", self.name, key)
                if index % 50 == 49:
                    await asyncio.sleep(0)  # let the API server answer between big batches


def own_key(event: WatchEvent) -> Iterable[Key]:
    return [(event.entry.namespace, event.entry.name)]


def controller_owner(obj: dict[str, object], kind: str) -> str | None:
    """The name of the controlling owner of that kind, if any."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return None
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("kind") == kind and ref.get("controller"):
            return str(ref.get("name"))
    return None
