"""The merged Entra ID context is usable for real: kubectl and our kube access layer reach a cluster through it.

The fake ARM returns, for an Entra ID cluster, a kubeconfig whose server is the sandbox; a stand-in
kubelogin on PATH (kubelogin itself is a Go binary from GitHub releases, not installable here) records
its arguments and prints an ExecCredential with the sandbox token, as kubelogin prints an Entra token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from aksmcp_tui.core.azure import AzureSession
from aksmcp_tui.core.azure.credentials import get_credentials
from aksmcp_tui.sandbox.testing import ThreadedSandbox

from .conftest import SUB_A, AzureEnv
from .fake_arm import AKS_SERVER_ID, FakeCluster

KUBELOGIN = """#!/bin/sh
printf '%s\\n' "$*" >> "{log}"
cat <<'JSON'
{{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","status":{{"token":"{token}","expirationTimestamp":"2099-01-01T00:00:00Z"}}}}
JSON
"""


def _sandbox_cluster(sandbox: ThreadedSandbox) -> tuple[str, str]:
    config = yaml.safe_load(sandbox.kubeconfig_path.read_text())
    cluster = config["clusters"][0]["cluster"]
    return cluster["server"], cluster["certificate-authority-data"]


@pytest.fixture
def kubelogin(azure_env: AzureEnv, sandbox_session: ThreadedSandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = azure_env.home / "bin"
    bin_dir.mkdir(parents=True)
    log = azure_env.home / "kubelogin.log"
    script = bin_dir / "kubelogin"
    script.write_text(KUBELOGIN.format(log=log, token=sandbox_session.token))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


async def test_merged_entra_context_works_through_kubelogin(
    azure_env: AzureEnv, sandbox_session: ThreadedSandbox, kubelogin: Path
) -> None:
    server, ca_data = _sandbox_cluster(sandbox_session)
    azure_env.fake.add_subscription(SUB_A, "Dev")
    azure_env.state.clusters.append(
        FakeCluster(SUB_A, "rg-dev", "aks-entra", entra=True, azure_rbac=True, server=server, ca_data=ca_data)
    )
    async with AzureSession() as session:
        result = await get_credentials(session, await session.find_cluster("aks-entra", "rg-dev"))
    assert result.notes == () and result.login_mode == "msi"  # kubelogin is on PATH: no install note
    assert base64.b64decode(ca_data)  # the sandbox's CA came through the merge

    # our own access layer (what the dashboard uses for the new context) runs the exec plugin
    from aksmcp_tui.core.kube import KubeContext

    async with await KubeContext.open("aks-entra", str(azure_env.kubeconfig)) as kube:
        listed = await kube.get("/api/v1/namespaces")
    assert "default" in {item["metadata"]["name"] for item in listed["items"]}
    assert await asyncio.to_thread(kubelogin.read_text) == f"get-token --login msi --server-id {AKS_SERVER_ID}\n"

    if shutil.which("kubectl") is None:
        pytest.skip("no kubectl binary on PATH")
    done = await asyncio.to_thread(
        subprocess.run,
        [
            "kubectl",
            "--kubeconfig",
            str(azure_env.kubeconfig),
            "--context",
            "aks-entra",
            "get",
            "namespaces",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KUBECACHEDIR": str(azure_env.home / "kube-cache")},
    )
    assert done.returncode == 0, done.stderr
    names = {item["metadata"]["name"] for item in json.loads(done.stdout)["items"]}
    assert "default" in names
    calls = (await asyncio.to_thread(kubelogin.read_text)).splitlines()
    assert len(calls) == 2 and calls[-1] == f"get-token --login msi --server-id {AKS_SERVER_ID}"
