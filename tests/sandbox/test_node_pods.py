"""The sandbox node runs pods as real local processes: status, probes, restarts, termination."""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from aksmcp_tui.sandbox.node import PORT_ANNOTATION_PREFIX, Node
from aksmcp_tui.sandbox.node.testing import (
    HTTP_SERVER,
    NodeHarness,
    condition,
    container_status,
    pid_alive,
    pod_manifest,
    python_container,
    wait_for,
)

pytestmark = pytest.mark.timeout(90)

SLEEPER = "import time\nwhile True: time.sleep(1)"


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[NodeHarness]:
    async with NodeHarness(tmp_path / "state") as h:
        yield h
        pids = h.node.pids()
    for pid in pids:
        await wait_for(lambda pid=pid: not pid_alive(pid), within=5, what=f"process {pid} gone after Node.stop()")


def web_pod(name: str, **extra: object) -> dict:
    container = python_container(
        name,
        HTTP_SERVER,
        ports=[{"containerPort": 8080, "name": "http"}],
        readinessProbe={"httpGet": {"port": "http", "path": "/"}, "periodSeconds": 1},
        **extra,
    )
    return pod_manifest(name, [container])


async def test_http_server_pod_becomes_running_and_ready_on_its_mapped_port(harness: NodeHarness) -> None:
    await harness.create(web_pod("web"))
    pod = await harness.wait_pod("web", lambda p: condition(p, "Ready"), what="Ready")

    status = container_status(pod, "web")
    assert pod["status"]["phase"] == "Running"
    assert status["ready"] is True and status["started"] is True
    assert "running" in status["state"] and status["restartCount"] == 0
    assert pod["status"]["podIP"] == "127.0.0.1"
    assert pod["spec"]["nodeName"] == "sandbox-node"
    local = int(pod["metadata"]["annotations"][f"{PORT_ANNOTATION_PREFIX}8080"])
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{local}/") as resp:
        assert resp.status == 200
        assert (await resp.text()).startswith("hello from web")
    reasons = await harness.event_reasons("web")
    for reason in ("Scheduled", "Pulled", "Created", "Started"):
        assert reason in reasons


async def test_readiness_failure_clears_ready_and_success_restores_it(harness: NodeHarness, tmp_path: Path) -> None:
    fail = tmp_path / "fail"
    pod = web_pod("flaky", env=[{"name": "FAIL_FILE", "value": str(fail)}])
    pod["spec"]["containers"][0]["readinessProbe"]["failureThreshold"] = 1
    await harness.create(pod)
    await harness.wait_pod("flaky", lambda p: condition(p, "Ready"), what="Ready")
    fail.write_text("x")
    await harness.wait_pod("flaky", lambda p: not condition(p, "Ready"), what="not Ready")
    assert "Unhealthy" in await harness.event_reasons("flaky")
    fail.unlink()
    pod = await harness.wait_pod("flaky", lambda p: condition(p, "Ready"), what="Ready again")
    assert container_status(pod)["restartCount"] == 0


async def test_liveness_failure_kills_and_restarts_the_container(harness: NodeHarness) -> None:
    container = python_container(
        "live",
        SLEEPER,
        livenessProbe={
            "exec": {"command": [sys.executable, "-c", "raise SystemExit(1)"]},
            "periodSeconds": 1,
            "failureThreshold": 2,
        },
    )
    await harness.create(pod_manifest("live", [container], terminationGracePeriodSeconds=2))
    pod = await harness.wait_pod("live", lambda p: container_status(p).get("restartCount", 0) >= 1, what="restart")
    assert container_status(pod)["lastState"]["terminated"]["exitCode"] in (143, 137)
    reasons = await harness.event_reasons("live")
    assert "Unhealthy" in reasons and "Killing" in reasons


