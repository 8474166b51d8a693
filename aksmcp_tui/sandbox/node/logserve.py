"""GET /api/v1/namespaces/{ns}/pods/{name}/log, served from the node's log files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from aksmcp_tui.sandbox.apiserver.status import status_response
from aksmcp_tui.sandbox.node.logs import ContainerLog, LogRecord, parse_records, parse_time_ns, read_from

if TYPE_CHECKING:
    from aksmcp_tui.sandbox.node.container import ContainerRuntime
    from aksmcp_tui.sandbox.node.worker import PodWorker

_TRUE = {"1", "t", "true"}


class BadRequest(Exception):
    pass


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").strip().lower() in _TRUE


def _int(request: web.Request, name: str, minimum: int) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name}: invalid value {raw!r}: must be an integer") from None
    if value < minimum:
        raise BadRequest(f"{name}: Invalid value: {value}: must be greater than or equal to {minimum}")
    return value


class LogQuery:
    def __init__(self, request: web.Request) -> None:
        self.follow = _flag(request, "follow")
        self.timestamps = _flag(request, "timestamps")
        self.previous = _flag(request, "previous")
        self.tail = _int(request, "tailLines", 0)
        self.limit = _int(request, "limitBytes", 1)
        since_seconds = _int(request, "sinceSeconds", 1)
        since_time = request.query.get("sinceTime")
        if since_seconds is not None and since_time:
            raise BadRequest("at most one of sinceTime or sinceSeconds may be specified")
        self.since_ns: int | None = None
        if since_seconds is not None:
            self.since_ns = time.time_ns() - since_seconds * 1_000_000_000
        elif since_time:
            try:
                self.since_ns = parse_time_ns(since_time)
            except ValueError:
                raise BadRequest(f"sinceTime: invalid value {since_time!r}: must be RFC3339") from None
        stream = request.query.get("stream") or "All"
        if stream not in ("All", "Stdout", "Stderr"):
            raise BadRequest(f"stream: Unsupported value: {stream!r}: supported values: All, Stderr, Stdout")
        if stream != "All" and self.tail is not None:
            raise BadRequest("tailLines: Forbidden: tailLines can not be used with a specific stream")
        self.stream = stream.lower()
        self.sent = 0

    def keep(self, record: LogRecord) -> bool:
        if self.stream != "all" and record.stream != self.stream:
            return False
        return self.since_ns is None or record.time_ns >= self.since_ns

    def render(self, records: list[LogRecord]) -> bytes:
        out = b"".join(
            (r.timestamp.encode() + b" " if self.timestamps else b"") + r.text + b"\n" for r in records if self.keep(r)
        )
        if self.limit is not None:
            out = out[: max(self.limit - self.sent, 0)]
        self.sent += len(out)
        return out

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.sent >= self.limit


def choose_container(worker: PodWorker | None, pod: dict, name: str | None) -> str:
    spec = pod.get("spec") or {}
    pod_name = (pod.get("metadata") or {}).get("name")
    names = [str(c.get("name")) for c in spec.get("containers") or []]
    init_names = [str(c.get("name")) for c in spec.get("initContainers") or []]
    if not name:
        if len(names) == 1:
            return names[0]
        message = f"a container name must be specified for pod {pod_name}, choose one of: [{' '.join(names)}]"
        if init_names:
            message += f" or one of the init containers: [{' '.join(init_names)}]"
        raise BadRequest(message)
    if name not in names and name not in init_names:
        raise BadRequest(f"container {name} is not valid for pod {pod_name}")
    return name


def _waiting_message(c: ContainerRuntime | None, pod_name: str, name: str) -> str:
    reason = "ContainerCreating"
    if c is not None and "waiting" in c.state:
        reason = str(c.state["waiting"].get("reason") or reason)
    if reason in ("ErrImagePull", "ImagePullBackOff"):
        reason = "trying and failing to pull image"
    return f'container "{name}" in pod "{pod_name}" is waiting to start: {reason}'


async def serve_log(request: web.Request, pod: dict, worker: PodWorker | None) -> web.StreamResponse:
    pod_name = str((pod.get("metadata") or {}).get("name"))
    try:
        query = LogQuery(request)
        name = choose_container(worker, pod, request.query.get("container"))
    except BadRequest as error:
        return status_response(400, "BadRequest", str(error))
    c = worker.container(name) if worker is not None else None
    attempts = c.logs.attempts() if c is not None else []
    if not attempts:
        return status_response(400, "BadRequest", _waiting_message(c, pod_name, name))
    if query.previous:
        if len(attempts) < 2:
            return status_response(
                400, "BadRequest", f'previous terminated container "{name}" in pod "{pod_name}" not found'
            )
        path = c.logs.path_for(attempts[-2]) if c is not None else Path()
    else:
        path = c.logs.path_for(attempts[-1]) if c is not None else Path()

    response = web.StreamResponse(status=200)
    response.content_type = "text/plain"
    response.enable_chunked_encoding()
    await response.prepare(request)

    live: ContainerLog | None = None
    if query.follow and not query.previous and c is not None and c.log is not None and c.log.path == path:
        live = c.log
    generation = live.generation if live is not None else 0
    # No await between these reads: the node writes in this thread, so they see one consistent state.
    main_before = read_from(path, 0)
    records = parse_records(read_from(path.with_name(path.name + ".1"), 0) + main_before)
    records = [r for r in records if query.keep(r)]
    if query.tail is not None:
        records = records[-query.tail :] if query.tail else []
    await response.write(query.render(records))
    offset = len(main_before)

    while live is not None and not query.exhausted:
        closed = live.closed
        if live.generation != generation:
            rotated = read_from(live.rotated_path, offset) if live.generation == generation + 1 else b""
            fresh = read_from(path, 0)
            data, offset, generation = rotated + fresh, len(fresh), live.generation
        else:
            data = read_from(path, offset)
            offset += len(data)
        if data:
            try:
                await response.write(query.render(parse_records(data)))
            except (ConnectionResetError, RuntimeError):
                break
        if closed or (worker is not None and worker.done.is_set()):
            break
        if request.transport is None or request.transport.is_closing():
            break
        await live.wait_changed(1.0)
    try:
        await response.write_eof()
    except (ConnectionResetError, RuntimeError):
        pass
    return response
