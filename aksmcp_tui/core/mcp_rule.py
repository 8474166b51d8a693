"""Which workloads count as MCP servers, and how healthy they are: the one rule that the
dashboard and `aksmcp ls` share (README.md, "Which workloads count as MCP servers").

Which workloads count as MCP servers (the one rule; the UI and `aksmcp ls` both use it):

1. A Deployment whose labels, or whose pod template's labels, contain
   `app.kubernetes.io/component: mcp-server` (what aksmcp's own manifests set)  -> matched_by "label"
2. A Deployment with a container port named `mcp`                               -> matched_by "port-name"
3. An `MCPServer` custom resource of one of the tools that deploy MCP servers, when its CRD is
   installed in the cluster (found through API discovery, /apis):
   kmcp/kagent `kagent.dev`, ToolHive `toolhive.stacklok.dev`, the SIG's `mcp.x-k8s.io`
                                                                                -> matched_by "crd:<group>"
   A Deployment owned by such a custom resource is shown once, as the custom resource's row (its
   ready/desired and pods feed that row), not a second time as a Deployment. The live watch
   re-runs discovery every minute, so a CRD installed (or deleted) later joins (or leaves).

Health (`Health`) of a Deployment, first match wins:
- desired replicas 0                                           -> SCALED_DOWN
- condition Progressing=False with reason ProgressDeadlineExceeded -> FAILING
- a pod waiting in CrashLoopBackOff / ImagePullBackOff / ErrImagePull / Create*Error ...
                                                               -> FAILING if no pod is ready, else DEGRADED
- ready == desired and the rollout is complete                 -> HEALTHY
- a rollout in progress (new generation not yet observed, updated < desired, or Progressing=True
  with a rollout reason) and ready < desired                   -> PROGRESSING
- no ready pods                                                -> FAILING; fewer than desired -> DEGRADED
A custom resource takes the health of the Deployment it owns when there is one, else its
`Ready` condition (or ToolHive's `status.phase`); no status at all -> UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

MCP_COMPONENT_LABEL = "app.kubernetes.io/component"
MCP_COMPONENT_VALUE = "mcp-server"
MCP_PORT_NAME = "mcp"
MCP_CRD_KIND = "MCPServer"
# group -> who defines it (for docs and the UI)
MCP_CRD_GROUPS: dict[str, str] = {
    "kagent.dev": "kmcp/kagent",
    "toolhive.stacklok.dev": "ToolHive",
    "mcp.x-k8s.io": "Kubernetes SIG Apps mcp-lifecycle-operator",
}

_FAILING_WAIT_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)
_ROLLOUT_REASONS = frozenset({"ReplicaSetUpdated", "NewReplicaSetCreated", "FoundNewReplicaSet"})


class Health(StrEnum):
    HEALTHY = "healthy"
    PROGRESSING = "progressing"
    DEGRADED = "degraded"
    FAILING = "failing"
    SCALED_DOWN = "scaled-down"
    UNKNOWN = "unknown"


# --- the rule ---------------------------------------------------------------------------------


def crd_kind_label(group: str) -> str:
    return f"{MCP_CRD_KIND} ({group})"


def is_mcp_deployment(deployment: Mapping[str, Any]) -> str | None:
    """The MCP rule for one Deployment (a JSON dict): "label", "port-name" or None."""
    metadata = deployment.get("metadata") or {}
    template = (deployment.get("spec") or {}).get("template") or {}
    for labels in ((metadata.get("labels") or {}), ((template.get("metadata") or {}).get("labels") or {})):
        if labels.get(MCP_COMPONENT_LABEL) == MCP_COMPONENT_VALUE:
            return "label"
    for container in (template.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == MCP_PORT_NAME:
                return "port-name"
    return None


def mcp_crd_owner(obj: Mapping[str, Any], groups: Iterable[str]) -> tuple[str, str] | None:
    """(group, name) of the MCPServer custom resource that owns `obj`, if any."""
    wanted = set(groups)
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        group = str(ref.get("apiVersion") or "").rpartition("/")[0]
        if ref.get("kind") == MCP_CRD_KIND and group in wanted:
            return group, str(ref.get("name") or "")
    return None


# --- health -----------------------------------------------------------------------------------


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in (obj.get("status") or {}).get("conditions") or [] if isinstance(c, dict)}


def pod_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pod_waiting_reason(pod: Mapping[str, Any]) -> str | None:
    """The most telling reason a pod's containers are not running (CrashLoopBackOff, ...)."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            return str(waiting["reason"])
    return None


