"""pods/portforward: the v4.channel.k8s.io websocket protocol, bridged to the pod's local port."""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from kubernetes.stream import portforward

from aksmcp_tui.sandbox.node.testing import (
    HTTP_SERVER,
    NodeHarness,
    condition,
    pod_manifest,
    python_container,
)

pytestmark = pytest.mark.timeout(90)

REQUEST = b"GET /hello HTTP/1.0\r\nHost: forwarded.example\r\n\r\n"


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[NodeHarness]:
    async with NodeHarness(tmp_path / "state") as h:
        yield h


async def _web_pod(harness: NodeHarness, name: str = "web") -> None:
    container = python_container(
        "web",
        HTTP_SERVER,
        ports=[{"containerPort": 8080}],
        readinessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1},
    )
    await harness.create(pod_manifest(name, [container]))
    await harness.wait_pod(name, lambda p: condition(p, "Ready"), what="Ready")


def _forward_url(harness: NodeHarness, name: str, ports: str) -> str:
    return f"{harness.url}/api/v1/namespaces/default/pods/{name}/portforward?ports={ports}"


async def _collect(ws: aiohttp.ClientWebSocketResponse, decode: bool = False) -> list[tuple[int, bytes]]:
    frames = []
    async for msg in ws:
        if decode:
            assert msg.type == aiohttp.WSMsgType.TEXT
            frames.append((int(msg.data[0]), base64.b64decode(msg.data[1:])))
        else:
            assert msg.type == aiohttp.WSMsgType.BINARY
            frames.append((msg.data[0], bytes(msg.data[1:])))
    return frames


async def test_raw_websocket_client_reaches_the_pod_http_server(harness: NodeHarness) -> None:
    await _web_pod(harness)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(_forward_url(harness, "web", "8080"), protocols=("v4.channel.k8s.io",)) as ws,
    ):
        assert ws.protocol == "v4.channel.k8s.io"
        first = await ws.receive_bytes(timeout=10)
        second = await ws.receive_bytes(timeout=10)
        # each channel's first frame is the port, little-endian, as its own 3-byte message
        assert first == b"\x00" + struct.pack("<H", 8080)
        assert second == b"\x01" + struct.pack("<H", 8080)
        await ws.send_bytes(b"\x00" + REQUEST)
        frames = await asyncio.wait_for(_collect(ws), 20)  # HTTP/1.0: the server closes, so does the socket
    data = b"".join(payload for channel, payload in frames if channel == 0)
    assert data.startswith(b"HTTP/1.0 200")
    assert data.endswith(b"hello from web host=forwarded.example")
    assert not [payload for channel, payload in frames if channel == 1]


async def test_base64_subprotocol(harness: NodeHarness) -> None:
    await _web_pod(harness)
    protocol = "v4.base64.channel.k8s.io"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(_forward_url(harness, "web", "8080"), protocols=(protocol,)) as ws,
    ):
        assert ws.protocol == protocol
        assert await ws.receive_str(timeout=10) == "0" + base64.b64encode(struct.pack("<H", 8080)).decode()
        assert await ws.receive_str(timeout=10) == "1" + base64.b64encode(struct.pack("<H", 8080)).decode()
        await ws.send_str("0" + base64.b64encode(REQUEST).decode())
        frames = await asyncio.wait_for(_collect(ws, decode=True), 20)
    data = b"".join(payload for channel, payload in frames if channel == 0)
    assert data.startswith(b"HTTP/1.0 200") and b"hello from web" in data


async def test_error_channel_when_nothing_listens(harness: NodeHarness) -> None:
    container = python_container("c", "import time\nwhile True: time.sleep(1)", ports=[{"containerPort": 8080}])
    await harness.create(pod_manifest("deaf", [container]))
    await harness.wait_pod("deaf", lambda p: condition(p, "Ready"))
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(_forward_url(harness, "deaf", "8080"), protocols=("v4.channel.k8s.io",)) as ws,
    ):
        frames = await asyncio.wait_for(_collect(ws), 20)
    assert frames[:2] == [(0, struct.pack("<H", 8080)), (1, struct.pack("<H", 8080))]
    errors = b"".join(payload for channel, payload in frames[2:] if channel == 1).decode()
    assert "error forwarding port 8080 to pod deaf" in errors and "connection refused" in errors


async def test_two_ports_on_one_websocket(harness: NodeHarness) -> None:
    code = HTTP_SERVER.replace("os.environ['PORT']", "os.environ['SANDBOX_PORT_' + sys.argv[1]]")
    containers = [
        python_container(
            name,
            code,
            args=[str(port)],
            ports=[{"containerPort": port}],
            readinessProbe={"tcpSocket": {"port": port}, "periodSeconds": 1},
        )
        for name, port in (("one", 8080), ("two", 9090))
    ]
    await harness.create(pod_manifest("pair", containers))
    await harness.wait_pod("pair", lambda p: condition(p, "Ready"))
    url = f"{harness.url}/api/v1/namespaces/default/pods/pair/portforward?ports=8080&ports=9090"
    async with aiohttp.ClientSession() as session, session.ws_connect(url, protocols=("v4.channel.k8s.io",)) as ws:
        initial = [await ws.receive_bytes(timeout=10) for _ in range(4)]
        assert sorted(initial) == sorted(
            [bytes([ch]) + struct.pack("<H", port) for ch, port in ((0, 8080), (1, 8080), (2, 9090), (3, 9090))]
        )
        await ws.send_bytes(b"\x00" + REQUEST)
        await ws.send_bytes(b"\x02" + REQUEST)
        frames = await asyncio.wait_for(_collect(ws), 20)
    for channel in (0, 2):
        data = b"".join(payload for ch, payload in frames if ch == channel)
        assert data.startswith(b"HTTP/1.0 200"), channel


