"""pods/portforward over a websocket, the kubelet's ``v4.channel.k8s.io`` protocol.

For the i-th requested port, channel 2i carries data both ways and channel 2i+1 carries error text
from the server. Every message is ``[channel byte][payload]`` (base64 variant: ``'0'+channel`` then
base64 text). The server's first message on each channel is the port, 2 bytes little-endian, sent
as its own 3-byte message (the official sync client insists on that). When the pod's port cannot
be reached, the error channel gets the kubelet's message; the websocket closes once every port's
stream has ended.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import struct
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from aksmcp_tui.sandbox.apiserver.status import status_response

if TYPE_CHECKING:
    from aksmcp_tui.sandbox.node.worker import PodWorker

PROTOCOLS = ("v4.channel.k8s.io", "v4.base64.channel.k8s.io")
_CHUNK = 64 * 1024


def parse_ports(request: web.Request) -> list[int]:
    ports: list[int] = []
    for raw in request.query.getall("ports", []):
        for part in raw.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or not 0 < int(part) < 65536:
                raise ValueError(f"invalid port {part!r}: must be an integer between 1 and 65535")
            ports.append(int(part))
    if not ports:
        raise ValueError('query parameter "ports" is required')
    return ports


class _Channels:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.base64 = ws.ws_protocol == "v4.base64.channel.k8s.io"
        self.lock = asyncio.Lock()

    async def send(self, channel: int, payload: bytes) -> None:
        async with self.lock:
            if self.ws.closed:
                return
            if self.base64:
                await self.ws.send_str(chr(ord("0") + channel) + base64.b64encode(payload).decode())
            else:
                await self.ws.send_bytes(bytes([channel]) + payload)

    def decode(self, msg: aiohttp.WSMessage) -> tuple[int, bytes] | None:
        if msg.type == aiohttp.WSMsgType.BINARY and msg.data:
            return msg.data[0], bytes(msg.data[1:])
        if msg.type == aiohttp.WSMsgType.TEXT and msg.data:
            text: str = msg.data
            channel = ord(text[0]) - ord("0") if self.base64 else ord(text[0])
            payload = text[1:]
            try:
                return channel, base64.b64decode(payload) if self.base64 else payload.encode()
            except ValueError:
                return None
        return None


class _PortStream:
    def __init__(self, index: int, port: int) -> None:
        self.index = index
        self.port = port
        self.writer: asyncio.StreamWriter | None = None
        self.done = asyncio.Event()
        self.settled = asyncio.Event()  # connected, or failed to


async def _connect_and_pump(stream: _PortStream, local: int, channels: _Channels, pod_name: str, uid: str) -> None:
    try:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", local)
        except OSError as error:
            # asyncio's own strerror ("Connect call failed ...") is not what the kubelet says
            detail = os.strerror(error.errno) if error.errno else str(error)
            message = (
                f"error forwarding port {stream.port} to pod {pod_name}, uid {uid}: failed to connect to "
                f"localhost:{stream.port} inside the pod: dial tcp4 127.0.0.1:{local}: connect: {detail.lower()}"
            )
            await channels.send(2 * stream.index + 1, message.encode())
            return
        stream.writer = writer
        stream.settled.set()
        while True:
            data = await reader.read(_CHUNK)
            if not data:
                return
            await channels.send(2 * stream.index, data)
    except (ConnectionError, RuntimeError):
        return
    finally:
        if stream.writer is not None:
            stream.writer.close()
        stream.done.set()
        stream.settled.set()


async def serve_portforward(request: web.Request, pod: dict, worker: PodWorker | None) -> web.StreamResponse:
    meta = pod.get("metadata") or {}
    pod_name, uid = str(meta.get("name")), str(meta.get("uid"))
    try:
        ports = parse_ports(request)
    except ValueError as error:
        return status_response(400, "BadRequest", str(error))
    if worker is None or worker.stopping or (pod.get("status") or {}).get("phase") not in (None, "Running", "Pending"):
        return status_response(400, "BadRequest", f"unable to upgrade connection: pod {pod_name} is not running")

    ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0)
    await ws.prepare(request)
    worker.websockets.add(ws)
    channels = _Channels(ws)
    streams = [_PortStream(i, port) for i, port in enumerate(ports)]
    tasks: list[asyncio.Task[None]] = []
    try:
        for s in streams:
            await channels.send(2 * s.index, struct.pack("<H", s.port))
            await channels.send(2 * s.index + 1, struct.pack("<H", s.port))
        for s in streams:
            tasks.append(asyncio.create_task(_connect_and_pump(s, worker.local_port(s.port), channels, pod_name, uid)))

        async def close_when_all_done() -> None:
            await asyncio.gather(*(s.done.wait() for s in streams))
            await ws.close()

        closer = asyncio.create_task(close_when_all_done())
        tasks.append(closer)
        async for msg in ws:
            decoded = channels.decode(msg)
            if decoded is None:
                continue
            channel, payload = decoded
            index, is_error = divmod(channel, 2)
            if is_error or index >= len(streams) or not payload:
                continue
            stream = streams[index]
            # Data that arrives before the connection is up would be lost: wait for it.
            await stream.settled.wait()
            if stream.writer is not None and not stream.done.is_set():
                stream.writer.write(payload)
                with contextlib.suppress(ConnectionError):
                    await stream.writer.drain()
    finally:
        for task in tasks:
            task.cancel()
        for s in streams:
            if s.writer is not None:
                s.writer.close()
        await ws.close()
        worker.websockets.discard(ws)
    return ws
