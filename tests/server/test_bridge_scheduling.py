"""The bridge's threads under SCHED_BATCH, its children under the normal policy (bridge/scheduling.py).

Real bridge processes and children; the policies are read from the kernel (sched_getscheduler on each
thread id in /proc), not from the bridge's word.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from aksmcp_server.bridge.scheduling import ThreadScheduling
from aksmcp_server.config import ConfigError, load_bridge_settings
from conftest import RunningServer
from mcp import Client
from test_bridge import CHILD_COMMAND, _start_bridge, text_of

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="scheduling policies are Linux's")


def thread_policies(pid: int) -> set[int]:
    """The scheduling policy of every thread of process `pid` (a worker thread may end meanwhile)."""
    policies = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            policies.add(os.sched_getscheduler(int(tid)))
    return policies


def announced_policy(server: RunningServer) -> str:
    listening = server.wait_for_log(lambda entry: entry.get("msg") == "listening")
    return str(listening["sched_policy"])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


@pytest.fixture
def batch_bridge(workspace: Path) -> Iterator[RunningServer]:
    server = _start_bridge(workspace, CHILD_COMMAND)
    yield server
    server.stop()


async def test_children_run_normally_under_a_batch_bridge(batch_bridge: RunningServer) -> None:
    """The shared child and two 2025-11-25 session children started at once (their forks overlap on the
    loop thread) all run under SCHED_OTHER, and the bridge's loop thread is back under SCHED_BATCH."""
    assert announced_policy(batch_bridge) == "batch"
    pids: list[int] = []

    async def whoami(mode: str) -> None:
        async with Client(batch_bridge.url, mode=mode) as client:  # type: ignore[arg-type]
            pid = int(text_of(await client.call_tool("whoami", {})))
            pids.append(pid)
            # Asked while the session (and so its child) is open.
            assert thread_policies(pid) == {os.SCHED_OTHER}, f"child {pid} ({mode})"

    async with anyio.create_task_group() as group:
        for mode in ("auto", "legacy", "legacy"):
            group.start_soon(whoami, mode)
    assert len(set(pids)) == 3, pids  # the shared child and one per session: three forks
    assert os.sched_getscheduler(batch_bridge.proc.pid) == os.SCHED_BATCH  # the thread running the loop


async def test_normal_policy_leaves_the_bridge_as_any_process(workspace: Path) -> None:
    server = _start_bridge(workspace, CHILD_COMMAND, env={"AKSMCP_BRIDGE_SCHED_POLICY": "normal"})
    try:
        assert announced_policy(server) == "normal"
        async with Client(server.url) as client:
            pid = int(text_of(await client.call_tool("whoami", {})))
        assert thread_policies(pid) == {os.SCHED_OTHER}
        assert thread_policies(server.proc.pid) == {os.SCHED_OTHER}
    finally:
        server.stop()


def test_overlapping_forks_restore_batch_when_the_last_one_ends() -> None:
    """Forks that overlap across awaits (A starts, B starts, A ends, B ends) keep the normal policy until
    the last ends; a thread the policy was not applied to is left alone."""
    seen: list[int] = []
    errors: list[BaseException] = []

    def on_a_thread_of_its_own() -> None:  # the policy is per thread: not the test runner's
        try:
            scheduling = ThreadScheduling()
            assert scheduling.apply("batch") == "batch"
            seen.append(os.sched_getscheduler(0))
            first, second = scheduling.forking_children(), scheduling.forking_children()
            first.__enter__()
            second.__enter__()
            seen.append(os.sched_getscheduler(0))
            first.__exit__(None, None, None)
            seen.append(os.sched_getscheduler(0))
            second.__exit__(None, None, None)
            seen.append(os.sched_getscheduler(0))
            other = threading.Thread(target=lambda: _fork_elsewhere(scheduling, seen))
            other.start()
            other.join()
        except BaseException as exc:  # reported on the test's thread
            errors.append(exc)

    thread = threading.Thread(target=on_a_thread_of_its_own)
    thread.start()
    thread.join()
    assert not errors, errors
    batch, normal = os.SCHED_BATCH, os.SCHED_OTHER
    # The last: a thread started by the batch thread inherits batch, and forking there changes nothing.
    assert seen == [batch, normal, normal, batch, batch, batch]


def _fork_elsewhere(scheduling: ThreadScheduling, seen: list[int]) -> None:
    with scheduling.forking_children():
        seen.append(os.sched_getscheduler(0))
    seen.append(os.sched_getscheduler(0))


def test_normal_applies_nothing() -> None:
    policy: list[int] = []

    def run() -> None:
        assert ThreadScheduling().apply("normal") == "normal"
        policy.append(os.sched_getscheduler(0))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert policy == [os.SCHED_OTHER]


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["--", sys.executable], {}, "batch"),
        (["--sched-policy", "normal", "--", sys.executable], {}, "normal"),
        (["--", sys.executable], {"AKSMCP_BRIDGE_SCHED_POLICY": "Normal"}, "normal"),
        (["--sched-policy", "batch", "--", sys.executable], {"AKSMCP_BRIDGE_SCHED_POLICY": "normal"}, "batch"),
    ],
)
def test_sched_policy_from_flag_or_environment(argv: list[str], env: dict[str, str], expected: str) -> None:
    _, bridge = load_bridge_settings(argv, env)
    assert bridge.sched_policy == expected


def test_an_unknown_policy_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"--sched-policy / AKSMCP_BRIDGE_SCHED_POLICY must be batch or normal"):
        load_bridge_settings(["--sched-policy", "fifo", "--", sys.executable], {})
