"""Pod processes do not outlive their host: PDEATHSIG kills a container's main process when the
daemon is SIGKILLed, and the record of pod processes lets the next start (or `down`) kill what is
left (grandchildren) — but only processes that carry the pod's marker."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from aksmcp_tui.sandbox import daemon
from aksmcp_tui.sandbox.daemon import POD_UID_ENV, PROCESS_RECORD
from aksmcp_tui.sandbox.testing import ThreadedSandbox, sync_api_client

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PDEATHSIG and /proc are Linux"),
]

SLEEP = "import time\nwhile True: time.sleep(1)"
# The pod's main process starts a grandchild (which PDEATHSIG does not reach) and notes its pid.
PARENT = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time\\nwhile True: time.sleep(1)'])\n"
    "open(sys.argv[1] + '.tmp', 'w').write(str(child.pid))\n"
    "import os; os.replace(sys.argv[1] + '.tmp', sys.argv[1])\n"
    "while True: time.sleep(1)\n"
)


def pid_alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return False
    return text[text.rfind(")") + 2 :].split()[0] not in ("Z", "X")


def start_time(pid: int) -> int:
    text = Path(f"/proc/{pid}/stat").read_text()
    return int(text[text.rfind(")") + 2 :].split()[19])


def wait_for(check: Callable[[], Any], within: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}")


def force_kill(pid: int | None) -> None:
    if pid is not None and pid_alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "sandbox"
    try:
        yield directory
    finally:
        daemon.stop(directory, timeout=10)


def pod_pid(core: client.CoreV1Api, name: str) -> int | None:
    annotations = core.read_namespaced_pod(name, "default").metadata.annotations or {}
    value = annotations.get("sandbox.aksmcp.dev/pid-main")
    return int(value) if value else None


def test_sigkilled_daemon_takes_its_pods_along_and_down_reaps_the_rest(state_dir: Path, tmp_path: Path) -> None:
    kubeconfig = daemon.ensure_running(state_dir)
    daemon_pid = daemon.status(state_dir)["pid"]
    assert daemon_pid is not None
    grandchild_file = tmp_path / "grandchild.pid"
    main_pid: int | None = None
    grandchild: int | None = None
    api = sync_api_client(kubeconfig)
    try:
        core = client.CoreV1Api(api)
        pod = core.create_namespaced_pod(
            "default",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "orphan"},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "main",
                            "image": "python:3",
                            "command": [sys.executable, "-c", PARENT, str(grandchild_file)],
                        }
                    ],
                },
            },
        )
        main_pid = wait_for(lambda: pod_pid(core, "orphan"), what="the pod's pid annotation")
        grandchild = int(wait_for(lambda: grandchild_file.exists() and grandchild_file.read_text(), what="grandchild"))
        uid = pod.metadata.uid
        marker = f"{POD_UID_ENV}={uid}".encode()
        assert marker in Path(f"/proc/{main_pid}/environ").read_bytes().split(b"\0")
        assert marker in Path(f"/proc/{grandchild}/environ").read_bytes().split(b"\0")
        record_path = state_dir / PROCESS_RECORD
        assert stat.S_IMODE(record_path.stat().st_mode) == 0o600
        record = json.loads(record_path.read_text())
        assert {"pid": main_pid, "pgid": main_pid, "pod_uid": uid} in [
            {k: e[k] for k in ("pid", "pgid", "pod_uid")} for e in record
        ]
    finally:
        api.close()

    os.kill(daemon_pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(daemon_pid, 0)  # ensure_running started it from this process
    try:
        wait_for(lambda: not pid_alive(main_pid), within=20, what="the pod's main process to die with the daemon")
        # The daemon is gone, so `down` has no daemon to stop, but kills what the pod left behind.
        assert daemon.stop(state_dir) is False
        wait_for(lambda: not pid_alive(grandchild), within=10, what="the grandchild to be reaped")
        assert not (state_dir / PROCESS_RECORD).exists()
    finally:
        force_kill(main_pid)
        force_kill(grandchild)


def spawn(env_extra: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", SLEEP],
        env={**os.environ, **env_extra},
        start_new_session=True,
        stdin=subprocess.DEVNULL,
    )


def exec_done(process: subprocess.Popen[bytes]) -> bool:
    """Past exec (before it, /proc shows the forking parent's environment)."""
    with contextlib.suppress(OSError):
        return SLEEP.encode() in Path(f"/proc/{process.pid}/cmdline").read_bytes()
    return False


def write_record(state_dir: Path, entries: list[dict[str, Any]]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(state_dir / PROCESS_RECORD, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(entries, handle)


def test_cluster_start_kills_recorded_leftovers_that_carry_the_marker_only(tmp_path: Path) -> None:
    state_dir = tmp_path / "sandbox"
    uid, other_uid = str(uuid.uuid4()), str(uuid.uuid4())
    dead_host = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_host.wait()
    leftover = spawn({POD_UID_ENV: uid})
    unmarked = spawn({})  # e.g. a pid reused by an unrelated process
    other_pod = spawn({POD_UID_ENV: other_uid})  # marked, but for another pod than recorded
    live_host = spawn({})
    live_hosts_pod = spawn({POD_UID_ENV: uid})
    processes = [leftover, unmarked, other_pod, live_host, live_hosts_pod]
    try:
        for process in processes:
            wait_for(lambda: exec_done(process), what="the process to exec")  # noqa: B023 (called at once)

        def entry(pid: int, host: int, host_start: int | None = None) -> dict[str, Any]:
            return {"pid": pid, "pgid": pid, "pod_uid": uid, "host_pid": host, "host_start": host_start}

        live_entry = entry(live_hosts_pod.pid, live_host.pid, start_time(live_host.pid))
        write_record(
            state_dir,
            [
                entry(leftover.pid, dead_host.pid),
                entry(unmarked.pid, dead_host.pid),
                entry(other_pod.pid, dead_host.pid),
                live_entry,  # its host still runs: its pods are its own business
            ],
        )
        with ThreadedSandbox(state_dir, run_node=False):
            assert leftover.wait(timeout=10) == -signal.SIGKILL
            assert unmarked.poll() is None
            assert other_pod.poll() is None
            assert live_hosts_pod.poll() is None
            assert json.loads((state_dir / PROCESS_RECORD).read_text()) == [live_entry]
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(timeout=10)


def test_a_container_whose_parent_changed_before_prctl_kills_itself() -> None:
    """The race PDEATHSIG cannot cover: the host died between fork and prctl (here simulated by
    a preexec step that expects another parent); the child must not run on as an orphan."""
    from unittest import mock

    from aksmcp_tui.sandbox.node.process import die_with_parent

    with mock.patch("os.getpid", return_value=1):
        preexec = die_with_parent()
    assert preexec is not None
    process = subprocess.Popen([sys.executable, "-c", SLEEP], preexec_fn=preexec, start_new_session=True)
    try:
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=10)
