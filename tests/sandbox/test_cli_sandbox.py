"""`aksmcp sandbox up|down|status|kubeconfig` as real subprocesses: idempotent up, state that
survives down/up, no pod process left after down, a clear message for a corrupt state file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from aksmcp_tui.sandbox.testing import sync_api_client

pytestmark = pytest.mark.timeout(120)

SLEEPER = "import time\nprint('up', flush=True)\nwhile True: time.sleep(1)"


def aksmcp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aksmcp_tui.cli", "sandbox", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    environment = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path / "home")}
    try:
        yield environment
    finally:
        aksmcp(environment, "down")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


def wait_for(check: Any, within: float = 30.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {check}")


def pod_pids(core: client.CoreV1Api) -> list[int]:
    pids = []
    for pod in core.list_namespaced_pod("default", label_selector="app=sleeper").items:
        for key, value in (pod.metadata.annotations or {}).items():
            if key.startswith("sandbox.aksmcp.dev/pid-"):
                pids.append(int(value))
    return pids


def test_up_status_down_and_state_survives(env: dict[str, str], tmp_path: Path) -> None:
    result = aksmcp(env, "status")
    assert result.returncode == 3 and "not running" in result.stdout
    up = aksmcp(env, "up")
    assert up.returncode == 0, up.stderr
    kubeconfig = Path(aksmcp(env, "kubeconfig").stdout.strip())
    assert f"kubectl --kubeconfig {kubeconfig} get pods -A" in up.stdout
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    assert kubeconfig == tmp_path / "state" / "aksmcp" / "sandbox" / "kubeconfig"
    again = aksmcp(env, "up")
    assert again.returncode == 0
    pid_line = next(line for line in up.stdout.splitlines() if "pid" in line)
    assert pid_line in again.stdout  # same daemon: up is idempotent
    assert "running" in aksmcp(env, "status").stdout

    api = sync_api_client(kubeconfig)
    core = client.CoreV1Api(api)
    apps = client.AppsV1Api(api)
    core.create_namespaced_config_map(
        "default", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept"}, "data": {"a": "1"}}
    )
    apps.create_namespaced_deployment(
        "default",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "sleeper"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "sleeper"}},
                "template": {
                    "metadata": {"labels": {"app": "sleeper"}},
                    "spec": {
                        "terminationGracePeriodSeconds": 1,
                        "containers": [
                            {"name": "main", "image": "python:3", "command": [sys.executable, "-c", SLEEPER]}
                        ],
                    },
                },
            },
        },
    )
    pids = wait_for(lambda: (found := pod_pids(core)) and len(found) == 2 and found)
    assert all(pid_alive(pid) for pid in pids)
    api.close()

    down = aksmcp(env, "down")
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not any(pid_alive(pid) for pid in pids)
    assert aksmcp(env, "status").returncode == 3

    assert aksmcp(env, "up").returncode == 0
    api = sync_api_client(kubeconfig)
    try:
        core = client.CoreV1Api(api)
        assert core.read_namespaced_config_map("kept", "default").data == {"a": "1"}
        assert client.AppsV1Api(api).read_namespaced_deployment("sleeper", "default").spec.replicas == 2
        new_pids = wait_for(lambda: (found := pod_pids(core)) and len(found) == 2 and set(found) != set(pids) and found)
    finally:
        api.close()
    assert aksmcp(env, "down").returncode == 0
    assert not any(pid_alive(pid) for pid in new_pids)


def test_corrupt_state_file_gives_a_message_and_a_fresh_cluster(env: dict[str, str], tmp_path: Path) -> None:
    state = tmp_path / "state" / "aksmcp" / "sandbox"
    state.mkdir(parents=True)
    (state / "state.db").write_bytes(b"\x00garbage" * 500)
    up = aksmcp(env, "up")
    assert up.returncode == 0, up.stderr
    assert "could not be read" in up.stderr and "Traceback" not in up.stderr
    api = sync_api_client(state / "kubeconfig")
    try:
        names = {ns.metadata.name for ns in client.CoreV1Api(api).list_namespace().items}
    finally:
        api.close()
    assert "default" in names


def test_kubeconfig_before_up_is_a_clear_error(env: dict[str, str]) -> None:
    result = aksmcp(env, "kubeconfig")
    assert result.returncode == 1 and "aksmcp sandbox up" in result.stderr and "Traceback" not in result.stderr
    assert "not running" in aksmcp(env, "down").stdout
