"""Follow every pod and container of a deployment (or one pod) as one merged stream of typed events.

Pods come and go through a watch on the deployment's selector, so a rollout is followed across
ReplicaSets: a new pod joins as soon as its container has started, a deleted pod's stream drains its
last lines and leaves. Each container is one stream (logs_stream), resumed losslessly after a drop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aksmcp_tui.core.details import selector_string
from aksmcp_tui.core.kube import KubeContext, KubeProblem
from aksmcp_tui.core.observe.logs_model import (
    LogBatch,
    LogEvent,
    LogNotice,
    LogOptions,
    PodJoined,
    PodLeft,
)
from aksmcp_tui.core.observe.logs_stream import StreamControl, follow_container

QUEUE_BATCHES = 256  # back-pressure: a slow reader slows the streams (TCP flow control), never grows memory

_DEPLOY_WORDS = {"deploy", "deploys", "deployment", "deployments", "deployment.apps", "deployments.apps"}
_POD_WORDS = {"po", "pod", "pods"}


@dataclass(frozen=True)
class LogTarget:
    kind: str  # "deployment" | "pod"
    name: str


def parse_target(text: str) -> LogTarget:
    """`deploy/NAME`, `pod/NAME`, or a bare NAME (a deployment), like kubectl."""
    word, slash, name = text.strip().partition("/")
    if not slash:
        word, name = "deploy", word
    if not name or "/" in name:
        raise ValueError(f"cannot read the target {text!r}: use deploy/NAME or pod/NAME")
    if word.lower() in _DEPLOY_WORDS:
        return LogTarget("deployment", name)
    if word.lower() in _POD_WORDS:
        return LogTarget("pod", name)
    raise ValueError(f"logs follow deployments and pods, not {word!r} (use deploy/NAME or pod/NAME)")


async def pod_query(kube: KubeContext, namespace: str, target: LogTarget) -> dict[str, str]:
    """The list/watch query that selects the target's pods (a deployment's selector spans ReplicaSets)."""
    if target.kind == "pod":
        return {"fieldSelector": f"metadata.name={target.name}"}
    deployment = await kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{target.name}")
    selector = selector_string(((deployment or {}).get("spec") or {}).get("selector") or {})
    if not selector:
        raise KubeProblem("invalid", f"deployment {target.name} has no pod selector")
    return {"labelSelector": selector}


def _started(pod: dict[str, Any], container: str, previous: bool) -> bool:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") != container:
            continue
        if previous:
            return bool((status.get("lastState") or {}).get("terminated")) or int(status.get("restartCount") or 0) > 0
        state = status.get("state") or {}
        return bool(
            state.get("running") or state.get("terminated") or (status.get("lastState") or {}).get("terminated")
        )
    return False


def _finished(pod: dict[str, Any]) -> str | None:
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return "deleted"
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return "completed"
    return None


@dataclass
class _PodStreams:
    name: str
    control: StreamControl = field(default_factory=StreamControl)
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    left_reason: str | None = None
    announced: bool = False


class LogFollower:
    """Runs the streams; `events()` yields what they produce. One per log view or CLI run."""

    def __init__(self, kube: KubeContext, namespace: str, target: LogTarget, options: LogOptions) -> None:
        self.kube = kube
        self.namespace = namespace
        self.target = target
        self.options = options
        self.pods: dict[str, _PodStreams] = {}
        self._queue: asyncio.Queue[LogEvent | None] = asyncio.Queue(QUEUE_BATCHES)
        self._tasks: set[asyncio.Task[None]] = set()

    async def _emit(self, event: LogEvent) -> None:
        await self._queue.put(event)

    async def events(self) -> AsyncIterator[LogEvent]:
        runner = asyncio.create_task(self._run())
        try:
            while True:
                event = await self._queue.get()
                if event is None:
                    break
                yield event
        finally:
            runner.cancel()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self) -> None:
        try:
            query = await pod_query(self.kube, self.namespace, self.target)
            listing = await self.kube.get(f"/api/v1/namespaces/{self.namespace}/pods", **query)
            items = list((listing or {}).get("items") or [])
            if not items and not self.options.follow:
                await self._emit(LogNotice(f"no pods found for {self.target.kind} {self.target.name}"))
            for pod in items:
                await self._saw_pod(pod)
            if self.options.follow and not self.options.previous:
                rv = str(((listing or {}).get("metadata") or {}).get("resourceVersion") or "")
                await self._watch(query, rv)
            else:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
        except KubeProblem as problem:
            await self._emit(LogNotice(_describe(problem, self.target), fatal=True))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug must end the stream with words, not hang the reader
            await self._emit(LogNotice(f"log follower failed: {type(error).__name__}: {error}", fatal=True))
        await self._queue.put(None)

    async def _watch(self, query: dict[str, str], rv: str) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/pods"
        while True:
            try:
                async for event in self.kube.watch(path, query={**query, "resourceVersion": rv}):
                    kind = event.get("type")
                    obj = event.get("object") or {}
                    rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                    if kind == "BOOKMARK":
                        continue
                    if kind == "DELETED":
                        await self._pod_gone(obj, "deleted")
                    else:
                        await self._saw_pod(obj)
            except KubeProblem as problem:
                if problem.kind == "gone":
                    listing = await self.kube.get(path, **query)
                    rv = str(((listing or {}).get("metadata") or {}).get("resourceVersion") or "")
                    names = set()
                    for pod in (listing or {}).get("items") or []:
                        names.add((pod.get("metadata") or {}).get("name"))
                        await self._saw_pod(pod)
                    for name in list(self.pods):
                        if name not in names:
                            await self._pod_gone({"metadata": {"name": name}}, "deleted")
                elif problem.kind in ("unreachable", "timeout"):
                    await asyncio.sleep(1.0)  # the API server is away: try the watch again
                else:
                    raise

    async def _saw_pod(self, pod: dict[str, Any]) -> None:
        name = str((pod.get("metadata") or {}).get("name") or "")
        if not name:
            return
        streams = self.pods.get(name)
        if streams is None:
            streams = self.pods[name] = _PodStreams(name)
        spec_containers = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
        wanted = spec_containers
        if self.options.container:
            if self.options.container not in spec_containers:
                if not streams.announced:
                    streams.announced = True
                    await self._emit(LogNotice(f"pod {name} has no container {self.options.container!r}", pod=name))
                return
            wanted = [self.options.container]
        for container in wanted:
            if container in streams.tasks or not _started(pod, container, self.options.previous):
                continue
            if not streams.announced:
                streams.announced = True
                await self._emit(PodJoined(name, tuple(wanted)))
            task = asyncio.create_task(self._stream(streams, container))
            streams.tasks[container] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        streams.control.poke()
        finished = _finished(pod)
        if finished:
            await self._pod_gone(pod, finished)

    async def _pod_gone(self, pod: dict[str, Any], reason: str) -> None:
        name = str((pod.get("metadata") or {}).get("name") or "")
        streams = self.pods.get(name)
        if streams is None or streams.left_reason is not None:
            return
        streams.left_reason = reason
        streams.control.leaving = True
        streams.control.poke()
        if not streams.tasks:
            await self._left(streams)

    async def _stream(self, streams: _PodStreams, container: str) -> None:
        try:
            await follow_container(
                self.kube, self.namespace, streams.name, container, self.options, self._emit, streams.control
            )
        finally:
            streams.tasks.pop(container, None)
        if not streams.tasks and streams.left_reason is not None:
            await self._left(streams)

    async def _left(self, streams: _PodStreams) -> None:
        if self.pods.get(streams.name) is streams:
            del self.pods[streams.name]
            if streams.announced:
                await self._emit(PodLeft(streams.name, streams.left_reason or "deleted"))


def _describe(problem: KubeProblem, target: LogTarget) -> str:
    if problem.kind == "not_found":
        return f"{target.kind} {target.name} not found: {problem.message}"
    return problem.message


async def follow_logs(
    kube: KubeContext, namespace: str, target: str | LogTarget, options: LogOptions
) -> AsyncIterator[LogEvent]:
    """The merged stream of a deployment's (or pod's) logs; ends when not following and all is read."""
    parsed = parse_target(target) if isinstance(target, str) else target
    async for event in LogFollower(kube, namespace, parsed, options).events():
        yield event


__all__ = ["LogBatch", "LogFollower", "LogTarget", "follow_logs", "parse_target", "pod_query"]
