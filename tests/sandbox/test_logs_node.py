"""pods/log served by the node, read with the official kubernetes clients (sync and kubernetes.aio)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from kubernetes.aio import client as aio_client

from aksmcp_tui.sandbox.node.testing import (
    NodeHarness,
    container_status,
    pod_manifest,
    python_container,
    wait_for,
)

pytestmark = pytest.mark.timeout(90)

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")

COUNTER = (
    "import sys, time\n"
    "for i in range(5):\n    print(f'line {i}')\n"
    "print('to stderr', file=sys.stderr)\n"
    "while True: time.sleep(1)"
)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[NodeHarness]:
    async with NodeHarness(tmp_path / "state") as h:
        yield h


@pytest.fixture
async def core(harness: NodeHarness) -> AsyncIterator[aio_client.CoreV1Api]:
    async with aio_client.ApiClient(aio_client.Configuration(host=harness.url)) as api:
        yield aio_client.CoreV1Api(api)


async def _printed(harness: NodeHarness, name: str, text: str) -> None:
    async def has() -> bool:
        return text in await asyncio.to_thread(harness.kube_client().read_namespaced_pod_log, name, "default")

    await wait_for(has, what=f"{text!r} in the log of {name}")


async def test_logs_tail_timestamps_limit_and_streams(harness: NodeHarness, core: aio_client.CoreV1Api) -> None:
    await harness.create(pod_manifest("talker", [python_container("c", COUNTER)]))
    await _printed(harness, "talker", "to stderr")

    full = await core.read_namespaced_pod_log("talker", "default")
    assert full.splitlines() == [*(f"line {i}" for i in range(5)), "to stderr"]
    tail = await core.read_namespaced_pod_log("talker", "default", tail_lines=2)
    assert tail.splitlines() == ["line 4", "to stderr"]
    stamped = await core.read_namespaced_pod_log("talker", "default", timestamps=True, tail_lines=1)
    assert TIMESTAMP.match(stamped) and stamped.endswith(" to stderr\n")
    limited = await core.read_namespaced_pod_log("talker", "default", limit_bytes=8)
    assert limited == "line 0\nl"
    stdout_only = await core.read_namespaced_pod_log("talker", "default", stream="Stdout")
    assert "to stderr" not in stdout_only and "line 3" in stdout_only
    since = await core.read_namespaced_pod_log("talker", "default", since_seconds=3600)
    assert since == full
    # the sync client insists on text/plain
    sync_read = harness.kube_client().read_namespaced_pod_log
    assert await asyncio.to_thread(sync_read, "talker", "default", tail_lines=1) == "to stderr\n"


async def test_since_time_filters_by_the_line_timestamps(harness: NodeHarness) -> None:
    gate = harness.node.state_dir / "gate"
    code = (
        "import os, time\nprint('before', flush=True)\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.05)\n"
        "print('after', flush=True)\nwhile True: time.sleep(1)"
    )
    await harness.create(pod_manifest("clock", [python_container("c", code)]))
    await _printed(harness, "clock", "before")
    cutoff = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    gate.write_text("go")
    await _printed(harness, "clock", "after")
    url = f"{harness.url}/api/v1/namespaces/default/pods/clock/log"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, params={"sinceTime": cutoff}) as resp:
            assert resp.status == 200 and resp.content_type == "text/plain"
            assert await resp.text() == "after\n"
        async with session.get(url, params={"sinceTime": "not-a-time"}) as resp:
            assert resp.status == 400 and (await resp.json())["kind"] == "Status"


async def test_follow_streams_new_lines_and_ends_when_the_container_stops(
    harness: NodeHarness, core: aio_client.CoreV1Api
) -> None:
    gate = harness.node.state_dir / "gate"
    code = (
        "import os, time\nprint('first', flush=True)\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.05)\n"
        "print('second', flush=True)\ntime.sleep(0.2)\nraise SystemExit(0)"
    )
    await harness.create(pod_manifest("follow", [python_container("c", code)], restartPolicy="Never"))
    await _printed(harness, "follow", "first")

    resp = await core.read_namespaced_pod_log_without_preload_content("follow", "default", follow=True)
    lines = []
    first = await asyncio.wait_for(resp.content.readline(), 10)
    lines.append(first)
    gate.write_text("go")

    async def rest() -> None:
        async for line in resp.content:
            lines.append(line)

    await asyncio.wait_for(rest(), 20)  # ends by itself when the container exits
    resp.release()
    assert lines == [b"first\n", b"second\n"]


async def test_previous_returns_the_last_terminated_attempt(harness: NodeHarness, core: aio_client.CoreV1Api) -> None:
    counter = harness.node.state_dir / "attempt"
    code = (
        "import os, time\n"
        f"n = int(open({str(counter)!r}).read()) if os.path.exists({str(counter)!r}) else 0\n"
        f"open({str(counter)!r}, 'w').write(str(n + 1))\n"
        "print(f'attempt {n}', flush=True)\n"
        "if n == 0: raise SystemExit(1)\n"
        "while True: time.sleep(1)"
    )
    await harness.create(pod_manifest("again", [python_container("c", code)]))
    await harness.wait_pod(
        "again", lambda p: container_status(p).get("restartCount") == 1 and "running" in container_status(p)["state"]
    )
    await _printed(harness, "again", "attempt 1")
    assert await core.read_namespaced_pod_log("again", "default") == "attempt 1\n"
    assert await core.read_namespaced_pod_log("again", "default", previous=True) == "attempt 0\n"


async def test_container_selection_and_errors_are_status_400(harness: NodeHarness, core: aio_client.CoreV1Api) -> None:
    containers = [
        python_container("a", "print('from a')\nimport time\ntime.sleep(60)"),
        python_container("b", "print('from b')\nimport time\ntime.sleep(60)"),
    ]
    await harness.create(pod_manifest("duo", containers))
    await harness.wait_pod("duo", lambda p: all("running" in s["state"] for s in p["status"]["containerStatuses"]))

    async def says(container: str) -> bool:
        return await core.read_namespaced_pod_log("duo", "default", container=container) == f"from {container}\n"

    await wait_for(lambda: says("a"), what="a's log")
    await wait_for(lambda: says("b"), what="b's log")
    url = f"{harness.url}/api/v1/namespaces/default/pods/duo/log"
    async with aiohttp.ClientSession() as session:
        for params, text in (
            ({}, "a container name must be specified for pod duo, choose one of: [a b]"),
            ({"container": "zzz"}, "container zzz is not valid for pod duo"),
            ({"container": "a", "previous": "true"}, 'previous terminated container "a" in pod "duo" not found'),
            ({"container": "a", "tailLines": "-1"}, "tailLines"),
        ):
            async with session.get(url, params=params) as resp:
                body = await resp.json()
                assert resp.status == 400, params
                assert body["kind"] == "Status" and body["reason"] == "BadRequest" and text in body["message"]


async def test_waiting_container_has_no_logs_yet(harness: NodeHarness) -> None:
    await harness.create(pod_manifest("pending", [{"name": "c", "image": "registry.example/none:1"}]))
    await harness.wait_pod("pending", lambda p: "waiting" in container_status(p).get("state", {}))
    async with aiohttp.ClientSession() as session:
        url = f"{harness.url}/api/v1/namespaces/default/pods/pending/log"
        async with session.get(url) as resp:
            assert resp.status == 400
            assert 'container "c" in pod "pending" is waiting to start' in (await resp.json())["message"]


async def test_log_files_are_bounded(tmp_path: Path) -> None:
    code = "import time\nfor i in range(3000): print('x' * 100)\nprint('done', flush=True)\ntime.sleep(60)"
    async with NodeHarness(tmp_path / "state", log_max_bytes=20_000) as h:
        await h.create(pod_manifest("chatty", [python_container("c", code)]))
        read = h.kube_client().read_namespaced_pod_log

        async def finished() -> bool:
            return "done" in await asyncio.to_thread(read, "chatty", "default", tail_lines=1)

        await wait_for(finished, what="all output written")
        pod = await h.get("chatty")
        worker = h.node.worker_for(pod)
        assert worker is not None
        log_dir = worker.containers[0].logs.directory
        assert sum(f.stat().st_size for f in log_dir.iterdir()) <= 2 * 20_000
        tail = await asyncio.to_thread(read, "chatty", "default", tail_lines=3)
        assert tail.splitlines() == ["x" * 100, "x" * 100, "done"]


async def test_follow_ends_when_the_pod_is_deleted(harness: NodeHarness, core: aio_client.CoreV1Api) -> None:
    code = "import time\nprint('up', flush=True)\nwhile True: time.sleep(0.1)"
    await harness.create(pod_manifest("doomed", [python_container("c", code)], terminationGracePeriodSeconds=5))
    await _printed(harness, "doomed", "up")
    resp = await core.read_namespaced_pod_log_without_preload_content("doomed", "default", follow=True)
    assert await asyncio.wait_for(resp.content.readline(), 10) == b"up\n"
    await harness.store.delete("pods", "default", "doomed")
    assert await asyncio.wait_for(resp.content.read(), 20) == b""  # EOF: the stream ended by itself
    resp.release()
