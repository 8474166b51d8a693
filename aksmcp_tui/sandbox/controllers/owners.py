"""Index of ownerReferences (owner uid -> dependents) kept current by a store listener, and
the garbage collector: dependents of removed owners are deleted (background propagation); an
owner deleted with propagationPolicy=Foreground (finalizer `foregroundDeletion`) waits until its
dependents are gone, then the finalizer is dropped and the owner goes."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aksmcp_tui.sandbox.store import NotFoundError, Store, WatchEvent

log = logging.getLogger(__name__)

Ref = tuple[str, str, str]  # (resource, namespace, name)
FOREGROUND = "foregroundDeletion"


class OwnerIndex:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._dependents: dict[str, set[Ref]] = {}
        self._owners_of: dict[Ref, set[str]] = {}
        self._foreground: dict[str, Ref] = {}  # owner uid -> owner being deleted in the foreground
        self._removed: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._foreground_task: asyncio.Task[None] | None = None
        for resource, obj in store.all_objects():
            self._index(resource, obj)
            meta = obj.get("metadata")
            if (
                isinstance(meta, dict)
                and meta.get("deletionTimestamp")
                and FOREGROUND in (meta.get("finalizers") or [])
            ):
                ref: Ref = (resource, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
                self._foreground[str(meta.get("uid", ""))] = ref
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
        meta_now = obj.get("metadata", {})
        if (
            event.type == "MODIFIED"
            and meta_now.get("deletionTimestamp")
            and FOREGROUND in (meta_now.get("finalizers") or [])
        ):
            ref_now: Ref = (resource, str(meta_now.get("namespace") or ""), str(meta_now.get("name") or ""))
            self._foreground[str(meta_now.get("uid", ""))] = ref_now
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
        self._foreground_task = asyncio.create_task(self._finish_foreground(), name="foreground-deletion")

    async def stop(self) -> None:
        for task in (self._task, self._foreground_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._foreground_task = None

    async def _finish_foreground(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            for uid, (resource, namespace, name) in list(self._foreground.items()):
                owner = self.store.peek(resource, namespace or None, name)
                if owner is None or owner["metadata"].get("uid") != uid:
                    self._foreground.pop(uid, None)
                    continue
                remaining = self.dependents(uid)
                for dep_resource, dep_namespace, dep_name in remaining:
                    dependent = self.store.peek(dep_resource, dep_namespace or None, dep_name)
                    if dependent is not None and not dependent["metadata"].get("deletionTimestamp"):
                        with contextlib.suppress(NotFoundError):
                            self.store.delete_now(dep_resource, dep_namespace or None, dep_name)
                if not remaining:
                    self._foreground.pop(uid, None)

                    def drop(obj: dict[str, object]) -> None:
                        meta = obj["metadata"]
                        assert isinstance(meta, dict)
                        meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != FOREGROUND]

                    with contextlib.suppress(NotFoundError):
                        self.store.mutate_now(resource, namespace or None, name, drop)

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
