"""deploy/NAME targets on the sandbox: the key comes from the deployment's Secret, the entry's URL is
a real port-forward (issue 7's engine) and answers MCP; a key rotation and a port change are
rewritten by refresh; a missing key or forward fails before any file is touched."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from forward.support import create, ensure_namespace, server_deployment, wait_ready
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from aksmcp_tui.cli import main
from aksmcp_tui.core.forward import open_tunnel
from aksmcp_tui.core.ide import Target, commit, plan, plan_refresh, refresh_entries_for_forward, resolve
from aksmcp_tui.core.ide.connect import key_secret_of
from aksmcp_tui.core.ide.record import load as load_record
from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.sandbox.testing import ThreadedSandbox

from .clientfiles import endpoint, load
from .conftest import Home

NAMESPACE = "ide-connect"
KEY = "deploy-key-0123456789abcdef"


def keyed_deployment(name: str, secret: str) -> dict[str, Any]:
    body = server_deployment(name, replicas=1)
    container = body["spec"]["template"]["spec"]["containers"][0]
    container["env"].append(
        {"name": "AKSMCP_API_KEY", "valueFrom": {"secretKeyRef": {"name": secret, "key": "api-key"}}}
    )
    return body


async def put_secret(kube: KubeContext, name: str, key: str, namespace: str = NAMESPACE) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "data": {"api-key": base64.b64encode(key.encode()).decode()},
    }
    path = f"/api/v1/namespaces/{namespace}/secrets"
    try:
        await kube.request("POST", path, body=body)
    except Exception:
        await kube.request("PUT", f"{path}/{name}", body=body)


async def list_tools(url: str, headers: dict[str, str]) -> list[str]:
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http)) as session,
    ):
        return [t.name for t in (await session.list_tools()).tools]


async def test_deploy_target_through_a_real_forward(
    ide_home: Home, kube: KubeContext, sandbox_session: ThreadedSandbox
) -> None:
    await ensure_namespace(kube, NAMESPACE)
    await put_secret(kube, "demo-key", KEY)
    await create(kube, NAMESPACE, keyed_deployment("demo", "demo-key"))
    await wait_ready(kube, NAMESPACE, "app=demo", 1)
    kubeconfig = str(sandbox_session.kubeconfig_path)
    target = Target("deploy", namespace=NAMESPACE, deployment="demo", kubeconfig=kubeconfig)

    async with open_tunnel(kube, NAMESPACE, "deploy/demo") as first:

        async def forward(_: Target) -> str:
            return first.mcp_url

        resolved = await resolve(target, forward=forward)
        assert resolved.api_key == KEY and resolved.url == first.mcp_url
        user = plan("cursor", resolved, scope="user")
        project = plan("claude-code", resolved, scope="project")
        commit(user)
        commit(project)
        assert user.name == "demo" and KEY not in project.path.read_text()
        for client, change in (("cursor", user), ("claude-code", project)):
            url, headers = endpoint(client, load(client, change.path), "demo", KEY)
            assert "system_info" in await list_tools(url, headers)

        # The key is rotated in the Secret: --refresh writes the new one (user scope holds it inline).
        await put_secret(kube, "demo-key", "rotated-key-0123456789abcdef")
        (cursor_entry,) = [e for e in load_record() if e.client == "cursor"]
        assert cursor_entry.target.namespace == NAMESPACE and cursor_entry.target.deployment == "demo"
        refreshed = await plan_refresh(cursor_entry, forward=forward)
        assert refreshed.changed and "rotated-key-0123456789abcdef" in (refreshed.after or "")
        assert "rotated-key" not in refreshed.diff()  # diffs are masked
        commit(refreshed)
        await put_secret(kube, "demo-key", KEY)

        # The forward has to move to another port: the daemon's hook rewrites both files.
        async with open_tunnel(kube, NAMESPACE, "deploy/demo") as second:
            assert second.local_port != first.local_port
            changed = refresh_entries_for_forward(first.local_url, second.local_url)
            assert sorted(c.split()[0] for c in changed) == ["claude-code", "cursor"]
            url, headers = endpoint("claude-code", load("claude-code", project.path), "demo", KEY)
            assert url == second.mcp_url
            assert "system_info" in await list_tools(url, headers)


async def test_missing_key_or_forward_touches_nothing(
    ide_home: Home, kube: KubeContext, sandbox_session: ThreadedSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    await ensure_namespace(kube, NAMESPACE)
    await create(kube, NAMESPACE, keyed_deployment("nokey", "nokey-secret"))  # its Secret never exists
    kubeconfig = str(sandbox_session.kubeconfig_path)
    cursor_file = ide_home.home / ".cursor" / "mcp.json"
    cursor_file.parent.mkdir()
    cursor_file.write_text('{"mcpServers": {}}\n')

    args = ["connect", "cursor", "deploy/nokey", "-n", NAMESPACE, "--kubeconfig", kubeconfig]
    assert await _main(args) == 1
    err = capsys.readouterr().err
    assert f"missing key: Secret {NAMESPACE}/nokey-secret" in err
    assert cursor_file.read_text() == '{"mcpServers": {}}\n' and load_record() == []

    assert await _main(["connect", "cursor", "deploy/absent", "-n", NAMESPACE, "--kubeconfig", kubeconfig]) == 1
    assert f"deployment {NAMESPACE}/absent not found" in capsys.readouterr().err


async def _main(args: list[str]) -> int:
    """The CLI runs its own event loop: call it from a worker thread."""
    import asyncio

    return await asyncio.to_thread(main, args)


def test_key_secret_of_the_base_manifest() -> None:
    """The base Deployment mounts the key Secret as a volume: that is where the key is read from."""
    base = Path(__file__).resolve().parents[2] / "manifests" / "base" / "deployment.yaml"
    assert key_secret_of(yaml.safe_load(base.read_text())) == ("aksmcp-server-api-key", "api-key")
    assert key_secret_of(keyed_deployment("x", "custom")) == ("custom", "api-key")
    assert key_secret_of({"spec": {}}) == ("aksmcp-server-api-key", "api-key")