async def test_crashing_command_reaches_crash_loop_back_off_with_growing_restart_count(harness: NodeHarness) -> None:
    await harness.create(pod_manifest("crash", [python_container("crash", "print('boom'); raise SystemExit(3)")]))

    def in_back_off(p: dict) -> bool:
        state = container_status(p).get("state", {})
        return state.get("waiting", {}).get("reason") == "CrashLoopBackOff" and container_status(p)["restartCount"] >= 1

    pod = await harness.wait_pod("crash", in_back_off, what="CrashLoopBackOff")
    first = container_status(pod)["restartCount"]
    terminated = container_status(pod)["lastState"]["terminated"]
    assert terminated["exitCode"] == 3 and terminated["reason"] == "Error"
    assert pod["status"]["phase"] == "Running"
    await harness.wait_pod("crash", lambda p: container_status(p)["restartCount"] > first + 1, what="more restarts")
    assert "BackOff" in await harness.event_reasons("crash")


async def test_restart_policy_never_and_on_failure(harness: NodeHarness) -> None:
    await harness.create(pod_manifest("done", [python_container("c", "print('ok')")], restartPolicy="Never"))
    await harness.create(pod_manifest("fails", [python_container("c", "raise SystemExit(2)")], restartPolicy="Never"))
    await harness.create(
        pod_manifest("retry", [python_container("c", "raise SystemExit(2)")], restartPolicy="OnFailure")
    )
    done = await harness.wait_pod("done", lambda p: p["status"]["phase"] == "Succeeded")
    assert container_status(done)["state"]["terminated"]["reason"] == "Completed"
    failed = await harness.wait_pod("fails", lambda p: p["status"]["phase"] == "Failed")
    assert container_status(failed)["restartCount"] == 0
    await harness.wait_pod("retry", lambda p: container_status(p).get("restartCount", 0) >= 2)


async def test_process_killed_from_outside_is_restarted(harness: NodeHarness) -> None:
    await harness.create(pod_manifest("victim", [python_container("c", SLEEPER)]))
    pod = await harness.wait_pod("victim", lambda p: "running" in container_status(p).get("state", {}))
    pid = int(pod["metadata"]["annotations"]["sandbox.aksmcp.dev/pid-c"])
    assert harness.node.container_pid("default", "victim") == pid
    os.kill(pid, signal.SIGKILL)
    pod = await harness.wait_pod(
        "victim",
        lambda p: container_status(p).get("restartCount") == 1 and "running" in container_status(p)["state"],
        what="restarted",
    )
    assert container_status(pod)["lastState"]["terminated"]["exitCode"] == 137
    new_pid = int(pod["metadata"]["annotations"]["sandbox.aksmcp.dev/pid-c"])
    assert new_pid != pid and pid_alive(new_pid)


async def test_delete_sends_sigterm_and_honours_the_grace_period(harness: NodeHarness, tmp_path: Path) -> None:
    marker = tmp_path / "got-sigterm"
    code = (
        "import signal, sys, time\n"
        f"def bye(*a):\n    open({str(marker)!r}, 'w').write('bye')\n    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\nprint('ready', flush=True)\nwhile True: time.sleep(0.1)"
    )
    await harness.create(pod_manifest("graceful", [python_container("c", code)], terminationGracePeriodSeconds=20))
    pod = await harness.wait_pod("graceful", lambda p: container_status(p).get("ready") is True)
    pid = int(pod["metadata"]["annotations"]["sandbox.aksmcp.dev/pid-c"])
    await wait_for(lambda: b"ready" in _log_bytes(harness, pod), what="handler installed")
    await harness.store.delete("pods", "default", "graceful")
    await harness.wait_gone("graceful")
    assert marker.read_text() == "bye"
    assert not pid_alive(pid)
    assert "Killing" in await harness.event_reasons("graceful")


async def test_process_ignoring_sigterm_is_killed_after_the_grace_period(harness: NodeHarness) -> None:
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(0.1)"
    await harness.create(pod_manifest("stubborn", [python_container("c", code)], terminationGracePeriodSeconds=1))
    pod = await harness.wait_pod("stubborn", lambda p: container_status(p).get("ready") is True)
    pid = int(pod["metadata"]["annotations"]["sandbox.aksmcp.dev/pid-c"])
    await _wait_pid_settled(harness, "stubborn")
    await harness.store.delete("pods", "default", "stubborn")
    await harness.wait_gone("stubborn", within=20)
    assert not pid_alive(pid)


