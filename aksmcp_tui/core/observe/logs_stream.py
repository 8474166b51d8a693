"""One container's log stream: follow, resume after a drop (see logs_resume), hand over batches."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aksmcp_tui.core.kube import KubeContext, KubeProblem
from aksmcp_tui.core.observe.logs_model import (
    LogBatch,
    LogEvent,
    LogLine,
    LogNotice,
    LogOptions,
    StreamDropped,
    StreamResumed,
    parse_timestamp,
)
from aksmcp_tui.core.observe.logs_resume import ResumeCursor

Emit = Callable[[LogEvent], Awaitable[None]]
BACKOFF_START = 0.2
BACKOFF_MAX = 5.0


@dataclass
class StreamControl:
    """Set by the pod watcher: `leaving` once the pod is deleted or finished (drain, do not resume);
    `changed` whenever the pod changed (a waiting stream retries at once instead of backing off)."""

    leaving: bool = False
    changed: asyncio.Event | None = None

    def __post_init__(self) -> None:
        self.changed = asyncio.Event()

    def poke(self) -> None:
        assert self.changed is not None
        self.changed.set()


def split_lines(pod: str, container: str, data: bytes) -> list[LogLine]:
    """Complete lines (with timestamps) → LogLines. The caller keeps any partial tail."""
    out: list[LogLine] = []
    append = out.append
    parse = parse_timestamp
    for text in data.decode("utf-8", "replace").split("\n"):
        stamp, sep, message = text.partition(" ")
        try:
            ns = parse(stamp) if sep or stamp else 0
        except ValueError:
            ns, stamp, message = 0, "", text
        if message.endswith("\r"):
            message = message[:-1]
        append(LogLine(pod, container, ns, stamp, message))
    return out


async def follow_container(
    kube: KubeContext,
    namespace: str,
    pod: str,
    container: str,
    options: LogOptions,
    emit: Emit,
    control: StreamControl,
) -> None:
    """Read one container's log until it ends for good (not following, the pod left, or a fatal error).

    Every (re)connection after the first asks for sinceTime and drops the lines it had already seen,
    so a drop loses nothing and repeats nothing."""
    path = f"/api/v1/namespaces/{namespace}/pods/{pod}/log"
    cursor = ResumeCursor()
    backoff = BACKOFF_START
    while True:
        query: dict[str, str | int] = {"container": container, "timestamps": "true"}
        if options.follow and not options.previous:
            query["follow"] = "true"
        if options.previous:
            query["previous"] = "true"
        since = cursor.since_time()
        if since is not None:
            query["sinceTime"] = since
            cursor.start_replay()
        else:  # nothing seen yet (first try, or the container was not running): the user's window
            if options.tail is not None:
                query["tailLines"] = options.tail
            if options.since_seconds is not None:
                query["sinceSeconds"] = options.since_seconds
        partial = b""
        reason = "the stream ended"
        try:
            chunks = kube.stream(path, query=query, read_timeout=options.read_timeout if options.follow else 60.0)
            opened = False
            async for chunk in chunks:
                if not opened:
                    opened = True
                    backoff = BACKOFF_START
                    if since is not None:
                        await emit(StreamResumed(pod, container, since))
                data = partial + chunk
                cut = data.rfind(b"\n")
                if cut < 0:
                    partial = data
                    continue
                partial = data[cut + 1 :]
                lines = split_lines(pod, container, data[:cut])
                fresh = [line for line in lines if cursor.accept(line.time_ns)]
                if fresh:
                    await emit(LogBatch(fresh))
            # A partial last line is not emitted: the resume reads it again, whole.
        except KubeProblem as problem:
            reason = problem.message
            if problem.kind in ("not_found", "forbidden", "unauthorized") or (
                problem.status == 400 and (options.previous or not options.follow)
            ):
                if problem.kind != "not_found" or not control.leaving:
                    await emit(LogNotice(f"{pod}/{container}: {problem.message}", pod=pod))
                return
            if problem.status == 400:
                # "waiting to start" / ContainerCreating: retry when the pod changes or after a while
                reason = problem.message
        if not options.follow or options.previous or control.leaving:
            return
        await emit(StreamDropped(pod, container, reason))
        assert control.changed is not None
        control.changed.clear()
        try:
            await asyncio.wait_for(control.changed.wait(), backoff)
        except TimeoutError:
            pass
        backoff = min(backoff * 2, BACKOFF_MAX)
        if control.leaving:
            # the pod is going: one last read picks up its final lines (lossless), then stop
            options = dataclasses.replace(options, follow=False)
