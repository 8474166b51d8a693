"""Lossless resume: the cursor alone, then the real stream code against a log server that behaves like
the real API server (sinceTime cut to whole seconds, many lines per timestamp, dropped mid-line)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.core.observe.logs_model import (
    LogBatch,
    LogEvent,
    LogOptions,
    StreamResumed,
    format_since_time,
    parse_timestamp,
)
from aksmcp_tui.core.observe.logs_resume import ResumeCursor
from aksmcp_tui.core.observe.logs_stream import StreamControl, follow_container

pytestmark = pytest.mark.timeout(60)

BASE = 1_796_000_000  # a whole second (2026-11-30)


def stamp(ns: int) -> str:
    return format_since_time(ns)[:-1] + f".{ns % 1_000_000_000:09d}Z"


def test_timestamps_parse_with_fraction_offset_and_without() -> None:
    ns = BASE * 1_000_000_000 + 123_456_789
    assert parse_timestamp(stamp(ns)) == ns
    assert parse_timestamp(format_since_time(ns)) == BASE * 1_000_000_000
    assert parse_timestamp(stamp(ns).replace("Z", "+01:00")) == ns - 3600 * 1_000_000_000
    assert parse_timestamp("2026-11-30T08:53:20.5Z") == parse_timestamp("2026-11-30T08:53:20.500000000Z")
    with pytest.raises(ValueError):
        parse_timestamp("yesterday")


def test_cursor_skips_exactly_the_replayed_lines_sharing_a_timestamp() -> None:
    t1 = BASE * 1_000_000_000 + 10
    t2 = t1 + 5
    log = [t1 - 1_000_000_000, t1, t1, t1, t2, t2, t2 + 1]  # one second earlier, then a burst
    cursor = ResumeCursor()
    assert cursor.since_time() is None
    seen = [ns for ns in log[:5] if cursor.accept(ns)]  # the drop comes after the first t2 line
    assert seen == log[:5]
    assert cursor.since_time() == format_since_time(t1)  # floored to the second
    cursor.start_replay()
    # a second-precision server replays the whole second; a nanosecond one would start at t2
    replay_second = [ns for ns in log if ns >= BASE * 1_000_000_000]
    assert [ns for ns in replay_second if cursor.accept(ns)] == [t2, t2 + 1]
    cursor2 = ResumeCursor()
    for ns in log[:5]:
        cursor2.accept(ns)
    cursor2.start_replay()
    replay_nano = [ns for ns in log if ns >= t2]
    assert [ns for ns in replay_nano if cursor2.accept(ns)] == [t2, t2 + 1]


class RealisticLogServer:
    """pods/log like the real API server: timestamps=true, sinceTime at whole-second precision (the
    apiserver formats metav1.Time as RFC3339 for the kubelet), text/plain chunked; it drops the
    connection after a given number of lines (mid-line, as a broken TCP stream would)."""

    def __init__(self, lines: list[tuple[int, str]], drops: list[int]) -> None:
        self.lines = lines
        self.drops = list(drops)  # lines sent per connection before it breaks; then serve all
        self.requests: list[dict[str, str]] = []
        self.done = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(dict(request.query))
        since = request.query.get("sinceTime")
        floor = parse_timestamp(since) // 1_000_000_000 * 1_000_000_000 if since else 0
        body = [f"{stamp(ns)} {text}\n".encode() for ns, text in self.lines if ns >= floor]
        response = web.StreamResponse()
        response.content_type = "text/plain"
        response.enable_chunked_encoding()
        await response.prepare(request)
        limit = self.drops.pop(0) if self.drops else None
        for i, line in enumerate(body):
            if limit is not None and i == limit:
                await response.write(line[: len(line) // 2])  # half a line, then the link dies
                assert request.transport is not None
                request.transport.abort()
                return response
            await response.write(line)
        await self.done.wait()  # follow: stay open
        return response


@contextlib.asynccontextmanager
async def serving(server: RealisticLogServer) -> AsyncIterator[KubeContext]:
    app = web.Application()
    app.router.add_get("/api/v1/namespaces/{ns}/pods/{pod}/log", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    config = {
        "current-context": "stub",
        "clusters": [{"name": "stub", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "stub", "user": {"token": "t"}}],
        "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "stub"}}],
    }
    kube = await KubeContext.from_config_dict(config)
    try:
        yield kube
    finally:
        server.done.set()
        await kube.close()
        await runner.cleanup()


async def test_drops_mid_burst_lose_nothing_and_repeat_nothing() -> None:
    # 60 lines over 3 seconds; lines come in groups of 4 that share one exact timestamp
    lines = []
    for i in range(60):
        second, group = divmod(i, 20)
        ns = (BASE + second) * 1_000_000_000 + (group // 4) * 1000
        lines.append((ns, f"n {i}"))
    server = RealisticLogServer(lines, drops=[6, 3, 21, 1])  # breaks inside timestamp groups
    got: list[str] = []
    resumed: list[StreamResumed] = []

    async def emit(event: LogEvent) -> None:
        if isinstance(event, LogBatch):
            got.extend(line.text for line in event.lines)
        elif isinstance(event, StreamResumed):
            resumed.append(event)

    async with serving(server) as kube:
        options = LogOptions(follow=True)
        task = asyncio.create_task(follow_container(kube, "ns", "p", "c", options, emit, StreamControl()))
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 20
            while len(got) < 60 and loop.time() < deadline and not task.done():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert got == [f"n {i}" for i in range(60)]
    assert len(server.requests) == 5 and len(resumed) == 4
    # resumed from the start of the second of the last whole line seen, never with tailLines again
    assert server.requests[1]["sinceTime"] == format_since_time(lines[5][0])
    assert all("tailLines" not in q for q in server.requests[1:])
    assert all(q["timestamps"] == "true" and q["follow"] == "true" for q in server.requests)