async def test_pre_stop_hook_runs_before_sigterm(harness: NodeHarness, tmp_path: Path) -> None:
    order = tmp_path / "order"
    code = (
        "import signal, sys, time\n"
        f"def bye(*a):\n    open({str(order)!r}, 'a').write('sigterm\\n')\n    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\nwhile True: time.sleep(0.1)"
    )
    hook = [sys.executable, "-c", f"open({str(order)!r}, 'a').write('prestop\\n')"]
    container = python_container("c", code, lifecycle={"preStop": {"exec": {"command": hook}}})
    await harness.create(pod_manifest("hooked", [container], terminationGracePeriodSeconds=10))
    await harness.wait_pod("hooked", lambda p: container_status(p).get("ready") is True)
    await _wait_pid_settled(harness, "hooked")
    await harness.store.delete("pods", "default", "hooked")
    await harness.wait_gone("hooked")
    assert order.read_text().split() == ["prestop", "sigterm"]


async def test_env_env_from_and_volumes_are_visible_to_the_process(harness: NodeHarness, tmp_path: Path) -> None:
    store = harness.store
    await store.create(
        "configmaps",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "default"},
            "data": {"MODE": "fast", "config.yaml": "a: 1\n"},
        },
    )
    secret_data = {"api-key": base64.b64encode(b"s3cret").decode(), "TOKEN": base64.b64encode(b"tok").decode()}
    await store.create(
        "secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "default"},
            "data": secret_data,
        },
    )
    out = tmp_path / "seen.json"
    code = (
        "import json, os, stat, sys\n"
        "key = os.environ['AKSMCP_API_KEY_FILE']\n"
        "seen = dict(env=dict(os.environ), argv=sys.argv[1:], key=open(key).read(),\n"
        "  key_mode=oct(stat.S_IMODE(os.stat(key).st_mode)),\n"
        "  config=open(os.path.join(os.environ['CONFIG_DIR'], 'config.yaml')).read(),\n"
        "  workspace_writable=os.access(os.environ['AKSMCP_WORKSPACE'], os.W_OK), cwd=os.getcwd())\n"
        f"open({str(out)!r}, 'w').write(json.dumps(seen))\n"
        "import time\nwhile True: time.sleep(1)"
    )
    container = python_container(
        "app",
        code,
        args=["--name=$(POD_NAME)", "$(MODE)", "$$(MODE)", "/workspace/data"],
        ports=[{"containerPort": 9000}],
        envFrom=[{"configMapRef": {"name": "settings"}}, {"secretRef": {"name": "creds"}, "prefix": "S_"}],
        env=[
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "CM_MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "MODE"}}},
            {"name": "SECRET_KEY", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "api-key"}}},
            {"name": "GREETING", "value": "hi-$(POD_NAME)-$(UNKNOWN)"},
            {"name": "AKSMCP_API_KEY_FILE", "value": "/var/run/secrets/aksmcp/api-key"},
            {"name": "AKSMCP_WORKSPACE", "value": "/workspace"},
            {"name": "CONFIG_DIR", "value": "/etc/app"},
        ],
        volumeMounts=[
            {"name": "key", "mountPath": "/var/run/secrets/aksmcp", "readOnly": True},
            {"name": "cfg", "mountPath": "/etc/app"},
            {"name": "work", "mountPath": "/workspace"},
        ],
        workingDir="/workspace",
    )
    volumes = [
        {"name": "key", "secret": {"secretName": "creds", "items": [{"key": "api-key", "path": "api-key"}]}},
        {"name": "cfg", "configMap": {"name": "settings"}},
        {"name": "work", "emptyDir": {}},
    ]
    await harness.create(pod_manifest("envy", [container], volumes=volumes))
    seen = await wait_for(lambda: out.exists() and json.loads(out.read_text() or "null"), what="env dump")
    env = seen["env"]
    assert env["MODE"] == "fast" and env["S_TOKEN"] == "tok" and env["S_api-key"] == "s3cret"
    assert (env["POD_NAME"], env["POD_NS"], env["POD_IP"]) == ("envy", "default", "127.0.0.1")
    assert env["CM_MODE"] == "fast" and env["SECRET_KEY"] == "s3cret"
    assert env["GREETING"] == "hi-envy-$(UNKNOWN)"
    assert env["HOSTNAME"] == "envy"
    port = int(env["PORT"])
    assert env["SANDBOX_PORT_9000"] == str(port) and port != 9000
    assert seen["key"] == "s3cret" and seen["key_mode"] == "0o600"
    assert seen["config"] == "a: 1\n"
    assert seen["workspace_writable"] is True
    assert (
        env["AKSMCP_API_KEY_FILE"].endswith("/api-key")
        and env["AKSMCP_API_KEY_FILE"] != "/var/run/secrets/aksmcp/api-key"
    )
    assert seen["cwd"] == env["AKSMCP_WORKSPACE"]
    assert seen["argv"][:3] == ["--name=envy", "fast", "$(MODE)"]
    assert seen["argv"][3] == os.path.join(env["AKSMCP_WORKSPACE"], "data")


