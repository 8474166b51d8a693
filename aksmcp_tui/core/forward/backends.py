"""The pods behind a forward target, kept current by one watch (never a lookup per connection).

`svc/NAME` and `deploy/NAME` resolve once to a label selector (and, for a Service, its port
mapping); `pod/NAME` is a field selector. The pod watch then keeps a table of pods: ready or not,
terminating or not, and the container port each one serves the remote port on (a Service port maps
to its targetPort per pod, since a named targetPort may differ between pods).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aksmcp_tui.core.forward.spec import ForwardError, parse_target
from aksmcp_tui.core.kube import KubeContext, KubeProblem

BACKOFF_START = 0.5
BACKOFF_MAX = 10.0


@dataclass
class PodInfo:
    name: str
    ready: bool
    terminating: bool
    port: int | None  # the container port for this forward, None when the pod does not have it
    phase: str


def backoff_delays(start: float = BACKOFF_START, limit: float = BACKOFF_MAX) -> Any:
    """Exponential back-off with full jitter between half and the whole step (so many clients
    that lost the same API server do not come back in lockstep)."""
    step = start
    while True:
        yield random.uniform(step / 2, step)
        step = min(step * 2, limit)


def _selector_text(selector: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def _port_label(name: Any, number: Any) -> str:
    return f"{name}={number}" if name else str(number)


def _container_ports(pod: dict[str, Any]) -> list[dict[str, Any]]:
    ports: list[dict[str, Any]] = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        ports.extend(container.get("ports") or [])
    return ports


def pod_port(pod: dict[str, Any], want: int | str | None) -> int | None:
    """The container port of `pod` for `want`: a number as is, a name looked up, None = "mcp" or the first."""
    if isinstance(want, int):
        return want
    ports = _container_ports(pod)
    if want is None:
        named = [p for p in ports if p.get("name") == "mcp"]
        chosen = named[0] if named else (ports[0] if ports else None)
        return int(chosen["containerPort"]) if chosen and chosen.get("containerPort") else None
    for p in ports:
        if p.get("name") == want:
            return int(p["containerPort"])
    return None


def pod_info(pod: dict[str, Any], want: int | str | None) -> PodInfo:
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    phase = str(status.get("phase") or "Pending")
    terminating = bool(meta.get("deletionTimestamp"))
    ready = phase == "Running" and conditions.get("Ready") == "True" and not terminating
    return PodInfo(str(meta.get("name")), ready, terminating, pod_port(pod, want), phase)


class Backends:
    """Resolve a target, then watch its pods. `changed` fires (and `on_change` is called) on every
    change; `problem` holds the API server trouble being retried, if any."""

    def __init__(self, kube: KubeContext, namespace: str, target: str, remote_port: int | str | None = None) -> None:
        self.kube = kube
        self.namespace = namespace
        self.kind, self.name = parse_target(target)
        self.remote_port = remote_port
        self.pods: dict[str, PodInfo] = {}
        self.problem: str | None = None  # the API server trouble being retried
        self.target_problem: str | None = None  # target gone / has no such port
        self.on_change: Callable[[], None] | None = None
        self.synced = asyncio.Event()
        self._changed = asyncio.Event()
        self._query: dict[str, str] = {}
        self._port_for_pod: int | str | None = remote_port  # what to look up in each pod
        self._task: asyncio.Task[None] | None = None
        self.resolved_remote: int | str | None = remote_port

    # resolution

    async def resolve(self) -> None:
        """Check the target exists and learn how to select its pods. Raises ForwardError in plain words."""
        ns = self.namespace
        try:
            if self.kind == "pod":
                pod = await self.kube.get(f"/api/v1/namespaces/{ns}/pods/{self.name}")
                self._query = {"fieldSelector": f"metadata.name={self.name}"}
                if self.remote_port is not None and pod_port(pod, self.remote_port) is None:
                    raise ForwardError(self._no_port_message([pod]))
            elif self.kind == "deploy":
                deploy = await self.kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{self.name}")
                selector = _selector_text((deploy.get("spec") or {}).get("selector") or {})
                if not selector:
                    raise ForwardError(f"deployment {self.name} in namespace {ns} has no pod selector")
                self._query = {"labelSelector": selector}
                template: dict[str, Any] = {
                    "spec": ((deploy.get("spec") or {}).get("template") or {}).get("spec") or {}
                }
                if pod_port(template, self.remote_port) is None:
                    raise ForwardError(self._no_port_message([template]))
            else:
                service = await self.kube.get(f"/api/v1/namespaces/{ns}/services/{self.name}")
                spec = service.get("spec") or {}
                labels: dict[str, str] = spec.get("selector") or {}
                if not labels:
                    raise ForwardError(
                        f"service {self.name} in namespace {ns} has no selector (its endpoints are managed by "
                        "hand): forward to a pod or deployment instead"
                    )
                self._query = {"labelSelector": _selector_text({"matchLabels": labels})}
                self._port_for_pod = self._service_target(spec.get("ports") or [])
        except KubeProblem as problem:
            if problem.kind == "not_found":
                kind = {"svc": "service", "deploy": "deployment", "pod": "pod"}[self.kind]
                raise ForwardError(
                    f"{kind} {self.name} not found in namespace {ns} (context {self.kube.name})"
                ) from None
            raise ForwardError(problem.message) from None

    def _service_target(self, ports: list[dict[str, Any]]) -> int | str | None:
        want = self.remote_port
        chosen: dict[str, Any] | None = None
        if want is None:
            named = [p for p in ports if p.get("name") == "mcp"]
            chosen = named[0] if named else (ports[0] if ports else None)
        else:
            for p in ports:
                if (isinstance(want, int) and p.get("port") == want) or (
                    isinstance(want, str) and p.get("name") == want
                ):
                    chosen = p
                    break
        if chosen is None:
            have = ", ".join(_port_label(p.get("name"), p.get("port")) for p in ports) or "none"
            what = f"port {want}" if want is not None else "ports"
            raise ForwardError(f"service {self.name} in namespace {self.namespace} has no {what} (its ports: {have})")
        self.resolved_remote = chosen.get("port")
        target = chosen.get("targetPort", chosen.get("port"))
        if isinstance(target, str) and target.isdigit():
            return int(target)
        return target if isinstance(target, int | str) else chosen.get("port")

    def _no_port_message(self, pods: list[dict[str, Any]]) -> str:
        ports = [_port_label(p.get("name"), p.get("containerPort")) for pod in pods for p in _container_ports(pod)]
        kind = {"svc": "service", "deploy": "deployment", "pod": "pod"}[self.kind]
        if self.remote_port is None:
            return f"{kind} {self.name} declares no container port: give --remote-port"
        return f"{kind} {self.name} has no container port {self.remote_port} (its ports: {', '.join(ports) or 'none'})"

    # the watch

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"forward-watch-{self.kind}/{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def ready(self) -> list[PodInfo]:
        return [p for p in self.pods.values() if p.ready and p.port is not None]

    async def wait_changed(self, within: float) -> None:
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), within)

    def _notify(self) -> None:
        self._changed.set()
        if self.on_change is not None:
            self.on_change()

    def _apply(self, pod: dict[str, Any], deleted: bool = False) -> None:
        name = str((pod.get("metadata") or {}).get("name"))
        if deleted:
            self.pods.pop(name, None)
        else:
            self.pods[name] = pod_info(pod, self._port_for_pod)

    async def _run(self) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/pods"
        delays = backoff_delays()
        while True:
            try:
                listed = await self.kube.get(path, **self._query)
                self.pods = {}
                for pod in listed.get("items") or []:
                    self._apply(pod)
                rv = str((listed.get("metadata") or {}).get("resourceVersion") or "")
                self.problem = None
                delays = backoff_delays()
                self.synced.set()
                self._notify()
                while True:
                    async for event in self.kube.watch(path, query={**self._query, "resourceVersion": rv}):
                        obj = event.get("object") or {}
                        rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                        kind = event.get("type")
                        if kind == "BOOKMARK":
                            continue
                        self._apply(obj, deleted=kind == "DELETED")
                        self._notify()
            except KubeProblem as problem:
                if problem.kind == "gone":
                    continue  # relist at once
                self.problem = problem.message
                self._notify()
                await asyncio.sleep(next(delays))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let the watch die silently: report and retry
                self.problem = f"watching the pods failed: {type(exc).__name__}: {exc}"
                self._notify()
                await asyncio.sleep(next(delays))
