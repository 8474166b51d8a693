"""Watch a Deployment's rollout to Available, streaming its pods' states and events, and stop at
the first failure that will not fix itself (with a Diagnosis).

Three watches (the Deployment, its pods, the namespace's Events) feed one queue; every change
re-evaluates the rollout. Failures that Kubernetes would retry forever (image pull back-off,
crash loop, unschedulable, readiness that never comes, ReplicaFailure) end the watch early:
waiting out the 10-minute progress deadline would tell the user nothing new.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from aksmcp_tui.core.deploy.diagnose import diagnose_deployment, diagnose_pods
from aksmcp_tui.core.deploy.events import ClusterEvent, Diagnosis, PodUpdate
from aksmcp_tui.core.kube import KubeContext, KubeProblem

REVISION = "deployment.kubernetes.io/revision"
# How long a running container may stay unready beyond what its probes allow before we call it.
READINESS_MARGIN_S = 5.0
CONFIG_ERROR_GRACE_S = 8.0


@dataclass(frozen=True)
class RolloutResult:
    ok: bool
    detail: str
    diagnosis: Diagnosis | None = None


def _selector(deployment: Mapping[str, Any]) -> str:
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def rollout_complete(deployment: Mapping[str, Any]) -> bool:
    """`kubectl rollout status`'s rule: observed, all updated, all available, no old replicas."""
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    desired = int(spec.get("replicas", 1))
    generation = int((deployment.get("metadata") or {}).get("generation") or 0)
    return (
        int(status.get("observedGeneration") or 0) >= generation
        and int(status.get("updatedReplicas") or 0) >= desired
        and int(status.get("replicas") or 0) <= desired
        and int(status.get("availableReplicas") or 0) >= desired
    )


def describe_containers(pod: Mapping[str, Any]) -> str:
    parts = []
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        state = status.get("state") or {}
        if "running" in state:
            words = "running, ready" if status.get("ready") else "running, not ready"
        elif "waiting" in state:
            words = f"waiting ({state['waiting'].get('reason') or '?'})"
        elif "terminated" in state:
            term = state["terminated"]
            words = f"terminated ({term.get('reason') or '?'}, exit {term.get('exitCode')})"
        else:
            words = "?"
        if status.get("restartCount"):
            words += f", {status['restartCount']} restarts"
        parts.append(f"{status.get('name')}: {words}")
    return "; ".join(parts) or "no containers yet"


def _readiness_allowance(pod: Mapping[str, Any]) -> float:
    allowance = 0.0
    for container in (pod.get("spec") or {}).get("containers") or []:
        # Counted from when the container has started (its startup probe passed), so only the
        # readiness probe's own delay and failure budget count.
        probe = container.get("readinessProbe") or {}
        if probe:
            period = float(probe.get("periodSeconds") or 10)
            allowance += float(probe.get("initialDelaySeconds") or 0) + period * float(
                probe.get("failureThreshold") or 3
            )
    return allowance + READINESS_MARGIN_S