async def test_missing_config_map_waits_with_create_container_config_error(harness: NodeHarness) -> None:
    container = python_container("c", SLEEPER, envFrom=[{"configMapRef": {"name": "absent"}}])
    await harness.create(pod_manifest("noconfig", [container]))
    await harness.wait_pod(
        "noconfig",
        lambda p: container_status(p)["state"].get("waiting", {}).get("reason") == "CreateContainerConfigError",
    )
    await harness.store.create(
        "configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "absent", "namespace": "default"}}
    )
    await harness.wait_pod("noconfig", lambda p: "running" in container_status(p)["state"], what="started once present")


async def test_unknown_image_reports_err_image_pull_then_image_pull_back_off(harness: NodeHarness) -> None:
    await harness.create(pod_manifest("ghost", [{"name": "c", "image": "registry.example/nope:1"}]))
    pod = await harness.wait_pod(
        "ghost", lambda p: container_status(p)["state"].get("waiting", {}).get("reason") == "ErrImagePull"
    )
    assert pod["status"]["phase"] == "Pending"
    await harness.wait_pod(
        "ghost", lambda p: container_status(p)["state"].get("waiting", {}).get("reason") == "ImagePullBackOff"
    )
    events = await harness.events("ghost")
    messages = [e.get("message", "") for e in events]
    assert any("Failed to pull image" in m for m in messages)
    assert "BackOff" in [e["reason"] for e in events]


async def test_init_container_runs_to_completion_first(harness: NodeHarness, tmp_path: Path) -> None:
    flag = tmp_path / "init-done"
    init = python_container("init", f"open({str(flag)!r}, 'w').write('1')")
    main = python_container("main", f"import os, time\nassert os.path.exists({str(flag)!r})\nwhile True: time.sleep(1)")
    await harness.create(pod_manifest("inited", [main], initContainers=[init]))
    pod = await harness.wait_pod("inited", lambda p: condition(p, "Ready"))
    assert condition(pod, "Initialized")
    init_status = pod["status"]["initContainerStatuses"][0]
    assert init_status["state"]["terminated"]["reason"] == "Completed"
    assert container_status(pod, "main")["restartCount"] == 0


async def test_startup_probe_gates_readiness(harness: NodeHarness, tmp_path: Path) -> None:
    gate = tmp_path / "started"
    container = python_container(
        "c",
        SLEEPER,
        startupProbe={
            "exec": {
                "command": [
                    sys.executable,
                    "-c",
                    f"import os; raise SystemExit(0 if os.path.exists({str(gate)!r}) else 1)",
                ]
            },
            "periodSeconds": 1,
            "failureThreshold": 60,
        },
    )
    await harness.create(pod_manifest("slow", [container]))
    pod = await harness.wait_pod("slow", lambda p: "running" in container_status(p).get("state", {}))
    assert container_status(pod)["started"] is False and not condition(pod, "Ready")
    gate.write_text("go")
    pod = await harness.wait_pod("slow", lambda p: condition(p, "Ready"), what="Ready after startup probe")
    assert container_status(pod)["started"] is True


