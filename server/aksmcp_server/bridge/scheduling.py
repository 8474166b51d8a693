"""Which runs first when the bridge and its stdio servers want the same CPU: the servers.

A bridged call costs the child (the MCP server doing the work) several times what it costs the bridge
(about 1.3 ms against 0.2 ms of CPU with `mcp-server-time`), so under concurrency the child is the
bottleneck and every moment it waits for a CPU is lost throughput, while the bridge has slack. Under
Linux's normal policy each wakeup of the bridge (a request in, an answer out) may preempt the thread
running on that CPU, often the child. The bridge's threads therefore run under SCHED_BATCH: the same
share of the CPU as any normal thread, but their wakeups do not preempt; they run when a CPU falls idle
or the running thread's slice ends. On an idle machine nothing changes (a wakeup takes the idle CPU).

A policy is inherited across fork, so the children are forked while the forking thread is back under
the normal policy (`forking_children`): they run exactly as if started from a shell. Both directions
are unprivileged (no CAP_SYS_NICE, as a non-root pod has); a nice value would not be, since a child
could never lower the value it inherited. `AKSMCP_BRIDGE_SCHED_POLICY=normal` turns this off.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator

logger = logging.getLogger("aksmcp_server")


class ThreadScheduling:
    """The bridge thread's policy, and a way back to the normal one while it forks a child."""

    def __init__(self) -> None:
        self._thread: int | None = None  # the native id of the thread put under SCHED_BATCH
        self._forking = 0  # forks in progress on that thread (they may overlap across awaits)

    def apply(self, name: str) -> str:
        """Put the calling thread (and the threads it starts) under `name`; returns the policy in effect."""
        if name != "batch":
            return "normal"
        try:
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        except (AttributeError, OSError) as exc:  # not Linux, or a sandbox that refuses it
            logger.warning("cannot run the bridge under SCHED_BATCH, staying normal", extra={"reason": str(exc)})
            return "normal"
        self._thread = threading.get_native_id()
        return "batch"

    @contextlib.contextmanager
    def forking_children(self) -> Iterator[None]:
        """The normal policy for the duration, on the thread `apply` changed, so children inherit it."""
        if self._thread is None or self._thread != threading.get_native_id():
            yield
            return
        if self._forking == 0:
            self._set(os.SCHED_OTHER)
        self._forking += 1
        try:
            yield
        finally:
            self._forking -= 1
            if self._forking == 0:
                self._set(os.SCHED_BATCH)

    @staticmethod
    def _set(policy: int) -> None:
        with contextlib.suppress(OSError):  # it was allowed a moment ago; nothing to do if it no longer is
            os.sched_setscheduler(0, policy, os.sched_param(0))


SCHEDULING = ThreadScheduling()
