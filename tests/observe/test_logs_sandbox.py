"""Logs on the sandbox: numbered lines through a forced drop, pods joining and leaving, rollouts,
previous container, tail and container choice; all through core/kube.py and the real pods/log API."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.core.observe import (
    LogBatch,
    LogEvent,
    LogLine,
    LogNotice,
    LogOptions,
    PodJoined,
    PodLeft,
    StreamResumed,
    follow_logs,
)
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from tests.observe.support import (
    CuttableProxy,
    create,
    https_port,
    kubeconfig_via,
    new_namespace,
    opened,
    python_deployment,
    running_pods,
    wait_until,
)

pytestmark = pytest.mark.timeout(120)


class Collector:
    """Runs a follow in the background and records every event with the time it arrived."""

    def __init__(self, events: AsyncIterator[LogEvent]) -> None:
        self.events: list[tuple[float, LogEvent]] = []
        self.lines: list[LogLine] = []
        self._source = events
        self.task = asyncio.create_task(self._run())
        self.finished = False

    async def _run(self) -> None:
        async for event in self._source:
            self.events.append((time.monotonic(), event))
            if isinstance(event, LogBatch):
                self.lines.extend(event.lines)
        self.finished = True

    def texts(self, pod: str | None = None) -> list[str]:
        return [line.text for line in self.lines if pod is None or line.pod == pod]

    def of(self, kind: type) -> list[LogEvent]:
        return [e for _, e in self.events if isinstance(e, kind)]

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self._source.aclose()  # type: ignore[attr-defined]


NUMBERED = """
import os, time
gate = os.environ["GATE"]
n = 0
for phase in range(3):
    for _ in range(4000):
        print(f"n {n}")
        n += 1
        if n % 500 == 0:
            time.sleep(0.002)
    while not os.path.exists(f"{gate}.{phase}"):
        time.sleep(0.01)
print("done", flush=True)
while True:
    time.sleep(1)
"""


async def test_numbered_lines_survive_forced_drops(sandbox_session: ThreadedSandbox, tmp_path: Path) -> None:
    proxy = CuttableProxy(https_port(sandbox_session.kubeconfig_path))
    await proxy.start()
    via = kubeconfig_via(sandbox_session.kubeconfig_path, proxy.port, tmp_path / "via-proxy")
    gate = tmp_path / "gate"
    async with opened(via) as kube:
        ns = await new_namespace(kube)
        await create(kube, ns, python_deployment("counter", NUMBERED, env={"GATE": str(gate)}))
        collector = Collector(follow_logs(kube, ns, "deploy/counter", LogOptions(follow=True)))
        try:
            await wait_until(lambda: "n 3999" in collector.texts(), what="the first 4000 lines")
            proxy.cut()  # a drop while idle
            (tmp_path / "gate.0").write_text("")
            await wait_until(lambda: len(collector.lines) > 4600, what="lines after the first drop")
            proxy.cut()  # a drop while lines stream
            await wait_until(lambda: "n 7999" in collector.texts(), what="the second 4000 lines")
            (tmp_path / "gate.1").write_text("")
            await wait_until(lambda: len(collector.lines) > 8300, what="the third burst")
            proxy.cut()
            (tmp_path / "gate.2").write_text("")
            await wait_until(lambda: "done" in collector.texts(), what="the last line")
        finally:
            await collector.stop()
            await proxy.close()
    assert collector.texts() == [*(f"n {i}" for i in range(12000)), "done"]
    assert len(collector.of(StreamResumed)) >= 3


TICKER = """
import os, time
i = 0
while True:
    print(f"{os.environ['VERSION']} tick {i}", flush=True)
    i += 1
    time.sleep(0.1)
