"""Typed events of a deploy: the dashboard's deploy screen renders them, `aksmcp deploy` prints them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The steps, in order; a flow with --image skips build and push.
STEPS = ("build", "push", "render", "apply", "rollout", "smoke test")


@dataclass(frozen=True)
class StepStarted:
    step: str
    detail: str = ""


@dataclass(frozen=True)
class StepProgress:
    step: str
    detail: str
    current: int | None = None  # bytes or steps done, when known
    total: int | None = None


@dataclass(frozen=True)
class StepDone:
    step: str
    detail: str = ""


@dataclass(frozen=True)
class StepSkipped:
    step: str
    detail: str = ""


@dataclass(frozen=True)
class StepFailed:
    step: str
    problem: str
    fix: str = ""


@dataclass(frozen=True)
class PodUpdate:
    """A pod of the rollout changed: phase and each container's state in words."""

    pod: str
    phase: str
    ready: bool
    containers: str  # "server: running, ready" | "server: waiting (ImagePullBackOff)" ...


@dataclass(frozen=True)
class ClusterEvent:
    """A Kubernetes Event about the Deployment, its ReplicaSets or pods."""

    involved: str  # "Pod demo-7d9c-abcde"
    reason: str
    message: str
    warning: bool


@dataclass(frozen=True)
class Diagnosis:
    """What went wrong in plain words, the evidence, and the fix."""

    summary: str
    details: tuple[str, ...] = ()
    fix: str = ""


@dataclass(frozen=True)
class RolledBack:
    detail: str


@dataclass(frozen=True)
class Rendered:
    """--dry-run: the objects that would be applied and the server-side diff per object."""

    objects: list[dict[str, Any]]
    diff: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Finished:
    ok: bool
    summary: str
    connect: str = ""  # the IDE connect command, after a successful deploy
    leftovers: tuple[str, ...] = ()  # what a failed or cancelled deploy left, and how to clean it


DeployEvent = (
    StepStarted
    | StepProgress
    | StepDone
    | StepSkipped
    | StepFailed
    | PodUpdate
    | ClusterEvent
    | Diagnosis
    | RolledBack
    | Rendered
    | Finished
)
