"""The sandbox's object store: what etcd plus the generic registry are for a real API server.

Objects are plain JSON dicts, as on the wire. Resources are keyed by their plural name
("pods", "deployments", CRDs as "<plural>.<group>"). One resourceVersion counter is shared
by every resource, like etcd's revision.

Stored dicts are never mutated after they are stored (every change stores a new dict), so
lists and watch fan-out can share them and their cached JSON text without copying; the
public methods hand callers copies they may edit freely.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import itertools
import json
import logging
import secrets
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from aksmcp_tui.sandbox.scheduling import unschedulable_reason
from aksmcp_tui.sandbox.selectors import Matcher, combine, parse_field_selector, parse_label_selector

log = logging.getLogger(__name__)

NODE_NAME = "sandbox-node"
HISTORY_PER_RESOURCE = 2000
WATCH_QUEUE_LIMIT = 50_000
MAX_EVENTS = 5000


class NotFoundError(Exception):
    """The object does not exist."""


class ConflictError(Exception):
    """The object changed since the resourceVersion the caller sent (or the name is taken)."""


class AlreadyExistsError(ConflictError):
    """create() of a name that is already taken."""


class GoneError(Exception):
    """A watch asked for a resourceVersion older than the kept event history (410 Expired)."""


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dump_json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class Entry:
    """A stored object with its JSON text, serialised once and shared by every reader."""

    __slots__ = ("_json", "obj")

    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj
        self._json: str | None = None

    @property
    def json(self) -> str:
        if self._json is None:
            self._json = dump_json(self.obj)
        return self._json

    def copy(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.json)
        return result

    @property
    def namespace(self) -> str:
        return str(self.obj.get("metadata", {}).get("namespace") or "")

    @property
    def name(self) -> str:
        return str(self.obj.get("metadata", {}).get("name") or "")


class WatchEvent:
    __slots__ = ("entry", "old", "rv", "type")

    def __init__(self, type_: str, entry: Entry, old: Entry | None, rv: int) -> None:
        self.type = type_
        self.entry = entry
        self.old = old
        self.rv = rv


class _Watcher:
    __slots__ = ("matcher", "namespace", "overflowed", "queue")

    def __init__(self, namespace: str | None, matcher: Matcher | None) -> None:
        self.namespace = namespace
        self.matcher = matcher
        self.queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()
        self.overflowed = False

    def offer(self, event: WatchEvent) -> None:
        if self.overflowed:
            return
        if self.namespace is not None and event.entry.namespace != self.namespace:
            return
        if self.queue.qsize() >= WATCH_QUEUE_LIMIT:
            # A real API server drops watchers that cannot keep up; the client relists.
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(event)


def filter_event(event: WatchEvent, matcher: Matcher | None) -> tuple[str, Entry] | None:
    """Apply a selector to an event the way the API server does: an object that stops
    matching is seen as DELETED, one that starts matching as ADDED."""
    if matcher is None:
        return event.type, event.entry
    now = matcher(event.entry.obj)
    if event.type == "MODIFIED" and event.old is not None:
        before = matcher(event.old.obj)
        if before and not now:
            return "DELETED", event.entry
        if now and not before:
            return "ADDED", event.entry
    return (event.type, event.entry) if now else None


class Store:
    def __init__(self) -> None:
        # resource -> namespace ("" for cluster-scoped) -> name -> Entry
        self._data: dict[str, dict[str, dict[str, Entry]]] = {}
        self._rv = 0
        self._history: dict[str, deque[WatchEvent]] = {}
        # Every event with rv > floor is still in the resource's history.
        self._history_floor: dict[str, int] = {}
        self._start_rv = 0
        self._watchers: dict[str, set[_Watcher]] = {}
        self._dirty: dict[tuple[str, str, str], dict[str, Any] | None] = {}
        self._event_order: deque[tuple[str, str]] = deque()
        self._listeners: list[Callable[[str, WatchEvent], None]] = []
        # Events kept per resource for watches that resume from a resourceVersion.
        self.history_limit = HISTORY_PER_RESOURCE

    # ----------------------------------------------------------------- state
    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def load(self, objects: list[tuple[str, dict[str, Any]]], resource_version: int) -> None:
        """Seed the store from persisted state (no events are emitted)."""
        for resource, obj in objects:
            entry = Entry(obj)
            self._data.setdefault(resource, {}).setdefault(entry.namespace, {})[entry.name] = entry
            if resource == "events":
                self._event_order.append((entry.namespace, entry.name))
        self._rv = max(resource_version, self._rv)
        self._start_rv = self._rv

    def take_dirty(self) -> dict[tuple[str, str, str], dict[str, Any] | None]:
        """Changes since the last call, for persistence: key -> object (None = removed)."""
        dirty, self._dirty = self._dirty, {}
        return dirty

    def all_objects(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            (resource, entry.obj)
            for resource, by_ns in self._data.items()
            for by_name in by_ns.values()
            for entry in by_name.values()
        ]

    def resources(self) -> list[str]:
        return list(self._data)

    def add_listener(self, listener: Callable[[str, WatchEvent], None]) -> None:
        """Synchronous hook called for every change (resource, event); used by the GC."""
        self._listeners.append(listener)

    # --------------------------------------------------------------- reading
    def _entry(self, resource: str, namespace: str | None, name: str) -> Entry:
        entry = self._data.get(resource, {}).get(namespace or "", {}).get(name)
        if entry is None:
            raise NotFoundError(f'{resource} "{name}" not found')
        return entry

    def entry(self, resource: str, namespace: str | None, name: str) -> Entry:
        """The stored entry (shared: never mutate it); NotFoundError when absent."""
        return self._entry(resource, namespace, name)

    def generated_name(self, resource: str, namespace: str | None, prefix: str) -> str:
        """prefix + 5 random characters, free in that namespace (metadata.generateName)."""
        return self._generated_name(resource, namespace, prefix)

    def peek(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The stored object itself (no copy; never mutate it), or None."""
        entry = self._data.get(resource, {}).get(namespace or "", {}).get(name)
        return entry.obj if entry is not None else None

    async def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        return self._entry(resource, namespace, name).copy()

    def list_entries(
        self,
        resource: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[Entry], str]:
        """Stored entries (shared; do not mutate), sorted by namespace then name.

        Raises SelectorError for selectors that do not parse."""
        matcher = combine(parse_label_selector(label_selector), parse_field_selector(field_selector))
        by_ns = self._data.get(resource, {})
        namespaces = ([namespace] if namespace in by_ns else []) if namespace is not None else sorted(by_ns)
        result: list[Entry] = []
        for ns in namespaces:
            by_name = by_ns[ns]
            for name in sorted(by_name):
                entry = by_name[name]
                if matcher is None or matcher(entry.obj):
                    result.append(entry)
        return result, str(self._rv)

    async def list(
        self,
        resource: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[dict[str, Any]], str]:
        entries, rv = self.list_entries(resource, namespace, label_selector, field_selector)
        return [entry.copy() for entry in entries], rv

    def count(self, resource: str, namespace: str | None = None) -> int:
        by_ns = self._data.get(resource, {})
        if namespace is not None:
            return len(by_ns.get(namespace, {}))
        return sum(len(by_name) for by_name in by_ns.values())

    # --------------------------------------------------------------- writing
    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _publish(self, resource: str, type_: str, entry: Entry, old: Entry | None) -> None:
        rv = int(entry.obj["metadata"]["resourceVersion"])
        event = WatchEvent(type_, entry, old, rv)
        history = self._history.setdefault(resource, deque())
        self._history_floor.setdefault(resource, self._start_rv)
        history.append(event)
        while len(history) > self.history_limit:
            dropped = history.popleft()
            self._history_floor[resource] = dropped.rv
        for watcher in list(self._watchers.get(resource, ())):
            watcher.offer(event)
        key = (resource, entry.namespace, entry.name)
        self._dirty[key] = None if type_ == "DELETED" else entry.obj
        for listener in self._listeners:
            try:
                listener(resource, event)
            except Exception:  # a faulty hook must not break writes
                log.exception("store listener failed")

    def _store(self, resource: str, obj: dict[str, Any]) -> Entry:
        entry = Entry(obj)
        self._data.setdefault(resource, {}).setdefault(entry.namespace, {})[entry.name] = entry
        return entry

    async def create(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        return self.create_now(resource, obj).copy()

    def create_now(self, resource: str, obj: dict[str, Any], *, owned: bool = False) -> Entry:
        """Store a new object. owned=True hands obj over (the caller never touches it again),
        which saves a deep copy on hot paths (controllers, request bodies)."""
        if not owned:
            obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = self._generated_name(resource, meta.get("namespace"), meta["generateName"])
        name = meta.get("name")
        if not name:
            raise ValueError("metadata.name is required")
        namespace = meta.get("namespace") or ""
        if name in self._data.get(resource, {}).get(namespace, {}):
            raise AlreadyExistsError(f'{resource} "{name}" already exists')
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if "spec" in obj:
            meta["generation"] = 1  # as for the real API: kinds with a spec track generations
        else:
            meta.pop("generation", None)
        meta.pop("deletionTimestamp", None)
        meta.pop("deletionGracePeriodSeconds", None)
        if resource == "pods" and not obj.setdefault("spec", {}).get("nodeName"):
            # The one-node scheduler: bind at once, unless the pod cannot fit the node (then it stays
            # Pending and the node marks it Unschedulable, as kube-scheduler would). Each pod is checked
            # against the node on its own: pods are host processes, and summing everyone's requests would
            # make unrelated workloads (and tests) on the shared sandbox refuse each other.
            node = self.peek("nodes", None, NODE_NAME)
            if node is None or unschedulable_reason(obj, node, []) is None:
                obj["spec"]["nodeName"] = NODE_NAME
        meta["resourceVersion"] = str(self._next_rv())
        entry = self._store(resource, obj)
        if resource == "events":
            self._event_order.append((namespace, name))
            self._trim_events()
        self._publish(resource, "ADDED", entry, None)
        return entry

    def _generated_name(self, resource: str, namespace: str | None, prefix: str) -> str:
        taken = self._data.get(resource, {}).get(namespace or "", {})
        while True:
            candidate = prefix + "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            if candidate not in taken:
                return candidate

    async def update(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        entry = self.update_now(resource, obj)
        return entry.copy()

    def update_now(
        self, resource: str, obj: dict[str, Any], *, bump_generation: bool = True, owned: bool = False
    ) -> Entry:
        if not owned:
            obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        old = self._entry(resource, meta.get("namespace"), str(meta.get("name") or ""))
        sent_rv = meta.get("resourceVersion")
        if sent_rv and str(sent_rv) != old.obj["metadata"]["resourceVersion"]:
            raise ConflictError(
                f'Operation cannot be fulfilled on {resource} "{old.name}": the object has been modified; '
                "please apply your changes to the latest version and try again"
            )
        return self._replace(resource, old, obj, bump_generation=bump_generation)

    def _replace(self, resource: str, old: Entry, obj: dict[str, Any], *, bump_generation: bool = True) -> Entry:
        """Store obj in place of old (identity fields kept), unless nothing changed."""
        meta = obj.setdefault("metadata", {})
        old_meta = old.obj["metadata"]
        for kept in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if kept in old_meta:
                meta[kept] = old_meta[kept]
            else:
                meta.pop(kept, None)
        if "generation" in old_meta:
            meta["generation"] = old_meta["generation"]
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if obj == old.obj:
            return old
        if bump_generation and "generation" in old_meta and _spec_part(obj) != _spec_part(old.obj):
            meta["generation"] = int(old_meta["generation"]) + 1
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and resource != "pods":
            return self._remove_entry(resource, old)
        return self._write(resource, old, obj)

    async def mutate(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        fn: Callable[[dict[str, Any]], bool | None],
    ) -> dict[str, Any]:
        return self.mutate_now(resource, namespace, name, fn).copy()

    def mutate_now(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        fn: Callable[[dict[str, Any]], bool | None],
    ) -> Entry:
        old = self._entry(resource, namespace, name)
        draft = old.copy()
        if fn(draft) is False:
            return old
        draft.setdefault("metadata", {})["name"] = old.name
        if old.namespace:
            draft["metadata"]["namespace"] = old.namespace
        return self._replace(resource, old, draft)

    async def delete(
        self, resource: str, namespace: str | None, name: str, grace_period_seconds: int | None = None
    ) -> dict[str, Any]:
        return self.delete_now(resource, namespace, name, grace_period_seconds).copy()

    def delete_now(
        self, resource: str, namespace: str | None, name: str, grace_period_seconds: int | None = None
    ) -> Entry:
        """API-style delete. Pods (finished by the node), namespaces (finished by the namespace
        controller) and objects with finalizers only get metadata.deletionTimestamp."""
        old = self._entry(resource, namespace, name)
        meta = old.obj.get("metadata", {})
        graceful = resource in ("pods", "namespaces") or bool(meta.get("finalizers"))
        if not graceful:
            return self._remove_entry(resource, old)
        if meta.get("deletionTimestamp"):
            if resource == "pods" and grace_period_seconds is not None:
                current = meta.get("deletionGracePeriodSeconds")
                if current is None or grace_period_seconds < int(current):
                    draft = old.copy()
                    draft["metadata"]["deletionGracePeriodSeconds"] = grace_period_seconds
                    return self._write(resource, old, draft)
            return old
        draft = old.copy()
        draft["metadata"]["deletionTimestamp"] = now_rfc3339()
        if resource == "pods":
            if grace_period_seconds is None:
                grace_period_seconds = int(draft.get("spec", {}).get("terminationGracePeriodSeconds", 30))
            draft["metadata"]["deletionGracePeriodSeconds"] = grace_period_seconds
        if resource == "namespaces":
            draft.setdefault("status", {})["phase"] = "Terminating"
        return self._write(resource, old, draft)

    def _write(self, resource: str, old: Entry, obj: dict[str, Any]) -> Entry:
        obj["metadata"]["resourceVersion"] = str(self._next_rv())
        entry = self._store(resource, obj)
        self._publish(resource, "MODIFIED", entry, old)
        return entry

    async def remove(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        entry = self.remove_now(resource, namespace, name)
        return entry.copy() if entry is not None else None

    def remove_now(self, resource: str, namespace: str | None, name: str) -> Entry | None:
        entry = self._data.get(resource, {}).get(namespace or "", {}).get(name)
        if entry is None:
            return None
        return self._remove_entry(resource, entry)

    def _remove_entry(self, resource: str, old: Entry) -> Entry:
        by_ns = self._data.get(resource, {})
        by_name = by_ns.get(old.namespace, {})
        by_name.pop(old.name, None)
        if not by_name:
            by_ns.pop(old.namespace, None)
        final = old.copy()
        final["metadata"]["resourceVersion"] = str(self._next_rv())
        entry = Entry(final)
        self._publish(resource, "DELETED", entry, old)
        return entry

    def drop_resource(self, resource: str) -> None:
        """Forget every object of a resource (a CRD was deleted); watchers see DELETED."""
        for entry, _ in [(e, None) for by in self._data.get(resource, {}).values() for e in list(by.values())]:
            self._remove_entry(resource, entry)
        self._data.pop(resource, None)

    # ------------------------------------------------------------------ watch
    def subscribe(
        self,
        resource: str,
        namespace: str | None = None,
        resource_version: str | None = None,
        matcher: Matcher | None = None,
    ) -> tuple[builtins.list[WatchEvent], _Watcher]:
        """Register a watcher; returns the events to replay first.

        resource_version None or "0": every current object as ADDED. Otherwise the history after
        that version; GoneError if it is older than the kept history."""
        replay: builtins.list[WatchEvent] = []
        if resource_version in (None, "", "0"):
            entries, _ = self.list_entries(resource, namespace)
            for entry in entries:
                if matcher is None or matcher(entry.obj):
                    replay.append(WatchEvent("ADDED", entry, None, int(entry.obj["metadata"]["resourceVersion"])))
        else:
            try:
                since = int(str(resource_version))
            except ValueError as error:
                raise GoneError(f"invalid resource version {resource_version!r}") from error
            floor = self._history_floor.get(resource, self._start_rv)
            if since < floor:
                raise GoneError(f"too old resource version: {since} ({floor})")
            for event in self._history.get(resource, ()):
                if event.rv > since and (namespace is None or event.entry.namespace == namespace):
                    replay.append(event)
        watcher = _Watcher(namespace, matcher)
        self._watchers.setdefault(resource, set()).add(watcher)
        return replay, watcher

    def unsubscribe(self, resource: str, watcher: _Watcher) -> None:
        self._watchers.get(resource, set()).discard(watcher)

    async def watch_events(
        self,
        resource: str,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> AsyncIterator[tuple[str, Entry]]:
        """Like watch() but yields shared entries (no copies) for the HTTP layer."""
        matcher = combine(parse_label_selector(label_selector), parse_field_selector(field_selector))
        replay, watcher = self.subscribe(resource, namespace, resource_version, matcher)
        try:
            for event in replay:
                filtered = filter_event(event, matcher)
                if filtered is not None:
                    yield filtered
            while True:
                live = await watcher.queue.get()
                if live is None:
                    raise GoneError("watcher fell too far behind")
                filtered = filter_event(live, matcher)
                if filtered is not None:
                    yield filtered
        finally:
            self.unsubscribe(resource, watcher)

    async def watch(
        self,
        resource: str,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """("ADDED"|"MODIFIED"|"DELETED", object copy) forever; current objects first as ADDED
        when resource_version is None. Raises GoneError for a too-old resource_version."""
        async for type_, entry in self.watch_events(
            resource, namespace, resource_version, label_selector, field_selector
        ):
            yield type_, entry.copy()

    # ----------------------------------------------------------------- events
    async def record_event(
        self,
        involved: dict[str, Any],
        reason: str,
        message: str,
        type: str = "Normal",
        component: str = "sandbox",
    ) -> None:
        self.record_event_now(involved, reason, message, type, component)

    def record_event_now(
        self,
        involved: dict[str, Any],
        reason: str,
        message: str,
        type: str = "Normal",
        component: str = "sandbox",
    ) -> None:
        meta = involved.get("metadata", {})
        namespace = meta.get("namespace") or "default"
        timestamp = now_rfc3339()
        # Repeated identical events are counted on one object, as the real event recorder does.
        for ns_name in list(itertools.islice(reversed(self._event_order), 50)):
            existing = self._data.get("events", {}).get(ns_name[0], {}).get(ns_name[1])
            if existing is None or ns_name[0] != namespace:
                continue
            obj = existing.obj
            if (
                obj.get("reason") == reason
                and obj.get("message") == message
                and obj.get("involvedObject", {}).get("uid") == meta.get("uid")
            ):

                def bump(event: dict[str, Any]) -> None:
                    event["count"] = int(event.get("count", 1)) + 1
                    event["lastTimestamp"] = timestamp

                self.mutate_now("events", ns_name[0], ns_name[1], bump)
                return
        involved_ref: dict[str, Any] = {
            "apiVersion": involved.get("apiVersion", "v1"),
            "kind": involved.get("kind", ""),
            "name": meta.get("name", ""),
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if meta.get("namespace"):
            involved_ref["namespace"] = meta["namespace"]
        event: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta.get('name', 'unknown')}.{secrets.token_hex(8)}", "namespace": namespace},
            "involvedObject": involved_ref,
            "reason": reason,
            "message": message,
            "type": type,
            "source": {"component": component, "host": NODE_NAME if component == "kubelet" else ""},
            "firstTimestamp": timestamp,
            "lastTimestamp": timestamp,
            "count": 1,
            "reportingComponent": component,
            "reportingInstance": NODE_NAME if component == "kubelet" else component,
        }
        self.create_now("events", event, owned=True)

    def _trim_events(self) -> None:
        while len(self._event_order) > MAX_EVENTS:
            namespace, name = self._event_order.popleft()
            entry = self._data.get("events", {}).get(namespace, {}).get(name)
            if entry is not None:
                self._remove_entry("events", entry)


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    """What changes metadata.generation: everything but metadata and status."""
    return {key: value for key, value in obj.items() if key not in ("metadata", "status")}
