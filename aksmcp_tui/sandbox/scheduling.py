"""The one scheduling decision a one-node cluster has: does the pod fit this node at all?

What kube-scheduler checks first and a user can get wrong: the nodeSelector against the node's
labels, and the pod's CPU/memory requests against what the node can still allocate (requests of
the pods already bound to it counted when the caller passes them). A pod that does not fit stays Pending with condition
PodScheduled=False/Unschedulable and a FailedScheduling event, in the scheduler's words.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kubernetes.utils.quantity import parse_quantity

_TERMINAL = ("Succeeded", "Failed")
_PREEMPTION = "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."


def _requests(spec: dict[str, Any]) -> dict[str, Decimal]:
    total = {"cpu": Decimal(0), "memory": Decimal(0)}
    for container in spec.get("containers") or []:
        for name, value in ((container.get("resources") or {}).get("requests") or {}).items():
            if name in total:
                total[name] += parse_quantity(value)
    return total


def unschedulable_reason(pod: dict[str, Any], node: dict[str, Any], bound: list[dict[str, Any]]) -> str | None:
    """kube-scheduler's message when `pod` cannot go on `node` (given the pods `bound` to it), else None."""
    spec = pod.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return f"0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. {_PREEMPTION}"
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    used = {"cpu": Decimal(0), "memory": Decimal(0)}
    for other in bound:
        if (other.get("status") or {}).get("phase") in _TERMINAL:
            continue
        for name, value in _requests(other.get("spec") or {}).items():
            used[name] += value
    wanted = _requests(spec)
    short = [
        name
        for name in ("cpu", "memory")
        if name in allocatable and wanted[name] and used[name] + wanted[name] > parse_quantity(allocatable[name])
    ]
    if short:
        return f"0/1 nodes are available: 1 Insufficient {', '.join(short)}. {_PREEMPTION}"
    return None
