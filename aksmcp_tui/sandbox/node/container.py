"""The node's view of one container: its attempts, state and the status the API shows."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aksmcp_tui.sandbox.node.logs import ContainerLog, LogDirectory
from aksmcp_tui.sandbox.node.probes import ProbeContext
from aksmcp_tui.sandbox.node.process import ContainerProcess
from aksmcp_tui.sandbox.store import now_rfc3339


@dataclass
class Backoff:
    """The kubelet's crash back-off: 0 for the first restart, then base doubling up to max;
    reset once an attempt ran for 2 x max without crashing."""

    base: float
    maximum: float
    failures: int = 0

    def next_delay(self, ran_for: float) -> float:
        if ran_for >= 2 * self.maximum:
            self.failures = 0
        delay = 0.0 if self.failures == 0 else min(self.base * 2 ** (self.failures - 1), self.maximum)
        self.failures += 1
        return delay

    def pull_delay(self) -> float:
        delay = min(self.base * 2**self.failures, self.maximum)
        self.failures += 1
        return delay


@dataclass
class ContainerRuntime:
    spec: dict[str, Any]
    logs: LogDirectory
    crash_backoff: Backoff
    pull_backoff: Backoff
    restart_count: int = 0
    state: dict[str, Any] = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: dict[str, Any] = field(default_factory=dict)
    ready: bool = False
    started: bool = False
    ever_started: bool = False
    finished: bool = False  # terminated and will not be restarted
    container_id: str = ""
    image_id: str = ""
    process: ContainerProcess | None = None
    log: ContainerLog | None = None
    probe_ctx: ProbeContext | None = None
    started_at: str = ""
    started_monotonic: float = 0.0
    attempts: int = 0

    @property
    def name(self) -> str:
        return str(self.spec.get("name") or "")

    @property
    def image(self) -> str:
        return str(self.spec.get("image") or "")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.running

    def set_waiting(self, reason: str, message: str = "") -> None:
        waiting: dict[str, Any] = {"reason": reason}
        if message:
            waiting["message"] = message
        self.state = {"waiting": waiting}

    def set_running(self) -> None:
        self.started_at = now_rfc3339()
        self.started_monotonic = time.monotonic()
        self.state = {"running": {"startedAt": self.started_at}}
        self.ever_started = True

    def set_terminated(self, code: int, reason: str | None = None, message: str = "") -> dict[str, Any]:
        terminated: dict[str, Any] = {
            "exitCode": code,
            "reason": reason or ("Completed" if code == 0 else "Error"),
            "startedAt": self.started_at or now_rfc3339(),
            "finishedAt": now_rfc3339(),
        }
        if message:
            terminated["message"] = message
        if self.container_id:
            terminated["containerID"] = self.container_id
        self.state = {"terminated": terminated}
        self.ready = False
        self.started = False
        return terminated

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": self.image_id,
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.container_id:
            status["containerID"] = self.container_id
        return status