def deployment_replicas(deployment: Mapping[str, Any]) -> tuple[int, int]:
    """(ready, desired)."""
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    desired = spec.get("replicas")
    return int(status.get("readyReplicas") or 0), int(1 if desired is None else desired)


def deployment_health(deployment: Mapping[str, Any], pods: Iterable[Mapping[str, Any]] = ()) -> tuple[Health, str]:
    """Health and a one-line reason, from conditions and the pods' readiness (rule in the module doc)."""
    ready, desired = deployment_replicas(deployment)
    status = deployment.get("status") or {}
    metadata = deployment.get("metadata") or {}
    conditions = _conditions(deployment)
    if desired == 0:
        return Health.SCALED_DOWN, "scaled to 0 replicas"
    progressing = conditions.get("Progressing") or {}
    if progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health.FAILING, f"ProgressDeadlineExceeded: {progressing.get('message') or 'rollout stalled'}"
    for pod in pods:
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        reason = pod_waiting_reason(pod)
        if reason in _FAILING_WAIT_REASONS:
            name = (pod.get("metadata") or {}).get("name", "?")
            return (Health.FAILING if ready == 0 else Health.DEGRADED), f"pod {name}: {reason}"
    generation = int(metadata.get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    rollout_done = observed >= generation and updated >= desired and total <= desired
    if ready >= desired and rollout_done:
        return Health.HEALTHY, f"{ready}/{desired} ready"
    rolling = (
        observed < generation
        or updated < desired
        or total > desired
        or (progressing.get("status") == "True" and progressing.get("reason") in _ROLLOUT_REASONS)
    )
    if rolling:
        return Health.PROGRESSING, f"rolling out: {ready}/{desired} ready, {updated} updated"
    if ready >= desired:
        return Health.HEALTHY, f"{ready}/{desired} ready"
    available = conditions.get("Available") or {}
    detail = f": {available.get('message')}" if available.get("status") == "False" and available.get("message") else ""
    if ready == 0:
        return Health.FAILING, f"no ready pods (0/{desired}){detail}"
    return Health.DEGRADED, f"{ready}/{desired} ready{detail}"


def image_of(pod_spec: Mapping[str, Any]) -> str:
    containers = pod_spec.get("containers") or []
    if not containers:
        return ""
    image = str(containers[0].get("image") or "")
    return image + (f" (+{len(containers) - 1})" if len(containers) > 1 else "")


def crd_image(cr: Mapping[str, Any]) -> str:
    spec = cr.get("spec") or {}
    for candidate in (
        spec.get("image"),
        (spec.get("deployment") or {}).get("image"),
        ((spec.get("source") or {}).get("containerImage") or {}).get("ref"),
    ):
        if isinstance(candidate, str) and candidate:
            return candidate
    return ""


def crd_health(cr: Mapping[str, Any]) -> tuple[Health, str]:
    conditions = _conditions(cr)
    status = cr.get("status") or {}
    ready = conditions.get("Ready")
    if ready is not None:
        if ready.get("status") == "True":
            return Health.HEALTHY, str(ready.get("reason") or "Ready")
        reason = str(ready.get("reason") or "NotReady")
        message = str(ready.get("message") or "")
        text = f"{reason}: {message}" if message else reason
        if any(word in reason.lower() for word in ("fail", "error", "unhealthy", "invalid")):
            return Health.FAILING, text
        return Health.PROGRESSING, text
    phase = str(status.get("phase") or "")
    if phase:
        mapped = {
            "running": Health.HEALTHY,
            "ready": Health.HEALTHY,
            "pending": Health.PROGRESSING,
            "failed": Health.FAILING,
            "terminating": Health.PROGRESSING,
        }.get(phase.lower(), Health.UNKNOWN)
        message = str(status.get("message") or "")
        return mapped, f"{phase}: {message}" if message else phase
    return Health.UNKNOWN, "no status reported yet"
