"""The in-process engine against the sandbox: target kinds, ports by number and name, bytes both
ways with back-pressure, healing after a pod kill, waiting, readable errors, bad input."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aksmcp_tui.core.forward import ForwardError, Tunnel, open_tunnel
from aksmcp_tui.core.kube import KubeContext
from tests.forward.support import (
    ECHO_SERVER,
    create,
    delete_pod,
    echo_deployment,
    ensure_namespace,
    eventually,
    service,
    wait_ready,
)

pytestmark = pytest.mark.timeout(120)
NS = "fwd-engine"


@pytest.fixture
async def echo(kube: KubeContext) -> AsyncIterator[list[str]]:
    """Two echo pods behind svc/echo (created once per session, reused)."""
    await ensure_namespace(kube, NS)
    existing = await kube.get(f"/apis/apps/v1/namespaces/{NS}/deployments")
    if not existing.get("items"):
        await create(kube, NS, echo_deployment("echo", replicas=2))
        await create(
            kube,
            NS,
            service(
                "echo",
                [{"name": "echo", "port": 70, "targetPort": "echo"}, {"name": "web", "port": 80, "targetPort": 8080}],
            ),
        )
    yield await wait_ready(kube, NS, "app=echo", 2)


async def talk(port: int, payload: bytes = b"ping") -> tuple[str, bytes]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    try:
        hello = (await asyncio.wait_for(reader.readline(), 10)).decode().strip()
        writer.write(payload)
        await writer.drain()
        echoed = await asyncio.wait_for(reader.readexactly(len(payload)), 30)
    finally:
        writer.close()
    return hello.removeprefix("pod="), echoed


async def test_service_port_by_name_reaches_every_ready_pod(kube: KubeContext, echo: list[str]) -> None:
    async with open_tunnel(kube, NS, "svc/echo", "echo") as tunnel:
        assert tunnel.local_url == f"http://127.0.0.1:{tunnel.local_port}"
        assert tunnel.mcp_url == tunnel.local_url + "/mcp"
        served = set()
        for _ in range(4):
            pod, echoed = await talk(tunnel.local_port)
            assert echoed == b"ping"
            served.add(pod)
        # connections spread over the ready pods
        assert served == set(echo)
        status = tunnel.status()
        assert status.state == "active" and status.ready_pods == 2
        assert status.total_connections == 4 and status.bytes_out == 16
        assert status.remote_port == 70


async def test_service_port_by_number_maps_to_target_port(kube: KubeContext, echo: list[str]) -> None:
    async with open_tunnel(kube, NS, "svc/echo", 80) as tunnel:
        reader, writer = await asyncio.open_connection("127.0.0.1", tunnel.local_port)
        writer.write(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        body = await asyncio.wait_for(reader.read(), 20)
        writer.close()
        assert body.startswith(b"HTTP/1.0 200") and b"hello from echo-" in body


async def test_deploy_and_pod_targets(kube: KubeContext, echo: list[str]) -> None:
    async with open_tunnel(kube, NS, "deploy/echo", "echo") as tunnel:
        pod, echoed = await talk(tunnel.local_port, b"x" * 10)
        assert pod in echo and echoed == b"x" * 10
    async with open_tunnel(kube, NS, f"pod/{echo[1]}", 7000) as tunnel:
        for _ in range(2):
            pod, _ = await talk(tunnel.local_port)
            assert pod == echo[1]


async def test_bulk_bytes_both_ways_with_back_pressure(kube: KubeContext, echo: list[str]) -> None:
    payload = bytes(range(256)) * 16 * 1024  # 4 MiB
    async with open_tunnel(kube, NS, "deploy/echo", "echo") as tunnel:
        reader, writer = await asyncio.open_connection("127.0.0.1", tunnel.local_port)
        await reader.readline()

        async def send() -> None:
            writer.write(payload)
            await writer.drain()

        sender = asyncio.create_task(send())
        received = await asyncio.wait_for(reader.readexactly(len(payload)), 60)
        await sender
        writer.close()
        assert received == payload
        assert tunnel.status().bytes_in >= len(payload)


async def test_half_close_still_delivers_the_answer(kube: KubeContext, echo: list[str]) -> None:
    async with open_tunnel(kube, NS, "svc/echo", "web") as tunnel:
        reader, writer = await asyncio.open_connection("127.0.0.1", tunnel.local_port)
        writer.write(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        writer.write_eof()  # the client is done sending; the answer must still arrive
        body = await asyncio.wait_for(reader.read(), 20)
        writer.close()
        assert body.startswith(b"HTTP/1.0 200")


async def forward_drops(tunnel: Tunnel, pod: str) -> float:
    """When the forward's watch stopped counting `pod` as ready (from then on no new connection may go there)."""
    backends = tunnel.forwarder.backends
    while any(p.name == pod for p in backends.ready()):
        await backends.wait_changed(0.2)
    return time.monotonic()


