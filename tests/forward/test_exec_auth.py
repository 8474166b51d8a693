"""The websocket streams use the one kube layer's credentials: a kubeconfig whose user is an exec
plugin (as `az aks get-credentials` writes, with kubelogin) and whose cluster is TLS with its own CA."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
import yaml

from aksmcp_tui.core.forward import open_tunnel
from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from tests.forward.support import create, echo_deployment, ensure_namespace, wait_ready

pytestmark = pytest.mark.timeout(120)
NS = "fwd-exec"


async def test_streams_carry_the_exec_plugin_token_over_tls(
    forward_sandbox: ThreadedSandbox, kube: KubeContext, tmp_path: Path
) -> None:
    await ensure_namespace(kube, NS)
    await create(kube, NS, echo_deployment("echo", replicas=1))
    await wait_ready(kube, NS, "app=echo", 1)
    runs = tmp_path / "runs"
    plugin = tmp_path / "fake-kubelogin"
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"token": forward_sandbox.token},
    }
    plugin.write_text(
        f"#!{sys.executable}\nopen({str(runs)!r}, 'a').write('run\\n')\nprint({json.dumps(json.dumps(credential))})\n"
    )
    plugin.chmod(0o700)
    kubeconfig = tmp_path / "exec.yaml"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "aks",
        "clusters": [
            {
                "name": "aks",
                "cluster": {
                    "server": forward_sandbox.https_url,
                    "certificate-authority": str(forward_sandbox.cluster.ca_path),
                },
            }
        ],
        "users": [
            {
                "name": "u",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": str(plugin),
                        "args": ["get-token"],
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
        "contexts": [{"name": "aks", "context": {"cluster": "aks", "user": "u"}}],
    }
    kubeconfig.write_text(yaml.safe_dump(config))
    async with (
        await KubeContext.open(kubeconfig=str(kubeconfig)) as aks,
        open_tunnel(aks, NS, "deploy/echo", "echo") as tunnel,
    ):
        assert await tunnel.wait_ready(30)
        reader, writer = await asyncio.open_connection("127.0.0.1", tunnel.local_port)
        hello = await asyncio.wait_for(reader.readline(), 20)
        writer.write(b"token")
        assert await asyncio.wait_for(reader.readexactly(5), 20) == b"token"
        writer.close()
    assert hello.startswith(b"pod=echo-")
    assert runs.read_text().count("run") >= 1  # the plugin gave the token (cached after the first run)