class RolloutWatch:
    """One rollout of `name` in `namespace`; iterate `events()` then read `result`."""

    def __init__(self, kube: KubeContext, namespace: str, name: str, *, timeout: float = 300.0) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.timeout = timeout
        self.result = RolloutResult(False, "not started")
        self.pods: dict[str, dict[str, Any]] = {}
        self.events_seen: list[dict[str, Any]] = []
        self._seen_event_keys: set[tuple[str, str, str]] = set()
        self._pod_summaries: dict[str, str] = {}
        self._running_since: dict[str, float] = {}
        self._config_error_since: dict[str, float] = {}

    async def _new_pod_hash(self, deployment: Mapping[str, Any]) -> str | None:
        revision = ((deployment.get("metadata") or {}).get("annotations") or {}).get(REVISION)
        uid = (deployment.get("metadata") or {}).get("uid")
        sets = await self.kube.get(
            f"/apis/apps/v1/namespaces/{self.namespace}/replicasets", labelSelector=_selector(deployment)
        )
        for rs in sets.get("items") or []:
            meta = rs.get("metadata") or {}
            owned = any(ref.get("uid") == uid for ref in meta.get("ownerReferences") or [])
            if owned and (meta.get("annotations") or {}).get(REVISION) == revision:
                return str((meta.get("labels") or {}).get("pod-template-hash") or "") or None
        return None

    async def _pump(self, queue: asyncio.Queue[tuple[str, dict[str, Any]]], path: str, query: dict[str, Any]) -> None:
        version = ""
        while True:
            try:
                listing = await self.kube.get(path, **query)
                version = str((listing.get("metadata") or {}).get("resourceVersion") or "")
                for item in listing.get("items") or []:
                    await queue.put(("ADDED", item))
                stream = self.kube.watch(path, query={**query, "resourceVersion": version}, timeout_seconds=60)
                async with contextlib.aclosing(stream):
                    async for event in stream:
                        if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                            await queue.put((str(event["type"]), event.get("object") or {}))
            except KubeProblem as exc:
                if exc.kind not in ("gone", "unreachable", "timeout"):
                    await queue.put(("ERROR", {"message": exc.message}))
                    return

    async def events(self) -> AsyncIterator[PodUpdate | ClusterEvent]:
        deployment_path = f"/apis/apps/v1/namespaces/{self.namespace}/deployments/{self.name}"
        deployment = await self.kube.get(deployment_path)
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        ns = f"/api/v1/namespaces/{self.namespace}"
        pumps = [
            asyncio.create_task(
                self._pump(
                    queue,
                    f"/apis/apps/v1/namespaces/{self.namespace}/deployments",
                    {"fieldSelector": f"metadata.name={self.name}"},
                )
            ),
            asyncio.create_task(self._pump(queue, f"{ns}/pods", {"labelSelector": _selector(deployment)})),
            asyncio.create_task(self._pump(queue, f"{ns}/events", {})),
        ]
        deadline = time.monotonic() + self.timeout
        new_hash = await self._new_pod_hash(deployment)
        try:
            while True:
                if rollout_complete(deployment):
                    desired = int((deployment.get("spec") or {}).get("replicas", 1))
                    self.result = RolloutResult(True, f"{desired}/{desired} available")
                    return
                diagnosis = await self._evaluate(deployment, new_hash)
                if diagnosis is not None:
                    self.result = RolloutResult(False, diagnosis.summary, diagnosis)
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.result = RolloutResult(
                        False,
                        f"not available after {self.timeout:g}s",
                        Diagnosis(
                            f"the rollout did not finish within {self.timeout:g}s",
                            tuple(f"{n}: {s}" for n, s in self._pod_summaries.items()),
                            "look at the pod events above; raise the wait with --timeout if the image is large",
                        ),
                    )
                    return
                try:
                    # Wake up at least every second: "unready for too long" is a matter of the clock.
                    kind, obj = await asyncio.wait_for(queue.get(), min(remaining, 1.0))
                except TimeoutError:
                    continue
                if kind == "ERROR":
                    raise KubeProblem("error", str(obj.get("message")))
                spec = obj.get("spec") or {}
                if "template" in spec and (obj.get("metadata") or {}).get("name") == self.name and kind != "DELETED":
                    deployment = obj
                    new_hash = await self._new_pod_hash(deployment) or new_hash
                    continue
                if "involvedObject" in obj:
                    update = self._event(obj)
                    if update is not None:
                        yield update
                    continue
                if "containers" in (obj.get("spec") or {}):
                    update_pod = self._pod(kind, obj)
                    if update_pod is not None:
                        yield update_pod
        finally:
            for task in pumps:
                task.cancel()
            for task in pumps:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _event(self, event: dict[str, Any]) -> ClusterEvent | None:
        involved = event.get("involvedObject") or {}
        name = str(involved.get("name") or "")
        if not (name == self.name or name.startswith(f"{self.name}-")):
            return None
        key = (str((event.get("metadata") or {}).get("uid")), str(event.get("count")), str(event.get("message")))
        if key in self._seen_event_keys:
            return None
        self._seen_event_keys.add(key)
        self.events_seen.append(event)
        return ClusterEvent(
            f"{involved.get('kind')} {name}",
            str(event.get("reason") or ""),
            str(event.get("message") or ""),
            event.get("type") == "Warning",
        )

    def _pod(self, kind: str, pod: dict[str, Any]) -> PodUpdate | None:
        name = str((pod.get("metadata") or {}).get("name"))
        if kind == "DELETED":
            self.pods.pop(name, None)
            self._pod_summaries.pop(name, None)
            return None
        self.pods[name] = pod
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        ready = bool(statuses) and all(s.get("ready") for s in statuses)
        running = bool(statuses) and all(
            "running" in (s.get("state") or {}) and s.get("started") is not False for s in statuses
        )
        if running and not ready:
            self._running_since.setdefault(name, time.monotonic())
        else:
            self._running_since.pop(name, None)
        summary = describe_containers(pod)
        phase = str((pod.get("status") or {}).get("phase") or "Pending")
        if pod.get("metadata", {}).get("deletionTimestamp"):
            phase = "Terminating"
        if self._pod_summaries.get(name) == f"{phase}|{summary}":
            return None
        self._pod_summaries[name] = f"{phase}|{summary}"
        return PodUpdate(name, phase, ready, summary)

    async def _evaluate(self, deployment: Mapping[str, Any], new_hash: str | None) -> Diagnosis | None:
        found = diagnose_deployment(deployment)
        if found is not None:
            return found
        now = time.monotonic()
        new_pods = [
            p
            for p in self.pods.values()
            if new_hash
            and ((p.get("metadata") or {}).get("labels") or {}).get("pod-template-hash") == new_hash
            and not (p.get("metadata") or {}).get("deletionTimestamp")
        ]
        stuck = {
            str(p["metadata"]["name"])
            for p in new_pods
            if now - self._running_since.get(str(p["metadata"]["name"]), now) > _readiness_allowance(p)
        }
        # A missing Secret may be created a moment later (by us, or an operator): give it a few seconds.
        config_pods = []
        for pod in new_pods:
            name = str(pod["metadata"]["name"])
            waiting = [
                (s.get("state") or {}).get("waiting", {}).get("reason")
                for s in (pod.get("status") or {}).get("containerStatuses") or []
            ]
            config_error = "CreateContainerConfigError" in waiting
            if config_error and now - self._config_error_since.setdefault(name, now) < CONFIG_ERROR_GRACE_S:
                continue
            config_pods.append(pod)
        logs: dict[str, str] = {}
        for pod in config_pods:
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                if (status.get("lastState") or {}).get("terminated"):
                    logs[f"{pod['metadata']['name']}/{status.get('name')}"] = await self._previous_log(
                        str(pod["metadata"]["name"]), str(status.get("name"))
                    )
        return diagnose_pods(config_pods, self.events_seen, logs, stuck)

    async def _previous_log(self, pod: str, container: str) -> str:
        try:
            return await self.kube.request_text(
                f"/api/v1/namespaces/{self.namespace}/pods/{pod}/log",
                query={"container": container, "previous": "true", "tailLines": 20},
            )
        except KubeProblem as exc:
            return f"(previous log unavailable: {exc.message})"
