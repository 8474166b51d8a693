"""End to end with the real forward daemon (issue 7): `aksmcp connect cursor deploy/NAME` creates the
managed forward and writes an entry that answers MCP; when the forward is re-created on another port
(its old one taken), the daemon rewrites the entry by itself and it answers again."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import pytest
from forward.support import create, ensure_namespace, wait_ready

from aksmcp_tui.core.ide.record import load as load_record
from aksmcp_tui.core.kube import KubeContext

from .clientfiles import endpoint, load
from .conftest import Home, aksmcp
from .test_deploy_target import KEY, keyed_deployment, list_tools, put_secret

pytestmark = pytest.mark.timeout(180)
NAMESPACE = "ide-daemon"


async def test_daemon_forward_and_port_change(ide_home: Home, daemon: None, kube: KubeContext) -> None:
    await ensure_namespace(kube, NAMESPACE)
    await put_secret(kube, "hook-key", KEY, NAMESPACE)
    await create(kube, NAMESPACE, keyed_deployment("hook-mcp", "hook-key"))
    await wait_ready(kube, NAMESPACE, "app=hook-mcp", 1)

    done = await asyncio.to_thread(aksmcp, "connect", "cursor", "deploy/hook-mcp", "-n", NAMESPACE)
    assert done.returncode == 0, done.stderr
    path = ide_home.home / ".cursor" / "mcp.json"
    url, headers = endpoint("cursor", load("cursor", path), "hook-mcp", KEY)
    assert "system_info" in await list_tools(url, headers)
    old_port = urlsplit(url).port
    assert old_port and f"-> {url}" in done.stdout

    # The forward goes, and its port is taken by someone else before it comes back.
    removed = await asyncio.to_thread(aksmcp, "forward", "rm", "deploy/hook-mcp", "-n", NAMESPACE)
    assert removed.returncode == 0, removed.stderr
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", old_port))
        squatter.listen(1)
        added = await asyncio.to_thread(aksmcp, "forward", "add", "deploy/hook-mcp", "-n", NAMESPACE)
        assert added.returncode == 0, added.stderr
        new_local = added.stdout.strip()
        assert urlsplit(new_local).port != old_port
        # The daemon rewrote the entry on its own (no `aksmcp connect --refresh`).
        url, headers = endpoint("cursor", load("cursor", path), "hook-mcp", KEY)
        assert url == new_local + "/mcp"
        assert "system_info" in await list_tools(url, headers)
        assert [e.url for e in load_record()] == [url]
        logs = await asyncio.to_thread(aksmcp, "forward", "logs")
        assert "IDE entry now points at" in logs.stdout + logs.stderr

        # The key is rotated: `--refresh` reads it from the Secret again and rewrites the user file.
        await put_secret(kube, "hook-key", "rotated-hook-key-0123456789", NAMESPACE)
        refreshed = await asyncio.to_thread(aksmcp, "connect", "--refresh")
        assert refreshed.returncode == 0, refreshed.stderr
        assert f"refreshed cursor 'hook-mcp' in {path} -> {url}" in refreshed.stdout
        assert "rotated-hook-key" not in refreshed.stdout + refreshed.stderr
        assert endpoint("cursor", load("cursor", path), "hook-mcp", "x")[1] == {
            "Authorization": "Bearer rotated-hook-key-0123456789"
        }
        again = await asyncio.to_thread(aksmcp, "connect", "--refresh")
        assert again.returncode == 0 and "up to date: cursor 'hook-mcp'" in again.stdout


async def test_missing_forward_touches_nothing(ide_home: Home, daemon: None, kube: KubeContext) -> None:
    """The key is there but the daemon cannot forward the deployment (no port to forward)."""
    await ensure_namespace(kube, NAMESPACE)
    await put_secret(kube, "noport-key", KEY, NAMESPACE)
    body = keyed_deployment("noport-mcp", "noport-key")
    body["spec"]["template"]["spec"]["containers"][0].pop("ports")
    body["spec"]["template"]["spec"]["containers"][0].pop("readinessProbe")
    await create(kube, NAMESPACE, body)
    path = ide_home.home / ".cursor" / "mcp.json"
    path.parent.mkdir()
    path.write_text('{"mcpServers": {}}\n')
    done = await asyncio.to_thread(aksmcp, "connect", "cursor", "deploy/noport-mcp", "-n", NAMESPACE)
    assert done.returncode == 1, done.stdout
    assert "missing forward" in done.stderr, done.stderr
    assert path.read_text() == '{"mcpServers": {}}\n' and load_record() == []


async def test_a_forward_without_ready_pods_is_written_with_a_note(
    ide_home: Home, daemon: None, kube: KubeContext
) -> None:
    await ensure_namespace(kube, NAMESPACE)
    await put_secret(kube, "idle-key", KEY, NAMESPACE)
    body = keyed_deployment("idle-mcp", "idle-key")
    body["spec"]["replicas"] = 0
    await create(kube, NAMESPACE, body)
    done = await asyncio.to_thread(aksmcp, "connect", "windsurf", "deploy/idle-mcp", "-n", NAMESPACE)
    assert done.returncode == 0, done.stderr
    assert "note: the forward is waiting (no ready pod answers yet)" in done.stdout
    url, _ = endpoint(
        "windsurf", load("windsurf", ide_home.home / ".codeium" / "windsurf" / "mcp_config.json"), "idle-mcp", KEY
    )
    assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
