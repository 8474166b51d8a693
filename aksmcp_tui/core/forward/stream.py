"""One `pods/portforward` websocket stream (`v4.channel.k8s.io`) for one local connection.

Protocol (kubelet websocket variant, one port per websocket here): channel 0 carries data both
ways, channel 1 carries error text from the server. Every message is `[channel byte][payload]`;
the server's first message on each channel starts with the port (2 bytes, little-endian), which
is stripped whatever the framing. v4 has no half-close: a local EOF cannot be passed on, so the
stream stays open for the pod's answer until the pod side ends.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

import aiohttp

from aksmcp_tui.core.kube import KubeContext, KubeProblem

PROTOCOL = "v4.channel.k8s.io"
DATA, ERROR = 0, 1
# Keeps Azure Load Balancer / NAT flows (4 min idle by default) and proxies from dropping a quiet stream.
HEARTBEAT_SECONDS = 30.0


class StreamFailed(Exception):
    """The stream could not be opened or ended with an error; `reason` is plain words."""

    def __init__(self, reason: str, *, retryable: bool = True, problem: KubeProblem | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.problem = problem


_KUBELET_ERROR = re.compile(r"error forwarding port (\d+) to pod ([^,]+), uid [^:]*:\s*(.*)", re.S)


def readable_error(text: str) -> str:
    """The kubelet's error-channel text in plain words."""
    text = text.strip()
    match = _KUBELET_ERROR.match(text)
    if not match:
        return text[:300]
    port, pod, detail = match.groups()
    lowered = detail.lower()
    if "connection refused" in lowered:
        why = "nothing listens on that port in the pod (connection refused)"
    elif "timed out" in lowered or "timeout" in lowered:
        why = "the connection to the pod's port timed out"
    elif "no such container" in lowered or "not found" in lowered or "not running" in lowered:
        why = "the pod's container is not running"
    else:
        why = detail.strip().splitlines()[-1][:200] if detail.strip() else "unknown error"
    return f"pod {pod} port {port}: {why}"


@dataclass
class ReadResult:
    data: bytes | None  # None: the stream ended
    error: str | None = None


class PortForwardStream:
    """A connected websocket; `receive()` yields data chunks, `send()` writes with back-pressure."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, pod: str, port: int) -> None:
        self.ws = ws
        self.pod = pod
        self.port = port
        self._prefix_left = {DATA: 2, ERROR: 2}
        self.error_text = ""
        self.prewarmed = False  # opened before a client needed it (see Forwarder's spare stream)
        self.opened_at = time.monotonic()
        # A spare keeps one receive outstanding, so its death (or a server that speaks first) is
        # seen while it waits; the first receive() after it is handed out takes that result.
        self.first: asyncio.Task[ReadResult] | None = None

    def watch_first(self) -> asyncio.Task[ReadResult]:
        self.first = asyncio.ensure_future(self._receive_ws())
        return self.first

    @classmethod
    async def open(
        cls, kube: KubeContext, namespace: str, pod: str, port: int, *, heartbeat: float | None = HEARTBEAT_SECONDS
    ) -> PortForwardStream:
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/portforward"
        try:
            ws = await kube.websocket(path, query=[("ports", str(port))], protocols=(PROTOCOL,), heartbeat=heartbeat)
        except KubeProblem as problem:
            # A pod that went away or stopped is worth trying elsewhere; 401/403 and an API server
            # without websocket support are not.
            retryable = problem.kind not in ("unauthorized", "forbidden", "unsupported", "credentials")
            raise StreamFailed(problem.message, retryable=retryable, problem=problem) from None
        if ws.protocol != PROTOCOL:
            await ws.close()
            raise StreamFailed(
                f"the cluster of context {kube.name} answered the port-forward websocket without the "
                f"{PROTOCOL} protocol (it chose {ws.protocol or 'none'}); aksmcp needs Kubernetes 1.31 or later",
                retryable=False,
            )
        return cls(ws, pod, port)

    async def send(self, data: bytes) -> None:
        """Write local bytes to the pod; waits while the transport's buffer is full (back-pressure)."""
        await self.ws.send_bytes(b"\x00" + data)

    async def receive(self) -> ReadResult:
        """The next data chunk from the pod, or the end of the stream (with the error text if any)."""
        if self.first is not None:
            first, self.first = self.first, None
            return await first
        return await self._receive_ws()

    async def _receive_ws(self) -> ReadResult:
        while True:
            try:
                msg = await self.ws.receive()
            except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
                return ReadResult(None, self.error_text or f"the stream to pod {self.pod} broke: {exc}")
            if msg.type == aiohttp.WSMsgType.BINARY:
                payload = bytes(msg.data)
                if not payload:
                    continue
                channel, body = payload[0], payload[1:]
                skip = self._prefix_left.get(channel, 0)
                if skip:
                    taken = min(skip, len(body))
                    self._prefix_left[channel] = skip - taken
                    body = body[taken:]
                if not body:
                    continue
                if channel == DATA:
                    return ReadResult(body)
                if channel == ERROR:
                    self.error_text += body.decode("utf-8", "replace")
                continue
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return ReadResult(None, readable_error(self.error_text) if self.error_text else None)
            if msg.type == aiohttp.WSMsgType.ERROR:
                detail = self.error_text or str(self.ws.exception() or "websocket error")
                return ReadResult(None, readable_error(detail))
            # TEXT frames are not part of the binary protocol; ignore them

    async def close(self) -> None:
        if self.first is not None and not self.first.done():
            self.first.cancel()
        if not self.ws.closed:
            try:
                await self.ws.close()
            except (aiohttp.ClientError, ConnectionError, TimeoutError):
                pass
