"""The kubectl on this machine against the sandbox: get, get -w, describe, logs -f, apply
(client-side and --server-side, validated against the served OpenAPI), wait."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from aksmcp_tui.sandbox.cluster import SandboxCluster

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.kubectl,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl binary on PATH"),
]

LOGGER = (
    "import itertools, time, http.server, os, threading\n"
    "threading.Thread(target=http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])),"
    " http.server.SimpleHTTPRequestHandler).serve_forever, daemon=True).start()\n"
    "for i in itertools.count():\n"
    "    print(f'line {i}', flush=True); time.sleep(0.2)\n"
)

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: python:3
        command: {command}
        ports: [{{containerPort: 8080}}]
        readinessProbe: {{httpGet: {{path: /, port: 8080}}, periodSeconds: 1}}
"""


def manifest(name: str, replicas: int = 1) -> str:
    return MANIFEST.format(name=name, replicas=replicas, command=json.dumps([sys.executable, "-c", LOGGER]))


class Kubectl:
    def __init__(self, kubeconfig: Path, home: Path) -> None:
        self.kubeconfig = kubeconfig
        self.env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(kubeconfig)}
        self.cache = home / "kube-cache"

    def argv(self, *args: str) -> list[str]:
        return ["kubectl", "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache), *args]

    async def run(self, *args: str, stdin: str | None = None, check: bool = True) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            *self.argv(*args),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
        )
        out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else None), 60)
        code = process.returncode or 0
        if check and code != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({code}): {err.decode()}")
        return code, out.decode(), err.decode()

    async def lines(self, *args: str, count: int, within: float = 30.0) -> list[str]:
        """Start a streaming command, read `count` lines, then kill it."""
        process = await asyncio.create_subprocess_exec(
            *self.argv(*args), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=self.env
        )
        assert process.stdout is not None
        collected: list[str] = []
        try:
            async with asyncio.timeout(within):
                while len(collected) < count:
                    line = await process.stdout.readline()
                    if not line:
                        break
                    collected.append(line.decode().rstrip("\n"))
        finally:
            process.kill()
            await process.wait()
        return collected


@pytest.fixture
async def kubectl(sandbox: SandboxCluster, tmp_path: Path) -> Kubectl:
    return Kubectl(sandbox.kubeconfig_path, tmp_path / "home")


async def test_get_across_namespaces_and_describe(kubectl: Kubectl) -> None:
    await kubectl.run("apply", "-f", "-", stdin=manifest("viewer"))
    await kubectl.run("wait", "--for=condition=Available", "deployment/viewer", "--timeout=60s")
    _, out, _ = await kubectl.run("get", "pods,deploy", "-A")
    assert "deployment.apps/viewer" in out and "pod/viewer-" in out
    _, out, _ = await kubectl.run("get", "ns")
    assert "kube-system" in out
    # the server answers kubectl's Table requests, so the usual columns are there
    _, out, _ = await kubectl.run("get", "pods")
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert row.split()[1:3] == ["1/1", "Running"]
    _, out, _ = await kubectl.run("get", "deploy", "viewer")
    assert out.splitlines()[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    _, out, _ = await kubectl.run("get", "pods", "-l", "app in (viewer)", "-o", "name")
    assert out.strip().startswith("pod/viewer-")
    _, out, _ = await kubectl.run("get", "deploy", "viewer", "-o", "jsonpath={.status.availableReplicas}")
    assert out == "1"
    _, out, _ = await kubectl.run("describe", "deploy", "viewer")
    assert "Replicas:" in out and "1 available" in out
    assert "NewReplicaSetAvailable" in out and "ScalingReplicaSet" in out
    code, _, err = await kubectl.run("get", "deploy", "absent", check=False)
    assert code != 0 and 'deployments.apps "absent" not found' in err


async def test_create_generators_send_protobuf_and_work(kubectl: Kubectl) -> None:
    # kubectl's `create` generators send protobuf bodies; the sandbox decodes those kinds
    await kubectl.run("create", "namespace", "generated")
    await kubectl.run("-n", "generated", "create", "secret", "generic", "key", "--from-literal=api-key=s3cret")
    await kubectl.run("-n", "generated", "create", "configmap", "settings", "--from-literal=a=1", "--from-literal=b=2")
    await kubectl.run("-n", "generated", "create", "serviceaccount", "robot")
    _, out, _ = await kubectl.run("-n", "generated", "get", "secret", "key", "-o", "jsonpath={.data.api-key}")
    assert out == "czNjcmV0"
    _, out, _ = await kubectl.run("-n", "generated", "get", "configmap", "settings", "-o", "jsonpath={.data}")
    assert json.loads(out) == {"a": "1", "b": "2"}
    command = [sys.executable, "-c", LOGGER]
    await kubectl.run(
        "-n",
        "generated",
        "create",
        "deployment",
        "gen",
        "--image=python:3",
        "--port=8080",
        "--replicas=2",
        "--",
        *command,
    )
    _, out, _ = await kubectl.run("-n", "generated", "get", "deploy", "gen", "-o", "json")
    spec = json.loads(out)["spec"]
    assert spec["replicas"] == 2 and spec["selector"] == {"matchLabels": {"app": "gen"}}
    container = spec["template"]["spec"]["containers"][0]
    assert container["command"] == command and container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]