async def test_missing_ports_parameter_is_a_400_status(harness: NodeHarness) -> None:
    await _web_pod(harness)
    url = f"{harness.url}/api/v1/namespaces/default/pods/web/portforward"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 400
        assert "ports" in (await resp.json())["message"]


def _http_through(pf: object, port: int) -> bytes:
    sock = pf.socket(port)  # type: ignore[attr-defined]
    sock.setblocking(True)
    sock.settimeout(20)
    sock.sendall(REQUEST)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


async def test_official_sync_client_port_forward(harness: NodeHarness) -> None:
    await _web_pod(harness)
    core = harness.kube_client()

    def forward() -> tuple[bytes, object]:
        pf = portforward(core.connect_get_namespaced_pod_portforward, "web", "default", ports="8080")
        data = _http_through(pf, 8080)
        return data, pf.error(8080)

    data, error = await asyncio.to_thread(forward)
    assert data.startswith(b"HTTP/1.0 200") and b"hello from web" in data
    assert error is None


async def test_official_sync_client_sees_the_error_channel(harness: NodeHarness) -> None:
    container = python_container("c", "import time\nwhile True: time.sleep(1)", ports=[{"containerPort": 8080}])
    await harness.create(pod_manifest("deaf", [container]))
    await harness.wait_pod("deaf", lambda p: condition(p, "Ready"))
    core = harness.kube_client()

    def forward() -> object:
        pf = portforward(core.connect_get_namespaced_pod_portforward, "deaf", "default", ports="8080")
        sock = pf.socket(8080)
        sock.settimeout(20)
        assert sock.recv(100) == b""  # the client closes the local socket when the error arrives
        return pf.error(8080)

    error = await asyncio.to_thread(forward)
    assert isinstance(error, str) and "connection refused" in error


async def test_deleting_the_pod_closes_its_port_forwards(harness: NodeHarness) -> None:
    code = (
        "import os, socket, time\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen()\n"
        "conns = []\n"
        "while True: conns.append(s.accept()[0])  # accept and hold every connection open\n"
    )
    container = python_container(
        "c", code, ports=[{"containerPort": 7000}], readinessProbe={"tcpSocket": {"port": 7000}, "periodSeconds": 1}
    )
    await harness.create(pod_manifest("holder", [container], terminationGracePeriodSeconds=1))
    await harness.wait_pod("holder", lambda p: condition(p, "Ready"))
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(_forward_url(harness, "holder", "7000"), protocols=("v4.channel.k8s.io",)) as ws,
    ):
        assert [await ws.receive_bytes(timeout=10) for _ in range(2)] == [b"\x00X\x1b", b"\x01X\x1b"]
        await harness.store.delete("pods", "default", "holder")
        frames = await asyncio.wait_for(_collect(ws), 20)  # ends: the server closed the websocket
        assert ws.closed
    assert not [payload for channel, payload in frames if channel == 0]


ECHO_SERVER = """
import os, socket, threading
def serve(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen()
while True:
    threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
"""


async def test_large_transfers_and_concurrent_forwards_keep_every_byte(harness: NodeHarness) -> None:
    container = python_container(
        "echo",
        ECHO_SERVER,
        ports=[{"containerPort": 5000}],
        readinessProbe={"tcpSocket": {"port": 5000}, "periodSeconds": 1},
    )
    await harness.create(pod_manifest("echo", [container]))
    await harness.wait_pod("echo", lambda p: condition(p, "Ready"))

    async def round_trip(session: aiohttp.ClientSession, seed: int) -> bytes:
        payload = bytes((seed + i) % 251 for i in range(1_000_000))
        async with session.ws_connect(_forward_url(harness, "echo", "5000"), protocols=("v4.channel.k8s.io",)) as ws:
            await ws.receive_bytes(timeout=10)
            await ws.receive_bytes(timeout=10)
            for start in range(0, len(payload), 100_000):
                await ws.send_bytes(b"\x00" + payload[start : start + 100_000])
            received = b""
            while len(received) < len(payload):
                msg = await ws.receive_bytes(timeout=20)
                assert msg[0] == 0
                received += msg[1:]
        assert received == payload
        return received

    async with aiohttp.ClientSession() as session:
        results = await asyncio.gather(*(round_trip(session, seed) for seed in range(5)))
    assert len(results) == 5
