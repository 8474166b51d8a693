"""Pre-flight checks on rendered objects: the restricted Pod Security Standard, before the API
server's admission refuses the pods (the message then names the field, not only "forbidden")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Pod Security Admission's "restricted" level (baseline + restricted rules), Linux pods.
_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected"}
_VOLUME_TYPES.add("secret")
_SECCOMP = {"RuntimeDefault", "Localhost"}
_POD_TEMPLATES = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job"}


def restricted_violations(pod: Mapping[str, Any]) -> list[str]:
    """Every way a PodSpec breaks the restricted Pod Security Standard; [] when it meets it."""
    problems: list[str] = []
    pod_context = pod.get("securityContext") or {}
    problems += [f"pod: {f}" for f in ("hostNetwork", "hostPID", "hostIPC") if pod.get(f)]
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= _VOLUME_TYPES:
            problems.append(f"volume {volume.get('name')}: type {sorted(kinds)} is not allowed")
    if pod_context.get("runAsUser") == 0:
        problems.append("pod: runAsUser 0")
    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    for container in containers:
        name = container.get("name")
        context = container.get("securityContext") or {}
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation must be false")
        if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True:
            problems.append(f"{name}: runAsNonRoot must be true")
        if context.get("runAsUser") == 0:
            problems.append(f"{name}: runAsUser 0")
        if (context.get("seccompProfile") or {}).get("type", pod_seccomp) not in _SECCOMP:
            problems.append(f"{name}: seccompProfile must be RuntimeDefault or Localhost")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{name}: capabilities must drop ALL")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {capabilities['add']}")
        if any(p.get("hostPort") for p in container.get("ports") or []):
            problems.append(f"{name}: hostPort")
    return problems


def pod_security_problems(objects: Iterable[Mapping[str, Any]]) -> list[str]:
    """Restricted-PSS violations of every workload among `objects`, each prefixed with the object."""
    problems: list[str] = []
    for obj in objects:
        if obj.get("kind") not in _POD_TEMPLATES:
            continue
        pod = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        name = f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')}"
        problems += [f"{name}: {p}" for p in restricted_violations(pod)]
    return problems