async def loop_after_kill(tunnel: Tunnel, victim: str, until: Any) -> list[tuple[float, str | None, str]]:
    """A client looping connections until `until(pod)` is true: (start time, pod or None, error)."""
    attempts: list[tuple[float, str | None, str]] = []
    while True:
        started = time.monotonic()
        try:
            pod, echoed = await talk(tunnel.local_port)
            assert echoed == b"ping"
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            attempts.append((started, None, repr(exc)))
            continue
        attempts.append((started, pod, ""))
        if until(pod):
            return attempts


async def test_killed_pod_new_connections_succeed_within_a_second(kube: KubeContext, echo: list[str]) -> None:
    async with open_tunnel(kube, NS, "svc/echo", "echo") as tunnel:
        victim, _ = await talk(tunnel.local_port)
        # an open connection to a pod that is not killed keeps working
        survivor_pod = (set(echo) - {victim}).pop()
        reader, writer = await asyncio.open_connection("127.0.0.1", tunnel.local_port)
        first = (await reader.readline()).decode().strip().removeprefix("pod=")
        dropped = asyncio.create_task(forward_drops(tunnel, victim))
        killed_at = time.monotonic()
        await delete_pod(kube, NS, victim, grace=0)
        successes = 0

        def enough(pod: str) -> bool:
            nonlocal successes
            successes += pod != victim
            return successes >= 5

        attempts = await loop_after_kill(tunnel, victim, enough)
        knew_at = await dropped
        first_new = next(t for t, pod, _ in attempts if pod is not None and pod != victim)
        assert first_new - killed_at < 1.0, attempts
        # only a connection that raced the kill (opened before the watch said so) may fail
        late_failures = [a for a in attempts if a[1] is None and a[0] >= knew_at]
        assert late_failures == [], attempts
        if first == survivor_pod:
            writer.write(b"still here")
            assert await asyncio.wait_for(reader.readexactly(10), 10) == b"still here"
        writer.close()
    await wait_ready(kube, NS, "app=echo", 2)


async def test_bad_input_messages(kube: KubeContext, echo: list[str]) -> None:
    with pytest.raises(ForwardError, match=r"service nope not found in namespace fwd-engine"):
        async with open_tunnel(kube, NS, "svc/nope"):
            pass
    with pytest.raises(ForwardError, match=r"service echo .* has no port 9999 \(its ports: echo=70, web=80\)"):
        async with open_tunnel(kube, NS, "svc/echo", 9999):
            pass
    with pytest.raises(ForwardError, match=r"deployment echo has no container port grpc"):
        async with open_tunnel(kube, NS, "deploy/echo", "grpc"):
            pass
    with pytest.raises(ForwardError, match=r"not svc/NAME, deploy/NAME or pod/NAME"):
        async with open_tunnel(kube, NS, "echo"):
            pass
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    taken = holder.getsockname()[1]
    try:
        with pytest.raises(ForwardError) as caught:
            async with open_tunnel(kube, NS, "svc/echo", "echo", local_port=taken):
                pass
        message = str(caught.value)
        assert f"local port {taken} on 127.0.0.1 is taken by python" in message
        assert "--local-port" in message
    finally:
        holder.close()


async def standalone_pod(
    kube: KubeContext, name: str, code: str, labels: dict[str, str], port_name: str = "echo"
) -> None:
    """A bare pod without a readiness probe (Ready as soon as it runs, so it cannot flap under load)."""
    existing = {p["metadata"]["name"] for p in (await kube.get(f"/api/v1/namespaces/{NS}/pods"))["items"]}
    if name in existing:
        return
    await create(
        kube,
        NS,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "c",
                        "image": "example.com/x:1",
                        "command": [sys.executable, "-c", code],
                        "ports": [{"name": port_name, "containerPort": 7000}],
                    }
                ],
            },
        },
    )


DEAF = "import time\ntime.sleep(10**6)"


async def test_error_channel_reason_and_waiting_refusal(kube: KubeContext) -> None:
    # the pod declares 7000 but nothing listens there: the kubelet's error channel says so
    await ensure_namespace(kube, NS)
    await standalone_pod(kube, "deaf", DEAF, {"app": "deaf"})
    await wait_ready(kube, NS, "app=deaf", 1)
    async with open_tunnel(kube, NS, "pod/deaf", 7000, hold_timeout=1.5) as tunnel:
        assert await tunnel.wait_ready(30)
        reader, writer = await asyncio.open_connection("127.0.0.1", tunnel.local_port)
        writer.write(b"hello")
        data = await asyncio.wait_for(reader.read(), 20)
        writer.close()
        assert data == b""  # refused after the hold timeout
        status = tunnel.status()
        assert status.last_error is not None
        assert "pod deaf port 7000: nothing listens on that port in the pod" in status.last_error
        assert "connection refused after waiting 2 s" in status.last_error
        assert status.reconnects >= 1