async def test_node_stop_leaves_no_process_behind_including_children(tmp_path: Path) -> None:
    child_pid_file = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time\\nwhile True: time.sleep(1)'])\n"
        f"open({str(child_pid_file)!r}, 'w').write(str(child.pid))\n"
        "while True: time.sleep(1)"
    )
    async with NodeHarness(tmp_path / "state") as h:
        for i in range(3):
            await h.create(pod_manifest(f"p{i}", [python_container("c", code if i == 0 else SLEEPER)]))
        await wait_for(lambda: len(h.node.pids()) == 3, what="three processes")
        await wait_for(lambda: child_pid_file.exists() and child_pid_file.read_text(), what="child started")
        pids = h.node.pids()
        child = int(child_pid_file.read_text())
        assert pid_alive(child)
    for pid in [*pids, child]:
        # signals are asynchronous: give the kernel a moment to finish them off
        await wait_for(lambda pid=pid: not pid_alive(pid), within=5, what=f"process {pid} gone")
    await h.node.stop()  # idempotent


def _log_bytes(harness: NodeHarness, pod: dict) -> bytes:
    worker = harness.node.worker_for(pod)
    if worker is None or not worker.containers or worker.containers[0].log is None:
        return b""
    return worker.containers[0].log.path.read_bytes()


async def _wait_pid_settled(harness: NodeHarness, name: str) -> None:
    """Python needs a moment after exec before its SIGTERM handler is installed; wait for it."""
    pod = await harness.get(name)
    pid = harness.node.container_pid("default", name)
    assert pid is not None

    def handler_installed() -> bool:
        # SIGTERM either caught (SigCgt) or ignored (SigIgn) by the process
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        masks = [int(line.split()[1], 16) for line in status if line.startswith(("SigCgt:", "SigIgn:"))]
        return any(mask & (1 << (signal.SIGTERM - 1)) for mask in masks)

    await wait_for(handler_installed, what=f"SIGTERM handler in {pod['metadata']['name']}")


