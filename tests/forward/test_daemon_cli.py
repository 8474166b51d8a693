"""The daemon and the `aksmcp forward` CLI as real processes: add/ls/rm/logs, ports that survive a
daemon restart, a 0600 control socket, a stale socket, and bad input with clear messages."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from aksmcp_tui.core.forward.ports import stable_port
from aksmcp_tui.core.forward.store import definitions_path, log_path, pid_path, socket_path
from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from tests.forward.support import create, echo_deployment, ensure_namespace, server_deployment, service, wait_ready

pytestmark = pytest.mark.timeout(180)
NS = "fwd-cli"
JSON_FIELDS = {
    "id",
    "context",
    "namespace",
    "target",
    "local_url",
    "state",
    "pod",
    "reconnects",
    "mcp_latency_ms",
    "last_error",
}


def aksmcp(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aksmcp_tui", *args], capture_output=True, text=True, timeout=timeout, env=os.environ
    )


def spawn_follower() -> subprocess.Popen[str]:
    """`aksmcp forward logs -f`, reading new lines only."""
    return subprocess.Popen(
        [sys.executable, "-m", "aksmcp_tui", "forward", "logs", "-f", "--tail", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ,
    )


def ls_json() -> list[dict[str, Any]]:
    done = aksmcp("forward", "ls", "-o", "json")
    assert done.returncode == 0, done.stderr
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def wait_for(check: Any, within: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie of ours counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


@pytest.fixture
def daemon_env(forward_sandbox: ThreadedSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("KUBECONFIG", str(forward_sandbox.kubeconfig_path))
    yield
    pid = None
    try:
        pid = int(pid_path().read_text())
    except (OSError, ValueError):
        pass
    aksmcp("forward", "daemon", "--stop")
    if pid:
        try:
            wait_for(lambda: pid_gone(pid), 20, "the daemon to stop")
        except AssertionError:
            os.kill(pid, 9)


@pytest.fixture
async def workloads(kube: KubeContext) -> AsyncIterator[None]:
    await ensure_namespace(kube, NS)
    existing = {d["metadata"]["name"] for d in (await kube.get(f"/apis/apps/v1/namespaces/{NS}/deployments"))["items"]}
    if "echo" not in existing:
        await create(kube, NS, echo_deployment("echo", replicas=2))
        await create(kube, NS, echo_deployment("empty", replicas=0))
        await create(kube, NS, server_deployment("mcp", replicas=1))
        await create(kube, NS, service("mcp", [{"name": "mcp", "port": 80, "targetPort": "mcp"}]))
    await wait_ready(kube, NS, "app=echo", 2)
    await wait_ready(kube, NS, "app=mcp", 1, within=120)
    yield


async def echo_round_trip(url: str) -> str:
    port = int(url.rsplit(":", 1)[1])
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    hello = (await asyncio.wait_for(reader.readline(), 20)).decode().strip()
    writer.write(b"abc")
    assert await asyncio.wait_for(reader.readexactly(3), 20) == b"abc"
    writer.close()
    return hello


async def test_add_ls_rm_logs_and_restart_keeps_ports(daemon_env: None, workloads: None) -> None:
    added = await asyncio.to_thread(aksmcp, "forward", "add", "deploy/echo", "-n", NS, "--remote-port", "echo")
    assert added.returncode == 0, added.stderr
    echo_url = added.stdout.strip()
    # no --local-port: the stable port of (context, namespace, deployment)
    assert echo_url == f"http://127.0.0.1:{stable_port('aksmcp-sandbox', NS, 'deploy/echo')}"
    assert (await echo_round_trip(echo_url)).startswith("pod=echo-")

    mcp = await asyncio.to_thread(aksmcp, "forward", "add", "svc/mcp", "-n", NS)
    assert mcp.returncode == 0, mcp.stderr
    mcp_url = mcp.stdout.strip()
    again = await asyncio.to_thread(aksmcp, "forward", "add", "svc/mcp", "-n", NS)
    assert again.returncode == 0 and again.stdout.strip() == mcp_url  # idempotent

    # the control socket and the saved definitions are owner-only
    assert stat.S_IMODE(socket_path().stat().st_mode) == 0o600
    assert stat.S_IMODE(definitions_path().stat().st_mode) == 0o600

    def mcp_probed() -> list[dict[str, Any]] | None:
        rows = ls_json()
        return rows if any(r["target"] == "svc/mcp" and r["mcp_latency_ms"] for r in rows) else None

    rows = await asyncio.to_thread(wait_for, mcp_probed, 40, "an MCP latency in ls")
    assert all(set(r) >= JSON_FIELDS for r in rows)
    by_target = {r["target"]: r for r in rows}
    assert by_target["svc/mcp"]["state"] == "active" and by_target["svc/mcp"]["pod"].startswith("mcp-")
    assert by_target["svc/mcp"]["local_url"] == mcp_url
    assert by_target["deploy/echo"]["local_url"] == echo_url

    table = await asyncio.to_thread(aksmcp, "forward", "ls")
    assert table.returncode == 0
    assert table.stdout.splitlines()[0].split() == [
        "ID",
        "TARGET",
        "NAMESPACE",
        "CONTEXT",
        "LOCAL",
        "STATE",
        "POD",
        "RECONNECTS",
        "MCP",
        "ERROR",
    ]

    # restart the daemon: the same forwards on the same ports, without any user action
    old_pid = int(pid_path().read_text())
    stopped = await asyncio.to_thread(aksmcp, "forward", "daemon", "--stop")
    assert stopped.returncode == 0
    await asyncio.to_thread(wait_for, lambda: pid_gone(old_pid), 20, "the old daemon to exit")
    offline = await asyncio.to_thread(aksmcp, "forward", "ls", "-o", "json")
    assert offline.returncode == 1 and "no forward daemon runs" in offline.stderr
    assert {r["local_url"] for r in json.loads(offline.stdout)} == {echo_url, mcp_url}
    started = await asyncio.to_thread(aksmcp, "forward", "daemon", "--detach")
    assert started.returncode == 0, started.stderr
    assert int(pid_path().read_text()) != old_pid

    def both_active() -> list[dict[str, Any]] | None:
        rows = ls_json()
        return rows if len(rows) == 2 and all(r["state"] == "active" for r in rows) else None

    rows = await asyncio.to_thread(wait_for, both_active, 40, "both forwards active again")
    assert {r["local_url"] for r in rows} == {echo_url, mcp_url}
    assert (await echo_round_trip(echo_url)).startswith("pod=echo-")

    removed = await asyncio.to_thread(aksmcp, "forward", "rm", "deploy/echo", "-n", NS)
    assert removed.returncode == 0, removed.stderr
    assert [r["target"] for r in ls_json()] == ["svc/mcp"]
    with pytest.raises(OSError):
        await echo_round_trip(echo_url)  # the port is closed

    logs = await asyncio.to_thread(aksmcp, "forward", "logs")
    assert logs.returncode == 0
    assert "forward daemon" in logs.stdout and "removed" in logs.stdout
    assert log_path().exists() and stat.S_IMODE(log_path().stat().st_mode) == 0o600


async def test_bad_input_is_clear_and_other_forwards_keep_running(
    daemon_env: None, workloads: None, tmp_path: Path
) -> None:
    good = await asyncio.to_thread(aksmcp, "forward", "add", "deploy/echo", "-n", NS, "--remote-port", "echo")
    assert good.returncode == 0, good.stderr
    url = good.stdout.strip()

    unknown = await asyncio.to_thread(aksmcp, "forward", "add", "svc/nope", "-n", NS)
    assert unknown.returncode == 1
    assert f"service nope not found in namespace {NS}" in unknown.stderr

    bad_port = await asyncio.to_thread(
        aksmcp, "forward", "add", "deploy/echo", "-n", "default", "--remote-port", "grpc"
    )
    assert bad_port.returncode == 1
    assert "not found" in bad_port.stderr  # no deploy/echo in default

    no_port = await asyncio.to_thread(aksmcp, "forward", "add", "svc/mcp", "-n", NS, "--remote-port", "9999")
    assert no_port.returncode == 1 and "has no port 9999 (its ports: mcp=80)" in no_port.stderr

    syntax = await asyncio.to_thread(aksmcp, "forward", "add", "echo", "-n", NS)
    assert syntax.returncode == 2 and "not svc/NAME, deploy/NAME or pod/NAME" in syntax.stderr

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    taken = holder.getsockname()[1]
    try:
        busy = await asyncio.to_thread(aksmcp, "forward", "add", "svc/mcp", "-n", NS, "--local-port", str(taken))
    finally:
        holder.close()
    assert busy.returncode == 1
    assert f"local port {taken} on 127.0.0.1 is taken by python" in busy.stderr
    assert f"(pid {os.getpid()})" in busy.stderr and "--local-port" in busy.stderr

    empty = await asyncio.to_thread(aksmcp, "forward", "add", "deploy/empty", "-n", NS, "--remote-port", "echo")
    assert empty.returncode == 1
    assert "has no pods" in empty.stderr

    unreachable = tmp_path / "unreachable.yaml"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    unreachable.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        f"clusters: [{{name: gone, cluster: {{server: 'http://127.0.0.1:{dead_port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: u, namespace: x}}]\n"
    )
    gone = await asyncio.to_thread(aksmcp, "forward", "add", "deploy/echo", "--kubeconfig", str(unreachable))
    assert gone.returncode == 1
    assert "cannot reach the cluster of context gone" in gone.stderr and "connection refused" in gone.stderr

    missing = await asyncio.to_thread(aksmcp, "forward", "rm", "nothing-here")
    assert missing.returncode == 1 and "no forward 'nothing-here'" in missing.stderr

    # none of that disturbed the good forward
    rows = ls_json()
    assert [r["local_url"] for r in rows] == [url] or url in [r["local_url"] for r in rows]
    assert (await echo_round_trip(url)).startswith("pod=echo-")

    # a second daemon refuses to start while one runs
    second = await asyncio.to_thread(aksmcp, "forward", "daemon")
    assert second.returncode == 1 and "a forward daemon already runs (pid" in second.stderr


async def test_stale_socket_is_reported_then_replaced(daemon_env: None, workloads: None) -> None:
    path = socket_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # bound, never listening, then closed: what a crashed daemon leaves
    stale.close()
    assert path.exists()
    ls = await asyncio.to_thread(aksmcp, "forward", "ls")
    assert ls.returncode == 1 and "no forward daemon runs" in ls.stderr
    follow = await asyncio.to_thread(aksmcp, "forward", "logs", "-f")
    assert follow.returncode == 1 and "no forward daemon runs" in follow.stderr
    started = await asyncio.to_thread(aksmcp, "forward", "daemon", "--detach")
    assert started.returncode == 0, started.stderr
    logs = await asyncio.to_thread(aksmcp, "forward", "logs")
    assert "replaced a stale control socket" in logs.stdout
    assert ls_json() == []

    # logs -f follows new lines as they come
    follower = spawn_follower()
    try:
        added = await asyncio.to_thread(aksmcp, "forward", "add", "deploy/echo", "-n", NS, "--remote-port", "echo")
        assert added.returncode == 0, added.stderr
        assert follower.stdout is not None

        def added_line() -> str:
            for line in follower.stdout:  # type: ignore[union-attr]
                if "added" in line:
                    return line
            return ""

        line = await asyncio.wait_for(asyncio.to_thread(added_line), 30)
        assert f"{NS}/deploy/echo -> http://127.0.0.1:" in line
    finally:
        follower.kill()
        follower.wait()