async def test_no_pods_is_waiting_then_heals(kube: KubeContext) -> None:
    await ensure_namespace(kube, NS)
    await create(kube, NS, echo_deployment("lonely", replicas=0))
    async with open_tunnel(kube, NS, "deploy/lonely", "echo", hold_timeout=60) as tunnel:
        await eventually(lambda: _true(tunnel.forwarder.backends.synced.is_set()), 10, "synced")
        assert tunnel.status().state == "waiting"
        pending = asyncio.create_task(talk(tunnel.local_port))  # held, not refused
        await kube.request(
            "PATCH",
            f"/apis/apps/v1/namespaces/{NS}/deployments/lonely",
            body={"spec": {"replicas": 1}},
            content_type="application/strategic-merge-patch+json",
        )
        pod, echoed = await asyncio.wait_for(pending, 60)
        assert pod.startswith("lonely-") and echoed == b"ping"
        assert tunnel.status().state == "active"


async def _true(value: bool) -> bool:
    return value


async def test_single_replica_kill_heals_within_restart_to_ready_plus_one_second(kube: KubeContext) -> None:
    await ensure_namespace(kube, NS)
    await create(kube, NS, echo_deployment("solo", replicas=1))
    (victim,) = await wait_ready(kube, NS, "app=solo", 1)
    async with open_tunnel(kube, NS, "deploy/solo", "echo", hold_timeout=60) as tunnel:
        pod, _ = await talk(tunnel.local_port)
        assert pod == victim
        dropped = asyncio.create_task(forward_drops(tunnel, victim))
        await delete_pod(kube, NS, victim, grace=0)
        ready_at: list[float] = []

        async def replacement_ready() -> None:
            names = await wait_ready(kube, NS, "app=solo", 1)
            assert victim not in names
            ready_at.append(time.monotonic())

        watcher = asyncio.create_task(replacement_ready())
        # connections made while no pod is ready are held, then served by the replacement
        attempts = await loop_after_kill(tunnel, victim, lambda pod: pod != victim)
        served_at = time.monotonic()
        await watcher
        knew_at = await dropped
        assert served_at - ready_at[0] < 1.0, (served_at, ready_at)
        assert [a for a in attempts if a[1] is None and a[0] >= knew_at] == [], attempts


async def test_a_stream_that_fails_before_the_first_byte_is_retried_on_another_pod(kube: KubeContext) -> None:
    """Two ready pods behind one Service, one of which has nothing listening on the port: every
    client connection still gets an answer (the refused stream is retried on the other pod)."""
    await ensure_namespace(kube, NS)
    await standalone_pod(kube, "mixed-good", ECHO_SERVER, {"app": "mixed"})
    await standalone_pod(kube, "mixed-deaf", DEAF, {"app": "mixed"})
    await create(kube, NS, service("mixed", [{"name": "echo", "port": 7000, "targetPort": "echo"}]))
    await wait_ready(kube, NS, "app=mixed", 2)
    async with open_tunnel(kube, NS, "svc/mixed", "echo", prewarm=False) as tunnel:
        assert await tunnel.wait_ready(30)
        for _ in range(6):
            pod, echoed = await talk(tunnel.local_port)
            assert pod == "mixed-good" and echoed == b"ping"
        status = tunnel.status()
    assert status.reconnects >= 1  # some connections were first sent to mixed-deaf, then retried
    assert status.last_error is not None and "pod mixed-deaf port 7000: nothing listens" in status.last_error


# Answers the first request of each connection, then reads the next one and closes without an
# answer: what a draining HTTP server does to a kept-alive connection the client just reused.
SWALLOW_SERVER = """
import os, socket, threading
def serve(conn):
    with conn:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok")
        conn.recv(65536)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["SANDBOX_PORT_7000"]))); s.listen(64)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


async def test_an_mcp_request_on_a_connection_the_pod_closed_goes_to_a_fresh_stream(kube: KubeContext) -> None:
    await ensure_namespace(kube, NS)
    await standalone_pod(kube, "swallow", SWALLOW_SERVER, {"app": "swallow"}, port_name="mcp")
    await wait_ready(kube, NS, "app=swallow", 1)
    request = b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    async with open_tunnel(kube, NS, "pod/swallow") as tunnel:  # the port named mcp: an HTTP target
        assert await tunnel.wait_ready(30)
        reader, writer = await asyncio.open_connection("127.0.0.1", tunnel.local_port)
        for _ in range(3):  # each request after the first lands on a connection the pod then closes
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
            assert head.startswith(b"HTTP/1.1 200 OK")
            assert await asyncio.wait_for(reader.readexactly(2), 20) == b"ok"
        writer.close()
        assert tunnel.status().reconnects >= 2