async def test_get_watch_streams_changes(kubectl: Kubectl) -> None:
    # (`kubectl create configmap` sends protobuf, which the sandbox does not decode: use apply -f)
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {}}}\ndata: {{a: '1'}}\n"
    await kubectl.run("apply", "-f", "-", stdin=cm.format("watched"))
    reader = asyncio.create_task(kubectl.lines("get", "configmaps", "-w", "--output-watch-events", count=3))
    await asyncio.sleep(1.5)
    await kubectl.run("apply", "-f", "-", stdin=cm.format("second"))
    lines = await reader
    joined = "\n".join(lines)
    assert "watched" in joined and "second" in joined


async def test_logs_follow(kubectl: Kubectl) -> None:
    await kubectl.run("apply", "-f", "-", stdin=manifest("talker"))
    await kubectl.run("wait", "--for=condition=Available", "deployment/talker", "--timeout=60s")
    lines = await kubectl.lines("logs", "-f", "deployment/talker", count=3)
    assert lines[:3] == ["line 0", "line 1", "line 2"] or all(line.startswith("line ") for line in lines)
    assert len(lines) == 3


async def test_apply_client_side_then_server_side(kubectl: Kubectl) -> None:
    # no --validate=false: kubectl checks the served OpenAPI and leaves field validation to the server
    _, out, _ = await kubectl.run("apply", "-f", "-", stdin=manifest("applied"))
    assert "deployment.apps/applied created" in out
    _, out, _ = await kubectl.run("apply", "-f", "-", stdin=manifest("applied"))
    assert "unchanged" in out
    _, out, _ = await kubectl.run("apply", "--server-side", "-f", "-", stdin=manifest("ssa"))
    assert "serverside-applied" in out
    _, before, _ = await kubectl.run("get", "deploy", "ssa", "-o", "jsonpath={.metadata.generation}")
    await kubectl.run("apply", "--server-side", "-f", "-", stdin=manifest("ssa"))
    _, after, _ = await kubectl.run("get", "deploy", "ssa", "-o", "jsonpath={.metadata.generation}")
    assert before == after == "1"
    await kubectl.run("apply", "--server-side", "-f", "-", stdin=manifest("ssa", replicas=2))
    _, out, _ = await kubectl.run("get", "deploy", "ssa", "-o", "jsonpath={.spec.replicas}")
    assert out == "2"
    await kubectl.run("wait", "--for=condition=Available", "deployment/ssa", "--timeout=60s")
    typo = manifest("typo").replace("  replicas: 1", "  replicaz: 1")
    code, _, err = await kubectl.run("apply", "-f", "-", stdin=typo, check=False)
    assert code != 0 and 'unknown field "spec.replicaz"' in err


async def test_scale_rollout_restart_and_delete(kubectl: Kubectl) -> None:
    await kubectl.run("apply", "-f", "-", stdin=manifest("mover"))
    await kubectl.run("wait", "--for=condition=Available", "deployment/mover", "--timeout=60s")
    await kubectl.run("scale", "deployment/mover", "--replicas=2")
    await kubectl.run("rollout", "restart", "deployment/mover")
    await kubectl.run("rollout", "status", "deployment/mover", "--timeout=60s")
    _, out, _ = await kubectl.run("get", "rs", "-l", "app=mover", "-o", "name")
    assert len(out.split()) == 2
    await kubectl.run("delete", "deployment", "mover", "--wait=false")
    code, _, _ = await kubectl.run("get", "deployment", "mover", check=False)
    assert code != 0


SCHEMA = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


async def test_no_matches_for_uninstalled_kind(kubectl: Kubectl) -> None:
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 7}\n"
    code, _, err = await kubectl.run("apply", "-f", "-", stdin=widget, check=False)
    assert code != 0 and 'no matches for kind "Widget"' in err
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": SCHEMA},
                    "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
                }
            ],
        },
    }
    await kubectl.run("apply", "-f", "-", stdin=json.dumps(crd))
    _, out, _ = await kubectl.run("apply", "-f", "-", stdin=widget)
    assert "widget.example.com/w created" in out
    _, out, _ = await kubectl.run("get", "widgets")
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "SIZE", "AGE"] and row.split()[:2] == ["w", "7"]


async def test_auth_can_i_and_whoami(kubectl: Kubectl) -> None:
    _, out, _ = await kubectl.run("auth", "can-i", "create", "deployments", "-n", "default")
    assert out.strip() == "yes"
    _, out, _ = await kubectl.run("auth", "whoami")
    assert "aksmcp-sandbox-admin" in out
