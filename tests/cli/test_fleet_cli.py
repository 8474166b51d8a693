"""`aksmcp clusters` and `aksmcp ls` as real subprocesses (against the sandbox where it matters)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml


def aksmcp(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aksmcp_tui", *args], env=env, capture_output=True, text=True, timeout=60
    )


async def aksmcp_async(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The same, while the in-process sandbox keeps serving on this event loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aksmcp_tui", *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return subprocess.CompletedProcess(args, proc.returncode or 0, out.decode(), err.decode())


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    clean = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "XDG_STATE_HOME", "XDG_CONFIG_HOME")}
    return {**clean, "HOME": str(home), "XDG_STATE_HOME": str(tmp_path / "state")}


def write_config(path: Path, current: str | None, contexts: dict[str, str], token: str = "t") -> str:
    """contexts: name -> server."""
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "contexts": [{"name": n, "context": {"cluster": f"c-{n}", "user": f"u-{n}"}} for n in contexts],
        "clusters": [{"name": f"c-{n}", "cluster": {"server": s}} for n, s in contexts.items()],
        "users": [{"name": f"u-{n}", "user": {"token": token}} for n in contexts],
    }
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_clusters_multi_file_kubeconfig(env: dict[str, str], tmp_path: Path) -> None:
    first = write_config(tmp_path / "a", "dev", {"dev": "https://dev.example:443", "prod": "https://prod.example"})
    second = write_config(tmp_path / "b", "prod", {"prod": "https://ignored", "lab": "https://lab.example"})
    env["KUBECONFIG"] = os.pathsep.join([first, str(tmp_path / "missing"), second])
    result = aksmcp("clusters", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CURRENT", "NAME", "CLUSTER", "SERVER", "NAMESPACE", "AUTH"]
    rows = {line.split()[-5] if line.startswith("*") else line.split()[0]: line for line in lines[1:]}
    assert rows["dev"].startswith("*") and "https://dev.example:443" in rows["dev"]
    assert "https://prod.example" in rows["prod"] and "ignored" not in result.stdout
    data = json.loads(aksmcp("clusters", "-o", "json", env=env).stdout)
    by_name = {c["name"]: c for c in data["contexts"]}
    assert by_name["dev"]["current"] and not by_name["lab"]["current"]
    assert by_name["lab"]["auth"] == "token" and by_name["lab"]["sourceFile"] == second


def test_errors_are_plain_and_exit_1(env: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.write_text("contexts: [\n")
    for args in (["clusters", "--kubeconfig", str(broken)], ["ls", "--kubeconfig", str(broken)]):
        result = aksmcp(*args, env=env)
        assert result.returncode == 1
        assert result.stderr.startswith(f"aksmcp: kubeconfig {broken} is not valid YAML")
        assert "Traceback" not in result.stderr
    closed = write_config(tmp_path / "closed", "gone", {"gone": f"http://127.0.0.1:{closed_port()}"})
    result = aksmcp("ls", "--kubeconfig", closed, env=env)
    assert result.returncode == 1 and "connection refused" in result.stderr and "Traceback" not in result.stderr
    result = aksmcp("ls", "--kubeconfig", closed, "--context", "nope", env=env)
    assert result.returncode == 1 and "context 'nope' not found" in result.stderr
    result = aksmcp("ls", "-n", "a", "-A", env=env)
    assert result.returncode == 2  # argparse: -n and -A exclude each other


def test_no_contexts_is_not_an_error(env: dict[str, str]) -> None:
    result = aksmcp("clusters", env=env)
    assert result.returncode == 0 and "no kubeconfig contexts found" in result.stderr


def create_mcp_deployment(kubeconfig: Path, namespace: str, name: str) -> None:
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        container = {
            "name": "main",
            "image": "example.test/sleeper:1",
            "command": [sys.executable, "-c", "import time\nwhile True: time.sleep(60)"],
            "ports": [{"name": "mcp", "containerPort": 8080}],
        }
        body = {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
            },
        }
        apps.create_namespaced_deployment(namespace, client.V1Deployment.from_dict(body))
    finally:
        api.close()


async def test_ls_and_clusters_against_the_sandbox(sandbox: Any, env: dict[str, str], tmp_path: Path) -> None:
    # the official (blocking) client runs in a thread: the sandbox serves on this loop
    await asyncio.to_thread(create_mcp_deployment, sandbox.kubeconfig_path, "cli-test", "listed")
    kubeconfig = str(sandbox.kubeconfig_path)
    deadline = time.monotonic() + 30
    while True:
        result = await aksmcp_async("ls", "--kubeconfig", kubeconfig, "-o", "json", env=env)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        items = {(i["namespace"], i["name"]): i for i in data["items"]}
        item = items.get(("cli-test", "listed"))
        if item and item["health"] == "healthy":
            break
        assert time.monotonic() < deadline, data
        await asyncio.sleep(0.3)
    assert data["context"] == "aksmcp-sandbox"
    assert item["kind"] == "Deployment" and item["matchedBy"] == "port-name"
    assert (item["ready"], item["desired"]) == (1, 1) and item["image"] == "example.test/sleeper:1"

    table = await aksmcp_async("ls", "--kubeconfig", kubeconfig, "-n", "cli-test", env=env)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["NAMESPACE", "NAME", "KIND", "READY", "HEALTH", "AGE", "IMAGE"]
    assert [r.split()[:5] for r in rows] == [["cli-test", "listed", "Deployment", "1/1", "healthy"]]
    empty = await aksmcp_async("ls", "--kubeconfig", kubeconfig, "-n", "nothing-here", "-o", "json", env=env)
    assert json.loads(empty.stdout)["items"] == []

    # The sandbox's kubeconfig in the state dir shows up in `clusters` and `ls --context` finds it.
    state_file = Path(env["XDG_STATE_HOME"]) / "aksmcp" / "sandbox" / "kubeconfig"
    state_file.parent.mkdir(parents=True)
    shutil.copy(sandbox.kubeconfig_path, state_file)
    # A newcomer with no kubeconfig of their own: `ls` lists the sandbox.
    newcomer = await aksmcp_async("ls", "-o", "json", env=env)
    assert newcomer.returncode == 0, newcomer.stderr
    assert json.loads(newcomer.stdout)["context"] == "aksmcp-sandbox"
    env["KUBECONFIG"] = write_config(tmp_path / "mine", "mine", {"mine": "https://mine.example"})
    clusters = await aksmcp_async("clusters", env=env)
    assert clusters.returncode == 0, clusters.stderr
    sandbox_row = next(line for line in clusters.stdout.splitlines() if "aksmcp-sandbox (sandbox)" in line)
    server = yaml.safe_load(sandbox.kubeconfig_path.read_text())["clusters"][0]["cluster"]["server"]
    assert server in sandbox_row and not sandbox_row.startswith("*")
    listed = await aksmcp_async("ls", "--context", "aksmcp-sandbox", "-o", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert ("cli-test", "listed") in {(i["namespace"], i["name"]) for i in json.loads(listed.stdout)["items"]}

    wrong = write_config(tmp_path / "wrong", "w", {"w": sandbox.url}, token="wrong-token")
    result = await aksmcp_async("ls", "--kubeconfig", wrong, env=env)
    assert result.returncode == 1 and "401 Unauthorized" in result.stderr and "Traceback" not in result.stderr


async def test_ls_forbidden_all_namespaces_gives_a_hint(env: dict[str, str], tmp_path: Path) -> None:
    """A user who may read one namespace only (RBAC): a tiny real HTTP API server on 127.0.0.1
    answers 403 at cluster scope, as AKS does; `ls -n` works."""
    from aiohttp import web

    async def forbidden(request: web.Request) -> web.Response:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": "Forbidden",
            "code": 403,
            "message": 'deployments.apps is forbidden: User "dev" cannot list resource "deployments"',
        }
        return web.json_response(body, status=403)

    async def empty(request: web.Request) -> web.Response:
        return web.json_response(
            {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []}
        )

    async def groups(request: web.Request) -> web.Response:
        return web.json_response({"kind": "APIGroupList", "groups": []})

    app = web.Application()
    app.router.add_get("/apis", groups)
    app.router.add_get("/apis/apps/v1/deployments", forbidden)
    app.router.add_get("/api/v1/pods", forbidden)
    app.router.add_get("/apis/apps/v1/namespaces/team/deployments", empty)
    app.router.add_get("/api/v1/namespaces/team/pods", empty)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        config = write_config(tmp_path / "rbac", "rbac", {"rbac": f"http://127.0.0.1:{port}"})
        result = await aksmcp_async("ls", "--kubeconfig", config, env=env)
        assert result.returncode == 1
        assert "not allowed to list deployments in all namespaces (403 Forbidden)" in result.stderr
        assert "aksmcp ls -n NAMESPACE" in result.stderr and "Traceback" not in result.stderr
        result = await aksmcp_async("ls", "--kubeconfig", config, "-n", "team", "-o", "json", env=env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"context": "rbac", "items": []}
    finally:
        await runner.cleanup()
