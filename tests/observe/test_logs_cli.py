"""`aksmcp logs` as a real subprocess against the shared sandbox."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from tests.observe.support import create, new_namespace, python_deployment, running_pods, wait_until

pytestmark = pytest.mark.timeout(120)

TWO_LINES = """
import json, sys, time
print("plain start", flush=True)
print(json.dumps({"level": "error", "msg": "boom", "tool": "t1"}), flush=True)
while True:
    time.sleep(1)
"""


def env_for(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "XDG_STATE_HOME", "XDG_CONFIG_HOME")}
    return {**clean, "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")}


async def aksmcp(*args: str, env: dict[str, str], until: str | None = None) -> tuple[int, str, str]:
    """Run the CLI; with `until`, stop it (SIGINT, like Ctrl-C) once stdout shows that text."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aksmcp_tui", *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    if until is None:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode or 0, out.decode(), err.decode()
    seen = b""
    while until.encode() not in seen:
        chunk = await asyncio.wait_for(proc.stdout.read(4096), 60)
        assert chunk, f"the CLI ended before printing {until!r}: {seen.decode()}"
        seen += chunk
    proc.send_signal(2)
    rest, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, (seen + rest).decode(), err.decode()


async def test_logs_cli_prints_follows_greps_and_fails_clearly(
    kube: KubeContext, sandbox_session: ThreadedSandbox, tmp_path: Path
) -> None:
    ns = await new_namespace(kube)
    await create(kube, ns, python_deployment("talk", TWO_LINES, replicas=2))

    async def two_printed() -> bool:
        if len(await running_pods(kube, ns, "talk")) != 2:
            return False
        listing = await kube.get(f"/api/v1/namespaces/{ns}/pods", labelSelector="app=talk")
        for pod in listing["items"]:
            text = await kube.request_text(f"/api/v1/namespaces/{ns}/pods/{pod['metadata']['name']}/log")
            if "boom" not in text:
                return False
        return True

    await wait_until(two_printed, what="both pods to print")
    pods = await running_pods(kube, ns, "talk")
    env = env_for(tmp_path)
    common = ["--kubeconfig", str(sandbox_session.kubeconfig_path), "--context", "aksmcp-sandbox", "-n", ns]

    code, out, err = await aksmcp("logs", "deploy/talk", *common, env=env)
    assert code == 0, err
    lines = out.splitlines()
    assert sorted(lines) == sorted(
        [f"{p} app plain start" for p in pods]
        + [f'{p} app {{"level": "error", "msg": "boom", "tool": "t1"}}' for p in pods]
    )

    code, out, err = await aksmcp("logs", "talk", *common, "--grep", "boom", "-o", "json", "--tail", "5", env=env)
    assert code == 0, err
    docs = [json.loads(line) for line in out.splitlines()]
    assert sorted(d["pod"] for d in docs) == pods and all(d["container"] == "app" for d in docs)
    assert all("boom" in d["message"] and d["timestamp"].endswith("Z") for d in docs)

    code, out, err = await aksmcp("logs", "deploy/talk", *common, "-f", "--tail", "1", env=env, until="boom")
    assert code == 130 and "boom" in out and "plain start" not in out

    code, out, err = await aksmcp("logs", f"pod/{pods[0]}", *common, "--timestamps", env=env)
    assert (
        code == 0
        and out.count("plain start") == 1
        and all(line.startswith(f"{pods[0]} app 20") for line in out.splitlines())
    )

    code, _, err = await aksmcp("logs", "deploy/missing", *common, env=env)
    assert code == 1 and "not found" in err
    code, _, err = await aksmcp("logs", "svc/talk", *common, env=env)
    assert code == 2 and "deploy/NAME or pod/NAME" in err
    code, _, err = await aksmcp("logs", "talk", *common, "--since", "soon", env=env)
    assert code == 2 and "invalid duration" in err
    code, _, err = await aksmcp("logs", "talk", *common, "--grep", "(", env=env)
    assert code == 2 and "--grep" in err