"""


V2_ENV = [{"name": "VERSION", "value": "v2"}]


async def _scale(kube: KubeContext, ns: str, name: str, replicas: int) -> None:
    await kube.request(
        "PATCH",
        f"/apis/apps/v1/namespaces/{ns}/deployments/{name}",
        body={"spec": {"replicas": replicas}},
        content_type="application/merge-patch+json",
    )


async def test_pods_join_leave_and_rollout_is_followed(kube: KubeContext) -> None:
    ns = await new_namespace(kube)
    await create(kube, ns, python_deployment("ticker", TICKER, env={"VERSION": "v1"}))
    first = (await wait_until(lambda: running_pods(kube, ns, "ticker"), what="the first pod"))[0]
    collector = Collector(follow_logs(kube, ns, "ticker", LogOptions(follow=True, tail=2)))
    try:
        await wait_until(lambda: len(collector.texts(first)) >= 3, what="lines of the first pod")
        assert collector.texts(first)[0].startswith("v1 tick")
        assert [e.pod for e in collector.of(PodJoined)] == [first]  # type: ignore[attr-defined]

        await _scale(kube, ns, "ticker", 2)
        pods = await wait_until(lambda: _two(running_pods(kube, ns, "ticker")), what="a second running pod")
        running_at = time.monotonic()
        second = next(p for p in pods if p != first)
        await wait_until(
            lambda: any(isinstance(e, PodJoined) and e.pod == second for _, e in collector.events),
            what="the second pod to join",
        )
        joined_at = next(t for t, e in collector.events if isinstance(e, PodJoined) and e.pod == second)
        assert joined_at - running_at < 2.0
        await wait_until(lambda: collector.texts(second), what="lines of the second pod")

        # rollout: a new ReplicaSet replaces both pods; the follow moves over by itself
        await kube.request(
            "PATCH",
            f"/apis/apps/v1/namespaces/{ns}/deployments/ticker",
            body={"spec": {"template": {"spec": {"containers": [{"name": "app", "env": V2_ENV}]}}}},
            content_type="application/strategic-merge-patch+json",
        )
        await wait_until(
            lambda: {e.pod for e in collector.of(PodLeft)} >= {first, second},  # type: ignore[attr-defined]
            within=60,
            what="both v1 pods to leave",
        )
        await wait_until(lambda: sum(1 for line in collector.lines if line.text.startswith("v2")) >= 4, what="v2 lines")
        v2_pods = {line.pod for line in collector.lines if line.text.startswith("v2")}
        assert v2_pods and not v2_pods & {first, second}
        # a pod that left says nothing afterwards, and no line is repeated per pod
        for pod in (first, second):
            left_at = next(i for i, (_, e) in enumerate(collector.events) if isinstance(e, PodLeft) and e.pod == pod)
            later = [e for _, e in collector.events[left_at + 1 :] if isinstance(e, LogBatch)]
            assert not any(line.pod == pod for batch in later for line in batch.lines)  # type: ignore[attr-defined]
        for pod in {line.pod for line in collector.lines}:
            ticks = [int(t.rsplit(" ", 1)[1]) for t in collector.texts(pod)]
            assert ticks == list(range(ticks[0], ticks[0] + len(ticks))), pod
    finally:
        await collector.stop()


async def _two(pending: Any) -> list[str] | None:
    pods: list[str] = await pending
    return pods if len(pods) == 2 else None


CRASHER = """
import os, sys, time
marker = os.environ["MARK"]
first = not os.path.exists(marker)
open(marker, "a").close()
print("first life" if first else "second life", flush=True)
print("side note", file=sys.stderr, flush=True)
if first:
    sys.exit(3)
while True:
    time.sleep(1)
"""


async def test_previous_tail_and_container_choice(kube: KubeContext, tmp_path: Path) -> None:
    ns = await new_namespace(kube)
    await create(kube, ns, python_deployment("crasher", CRASHER, env={"MARK": str(tmp_path / "mark")}))

    async def collect(options: LogOptions, target: str = "deploy/crasher") -> list[LogEvent]:
        return [e async for e in follow_logs(kube, ns, target, options)]

    async def restarted() -> bool:
        listing = await kube.get(f"/api/v1/namespaces/{ns}/pods", labelSelector="app=crasher")
        for pod in listing["items"]:
            for status in pod.get("status", {}).get("containerStatuses") or []:
                if status.get("restartCount", 0) >= 1 and status.get("state", {}).get("running"):
                    return True
        return False

    await wait_until(restarted, within=60, what="the container to restart")
    await wait_until(lambda: _texts_of(collect(LogOptions())), what="the second life's lines")
    now = _texts(await collect(LogOptions()))
    assert "second life" in now and "first life" not in now
    previous = _texts(await collect(LogOptions(previous=True)))
    assert previous == ["first life", "side note"]
    assert _texts(await collect(LogOptions(tail=1))) == ["side note"]
    assert _texts(await collect(LogOptions(container="app", since_seconds=3600))) == ["second life", "side note"]
    missing = await collect(LogOptions(container="nope"))
    assert any(isinstance(e, LogNotice) and "no container 'nope'" in e.message for e in missing)
    gone = await collect(LogOptions(), target="deploy/absent")
    assert any(isinstance(e, LogNotice) and e.fatal and "not found" in e.message for e in gone)


def _texts(events: list[LogEvent]) -> list[str]:
    return [line.text for e in events if isinstance(e, LogBatch) for line in e.lines]


async def _texts_of(pending: object) -> list[str]:
    return _texts(await pending)  # type: ignore[misc]