async def test_post_start_hook_gates_started_and_its_failure_restarts(harness: NodeHarness, tmp_path: Path) -> None:
    marker = tmp_path / "post-started"
    good = [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('1')"]
    container = python_container("c", SLEEPER, lifecycle={"postStart": {"exec": {"command": good}}})
    await harness.create(pod_manifest("hooked-ok", [container]))
    await harness.wait_pod("hooked-ok", lambda p: condition(p, "Ready"))
    assert marker.read_text() == "1"

    bad = [sys.executable, "-c", "raise SystemExit(7)"]
    failing = python_container("c", SLEEPER, lifecycle={"postStart": {"exec": {"command": bad}}})
    await harness.create(pod_manifest("hooked-bad", [failing], terminationGracePeriodSeconds=2))
    pod = await harness.wait_pod("hooked-bad", lambda p: container_status(p).get("restartCount", 0) >= 1)
    assert not condition(pod, "Ready")  # never started, so never ready
    assert "FailedPostStartHook" in await harness.event_reasons("hooked-bad")


async def test_pods_run_again_after_the_node_restarts(tmp_path: Path) -> None:
    async with NodeHarness(tmp_path / "state") as h:
        await h.create(pod_manifest("survivor", [python_container("c", SLEEPER)]))
        first = await h.wait_pod("survivor", lambda p: condition(p, "Ready"))
        old_pid = int(first["metadata"]["annotations"]["sandbox.aksmcp.dev/pid-c"])
        await h.node.stop()
        await wait_for(lambda: not pid_alive(old_pid), within=5, what="old process gone")
        stale = h.node.state_dir / "pods" / "uid-of-a-pod-removed-while-the-node-was-down"
        stale.mkdir()
        h.node = Node(h.store, h.node.state_dir, backoff_base=0.2)
        await h.node.start()
        pod = await h.wait_pod(
            "survivor",
            lambda p: (
                condition(p, "Ready") and p["metadata"]["annotations"]["sandbox.aksmcp.dev/pid-c"] != str(old_pid)
            ),
            what="running again",
        )
        assert container_status(pod)["restartCount"] == 1
        assert pid_alive(int(pod["metadata"]["annotations"]["sandbox.aksmcp.dev/pid-c"]))
        assert not stale.exists()
        assert (h.node.state_dir / "pods" / pod["metadata"]["uid"]).is_dir()


HOST_CHECKING_SERVER = """
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.headers.get('Host') == 'probe.example' and self.headers.get('X-Probe') == 'yes'
        self.send_response(200 if ok else 421); self.send_header('Content-Length', '0'); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
"""


async def test_http_probe_sends_the_configured_host_and_headers(harness: NodeHarness) -> None:
    def probe(host: str) -> dict:
        headers = [{"name": "Host", "value": host}, {"name": "X-Probe", "value": "yes"}]
        return {"httpGet": {"port": 8080, "path": "/", "httpHeaders": headers}, "periodSeconds": 1}

    for name, host in (("right-host", "probe.example"), ("wrong-host", "other.example")):
        container = python_container(
            "c", HOST_CHECKING_SERVER, ports=[{"containerPort": 8080}], readinessProbe=probe(host)
        )
        await harness.create(pod_manifest(name, [container]))
    await harness.wait_pod("right-host", lambda p: condition(p, "Ready"))

    async def refused() -> bool:
        events = await harness.events("wrong-host")
        return any("statuscode: 421" in e.get("message", "") for e in events)

    await wait_for(refused, what="a failing readiness probe on the wrong Host")
    assert not condition(await harness.get("wrong-host"), "Ready")


async def test_missing_executable_is_a_start_error_that_backs_off(harness: NodeHarness) -> None:
    container = {"name": "c", "image": "sandbox.test/none:1", "command": ["/nonexistent/bin/server"]}
    await harness.create(pod_manifest("noexec", [container]))

    def backing_off(p: dict) -> bool:
        status = container_status(p)
        return status.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"

    pod = await harness.wait_pod("noexec", backing_off)
    terminated = container_status(pod)["lastState"]["terminated"]
    assert terminated["reason"] == "StartError" and terminated["exitCode"] == 128
    assert "executable file not found" in terminated["message"]

    # back-off, not a hot loop: the delay doubles (0.2 s, 0.4 s, ...) like any crash
    def doubled(p: dict) -> bool:
        waiting = container_status(p).get("state", {}).get("waiting", {})
        return waiting.get("reason") == "CrashLoopBackOff" and "back-off 0.4s" in waiting.get("message", "")

    await harness.wait_pod("noexec", doubled, what="a doubled back-off")


async def test_node_stop_during_a_long_deletion_still_kills_everything(tmp_path: Path) -> None:
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(0.1)"
    async with NodeHarness(tmp_path / "state", stop_grace=1) as h:
        await h.create(pod_manifest("slowpoke", [python_container("c", code)], terminationGracePeriodSeconds=600))
        pod = await h.wait_pod("slowpoke", lambda p: condition(p, "Ready"))
        pid = int(pod["metadata"]["annotations"]["sandbox.aksmcp.dev/pid-c"])
        await _wait_pid_settled(h, "slowpoke")
        await h.store.delete("pods", "default", "slowpoke")
        await wait_for(lambda: (w := h.node.worker_for(pod)) is not None and w.terminate_task is not None)
    # leaving the harness stopped the node within stop_grace, not the pod's 600 s
    await wait_for(lambda: not pid_alive(pid), within=5, what="the SIGTERM-ignoring process killed")


async def test_server_image_starts_when_a_mount_path_covers_the_interpreters_own_path(harness: NodeHarness) -> None:
    # A checkout under /tmp next to a pod that mounts an emptyDir at /tmp (as manifests/base does):
    # the mount path rule rewrites what the spec says, never the node's own interpreter path.
    covering = str(Path(sys.executable).parent)
    container = {
        "name": "server",
        "image": "ghcr.io/aksmcp/aksmcp-server:0.1.0",
        "ports": [{"containerPort": 8080, "name": "mcp"}],
        "readinessProbe": {"httpGet": {"port": "mcp", "path": "/readyz"}, "periodSeconds": 1},
        "volumeMounts": [{"name": "scratch", "mountPath": covering}],
    }
    await harness.create(pod_manifest("covered", [container], volumes=[{"name": "scratch", "emptyDir": {}}]))
    pod = await harness.wait_pod("covered", lambda p: condition(p, "Ready"), what="Ready", within=60)
    assert container_status(pod, "server")["restartCount"] == 0
