"""ResourceQuota admission for pods, as the API server's quota admission plugin does it: a pod
whose creation would take a namespace over a quota's `hard` limit (pods, requests.cpu,
requests.memory, limits.cpu, limits.memory, cpu, memory) is refused with the same words."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kubernetes.utils.quantity import parse_quantity

from aksmcp_tui.sandbox.store import Store

_TERMINAL = ("Succeeded", "Failed")


def _pod_usage(spec: dict[str, Any]) -> dict[str, Decimal]:
    usage = {"pods": Decimal(1)}
    for container in spec.get("containers") or []:
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            for name, value in (resources.get(kind) or {}).items():
                if name in ("cpu", "memory"):
                    key = f"{kind}.{name}"
                    usage[key] = usage.get(key, Decimal(0)) + parse_quantity(value)
                    if kind == "requests":
                        usage[name] = usage.get(name, Decimal(0)) + parse_quantity(value)
    return usage


def _format(name: str, value: Decimal) -> str:
    if name.endswith("cpu") or name == "cpu":
        return f"{int(value * 1000)}m" if value != value.to_integral_value() else str(int(value))
    if name == "pods":
        return str(int(value))
    return str(int(value))


def quota_denial(store: Store, namespace: str, pod_name: str, spec: dict[str, Any]) -> str | None:
    """The API server's Forbidden message when creating the pod would exceed a quota, else None."""
    quotas, _ = store.list_entries("resourcequotas", namespace)
    if not quotas:
        return None
    pods, _ = store.list_entries("pods", namespace)
    used: dict[str, Decimal] = {}
    for entry in pods:
        pod = entry.obj
        if (pod.get("status") or {}).get("phase") in _TERMINAL or (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        for key, value in _pod_usage(pod.get("spec") or {}).items():
            used[key] = used.get(key, Decimal(0)) + value
    requested = _pod_usage(spec)
    for entry in quotas:
        quota = entry.obj
        hard = (quota.get("spec") or {}).get("hard") or {}
        over = [
            name
            for name, limit in hard.items()
            if name in requested and used.get(name, Decimal(0)) + requested[name] > parse_quantity(limit)
        ]
        if over:
            over.sort()
            listed = ",".join(f"{n}={_format(n, requested[n])}" for n in over)
            usage = ",".join(f"{n}={_format(n, used.get(n, Decimal(0)))}" for n in over)
            limits = ",".join(f"{n}={hard[n]}" for n in over)
            return (
                f'pods "{pod_name}" is forbidden: exceeded quota: {quota["metadata"]["name"]}, '
                f"requested: {listed}, used: {usage}, limited: {limits}"
            )
    return None
