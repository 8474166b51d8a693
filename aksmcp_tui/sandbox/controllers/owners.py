"""Index of ownerReferences (owner uid -> dependents) kept current by a store listener, and
the garbage collector that deletes dependents of removed owners (background propagation)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aksmcp_tui.sandbox.store import NotFoundError, Store, WatchEvent

log = logging.getLogger(__name__)

Ref = tuple[str, str, str]  # (resource, namespace, name)


class OwnerIndex:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._dependents: dict[str, set[Ref]] = {}
        self._owners_of: dict[Ref, set[str]] = {}
        self._removed: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        for resource, obj in store.all_objects():
            self._index(resource, obj)
        store.add_listener(self._on_change)

    def _index(self, resource: str, obj: dict[str, object]) -> None:
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            return
        ref: Ref = (resource, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        owners = {str(o.get("uid")) for o in meta.get("ownerReferences") or [] if isinstance(o, dict)}
        previous = self._owners_of.get(ref, set())
        for uid in previous - owners:
            self._dependents.get(uid, set()).discard(ref)
        for uid in owners - previous:
            self._dependents.setdefault(uid, set()).add(ref)
        if owners:
            self._owners_of[ref] = owners
        else:
            self._owners_of.pop(ref, None)

    def _on_change(self, resource: str, event: WatchEvent) -> None:
        obj = event.entry.obj
        if event.type == "DELETED":
            meta = obj.get("metadata", {})
            ref: Ref = (resource, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
            for uid in self._owners_of.pop(ref, set()):
                self._dependents.get(uid, set()).discard(ref)
            uid = str(meta.get("uid", ""))
            if self._dependents.get(uid):
                self._removed.put_nowait(uid)
            return
        self._index(resource, obj)

    def dependents(self, uid: str, resource: str | None = None) -> list[Ref]:
        refs = self._dependents.get(uid, set())
        return sorted(ref for ref in refs if resource is None or ref[0] == resource)

    def start(self) -> None:
        self._task = asyncio.create_task(self._collect(), name="garbage-collector")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _collect(self) -> None:
        while True:
            uid = await self._removed.get()
            for resource, namespace, name in self.dependents(uid):
                try:
                    self.store.delete_now(resource, namespace or None, name)
                except NotFoundError:
                    pass
                except Exception:
                    log.exception("garbage collection of %s/%s/%s failed", resource, namespace, name)
            await asyncio.sleep(0)
