"""ReplicaSet controller: keeps spec.replicas pods alive and reports their readiness."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aksmcp_tui.sandbox.apiserver.defaults import apply_defaults
from aksmcp_tui.sandbox.controllers.base import Controller, Key, controller_owner, own_key
from aksmcp_tui.sandbox.controllers.owners import OwnerIndex
from aksmcp_tui.sandbox.quota import quota_denial
from aksmcp_tui.sandbox.store import NotFoundError, Store, WatchEvent

COMPONENT = "replicaset-controller"
MAX_BURST = 500
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def pod_ready(pod: dict[str, Any]) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _ready_since(pod: dict[str, Any]) -> datetime | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            stamp = condition.get("lastTransitionTime")
            if stamp:
                try:
                    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
                except ValueError:
                    return None
    return None


def pod_available(pod: dict[str, Any], min_ready_seconds: int) -> bool:
    if not pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = _ready_since(pod)
    return since is not None and (datetime.now(UTC) - since).total_seconds() >= min_ready_seconds


def pod_active(pod: dict[str, Any]) -> bool:
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return False
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


class ReplicaSetController(Controller):
    name = "replicaset-controller"
    resync_interval = 1.0

    def __init__(self, store: Store, owners: OwnerIndex) -> None:
        super().__init__(store)
        self.owners = owners

    def watches(self) -> dict[str, Any]:
        return {"replicasets": own_key, "pods": self._pod_keys}

    def _pod_keys(self, event: WatchEvent) -> Iterable[Key]:
        owner = controller_owner(event.entry.obj, "ReplicaSet")
        return [(event.entry.namespace, owner)] if owner else []

    def initial_keys(self) -> Iterable[Key]:
        entries, _ = self.store.list_entries("replicasets")
        return [(entry.namespace, entry.name) for entry in entries]

    def resync_keys(self) -> Iterable[Key]:
        # Only sets waiting on minReadySeconds need a timer.
        entries, _ = self.store.list_entries("replicasets")
        return [
            (e.namespace, e.name)
            for e in entries
            if (e.obj.get("spec") or {}).get("minReadySeconds")
            and (e.obj.get("status") or {}).get("availableReplicas", 0)
            < (e.obj.get("status") or {}).get("readyReplicas", 0)
        ]

    def pods_of(self, rs: dict[str, Any]) -> list[dict[str, Any]]:
        uid = rs["metadata"].get("uid", "")
        result = []
        for _, namespace, name in self.owners.dependents(uid, "pods"):
            pod = self.store.peek("pods", namespace, name)
            if pod is not None and controller_owner(pod, "ReplicaSet") == rs["metadata"]["name"]:
                result.append(pod)
        return result

    def reconcile(self, key: Key) -> None:
        namespace, name = key
        rs = self.store.peek("replicasets", namespace, name)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        spec = rs.get("spec") or {}
        wanted = int(spec.get("replicas", 1))
        pods = self.pods_of(rs)
        active = [pod for pod in pods if pod_active(pod)]
        diff = len(active) - wanted
        failure: str | None = None
        if diff < 0:
            for _ in range(min(-diff, MAX_BURST)):
                failure = quota_denial(
                    self.store, str(namespace), f"{name}-", (spec.get("template") or {}).get("spec") or {}
                )
                if failure:
                    # What the real controller reports when the API server refuses its pod (quota, admission).
                    self.store.record_event_now(
                        rs, "FailedCreate", f"Error creating: {failure}", "Warning", component=COMPONENT
                    )
                    break
                created = self._create_pod(rs)
                self.store.record_event_now(rs, "SuccessfulCreate", f"Created pod: {created}", component=COMPONENT)
            if -diff > MAX_BURST and not failure:
                self.enqueue(key)
        elif diff > 0:
            # Delete the least useful first: not scheduled/ready, then the newest.
            ranked = sorted(
                active,
                key=lambda p: (
                    pod_ready(p),
                    (p.get("status") or {}).get("phase") == "Running",
                    _negate(p["metadata"].get("creationTimestamp", "")),
                ),
            )
            for pod in ranked[:diff]:
                try:
                    self.store.delete_now("pods", namespace, pod["metadata"]["name"])
                except NotFoundError:
                    continue
                self.store.record_event_now(
                    rs, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", component=COMPONENT
                )
        self._update_status(rs, failure)

    def _create_pod(self, rs: dict[str, Any]) -> str:
        meta = rs["metadata"]
        template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
        template_meta = template.get("metadata") or {}
        taken = {p["metadata"]["name"] for p in self.pods_of(rs)}
        while True:
            name = f"{meta['name']}-" + "".join(secrets.choice(NAME_ALPHABET) for _ in range(5))
            if name not in taken and self.store.peek("pods", meta.get("namespace"), name) is None:
                break
        pod: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "generateName": f"{meta['name']}-",
                "namespace": meta.get("namespace"),
                "labels": dict(template_meta.get("labels") or {}),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": meta["name"],
                        "uid": meta.get("uid"),
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": template.get("spec") or {},
            "status": {"phase": "Pending"},
        }
        if template_meta.get("annotations"):
            pod["metadata"]["annotations"] = dict(template_meta["annotations"])
        apply_defaults("Pod", pod)
        self.store.create_now("pods", pod, owned=True)
        return name

    def _update_status(self, rs: dict[str, Any], failure: str | None = None) -> None:
        spec = rs.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds", 0) or 0)
        pods = [pod for pod in self.pods_of(rs) if pod_active(pod)]
        status: dict[str, Any] = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "readyReplicas": sum(1 for pod in pods if pod_ready(pod)),
            "availableReplicas": sum(1 for pod in pods if pod_available(pod, min_ready)),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
        if failure:
            previous: dict[str, Any] = next(
                (c for c in (rs.get("status") or {}).get("conditions") or [] if c.get("type") == "ReplicaFailure"), {}
            )
            status["conditions"] = [
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "reason": "FailedCreate",
                    "message": failure,
                    "lastTransitionTime": previous.get("lastTransitionTime") or _now(),
                }
            ]

        def write(obj: dict[str, Any]) -> bool | None:
            if obj.get("status") == status:
                return False
            obj["status"] = status
            return None

        self.store.mutate_now("replicasets", rs["metadata"].get("namespace"), rs["metadata"]["name"], write)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _negate(stamp: str) -> str:
    # Newest first when sorted ascending.
    return "".join(chr(255 - ord(c)) for c in stamp)
