"""Deployment controller: one ReplicaSet per pod-template hash, rolling updates within
maxSurge/maxUnavailable, status and the Progressing/Available conditions."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aksmcp_tui.sandbox.controllers.base import Controller, Key, controller_owner, own_key
from aksmcp_tui.sandbox.controllers.owners import OwnerIndex
from aksmcp_tui.sandbox.store import AlreadyExistsError, NotFoundError, Store, WatchEvent, now_rfc3339

COMPONENT = "deployment-controller"
REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True, separators=(",", ":")).encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(10):
        number, index = divmod(number, len(SAFE_ALPHABET))
        chars.append(SAFE_ALPHABET[index])
    return "".join(chars)


def resolve(value: Any, total: int, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value.endswith("%"):
        try:
            percent = float(value[:-1])
        except ValueError:
            return 0
        exact = percent * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _revision(rs: dict[str, Any]) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


class DeploymentController(Controller):
    name = "deployment-controller"
    resync_interval = 1.0

    def __init__(self, store: Store, owners: OwnerIndex) -> None:
        super().__init__(store)
        self.owners = owners

    def watches(self) -> dict[str, Any]:
        return {"deployments": own_key, "replicasets": self._rs_keys}

    def _rs_keys(self, event: WatchEvent) -> Iterable[Key]:
        owner = controller_owner(event.entry.obj, "Deployment")
        return [(event.entry.namespace, owner)] if owner else []

    def initial_keys(self) -> Iterable[Key]:
        entries, _ = self.store.list_entries("deployments")
        return [(entry.namespace, entry.name) for entry in entries]

    def resync_keys(self) -> Iterable[Key]:
        # Only the clock can move a stalled rollout to ProgressDeadlineExceeded: re-queue the
        # deployments whose deadline has passed (cheap to check; no reconcile for the rest).
        entries, _ = self.store.list_entries("deployments")
        now = datetime.now(UTC)
        keys = []
        for entry in entries:
            deadline = (entry.obj.get("spec") or {}).get("progressDeadlineSeconds")
            if deadline is None:
                continue
            for condition in (entry.obj.get("status") or {}).get("conditions") or []:
                if condition.get("type") != "Progressing" or condition.get("reason") not in (
                    "ReplicaSetUpdated",
                    "NewReplicaSetCreated",
                    "FoundNewReplicaSet",
                ):
                    continue
                last = _parse(condition.get("lastUpdateTime"))
                if last is not None and (now - last).total_seconds() > int(deadline):
                    keys.append((entry.namespace, entry.name))
        return keys

    # ------------------------------------------------------------------ helpers
    def _replica_sets(self, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        uid = deployment["metadata"].get("uid", "")
        result = []
        for _, namespace, name in self.owners.dependents(uid, "replicasets"):
            rs = self.store.peek("replicasets", namespace, name)
            if rs is not None and not rs["metadata"].get("deletionTimestamp"):
                result.append(rs)
        return sorted(result, key=lambda rs: (rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"]))

    def _scale(self, deployment: dict[str, Any], rs: dict[str, Any], replicas: int) -> dict[str, Any]:
        old = int((rs.get("spec") or {}).get("replicas", 0))
        if old == replicas:
            return rs
        wanted = int((deployment.get("spec") or {}).get("replicas", 1))
        surge = resolve(
            ((deployment["spec"].get("strategy") or {}).get("rollingUpdate") or {}).get("maxSurge"), wanted, True
        )

        def write(obj: dict[str, Any]) -> None:
            obj["spec"]["replicas"] = replicas
            annotations = obj["metadata"].setdefault("annotations", {})
            annotations["deployment.kubernetes.io/desired-replicas"] = str(wanted)
            annotations["deployment.kubernetes.io/max-replicas"] = str(wanted + surge)

        entry = self.store.mutate_now("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"], write)
        direction = "up" if replicas > old else "down"
        self.store.record_event_now(
            deployment,
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {rs['metadata']['name']} to {replicas} from {old}",
            component=COMPONENT,
        )
        return entry.obj

    def _new_replica_set(self, deployment: dict[str, Any], replicas: int, revision: int) -> dict[str, Any]:
        meta = deployment["metadata"]
        template = copy.deepcopy(deployment["spec"]["template"])
        pod_hash = template_hash(deployment["spec"]["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = copy.deepcopy(deployment["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        wanted = int(deployment["spec"].get("replicas", 1))
        surge = resolve(
            ((deployment["spec"].get("strategy") or {}).get("rollingUpdate") or {}).get("maxSurge"), wanted, True
        )
        rs: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{pod_hash}",
                "namespace": meta["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "annotations": {
                    REVISION: str(revision),
                    "deployment.kubernetes.io/desired-replicas": str(wanted),
                    "deployment.kubernetes.io/max-replicas": str(wanted + surge),
                },
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": int(deployment["spec"].get("minReadySeconds", 0) or 0),
                "selector": selector,
                "template": template,
            },
            "status": {"replicas": 0},
        }
        try:
            entry = self.store.create_now("replicasets", rs, owned=True)
        except AlreadyExistsError:
            # A leftover set with our name but another owner: adopt it as real controllers do.
            def adopt(obj: dict[str, Any]) -> None:
                obj["metadata"]["ownerReferences"] = rs["metadata"]["ownerReferences"]
                obj["spec"]["template"] = template

            entry = self.store.mutate_now("replicasets", meta["namespace"], rs["metadata"]["name"], adopt)
        if replicas:
            self.store.record_event_now(
                deployment,
                "ScalingReplicaSet",
                f"Scaled up replica set {rs['metadata']['name']} to {replicas} from 0",
                component=COMPONENT,
            )
        return entry.obj

    # ---------------------------------------------------------------- reconcile
    def reconcile(self, key: Key) -> None:
        namespace, name = key
        deployment = self.store.peek("deployments", namespace, name)
        if deployment is None or deployment["metadata"].get("deletionTimestamp"):
            return
        spec = deployment.get("spec") or {}
        wanted = int(spec.get("replicas", 1))
        pod_hash = template_hash(spec.get("template") or {})
        all_sets = self._replica_sets(deployment)
        new_rs = next((rs for rs in all_sets if (rs["metadata"].get("labels") or {}).get(HASH_LABEL) == pod_hash), None)
        old_sets = [rs for rs in all_sets if rs is not new_rs]
        max_revision = max((_revision(rs) for rs in all_sets), default=0)
        created = False
        strategy = spec.get("strategy") or {}
        recreate = strategy.get("type") == "Recreate"
        rolling = strategy.get("rollingUpdate") or {}
        max_surge = 0 if recreate else resolve(rolling.get("maxSurge", "25%"), wanted, True)
        max_unavailable = wanted if recreate else resolve(rolling.get("maxUnavailable", "25%"), wanted, False)
        if not recreate and max_surge == 0 and max_unavailable == 0:
            max_unavailable = 1
        if spec.get("paused"):
            self._write_status(deployment, new_rs, old_sets, max_unavailable, created=False)
            return
        if new_rs is None:
            old_total = sum(int(rs["spec"].get("replicas", 0)) for rs in old_sets)
            if recreate:
                initial = wanted if old_total == 0 and not self._old_pods_exist(old_sets) else 0
            elif old_total == 0:
                initial = wanted
            else:
                initial = max(0, min(wanted, wanted + max_surge - old_total))
            new_rs = self._new_replica_set(deployment, initial, max_revision + 1)
            created = True
        elif _revision(new_rs) < max_revision:
            # Rolled back to an older template: it becomes the newest revision.
            revision = max_revision + 1

            def bump(obj: dict[str, Any]) -> None:
                obj["metadata"].setdefault("annotations", {})[REVISION] = str(revision)

            new_rs = self.store.mutate_now("replicasets", namespace, new_rs["metadata"]["name"], bump).obj
        if recreate:
            self._recreate(deployment, new_rs, old_sets, wanted)
        else:
            new_rs = self._roll(deployment, new_rs, old_sets, wanted, max_surge, max_unavailable)
        old_sets = [self.store.peek("replicasets", namespace, rs["metadata"]["name"]) or rs for rs in old_sets]
        self._cleanup(deployment, old_sets)
        new_rs = self.store.peek("replicasets", namespace, new_rs["metadata"]["name"]) or new_rs
        self._annotate_revision(deployment, new_rs)
        self._write_status(deployment, new_rs, old_sets, max_unavailable, created)

    def _annotate_revision(self, deployment: dict[str, Any], new_rs: dict[str, Any]) -> None:
        revision = str(_revision(new_rs))

        def write(obj: dict[str, Any]) -> bool | None:
            annotations = obj["metadata"].setdefault("annotations", {})
            if annotations.get(REVISION) == revision:
                return False
            annotations[REVISION] = revision
            return None

        meta = deployment["metadata"]
        self.store.mutate_now("deployments", meta["namespace"], meta["name"], write)

    def _old_pods_exist(self, old_sets: list[dict[str, Any]]) -> bool:
        return any(self.owners.dependents(rs["metadata"].get("uid", ""), "pods") for rs in old_sets)

    def _recreate(
        self, deployment: dict[str, Any], new_rs: dict[str, Any], old_sets: list[dict[str, Any]], wanted: int
    ) -> None:
        active_old = [rs for rs in old_sets if int(rs["spec"].get("replicas", 0)) > 0]
        for rs in active_old:
            self._scale(deployment, rs, 0)
        if active_old or self._old_pods_exist(old_sets):
            return
        self._scale(deployment, new_rs, wanted)

    def _roll(
        self,
        deployment: dict[str, Any],
        new_rs: dict[str, Any],
        old_sets: list[dict[str, Any]],
        wanted: int,
        max_surge: int,
        max_unavailable: int,
    ) -> dict[str, Any]:
        new_replicas = int(new_rs["spec"].get("replicas", 0))
        # Scale the new set up within the surge budget (or down when the deployment shrank).
        if new_replicas > wanted:
            new_rs = self._scale(deployment, new_rs, wanted)
        elif new_replicas < wanted:
            total = new_replicas + sum(int(rs["spec"].get("replicas", 0)) for rs in old_sets)
            room = wanted + max_surge - total
            if room > 0:
                new_rs = self._scale(deployment, new_rs, new_replicas + min(room, wanted - new_replicas))
        # Scale old sets down while keeping wanted - maxUnavailable pods available.
        old_total = sum(int(rs["spec"].get("replicas", 0)) for rs in old_sets)
        if old_total == 0:
            return new_rs
        all_total = old_total + int(new_rs["spec"].get("replicas", 0))
        min_available = wanted - max_unavailable
        new_status = new_rs.get("status") or {}
        new_unavailable = int(new_rs["spec"].get("replicas", 0)) - int(new_status.get("availableReplicas", 0))
        budget = all_total - min_available - new_unavailable
        if budget <= 0:
            return new_rs
        cleaned = 0
        current = {rs["metadata"]["name"]: int(rs["spec"].get("replicas", 0)) for rs in old_sets}
        for rs in old_sets:
            if budget <= 0:
                break
            unhealthy = current[rs["metadata"]["name"]] - int((rs.get("status") or {}).get("availableReplicas", 0))
            if unhealthy <= 0:
                continue
            down = min(budget, unhealthy)
            current[rs["metadata"]["name"]] -= down
            budget -= down
            cleaned += down
        available = sum(int((rs.get("status") or {}).get("availableReplicas", 0)) for rs in [*old_sets, new_rs])
        total_down = available - min_available
        for rs in old_sets:
            if total_down <= 0:
                break
            name = rs["metadata"]["name"]
            healthy = min(current[name], int((rs.get("status") or {}).get("availableReplicas", 0)))
            down = min(healthy, total_down)
            if down <= 0:
                continue
            current[name] -= down
            total_down -= down
        for rs in old_sets:
            target = current[rs["metadata"]["name"]]
            if target != int(rs["spec"].get("replicas", 0)):
                self._scale(deployment, rs, max(0, target))
        return new_rs

    def _cleanup(self, deployment: dict[str, Any], old_sets: list[dict[str, Any]]) -> None:
        limit = int((deployment.get("spec") or {}).get("revisionHistoryLimit", 10))
        idle = [
            rs
            for rs in old_sets
            if int(rs["spec"].get("replicas", 0)) == 0 and int((rs.get("status") or {}).get("replicas", 0)) == 0
        ]
        idle.sort(key=_revision)
        for rs in idle[: max(0, len(idle) - limit)]:
            try:
                self.store.delete_now("replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"])
            except NotFoundError:
                pass

    def _write_status(
        self,
        deployment: dict[str, Any],
        new_rs: dict[str, Any] | None,
        old_sets: list[dict[str, Any]],
        max_unavailable: int,
        created: bool,
    ) -> None:
        spec = deployment.get("spec") or {}
        wanted = int(spec.get("replicas", 1))
        all_sets = ([new_rs] if new_rs is not None else []) + old_sets

        def status_of(rs: dict[str, Any], field: str) -> int:
            return int((rs.get("status") or {}).get(field, 0))

        total_spec = sum(int(rs["spec"].get("replicas", 0)) for rs in all_sets)
        replicas = sum(status_of(rs, "replicas") for rs in all_sets)
        updated = status_of(new_rs, "replicas") if new_rs is not None else 0
        ready = sum(status_of(rs, "readyReplicas") for rs in all_sets)
        available = sum(status_of(rs, "availableReplicas") for rs in all_sets)
        status: dict[str, Any] = {
            "observedGeneration": deployment["metadata"].get("generation", 1),
            "replicas": replicas,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "unavailableReplicas": max(0, total_spec - available),
        }
        status = {k: v for k, v in status.items() if v or k == "observedGeneration"}
        previous = deployment.get("status") or {}
        now = now_rfc3339()
        conditions = {c.get("type"): dict(c) for c in previous.get("conditions") or []}

        def set_condition(kind: str, state: str, reason: str, message: str, progress: bool = False) -> None:
            current = conditions.get(kind)
            if current and current.get("status") == state and current.get("reason") == reason:
                if progress:
                    current["lastUpdateTime"] = now
                current["message"] = message
                return
            conditions[kind] = {
                "type": kind,
                "status": state,
                "lastUpdateTime": now,
                "lastTransitionTime": now
                if not current or current.get("status") != state
                else current.get("lastTransitionTime", now),
                "reason": reason,
                "message": message,
            }

        if available >= wanted - max_unavailable:
            set_condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        else:
            set_condition(
                "Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."
            )
        rs_name = new_rs["metadata"]["name"] if new_rs is not None else ""
        complete = (
            new_rs is not None
            and updated == wanted
            and replicas == wanted
            and available == wanted
            and total_spec == wanted
        )
        progressed = (
            updated > int(previous.get("updatedReplicas", 0))
            or ready > int(previous.get("readyReplicas", 0))
            or available > int(previous.get("availableReplicas", 0))
            or (replicas - updated) < int(previous.get("replicas", 0)) - int(previous.get("updatedReplicas", 0))
            or status.get("observedGeneration") != previous.get("observedGeneration")
        )
        deadline = spec.get("progressDeadlineSeconds")
        progressing = conditions.get("Progressing")
        if complete:
            set_condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                progress=progressing is None or progressing.get("reason") != "NewReplicaSetAvailable",
            )
        elif created:
            set_condition(
                "Progressing", "True", "NewReplicaSetCreated", f'Created new replica set "{rs_name}"', progress=True
            )
        elif progressed or progressing is None or progressing.get("reason") == "NewReplicaSetAvailable":
            set_condition(
                "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.', progress=True
            )
        elif deadline is not None and progressing.get("reason") != "ProgressDeadlineExceeded":
            last = _parse(progressing.get("lastUpdateTime"))
            if last is not None and (datetime.now(UTC) - last).total_seconds() > int(deadline):
                set_condition(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{rs_name}" has timed out progressing.',
                )
        # The new ReplicaSet's ReplicaFailure (pods refused: quota, admission) shows on the Deployment.
        failure = next(
            (
                c
                for c in ((new_rs or {}).get("status") or {}).get("conditions") or []
                if c.get("type") == "ReplicaFailure" and c.get("status") == "True"
            ),
            None,
        )
        if failure is not None:
            set_condition("ReplicaFailure", "True", str(failure.get("reason")), str(failure.get("message")))
        else:
            conditions.pop("ReplicaFailure", None)
        ordered = [conditions[k] for k in ("Available", "Progressing") if k in conditions]
        ordered += [c for k, c in conditions.items() if k not in ("Available", "Progressing")]
        status["conditions"] = ordered

        def write(obj: dict[str, Any]) -> bool | None:
            old = obj.get("status") or {}
            if _without_times(old) == _without_times(status):
                return False
            obj["status"] = status
            return None

        self.store.mutate_now("deployments", deployment["metadata"]["namespace"], deployment["metadata"]["name"], write)


def _without_times(status: dict[str, Any]) -> dict[str, Any]:
    result = dict(status)
    result["conditions"] = [
        {k: v for k, v in c.items() if k not in ("lastUpdateTime", "lastTransitionTime")}
        for c in status.get("conditions") or []
    ]
    return result
